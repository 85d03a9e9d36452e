// mcptop's GC report for Node: preloaded with NODE_OPTIONS="--require ...",
// it writes one line per garbage collection to stderr (fd 2, synchronously,
// so the server's own stdout, the MCP stream, is never touched), with when
// it started (t=, ms since the epoch: entries reach the observer late, in
// batches, so the time they are read is not when they happened). V8's
// --trace-gc would write to stdout and is refused in NODE_OPTIONS.
'use strict';
(function mcptopGcReport() {
  let perfHooks, fs;
  try {
    perfHooks = require('perf_hooks');
    fs = require('fs');
  } catch (_) {
    return;
  }
  const { PerformanceObserver, constants, performance } = perfHooks;
  const kinds = {};
  kinds[constants.NODE_PERFORMANCE_GC_MINOR] = 'minor';
  kinds[constants.NODE_PERFORMANCE_GC_MAJOR] = 'major';
  kinds[constants.NODE_PERFORMANCE_GC_INCREMENTAL] = 'incremental';
  kinds[constants.NODE_PERFORMANCE_GC_WEAKCB] = 'weakcb';
  const write = (text) => {
    try {
      fs.writeSync(2, text);
    } catch (_) {
      // A full or closed stderr costs a report line, never the server.
    }
  };
  write('mcptop-gc: reporting runtime=node pid=' + process.pid + '\n');
  const observer = new PerformanceObserver((list) => {
    let out = '';
    for (const entry of list.getEntries()) {
      const kind = kinds[entry.detail ? entry.detail.kind : entry.kind] || 'other';
      out += 'mcptop-gc: pause pid=' + process.pid + ' us=' + (entry.duration * 1000).toFixed(1) +
        ' kind=' + kind + ' t=' + (performance.timeOrigin + entry.startTime).toFixed(3) + '\n';
    }
    if (out) write(out);
  });
  observer.observe({ entryTypes: ['gc'] });
})();

# mcptop's GC report for Python: found first on PYTHONPATH, it writes one
# line per garbage collection (gc.callbacks, start to stop) to stderr through
# os.write, so sys.stderr and the MCP stream on stdout are left alone; t= is
# when it started, in ms since the epoch; then
# it runs the sitecustomize it hides, if there is one.
def _mcptop_gc_report():
    import gc
    import os
    import time

    clock = time.perf_counter_ns
    wall = time.time_ns
    write = os.write
    getpid = os.getpid
    started = [0, 0]

    def report(phase, info):
        if phase == "start":
            started[0] = clock()
            started[1] = wall()
            return
        took = clock() - started[0]
        try:
            write(2, b"mcptop-gc: pause pid=%d us=%.1f kind=gen%d collected=%d t=%.3f\n"
                  % (getpid(), took / 1000.0, info.get("generation", -1), info.get("collected", 0),
                     started[1] / 1e6))
        except OSError:
            pass

    gc.callbacks.append(report)
    try:
        write(2, b"mcptop-gc: reporting runtime=python pid=%d\n" % getpid())
    except OSError:
        pass


def _mcptop_run_hidden_sitecustomize():
    import importlib.machinery
    import importlib.util
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_mcptop_gc_report()
_mcptop_run_hidden_sitecustomize()

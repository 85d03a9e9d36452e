//! Where the in-process CPU profiler's memory goes, one piece at a time:
//! mcptop's RSS (anonymous and file-backed, from /proc/self/status) and
//! jemalloc's figures after each step of a profile of two busy threads.
//! Release build: `cargo run --release --example profiler_memory -- 30`.
//! `--child` runs the same profile through `SelfProfiler` (what `mcptop
//! profile` uses); run from this example its names are found in-process,
//! since only the mcptop binary answers `__symbolize`. Its 30 s of
//! sampling prints the figures every second, so growth while sampling is
//! told apart from the step at start and the one at stop. `--many-stacks`
//! (after `--child`) has the busy threads walk 4,096 distinct stacks, more
//! than pprof's table holds (1,024), as a real run's many tasks do, so
//! evicted stacks go to pprof's temporary file.

use mcptop::profile::stacks::{self, Busy};
use std::time::Duration;

#[global_allocator]
static GLOBAL: mcptop::metrics::alloc::Installed = mcptop::metrics::alloc::counting_allocator();

fn status() -> String {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    let j = mcptop::metrics::alloc::read();
    let mapped = mapped_mib();
    format!(
        "rss {:6.1} MiB (anon {:6.1}, file {:5.1}; peak {:6.1})  jemalloc allocated {:6.1} resident {:6.1} mapped {mapped:6.1}",
        field("VmRSS:"),
        field("RssAnon:"),
        field("RssFile:"),
        field("VmHWM:"),
        j.allocated_bytes as f64 / 1048576.0,
        j.resident_bytes as f64 / 1048576.0,
    )
}

/// jemalloc's mapped bytes (its chunks, dirty pages included), MiB.
#[cfg(feature = "jemalloc")]
fn mapped_mib() -> f64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::mapped::read().unwrap_or(0) as f64 / 1048576.0
}

#[cfg(not(feature = "jemalloc"))]
fn mapped_mib() -> f64 {
    0.0
}

fn step(what: &str) {
    println!("{what:<44} {}", status());
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(30);
    let child = args.next().as_deref() == Some("--child");
    let many = args.next().as_deref() == Some("--many-stacks");
    let busy = Busy::start(2, move |path| {
        if many {
            stacks::descend(path, 12);
        } else {
            mcptop::server::burn_cpu(Duration::from_millis(5));
        }
    });
    step("start (2 busy threads)");
    if child {
        run_as_mcptop_does(seconds);
    } else {
        run_piece_by_piece(seconds);
    }
    drop(busy);
}

/// Sleeps `seconds`, printing the figures every second.
fn sample_for(seconds: u64) {
    for s in 1..=seconds {
        std::thread::sleep(Duration::from_secs(1));
        step(&format!("  {s} s of samples"));
    }
}

fn run_as_mcptop_does(seconds: u64) {
    let dir = std::env::temp_dir().join(format!("profmem-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let options = mcptop::profile::ProfileOptions {
        frequency: 99,
        svg: dir.join("p.svg"),
        title: "profiler_memory".into(),
        diff_against: None,
        jvm: false,
    };
    let profiler = mcptop::profile::SelfProfiler::start(99).expect("start");
    step("SelfProfiler::start");
    sample_for(seconds);
    let out = profiler.finish(&options).expect("finish");
    step(&format!(
        "finish ({} samples, notes {:?})",
        out.samples, out.notes
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_piece_by_piece(seconds: u64) {
    let _ = backtrace::Backtrace::new();
    step("one resolved backtrace (pprof's trigger_lazy)");
    backtrace::clear_symbol_cache();
    mcptop::metrics::alloc::purge();
    step("symbol cache cleared + jemalloc purge");
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(99)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .expect("profiler");
    step("ProfilerGuardBuilder::build (no samples)");
    backtrace::clear_symbol_cache();
    mcptop::metrics::alloc::purge();
    step("symbol cache cleared + jemalloc purge");
    std::thread::sleep(Duration::from_secs(seconds));
    step(&format!("{seconds} s of samples at 99 Hz"));
    let unresolved = guard.report().build_unresolved().expect("unresolved");
    let stacks = unresolved.data.len();
    step(&format!("build_unresolved ({stacks} stacks)"));
    let mut ips = std::collections::BTreeSet::new();
    for frames in unresolved.data.keys() {
        for f in frames.frames.iter() {
            ips.insert(f.ip() as usize);
        }
    }
    step(&format!("unique addresses ({})", ips.len()));
    drop(guard);
    step("guard dropped (profiler stopped)");
    mcptop::metrics::alloc::purge();
    step("jemalloc purge");
    let mut names = 0usize;
    for ip in &ips {
        backtrace::resolve(*ip as *mut std::ffi::c_void, |_| names += 1);
    }
    step(&format!("resolved unique addresses ({names} symbols)"));
    let mut report_frames = 0usize;
    for (frames, _) in unresolved.data {
        let resolved = pprof::Frames::from(frames);
        report_frames += resolved.frames.len();
    }
    step(&format!("pprof Frames::from every stack ({report_frames})"));
    backtrace::clear_symbol_cache();
    mcptop::metrics::alloc::purge();
    step("symbol cache cleared + jemalloc purge");
}

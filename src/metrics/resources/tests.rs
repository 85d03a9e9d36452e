use super::*;

const MB: f64 = 1024.0 * 1024.0;

/// (t, bytes) every 250 ms for `n` samples, from `f(t)`.
fn series(n: usize, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let t = i as f64 * 0.25;
            (t, f(t))
        })
        .collect()
}

#[test]
fn least_squares_recovers_an_exact_line() {
    let fit = least_squares(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]).expect("fit");
    assert_eq!(fit.slope, 2.0);
    assert_eq!(fit.intercept, 1.0);
    assert_eq!(fit.r2, 1.0);
}

#[test]
fn least_squares_needs_two_distinct_x() {
    assert_eq!(least_squares(&[]), None);
    assert_eq!(least_squares(&[(1.0, 1.0)]), None);
    assert_eq!(least_squares(&[(1.0, 1.0), (1.0, 2.0)]), None);
    let flat = least_squares(&[(0.0, 5.0), (1.0, 5.0), (2.0, 5.0)]).expect("fit");
    assert_eq!((flat.slope, flat.r2), (0.0, 0.0));
}

#[test]
fn slope_is_in_mib_per_minute() {
    // 1 MiB per second is 60 MiB per minute.
    let s = series(8, |t| 100.0 * MB + t * MB);
    let slope = slope_mib_per_min(&s).expect("slope");
    assert!((slope - 60.0).abs() < 1e-9, "{slope}");
}

#[test]
fn steady_growth_is_a_leak() {
    // 50 MiB base, +4 MiB/s for 10 s, with ±0.5 MiB of jitter.
    let s = series(40, |t| {
        let jitter = if (t * 4.0) as i64 % 2 == 0 { 0.5 } else { -0.5 };
        50.0 * MB + 4.0 * MB * t + jitter * MB
    });
    let v = judge_leak(&s).expect("verdict");
    assert!(v.suspect, "{v:?}");
    assert!((v.slope_mib_per_min - 240.0).abs() < 5.0, "{v:?}");
}

#[test]
fn flat_noisy_memory_is_not_a_leak() {
    let s = series(40, |t| {
        let jitter = if (t * 4.0) as i64 % 3 == 0 { 2.0 } else { -1.0 };
        50.0 * MB + jitter * MB
    });
    assert!(!judge_leak(&s).expect("verdict").suspect);
}

#[test]
fn a_warmup_step_then_flat_is_not_a_leak() {
    // Grows 30 MiB in the first second, then stays put for 9 s.
    let s = series(40, |t| 50.0 * MB + 30.0 * MB * t.min(1.0));
    let v = judge_leak(&s).expect("verdict");
    assert!(!v.suspect, "{v:?}");
}

#[test]
fn small_growth_is_below_the_floor() {
    // Perfectly steady, but only 2 MiB over the run.
    let s = series(40, |t| 50.0 * MB + 0.2 * MB * t);
    let v = judge_leak(&s).expect("verdict");
    assert!(v.r2 > 0.999, "{v:?}");
    assert!(!v.suspect, "{v:?}");
}

#[test]
fn too_few_samples_give_no_verdict() {
    let s = series(LEAK_MIN_SAMPLES - 1, |t| 50.0 * MB + 100.0 * MB * t);
    assert_eq!(judge_leak(&s), None);
}

#[test]
fn per_request_divides_deltas() {
    let from = RequestMark {
        requests: 100,
        allocs: 1_000,
        bytes: 50_000,
    };
    let to = RequestMark {
        requests: 300,
        allocs: 9_000,
        bytes: 250_000,
    };
    assert_eq!(per_request(from, to), Some((40.0, 1_000.0)));
    assert_eq!(per_request(to, to), None);
    assert_eq!(per_request(to, from), None);
}

#[test]
fn cost_per_session_is_the_marginal_rss() {
    // 10 MiB base plus 2 MiB per session.
    let points: Vec<(f64, f64)> = (0..5)
        .map(|s| (s as f64, 10.0 * MB + 2.0 * MB * s as f64))
        .collect();
    assert_eq!(cost_per_unit(&points), Some(2.0 * MB));
}

fn reading(t_s: f64, rss: u64, cpu: f64, allocs: u64) -> ResourceReading {
    ResourceReading {
        t_s,
        mcptop: Some(ProcessReading {
            pid: 1,
            rss_bytes: rss,
            cpu_seconds: cpu,
            threads: 4,
            open_fds: 10,
            fd_limit: Some(1024),
        }),
        target: None,
        alloc: Some(AllocReading {
            allocs,
            bytes: allocs * 100,
            allocated_bytes: 75,
            active_bytes: 100,
            ..AllocReading::default()
        }),
    }
}

#[test]
fn recorder_derives_cpu_rates_and_per_request_costs() {
    let mut r = ResourceRecorder::new();
    assert_eq!(r.memory(), None);
    r.session_connected(0, 10_000_000);
    r.session_connected(1, 11_000_000);
    r.session_connected(2, 12_000_000);
    r.measuring_started(
        0.0,
        RequestMark {
            requests: 0,
            allocs: 0,
            bytes: 0,
        },
    );
    for i in 0..=8 {
        let t = i as f64 * 0.25;
        // Half a core, 1000 allocations per second.
        r.push(reading(t, 20_000_000, t * 0.5, (t * 1000.0) as u64));
    }
    r.measured_until(
        2.0,
        RequestMark {
            requests: 100,
            allocs: 2_000,
            bytes: 200_000,
        },
    );
    let m = r.memory().expect("memory");
    let me = m.mcptop.expect("mcptop");
    assert!((me.cpu_percent - 50.0).abs() < 1e-9, "{me:?}");
    assert_eq!(me.rss_bytes, 20_000_000);
    assert_eq!(m.target, None);
    assert_eq!(m.bytes_per_session, Some(1_000_000.0));
    assert_eq!(m.mcptop_slope_mib_per_min, Some(0.0));
    assert!(!m.leak_suspect);
    assert_eq!(m.history.len(), 9);
    let a = r.allocator().expect("allocator");
    assert!((a.allocs_per_s - 1000.0).abs() < 1e-6, "{a:?}");
    assert!((a.bytes_per_s - 100_000.0).abs() < 1e-3, "{a:?}");
    assert_eq!(a.allocs_per_request, Some(20.0));
    assert_eq!(a.bytes_per_request, Some(2_000.0));
    assert_eq!(a.fragmentation, 0.25);
}

#[test]
fn recorder_judges_the_target_when_there_is_one() {
    let mut r = ResourceRecorder::new();
    r.measuring_started(0.0, RequestMark::default());
    for i in 0..40 {
        let t = i as f64 * 0.25;
        let mut x = reading(t, 20_000_000, 0.0, 0);
        x.target = Some(ProcessReading {
            pid: 2,
            rss_bytes: (30.0 * MB + 5.0 * MB * t) as u64,
            ..ProcessReading::default()
        });
        r.push(x);
    }
    assert!(r.memory().expect("memory").leak_suspect);
    let w = r.leak_warning().expect("warning");
    assert!(
        w.starts_with("possible memory leak: target RSS grew"),
        "{w}"
    );
}

#[test]
fn warmup_readings_are_not_judged() {
    let mut r = ResourceRecorder::new();
    // Steep growth before measuring, flat after.
    for i in 0..40 {
        let t = i as f64 * 0.25;
        r.push(reading(t, (20.0 * MB + 10.0 * MB * t) as u64, 0.0, 0));
    }
    r.measuring_started(10.0, RequestMark::default());
    for i in 40..80 {
        r.push(reading(i as f64 * 0.25, (120.0 * MB) as u64, 0.0, 0));
    }
    assert!(!r.memory().expect("memory").leak_suspect);
    assert_eq!(r.leak_warning(), None);
}

#[test]
fn the_run_figures_are_read_when_measuring_ends_not_after_the_drain() {
    let mut r = ResourceRecorder::new();
    r.measuring_started(0.0, RequestMark::default());
    for i in 0..8 {
        let t = i as f64 * 0.25;
        // Half a core while the load runs.
        r.push(reading(t, 20_000_000, t * 0.5, 0));
    }
    r.measuring_ended(reading(2.0, 21_000_000, 1.0, 0), RequestMark::default());
    // The drain and teardown: idle, and the memory given back.
    for i in 9..=12 {
        r.push(reading(i as f64 * 0.25, 5_000_000, 1.0, 0));
    }
    let m = r.memory().expect("memory");
    let me = m.mcptop.expect("mcptop");
    assert!((me.cpu_percent - 50.0).abs() < 1e-9, "{me:?}");
    assert_eq!(me.rss_bytes, 21_000_000);
    // The chart keeps every reading.
    assert_eq!(m.history.len(), 13);
}

#[test]
fn the_targets_cpu_is_divided_by_the_requests_of_the_measured_window() {
    let mut r = ResourceRecorder::new();
    // A warm-up reading, before measuring: not counted.
    let mut early = reading(0.0, 20_000_000, 0.0, 0);
    early.target = Some(ProcessReading {
        cpu_seconds: 5.0,
        ..ProcessReading::default()
    });
    r.push(early);
    r.measuring_started(1.0, RequestMark::default());
    for i in 0..=8 {
        let t = 1.0 + i as f64 * 0.25;
        let mut x = reading(t, 20_000_000, 0.0, 0);
        // 0.8 of a core from second 1 on.
        x.target = Some(ProcessReading {
            cpu_seconds: 5.0 + (t - 1.0) * 0.8,
            ..ProcessReading::default()
        });
        r.push(x);
    }
    r.measured_until(
        3.0,
        RequestMark {
            requests: 4_000,
            ..RequestMark::default()
        },
    );
    // 1.6 s of CPU over 4000 requests: 400 µs each.
    let us = r.target_cpu_us_per_request().expect("figure");
    assert!((us - 400.0).abs() < 1e-9, "{us}");
    assert_eq!(
        r.memory().expect("memory").target_cpu_us_per_request,
        Some(us)
    );
    // mcptop alone (builtin): no target figure.
    let mut alone = ResourceRecorder::new();
    alone.measuring_started(0.0, RequestMark::default());
    for i in 0..4 {
        alone.push(reading(i as f64, 1, i as f64, 0));
    }
    alone.measured_until(
        3.0,
        RequestMark {
            requests: 9,
            ..RequestMark::default()
        },
    );
    assert_eq!(alone.target_cpu_us_per_request(), None);
}

/// `mcptop profile`: the profiler's table is allocated when it starts, a
/// step in mcptop's RSS right after measuring begins. Judged as the run's,
/// it read as hundreds of MiB/min of growth; it is shown apart instead.
#[test]
fn the_profilers_own_memory_is_not_the_runs_growth() {
    let run = |mark: Option<ProfilerMark>| {
        let mut r = ResourceRecorder::new();
        r.measuring_started(0.0, RequestMark::default());
        for i in 0..120 {
            let t = i as f64 * 0.25;
            let rss = if t < 1.0 { 14.0 * MB } else { 300.0 * MB };
            r.push(reading(t, rss as u64, 0.0, 0));
        }
        if let Some(m) = mark {
            r.profiler_started(m);
        }
        r.memory().expect("memory")
    };
    let unmarked = run(None);
    assert!(unmarked.mcptop_slope_mib_per_min.expect("slope") > 100.0);
    assert_eq!(unmarked.profiler_rss_bytes, None);
    let marked = run(Some(ProfilerMark {
        running_at_s: 1.0,
        rss_before: (14.0 * MB) as u64,
        rss_after: (300.0 * MB) as u64,
    }));
    assert_eq!(marked.mcptop_slope_mib_per_min, Some(0.0));
    assert_eq!(marked.profiler_rss_bytes, Some((286.0 * MB) as u64));
    assert!(!marked.leak_suspect);
}

/// Loading the profiler's tables before the run and starting it during the
/// run are two steps: both are the profiler's, and growth is judged from
/// the later.
#[test]
fn the_profilers_steps_add_up() {
    let mut r = ResourceRecorder::new();
    r.measuring_started(0.0, RequestMark::default());
    for i in 0..40 {
        let t = i as f64 * 0.25;
        let rss = if t < 2.0 { 200.0 * MB } else { 210.0 * MB };
        r.push(reading(t, rss as u64, 0.0, 0));
    }
    let mark = |at: f64, before: f64, after: f64| ProfilerMark {
        running_at_s: at,
        rss_before: (before * MB) as u64,
        rss_after: (after * MB) as u64,
    };
    r.profiler_started(mark(0.0, 10.0, 200.0));
    r.profiler_started(mark(2.0, 200.0, 210.0));
    let m = r.memory().expect("memory");
    assert_eq!(m.profiler_rss_bytes, Some((200.0 * MB) as u64));
    assert_eq!(m.mcptop_slope_mib_per_min, Some(0.0));
}

//! Screens of runs with `[[scenarios]]`, of many operations at 80×24, of a
//! finished run, and the picker's target field: hand-built snapshots,
//! rendered and compared with `insta` snapshots.

use super::*;
use crate::metrics::snapshot::ScenarioNow;

/// A scenario's interval at `t`: `base` µs median, `rate` replies/s.
fn scenario_interval(t: u64, base: u64, rate: f64) -> IntervalStats {
    IntervalStats {
        t_s: t as f64,
        length_s: 1.0,
        completed: rate as u64,
        throughput: rate,
        corrected: pct(base + (t % 6) * base / 10),
        service: pct(base * 3 / 4),
        ..IntervalStats::default()
    }
}

/// `priority-flood` 30 s in: a probe at 20/s (p99 near 5 ms) beside a
/// closed-loop flood asking 13 in flight on 4 sessions × pipeline 2.
fn flood_snapshot() -> Snapshot {
    let probe: Vec<IntervalStats> = (1..=30).map(|t| scenario_interval(t, 900, 20.0)).collect();
    let flood: Vec<IntervalStats> = (6..=30)
        .map(|t| scenario_interval(t, 6_000, 1_450.0))
        .collect();
    let mut s = open_snapshot();
    s.elapsed = Duration::from_secs(30);
    s.history.truncate(30);
    s.last = s.history.last().cloned();
    s.load = LoadNow {
        in_flight: 9,
        sessions: 5,
        scenarios: 2,
        ..LoadNow::default()
    };
    s.scenarios = vec![
        ScenarioNow {
            name: "probe".into(),
            rate: Some(20.0),
            in_flight: 1,
            sessions: 1,
            active: true,
            last: probe.last().cloned(),
            history: probe,
            ..ScenarioNow::default()
        },
        ScenarioNow {
            name: "flood".into(),
            concurrency: Some(13),
            cap: Some(8),
            in_flight: 8,
            sessions: 4,
            active: true,
            last: flood.last().cloned(),
            history: flood,
            ..ScenarioNow::default()
        },
    ];
    s.ops = vec![
        op("probe/tools/list", 600, 0, 20.0, 900),
        op("flood/cpu", 21_000, 6, 700.0, 6_000),
        op("flood/payload", 20_500, 0, 683.0, 5_500),
    ];
    s
}

#[test]
fn live_two_scenarios_120x40() {
    let m = model(flood_snapshot());
    let text = live(120, 40, &m);
    for shown in [
        // The header: each scenario's asked and achieved load, the
        // selected one marked.
        "▶ probe asked 20 req/s  achieved 20 req/s  p99 4.5ms  sessions 1  in flight 1",
        "  flood 13 in flight asked, cap 8 = 4 sessions × 2  achieved 1.4k req/s",
        // The chart: one p99 line per scenario, and its legend.
        "latency p99 by scenario (corrected): probe 4.5ms flood 30ms",
        "━probe p99 ━flood p99",
        // The operations table's scenario column.
        "scenario operation",
        "probe    tools/list",
        "flood    payload",
    ] {
        assert!(text.contains(shown), "{shown:?} missing:\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn live_two_scenarios_80x24_tab_selects_the_flood() {
    let mut m = model(flood_snapshot());
    m.update(Msg::Action(Action::NextScenario));
    let text = live(80, 24, &m);
    for shown in [
        "  probe asked 20 req/s  achieved 20 req/s  p99 4.5ms",
        "▶ flood 13 asked, cap 8 -> 1.4k  p99 30ms",
        "scenario flood: +/- change its load",
        "probe    tools/list",
    ] {
        assert!(text.contains(shown), "{shown:?} missing:\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn scenarios_outside_their_window_say_waiting_or_ended() {
    let mut s = flood_snapshot();
    s.scenarios[0].active = false;
    s.scenarios[1].active = false;
    s.scenarios[1].history.clear();
    s.scenarios[1].last = None;
    let text = live(120, 40, &model(s.clone()));
    assert!(text.contains("probe ended"), "{text}");
    assert!(text.contains("flood waiting for its start"), "{text}");
    s.load.paused = true;
    let text = live(120, 40, &model(s));
    assert!(text.contains("probe paused"), "{text}");
}

/// Eight operations at 80×24: the table shows what fits, says which rows
/// and how to scroll, and `j` moves it; the total row stays.
#[test]
fn live_eight_ops_scroll_80x24() {
    let mut s = open_snapshot();
    s.ops = (1..=8)
        .map(|k| op(&format!("tool-{k}"), 1_000 * k, 0, 10.0 * k as f64, 100 * k))
        .collect();
    let mut m = model(s);
    let top = live(80, 24, &m);
    assert!(top.contains("1-3 of 8, j/k scroll"), "{top}");
    assert!(top.contains("tool-1 ") && top.contains("tool-3 "), "{top}");
    assert!(!top.contains("tool-4 "), "{top}");
    for _ in 0..3 {
        m.update(Msg::Action(Action::ScrollOps(1)));
    }
    let text = live(80, 24, &m);
    assert!(text.contains("4-6 of 8, j/k scroll"), "{text}");
    assert!(
        text.contains("tool-4 ") && text.contains("tool-6 "),
        "{text}"
    );
    assert!(!text.contains("tool-1 "), "{text}");
    assert!(text.contains("│all "), "{text}");
    insta::assert_snapshot!(text);
    // Past the end it stops at the last page; back up to the top.
    m.update(Msg::Action(Action::ScrollOps(100)));
    assert!(live(80, 24, &m).contains("6-8 of 8"));
    m.update(Msg::Action(Action::ScrollOps(-100)));
    assert_eq!(live(80, 24, &m), top);
}

/// 80×24 with memory and allocator measured: every line whole (the slope
/// in a shorter form, not cut), the charts drawn.
#[test]
fn live_memory_and_allocator_charts_80x24() {
    let mut s = closed_snapshot();
    if let Some(mem) = s.memory.as_mut() {
        if let Some(p) = mem.mcptop.as_mut() {
            p.rss_bytes = 17_700 * 1024 * 1024 / 1000;
        }
    }
    s.load.cap = Some(8);
    s.load.concurrency = Some(13);
    let text = live(80, 24, &with_allocator_readings(s));
    for shown in [
        "mcptop 17.7M +0.2M/min",
        "closed loop: 13 asked, cap 8 = 2 sessions × 4",
        "3.5 MiB/s 41.0k/s",
        "heap 12.0 MiB frag 8%",
    ] {
        assert!(text.contains(shown), "{shown:?} missing:\n{text}");
    }
    let bars = text.lines().filter(|l| l.contains('▁') || l.contains('█'));
    assert!(bars.count() >= 1, "no chart:\n{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn live_finished_run_waits_for_a_key_80x24() {
    let mut m = model(open_snapshot());
    m.snapshot.phase = Phase::Done;
    m.update(Msg::Finished(
        "run finished: press any key (result in r.json)".into(),
    ));
    let text = live(80, 24, &m);
    assert!(
        text.contains("run finished: press any key (result in r.json)"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn the_target_field_names_every_scheme() {
    let p = picker();
    let text = screen(80, 24, |f| view::picker::picker(f, &p));
    for scheme in ["builtin", "stdio:", "http(s)://", "ws(s)://", "tcp://"] {
        assert!(text.contains(scheme), "{scheme} missing:\n{text}");
    }
    let wide = screen(140, 24, |f| view::picker::picker(f, &p));
    assert!(wide.contains("tcp://HOST:PORT"), "{wide}");
}

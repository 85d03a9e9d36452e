//! Whole screens rendered into ratatui's `TestBackend` from hand-built
//! snapshots and a fixed clock, compared with `insta` snapshots. The
//! snapshot contents here are test input; the figures on screen must be
//! exactly those.

use super::input::Action;
use super::state::picker::PickerModel;
use super::state::{LiveModel, Msg, RunLabel};
use super::view;
use crate::metrics::snapshot::{
    AllocatorStats, Bucket, IntervalStats, LoadNow, MemoryStats, OpSummary, Percentiles, Phase,
    ProcessStats,
};
use crate::metrics::Snapshot;
use crate::workload::catalog::{Entry, Origin};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Duration;

fn pct(base: u64) -> Percentiles {
    Percentiles {
        p50_us: base,
        p90_us: base * 2,
        p95_us: base * 3,
        p99_us: base * 5,
        p999_us: base * 12,
        max_us: base * 20,
        min_us: base / 2,
        mean_us: base as f64 * 1.2,
    }
}

fn interval(t: u64, open: bool) -> IntervalStats {
    // A slow wave, so the lines move: 400µs..1ms median, 1.9k..2k req/s.
    let wobble = t % 10;
    IntervalStats {
        t_s: t as f64,
        length_s: 1.0,
        completed: 1_900 + wobble * 10,
        errors: u64::from(t.is_multiple_of(7)),
        throughput: 1_900.0 + wobble as f64 * 10.0,
        asked_rate: open.then_some(2_000.0),
        sent_rate: 1_950.0,
        corrected: pct(400 + wobble * 60),
        service: pct(300 + wobble * 40),
        bytes: Default::default(),
    }
}

fn op(label: &str, ok: u64, errors: u64, throughput: f64, base: u64) -> OpSummary {
    OpSummary {
        label: label.into(),
        ok,
        errors,
        throughput,
        corrected: pct(base),
        service: pct(base * 3 / 4),
        bytes: Default::default(),
    }
}

/// An open-loop run 42 s into 60, with errors and a warning.
fn open_snapshot() -> Snapshot {
    let history: Vec<IntervalStats> = (1..=42).map(|t| interval(t, true)).collect();
    Snapshot {
        phase: Phase::Measuring,
        elapsed: Duration::from_secs(42),
        planned: Some(Duration::from_secs(60)),
        load: LoadNow {
            rate: Some(2_000.0),
            concurrency: None,
            in_flight: 7,
            sessions: 4,
            paused: false,
            scenarios: 0,
            cap: None,
        },
        last: history.last().cloned(),
        history,
        total: op("all", 80_000, 6, 1_904.9, 520),
        ops: vec![
            op("echo", 60_000, 0, 1_428.6, 480),
            op("add", 20_000, 6, 476.3, 650),
        ],
        errors: vec![("timeout".into(), 5), ("jsonrpc -32603".into(), 1)],
        warnings: vec!["mcptop fell behind the asked rate for 2s".into()],
        histogram: (7..=16)
            .map(|k| Bucket {
                upper_us: 1 << k,
                count: [2, 40, 900, 30_000, 41_000, 7_000, 900, 100, 12, 2][k - 7],
            })
            .collect(),
        late_sends: 12,
        max_send_lag_us: 3_400,
        ..Snapshot::default()
    }
}

/// A closed-loop run, paused, with memory and allocator figures measured.
fn closed_snapshot() -> Snapshot {
    let history: Vec<IntervalStats> = (1..=20).map(|t| interval(t, false)).collect();
    Snapshot {
        phase: Phase::Measuring,
        elapsed: Duration::from_secs(20),
        planned: None,
        load: LoadNow {
            rate: None,
            concurrency: Some(16),
            in_flight: 16,
            sessions: 2,
            paused: true,
            scenarios: 0,
            cap: None,
        },
        last: history.last().cloned(),
        history,
        total: op("all", 38_000, 0, 1_900.0, 450),
        ops: vec![op("echo", 38_000, 0, 1_900.0, 450)],
        histogram: vec![Bucket {
            upper_us: 512,
            count: 38_000,
        }],
        memory: Some(MemoryStats {
            mcptop: Some(ProcessStats {
                pid: 10,
                rss_bytes: 24 * 1024 * 1024,
                open_fds: 20,
                fd_limit: Some(1024),
                ..ProcessStats::default()
            }),
            target: None,
            mcptop_slope_mib_per_min: Some(0.25),
            // Growing 64 KiB a second up to the 24 MiB read now.
            history: (1..=20)
                .map(|t| (t as f64, (24 << 20) - (20 - t) * (64 << 10), 0))
                .collect(),
            ..MemoryStats::default()
        }),
        allocator: Some(AllocatorStats {
            allocated_bytes: 12 * 1024 * 1024,
            active_bytes: 13 * 1024 * 1024,
            fragmentation: 0.077,
            bytes_per_s: 3.5 * 1024.0 * 1024.0,
            allocs_per_s: 41_000.0,
            allocs_per_request: Some(21.5),
            bytes_per_request: Some(1_900.0),
            ..AllocatorStats::default()
        }),
        ..Snapshot::default()
    }
}

/// A model that saw the run's allocator readings second by second up to
/// `snapshot` (the live heap growing, the rate on a wave), as a run's
/// screen does.
fn with_allocator_readings(snapshot: Snapshot) -> LiveModel {
    let mut m = model(Snapshot::default());
    let last = snapshot.elapsed.as_secs();
    let now = snapshot.allocator.unwrap_or_default();
    for t in 1..last {
        let mut earlier = snapshot.clone();
        earlier.elapsed = Duration::from_secs(t);
        earlier.allocator = Some(AllocatorStats {
            allocated_bytes: now.allocated_bytes - (last - t) * (128 << 10),
            bytes_per_s: now.bytes_per_s * (0.5 + (t % 5) as f64 / 8.0),
            ..now
        });
        m.update(Msg::Snapshot(Box::new(earlier)));
    }
    m.update(Msg::Snapshot(Box::new(snapshot)));
    m
}

fn model(snapshot: Snapshot) -> LiveModel {
    let mut m = LiveModel::new(RunLabel {
        workload: "mixed".into(),
        target: "builtin".into(),
    });
    m.update(Msg::Snapshot(Box::new(snapshot)));
    m.update(Msg::Clock(Duration::from_secs(42)));
    m
}

fn render(
    width: u16,
    height: u16,
    draw: impl FnOnce(&mut ratatui::Frame),
) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(draw).expect("draw");
    terminal
}

fn screen(width: u16, height: u16, draw: impl FnOnce(&mut ratatui::Frame)) -> String {
    render(width, height, draw).backend().to_string()
}

fn live(width: u16, height: u16, m: &LiveModel) -> String {
    screen(width, height, |f| view::live(f, m))
}

#[test]
fn live_open_loop_120x40() {
    let m = model(open_snapshot());
    let text = live(120, 40, &m);
    for shown in [
        "latency (corrected): p50 520µs",
        "p99 2.6ms",
        "achieved 1.9k req/s",
        "asked 2.0k req/s",
        "42.0s / 60.0s",
        "in flight 7",
        "timeout",
        "late sends",
        "not measured",
        "latency histogram",
    ] {
        assert!(text.contains(shown), "{shown:?} missing:\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn live_open_loop_80x24() {
    let m = model(open_snapshot());
    let text = live(80, 24, &m);
    assert!(text.contains("latency: p50 520µs p99 2.6ms"), "{text}");
    assert!(text.contains("throughput: 1.9k req/s"), "{text}");
    assert!(!text.contains("latency histogram"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn live_closed_loop_paused_with_memory_120x40() {
    let m = with_allocator_readings(closed_snapshot());
    let text = live(120, 40, &m);
    for shown in [
        "PAUSED",
        "closed loop: 16 in flight",
        "throughput: 1.9k req/s (closed)",
        "mcptop RSS 24.0 MiB +0.25 MiB/min",
        "live heap 12.0 MiB, frag. 7.7%",
        "20.0s (no time bound)",
    ] {
        assert!(text.contains(shown), "{shown:?} missing:\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn live_service_time_with_help_80x24() {
    let mut m = model(open_snapshot());
    m.update(Msg::Action(Action::ToggleLatency));
    m.update(Msg::Action(Action::ToggleHelp));
    let text = live(80, 24, &m);
    assert!(text.contains("esc or ? closes this box"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn live_before_the_first_interval_80x24() {
    let m = model(Snapshot {
        phase: Phase::Connecting,
        ..Snapshot::default()
    });
    let text = live(80, 24, &m);
    assert!(text.contains("waiting for the first interval"), "{text}");
    insta::assert_snapshot!(text);
}

/// A network target's connect, TLS and initialize medians are on the
/// screen, in the errors & warnings pane, as measured.
#[test]
fn connection_phases_are_shown_with_the_errors() {
    use crate::transport::phases::{ConnectionPhases, PhaseStats};
    let stats = |p50_us| PhaseStats {
        count: 4,
        p50_us,
        p90_us: p50_us * 2,
        p99_us: p50_us * 3,
        max_us: p50_us * 4,
    };
    let mut snapshot = open_snapshot();
    let without = live(160, 48, &model(snapshot.clone()));
    assert!(!without.contains("connect p50"), "{without}");
    snapshot.connections = Some(ConnectionPhases {
        connect: Some(stats(180)),
        tls: Some(stats(1_400)),
        initialize: Some(stats(23_000)),
    });
    let text = live(160, 48, &model(snapshot));
    assert!(
        text.contains("connect p50 180µs · TLS p50 1.4ms · init p50 23ms"),
        "{text}"
    );
    // The errors still come first.
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {text}"))
    };
    assert!(at("5 timeout") < at("connect p50"), "{text}");
}

#[test]
fn live_tiny_20x5() {
    let m = model(open_snapshot());
    insta::assert_snapshot!(live(20, 5, &m));
}

#[test]
fn no_size_panics() {
    let models = [
        model(open_snapshot()),
        model(closed_snapshot()),
        model(Snapshot::default()),
    ];
    let mut helped = model(open_snapshot());
    helped.update(Msg::Action(Action::ToggleHelp));
    for m in models.iter().chain([&helped]) {
        for width in (0..=130).step_by(13) {
            for height in (0..=42).step_by(3) {
                render(width, height, |f| view::live(f, m));
            }
        }
    }
    let p = picker();
    for width in (0..=90).step_by(9) {
        for height in 0..=26 {
            render(width, height, |f| view::picker::picker(f, &p));
        }
    }
}

fn picker() -> PickerModel {
    let mut p = PickerModel::new(
        [
            ("echo", "echo tool, closed loop"),
            ("echo-open", "echo tool, open loop at a fixed rate"),
            ("mixed", "tools, resources and prompts"),
        ]
        .iter()
        .map(|(name, description)| Entry {
            name: name.to_string(),
            origin: Origin::Shipped,
            description: description.to_string(),
        })
        .collect(),
    );
    p.update(Action::Down);
    p
}

#[test]
fn picker_80x24() {
    let mut p = picker();
    p.message = Some("last run: echo -> builtin: 41234 req/s".into());
    let text = screen(80, 24, |f| view::picker::picker(f, &p));
    assert!(text.contains("> echo-open"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn picker_editing_the_target_80x24() {
    let mut p = picker();
    p.update(Action::FocusTarget);
    for c in ":x".chars() {
        p.update(Action::Type(c));
    }
    let text = screen(80, 24, |f| view::picker::picker(f, &p));
    assert!(text.contains("builtin:x_"), "{text}");
    insta::assert_snapshot!(text);
}

/// What a hostile server says (its error messages, a warning quoting it)
/// reaches the screen as visible text: no byte of the buffer is an ESC, BEL
/// or C1 control that a terminal would act on.
#[test]
fn target_text_cannot_steer_the_terminal() {
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}]52;c;aGk=\u{7}\u{9b}31m";
    let mut snapshot = open_snapshot();
    snapshot.errors = vec![("jsonrpc -32000".into(), 3)];
    snapshot.error_messages = [("jsonrpc -32000".to_string(), format!("bad {hostile}"))].into();
    snapshot.warnings = vec![format!("target session 0 said {hostile}")];
    let m = model(snapshot);
    let terminal = render(160, 48, |f| view::live(f, &m));
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for cell in buffer.content() {
        text.push_str(cell.symbol());
    }
    assert!(
        text.contains("x1b]0;pwned"),
        "the message is shown:\n{text}"
    );
    assert!(
        !text.chars().any(|c| c.is_control()),
        "a control character reached the buffer:\n{text:?}"
    );
}

#[test]
fn the_allocator_pane_shows_the_targets_gc_or_says_it_was_not_reported() {
    use crate::metrics::gc::{GcFigures, TargetGc};
    let mut snap = closed_snapshot();
    snap.target_gc = Some(TargetGc {
        runtime: Some("node".into()),
        reported: true,
        figures: Some(GcFigures {
            collections: 24,
            pauses: 24,
            pauses_per_s: 12.0,
            pause_p99_us: Some(4100.0),
            pause_time_share: 0.032,
            ..GcFigures::default()
        }),
        ..TargetGc::default()
    });
    let text = live(120, 40, &model(snap));
    assert!(text.contains("target GC: 12.0 pauses/s"), "{text}");
    assert!(text.contains("GC p99 4.10ms, 3.2 % of time"), "{text}");
    let mut snap = open_snapshot();
    snap.target_gc = Some(TargetGc {
        note: Some("not reported: no GC report arrived".into()),
        ..TargetGc::default()
    });
    let text = live(120, 40, &model(snap));
    assert!(text.contains("target GC: not reported"), "{text}");
    assert!(!text.contains("0.0 pauses/s"), "{text}");
}

#[test]
fn live_header_names_the_scenarios_instead_of_one_load() {
    let mut s = open_snapshot();
    s.load = LoadNow {
        rate: None,
        concurrency: None,
        in_flight: 16,
        sessions: 5,
        paused: false,
        scenarios: 2,
        cap: None,
    };
    s.ops = vec![
        op("probe/tools/list", 800, 0, 20.0, 900),
        op("flood/cpu", 60_000, 0, 1_500.0, 2_000),
    ];
    let text = live(120, 40, &model(s));
    assert!(text.contains("2 scenarios at once"), "{text}");
    assert!(text.contains("sessions 5"), "{text}");
    assert!(!text.contains("load not known yet"), "{text}");
    assert!(text.contains("probe/tools/list"), "{text}");
}

mod scenarios;

/// SSE resumption's line in the errors pane: replays, p50 / p99, and no
/// duplicate or gap, from the figures the transport measured.
#[test]
fn live_screen_shows_sse_resumption() {
    use crate::transport::resume_figures::{ResumeFigures, ResumeSample};
    let figures = ResumeFigures::default();
    let now = tokio::time::Instant::now();
    for ms in [1, 2, 3] {
        let sample = ResumeSample {
            replay: Some(Duration::from_millis(ms)),
            events: 100,
            replayed: 50,
            resumes: 1,
            call: Duration::from_millis(20),
            ..ResumeSample::default()
        };
        figures.record("events", now, &sample);
    }
    let snap = Snapshot {
        sse_resume: crate::metrics::resume::live(&figures),
        ..open_snapshot()
    };
    let m = model(snap);
    let text = live(120, 40, &m);
    assert!(
        text.contains("resume: 3 replays, p99 3.0ms, 0 dup 0 gaps"),
        "{text}"
    );
    // A wider pane has room for the operation and the median.
    let text = live(200, 40, &m);
    assert!(
        text.contains("resume events: 3 replays, p50 2.0ms p99 3.0ms, 0 dup 0 gaps"),
        "{text}"
    );
}

#[test]
fn the_ops_table_shows_bytes_received_per_second_at_100_columns() {
    let mut s = open_snapshot();
    // 10 MiB reads, 9.54 a second: 95.4 MiB/s received.
    s.ops[0].label = "payload-10mb".into();
    s.ops[0].bytes = crate::metrics::wire_rates::ByteRates {
        bytes_sent: 2_000,
        bytes_received: 1_000_000_000,
        bytes_sent_per_s: 95.0,
        bytes_received_per_s: 100_000_000.0,
    };
    s.ops[1].bytes.bytes_received_per_s = 12.0 * 1024.0;
    let text = live(100, 30, &model(s));
    assert!(text.contains("recv/s"), "{text}");
    let row = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row {name:?}:\n{text}"))
            .to_string()
    };
    // The whole row fits: the figure is on the op's own line, inside the frame.
    assert!(row("payload-10").contains("95.4M"), "{text}");
    assert!(row("│add ").contains("12K"), "{text}");
    // Each line of the backend's text is quoted.
    assert!(text
        .lines()
        .all(|l| l.trim_matches('"').chars().count() <= 100));
}

/// The failover figures the engine reports: 4 sessions, 3 moved (65, 70
/// and 90 ms), 2 lost and 1 not sent while moving, target 1 answering 3 of
/// 4 replies.
fn failover_figures() -> crate::metrics::failover::FailoverReport {
    use crate::metrics::failover::{FailoverReport, SessionMoves};
    let moved = |took: f64, lost: u64| SessionMoves {
        took_s: vec![Some(took)],
        lost,
        not_sent: 0,
        answered: vec![100, 400],
    };
    let stayed = SessionMoves {
        not_sent: 1,
        answered: vec![100, 100],
        ..SessionMoves::default()
    };
    let targets = vec![
        "http://127.0.0.1:3011/mcp".into(),
        "http://127.0.0.1:3012/mcp".into(),
    ];
    let sessions = [moved(0.065, 2), moved(0.070, 0), moved(0.090, 0), stayed];
    FailoverReport::build(targets, 3, &sessions)
}

/// With failover, the errors pane has a line for the sessions' moves (the
/// result file's `failover` as the run goes); without, none.
#[test]
fn live_screen_shows_failover_in_the_errors_pane() {
    use super::panes::errors;
    let m = model(Snapshot {
        failover: Some(failover_figures()),
        ..open_snapshot()
    });
    let pane = |width: u16, m: &LiveModel| screen(width, 8, |f| errors::render(f, f.area(), m));
    let wide = pane(160, &m);
    assert!(
        wide.contains(
            "failover: 3/4 sessions moved, p50 70ms max 90ms, 2 lost 1 not sent, \
             replies http://127.0.0.1:3011/mcp 24% http://127.0.0.1:3012/mcp 76%"
        ),
        "{wide}"
    );
    let text = pane(120, &m);
    assert!(
        text.contains(
            "failover: 3/4 sessions moved, p50 70ms max 90ms, 2 lost 1 not sent, \
             replies 24%/76%"
        ),
        "{text}"
    );
    insta::assert_snapshot!(text);
    let narrow = pane(60, &m);
    assert!(
        narrow.contains("failover: 3/4 sessions moved, max 90ms, 2 lost 1 not sent"),
        "{narrow}"
    );
    assert!(!pane(120, &model(open_snapshot())).contains("failover"));
}

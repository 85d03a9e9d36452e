//! The live screen's model, Elm style: a `LiveModel`, the messages that
//! change it (`Msg`), `update` (which may answer with one `Control` for the
//! engine) and the derived figures the panes show. Plain data only: no
//! terminal, no clock reads, no ratatui types.

mod load;
pub mod picker;

pub use load::{describe_cap, step_concurrency};

use super::input::{Action, Mode};
use crate::engine::Control;
use crate::metrics::snapshot::{IntervalStats, OpSummary, Percentiles, Phase, ScenarioNow};
use crate::metrics::Snapshot;
use std::time::Duration;

/// Chart time windows, seconds; `[` and `]` step through them.
pub const WINDOWS_S: &[u64] = &[10, 30, 60, 120, 300, 600];
const DEFAULT_WINDOW: usize = 2;
/// How long a status message stays on screen.
pub const STATUS_FOR: Duration = Duration::from_secs(4);
/// `+`/`-` multiply or divide the load by this.
pub const LOAD_STEP: f64 = 1.25;
/// Allocator readings the model keeps for its charts (one a tick: ten
/// minutes, the widest chart window).
pub const ALLOCATOR_HISTORY: usize = 600;

/// What is being run, as the header names it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLabel {
    pub workload: String,
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// From the planned start (coordinated omission corrected).
    Corrected,
    /// From the actual send.
    Service,
}

impl LatencyKind {
    pub fn name(self) -> &'static str {
        match self {
            LatencyKind::Corrected => "corrected",
            LatencyKind::Service => "service time",
        }
    }

    pub fn of_interval(self, i: &IntervalStats) -> &Percentiles {
        match self {
            LatencyKind::Corrected => &i.corrected,
            LatencyKind::Service => &i.service,
        }
    }

    pub fn of_op(self, o: &OpSummary) -> &Percentiles {
        match self {
            LatencyKind::Corrected => &o.corrected,
            LatencyKind::Service => &o.service,
        }
    }
}

/// Why the live screen ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveExit {
    /// `q` or Ctrl-C: stop the run and leave.
    Quit,
    /// `w`: stop the run and choose another.
    BackToPicker,
    /// The run ended by itself (time up, target gone, signal).
    RunEnded,
}

/// The load the user asked for with `+`/`-`, which the engine keeps for the
/// rest of the run; remembered so quick presses build on each other instead
/// of on a snapshot up to a tick old.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Requested {
    Rate(f64),
    Concurrency(u32),
}

/// What `update` asks the glue to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    /// Send this to the engine.
    Engine(Control),
    /// Run the profile hook and show what it says.
    CaptureProfile,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Snapshot(Box<Snapshot>),
    /// Time since the screen opened (for status messages only).
    Clock(Duration),
    Action(Action),
    /// A message for the status line (a hook's answer).
    Status(String),
    /// The run ended by itself and its result is written (where, said
    /// here): the screen stays until a key.
    Finished(String),
}

/// The allocator's figures at one snapshot, kept for the pane's charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllocatorPoint {
    /// Measured seconds (the snapshot's `elapsed`).
    pub t_s: f64,
    pub bytes_per_s: f64,
    pub allocated_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct LiveModel {
    pub run: RunLabel,
    pub snapshot: Snapshot,
    pub latency: LatencyKind,
    pub help: bool,
    pub exit: Option<LiveExit>,
    window: usize,
    now: Duration,
    status: Option<(String, Duration)>,
    requested: Option<Requested>,
    pause_asked: bool,
    /// `b`: save this run as its workload's baseline once it ends.
    baseline_asked: bool,
    /// The load was changed by hand (`+`/`-`/space): the run is no longer
    /// the workload as written, so it cannot be a baseline.
    load_changed: bool,
    /// `+`/`-` per scenario (by index), as `requested` is for the run.
    scenario_requested: Vec<Option<Requested>>,
    /// The scenario `+`/`-` act on (Tab cycles), an index into
    /// `snapshot.scenarios`.
    selected: usize,
    /// First operation row shown (the table scrolls with j/k, PgUp/PgDn).
    ops_scroll: usize,
    /// Allocator readings, oldest first (bounded).
    allocator_history: Vec<AllocatorPoint>,
    /// Set once the run ended by itself: what the status line says.
    finished: Option<String>,
}

impl LiveModel {
    pub fn new(run: RunLabel) -> LiveModel {
        LiveModel {
            run,
            snapshot: Snapshot::default(),
            latency: LatencyKind::Corrected,
            help: false,
            exit: None,
            window: DEFAULT_WINDOW,
            now: Duration::ZERO,
            status: None,
            requested: None,
            pause_asked: false,
            baseline_asked: false,
            load_changed: false,
            scenario_requested: Vec::new(),
            selected: 0,
            ops_scroll: 0,
            allocator_history: Vec::new(),
            finished: None,
        }
    }

    pub fn mode(&self) -> Mode {
        if self.help {
            Mode::Help
        } else {
            Mode::Live
        }
    }

    pub fn window_s(&self) -> u64 {
        WINDOWS_S[self.window.min(WINDOWS_S.len() - 1)]
    }

    /// The status message, while it is fresh.
    pub fn status(&self) -> Option<&str> {
        self.status
            .as_ref()
            .filter(|(_, until)| self.now < *until)
            .map(|(text, _)| text.as_str())
    }

    /// The selected scenario, when the run has scenarios.
    pub fn selected_scenario(&self) -> Option<(usize, &ScenarioNow)> {
        let all = &self.snapshot.scenarios;
        let i = self.selected.min(all.len().checked_sub(1)?);
        Some((i, &all[i]))
    }

    /// First operation row to show, as scrolled.
    pub fn ops_scroll(&self) -> usize {
        self.ops_scroll
    }

    pub fn allocator_history(&self) -> &[AllocatorPoint] {
        &self.allocator_history
    }

    /// What the status line says once the run ended by itself.
    pub fn finished(&self) -> Option<&str> {
        self.finished.as_deref()
    }

    /// Whether the run should be saved as a baseline when it ends.
    pub fn baseline_asked(&self) -> bool {
        self.baseline_asked
    }

    fn say(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), self.now + STATUS_FOR));
    }

    pub fn update(&mut self, msg: Msg) -> Option<Effect> {
        match msg {
            Msg::Snapshot(s) => {
                self.snapshot = *s;
                self.keep_allocator_reading();
                None
            }
            Msg::Clock(now) => {
                self.now = now;
                None
            }
            Msg::Action(a) => self.act(a),
            Msg::Status(text) => {
                self.say(text);
                None
            }
            Msg::Finished(text) => {
                self.finished = Some(text);
                None
            }
        }
    }

    /// One allocator reading per measured instant: a newer snapshot of the
    /// same instant (warm-up, a pause) replaces the last.
    fn keep_allocator_reading(&mut self) {
        let Some(a) = &self.snapshot.allocator else {
            return;
        };
        let point = AllocatorPoint {
            t_s: self.snapshot.elapsed.as_secs_f64(),
            bytes_per_s: a.bytes_per_s,
            allocated_bytes: a.allocated_bytes,
        };
        let h = &mut self.allocator_history;
        if h.last().is_some_and(|last| last.t_s >= point.t_s) {
            h.pop();
        }
        h.push(point);
        if h.len() > ALLOCATOR_HISTORY {
            h.remove(0);
        }
    }

    fn act(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Quit => {
                self.exit = Some(LiveExit::Quit);
                Some(Effect::Engine(Control::Stop))
            }
            Action::BackToPicker => {
                self.exit = Some(LiveExit::BackToPicker);
                Some(Effect::Engine(Control::Stop))
            }
            Action::TogglePause => {
                if !self.accepts_controls() {
                    self.say("the run is not measuring: nothing to pause");
                    return None;
                }
                self.pause_asked = !self.pause_asked;
                let control = if self.pause_asked {
                    self.say("paused: no requests are sent (space resumes)");
                    Control::Pause
                } else {
                    self.say("resumed");
                    Control::Resume
                };
                self.changed_load();
                Some(Effect::Engine(control))
            }
            Action::LoadUp => self.change_load(true),
            Action::LoadDown => self.change_load(false),
            Action::NarrowWindow => self.step_window(false),
            Action::WidenWindow => self.step_window(true),
            Action::ToggleLatency => {
                self.latency = match self.latency {
                    LatencyKind::Corrected => LatencyKind::Service,
                    LatencyKind::Service => LatencyKind::Corrected,
                };
                self.say(format!("latency: {}", self.latency.name()));
                None
            }
            Action::CaptureProfile => Some(Effect::CaptureProfile),
            Action::SaveBaseline => {
                self.toggle_baseline();
                None
            }
            Action::ToggleHelp => {
                self.help = !self.help;
                None
            }
            Action::NextScenario => {
                self.cycle_scenario(1);
                None
            }
            Action::PrevScenario => {
                self.cycle_scenario(-1);
                None
            }
            Action::ScrollOps(rows) => {
                let last = self.snapshot.ops.len().saturating_sub(1);
                let to = self.ops_scroll as i64 + i64::from(rows);
                self.ops_scroll = (to.max(0) as usize).min(last);
                None
            }
            Action::CloseHelp => {
                self.help = false;
                None
            }
            // Picker actions do not reach a live screen.
            Action::Up
            | Action::Down
            | Action::Start
            | Action::FocusTarget
            | Action::FocusList
            | Action::Type(_)
            | Action::Erase => None,
        }
    }

    fn step_window(&mut self, wider: bool) -> Option<Effect> {
        self.window = if wider {
            (self.window + 1).min(WINDOWS_S.len() - 1)
        } else {
            self.window.saturating_sub(1)
        };
        self.say(format!("chart window {}s", self.window_s()));
        None
    }

    /// Tab: the next scenario (Shift-Tab the one before); nothing without
    /// scenarios.
    fn cycle_scenario(&mut self, by: isize) {
        let n = self.snapshot.scenarios.len();
        if n == 0 {
            return;
        }
        let at = self.selected.min(n - 1) as isize;
        self.selected = (at + by).rem_euclid(n as isize) as usize;
        if let Some((_, s)) = self.selected_scenario() {
            let text = format!("scenario {}: +/- change its load", s.name);
            self.say(text);
        }
    }

    fn toggle_baseline(&mut self) {
        if self.load_changed {
            self.say("not a baseline: the load was changed by hand (+/-/space) in this run");
        } else if self.baseline_asked {
            self.baseline_asked = false;
            self.say("baseline cancelled");
        } else {
            self.baseline_asked = true;
            let name = &self.run.workload;
            self.say(format!(
                "this run becomes the baseline of {name} when it ends (b again cancels)"
            ));
        }
    }

    /// The run leaves the workload as written: it can no longer be a baseline.
    fn changed_load(&mut self) {
        self.load_changed = true;
        if self.baseline_asked {
            self.baseline_asked = false;
            self.say("baseline cancelled: the load was changed by hand");
        }
    }

    fn accepts_controls(&self) -> bool {
        matches!(
            self.snapshot.phase,
            Phase::Connecting | Phase::Warmup | Phase::Measuring
        )
    }

    /// Intervals inside the chart window, oldest first.
    pub fn window_intervals(&self) -> &[IntervalStats] {
        let h = &self.snapshot.history;
        let Some(end) = h.last().map(|i| i.t_s) else {
            return h;
        };
        let from = end - self.window_s() as f64;
        let first = h.iter().position(|i| i.t_s > from).unwrap_or(h.len());
        &h[first..]
    }

    /// The chart window's time axis, seconds of measured time: the last
    /// `window_s` up to the newest interval; early in a run, from zero to
    /// the window or the planned duration if shorter, so the charts fill
    /// from the left.
    pub fn window_bounds(&self) -> (f64, f64) {
        let window = self.window_s() as f64;
        let span = self
            .snapshot
            .planned
            .map(|p| p.as_secs_f64().clamp(1.0, window))
            .unwrap_or(window);
        let end = self.snapshot.history.last().map(|i| i.t_s).unwrap_or(0.0);
        let hi = end.max(span);
        ((hi - window).max(0.0), hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::LoadNow;

    /// The model of `echo` on builtin after one measuring `snapshot`.
    pub(super) fn with(snapshot: Snapshot) -> LiveModel {
        let mut m = LiveModel::new(RunLabel {
            workload: "echo".into(),
            target: "builtin".into(),
        });
        m.update(Msg::Snapshot(Box::new(Snapshot {
            phase: Phase::Measuring,
            ..snapshot
        })));
        m
    }

    pub(super) fn model(load: LoadNow) -> LiveModel {
        with(Snapshot {
            load,
            ..Snapshot::default()
        })
    }

    pub(super) fn closed(c: u32) -> LiveModel {
        model(LoadNow {
            concurrency: Some(c),
            ..LoadNow::default()
        })
    }

    #[test]
    fn space_alternates_pause_and_resume() {
        let mut m = closed(4);
        assert_eq!(
            m.update(Msg::Action(Action::TogglePause)),
            Some(Effect::Engine(Control::Pause))
        );
        assert_eq!(
            m.update(Msg::Action(Action::TogglePause)),
            Some(Effect::Engine(Control::Resume))
        );
    }

    #[test]
    fn quit_and_picker_stop_the_run() {
        let mut m = closed(4);
        assert_eq!(
            m.update(Msg::Action(Action::Quit)),
            Some(Effect::Engine(Control::Stop))
        );
        assert_eq!(m.exit, Some(LiveExit::Quit));
        let mut m = closed(4);
        assert_eq!(
            m.update(Msg::Action(Action::BackToPicker)),
            Some(Effect::Engine(Control::Stop))
        );
        assert_eq!(m.exit, Some(LiveExit::BackToPicker));
    }

    #[test]
    fn hooks_are_effects_and_status_expires() {
        let mut m = closed(4);
        m.update(Msg::Clock(Duration::from_secs(10)));
        assert_eq!(
            m.update(Msg::Action(Action::CaptureProfile)),
            Some(Effect::CaptureProfile)
        );
        m.update(Msg::Status("profile written".into()));
        assert_eq!(m.status(), Some("profile written"));
        m.update(Msg::Clock(Duration::from_secs(10) + STATUS_FOR));
        assert_eq!(m.status(), None);
    }

    #[test]
    fn b_marks_the_run_as_a_baseline_until_the_load_is_changed() {
        let mut m = closed(4);
        assert!(!m.baseline_asked());
        assert_eq!(m.update(Msg::Action(Action::SaveBaseline)), None);
        assert!(m.baseline_asked());
        assert_eq!(
            m.status(),
            Some("this run becomes the baseline of echo when it ends (b again cancels)")
        );
        m.update(Msg::Action(Action::SaveBaseline));
        assert!(!m.baseline_asked());
        assert_eq!(m.status(), Some("baseline cancelled"));
        m.update(Msg::Action(Action::SaveBaseline));
        // Changing the load by hand cancels it, and it cannot be asked again.
        m.update(Msg::Action(Action::LoadUp));
        assert!(!m.baseline_asked());
        assert_eq!(
            m.status(),
            Some("baseline cancelled: the load was changed by hand")
        );
        m.update(Msg::Action(Action::SaveBaseline));
        assert!(!m.baseline_asked());
        assert!(m.status().is_some_and(|s| s.starts_with("not a baseline")));
        // Pausing changes the load too.
        let mut m = closed(4);
        m.update(Msg::Action(Action::SaveBaseline));
        m.update(Msg::Action(Action::TogglePause));
        assert!(!m.baseline_asked());
    }

    #[test]
    fn window_steps_are_bounded_and_select_intervals() {
        let mut m = closed(4);
        m.snapshot.history = (1..=100)
            .map(|t| IntervalStats {
                t_s: t as f64,
                ..IntervalStats::default()
            })
            .collect();
        assert_eq!(m.window_s(), 60);
        assert_eq!(m.window_intervals().len(), 60);
        for _ in 0..10 {
            m.update(Msg::Action(Action::NarrowWindow));
        }
        assert_eq!(m.window_s(), 10);
        assert_eq!(m.window_intervals().first().map(|i| i.t_s), Some(91.0));
        for _ in 0..10 {
            m.update(Msg::Action(Action::WidenWindow));
        }
        assert_eq!(m.window_s(), 600);
        assert_eq!(m.window_intervals().len(), 100);
        assert_eq!(m.window_bounds(), (0.0, 600.0));
        m.snapshot.planned = Some(Duration::from_secs(30));
        assert_eq!(m.window_bounds(), (0.0, 100.0));
        m.snapshot.history.truncate(12);
        assert_eq!(m.window_bounds(), (0.0, 30.0));
        for _ in 0..5 {
            m.update(Msg::Action(Action::NarrowWindow));
        }
        assert_eq!(m.window_s(), 10);
        assert_eq!(m.window_bounds(), (2.0, 12.0));
    }

    #[test]
    fn latency_and_help_toggle() {
        let mut m = closed(4);
        m.update(Msg::Action(Action::ToggleLatency));
        assert_eq!(m.latency, LatencyKind::Service);
        m.update(Msg::Action(Action::ToggleHelp));
        assert_eq!(m.mode(), Mode::Help);
        m.update(Msg::Action(Action::CloseHelp));
        assert_eq!(m.mode(), Mode::Live);
    }
}

//! `+`/`-`: the next load the live screen asks for, of the whole run or of
//! the selected scenario, stepped from the last request (so quick presses
//! build on each other) and held under the sessions' cap in closed loop.

use super::{Effect, LiveModel, Requested, LOAD_STEP};
use crate::engine::Control;

/// The load one `+`/`-` acts on.
struct Target {
    /// `None`: the whole run; else the scenario's index.
    scenario: Option<usize>,
    /// `"probe: "` for a scenario, empty for the run (status lines).
    prefix: String,
    current: Option<Requested>,
    cap: Option<u64>,
    sessions: u32,
}

impl LiveModel {
    pub(super) fn change_load(&mut self, up: bool) -> Option<Effect> {
        if !self.accepts_controls() {
            self.say("the run is ending: the load cannot change");
            return None;
        }
        let target = self.load_target();
        let next = match target.current {
            Some(Requested::Rate(rate)) => {
                let next = if up {
                    rate * LOAD_STEP
                } else {
                    (rate / LOAD_STEP).max(1.0)
                };
                self.say(format!(
                    "{}asked rate {rate:.0}/s -> {next:.0}/s",
                    target.prefix
                ));
                Requested::Rate(next)
            }
            Some(Requested::Concurrency(c)) => {
                let (next, text) = capped_step(c, up, target.cap, target.sessions);
                self.say(format!("{}{text}", target.prefix));
                Requested::Concurrency(next?)
            }
            None => {
                self.say("the load is not known yet: try again in a second");
                return None;
            }
        };
        self.changed_load();
        let control = match (target.scenario, next) {
            (None, Requested::Rate(r)) => Control::SetRate(r),
            (None, Requested::Concurrency(c)) => Control::SetConcurrency(c),
            (Some(i), Requested::Rate(r)) => Control::SetScenarioRate(i, r),
            (Some(i), Requested::Concurrency(c)) => Control::SetScenarioConcurrency(i, c),
        };
        match target.scenario {
            None => self.requested = Some(next),
            Some(i) => {
                if self.scenario_requested.len() <= i {
                    self.scenario_requested.resize(i + 1, None);
                }
                self.scenario_requested[i] = Some(next);
            }
        }
        Some(Effect::Engine(control))
    }

    /// The selected scenario's load when the run has scenarios, else the
    /// run's.
    fn load_target(&self) -> Target {
        if let Some((i, s)) = self.selected_scenario() {
            let known = asked(s.rate, s.concurrency);
            return Target {
                scenario: Some(i),
                prefix: format!("{}: ", s.name),
                current: self.scenario_requested.get(i).copied().flatten().or(known),
                cap: s.cap,
                sessions: s.sessions,
            };
        }
        let load = &self.snapshot.load;
        let known = asked(load.rate, load.concurrency);
        Target {
            scenario: None,
            prefix: String::new(),
            current: self.requested.or(known),
            cap: load.cap,
            sessions: load.sessions,
        }
    }
}

/// The load a snapshot says is asked (of the run or of a scenario): its
/// rate in open loop, else its in-flight requests; `None` before it is known.
fn asked(rate: Option<f64>, concurrency: Option<u32>) -> Option<Requested> {
    match (rate, concurrency) {
        (Some(rate), _) => Some(Requested::Rate(rate)),
        (_, Some(c)) => Some(Requested::Concurrency(c)),
        _ => None,
    }
}

/// `cap 8 = 4 sessions × 2`: where the most in flight comes from.
pub fn describe_cap(cap: u64, sessions: u32) -> String {
    if sessions > 0 && cap.is_multiple_of(u64::from(sessions)) {
        format!(
            "cap {cap} = {sessions} sessions × {}",
            cap / u64::from(sessions)
        )
    } else {
        format!("cap {cap}")
    }
}

/// One closed-loop step held under the cap: the next figure (`None` when
/// already at the cap, so `+` would change nothing) and what to say.
fn capped_step(c: u32, up: bool, cap: Option<u64>, sessions: u32) -> (Option<u32>, String) {
    let next = step_concurrency(c, up);
    match cap {
        Some(cap) if up && u64::from(c) >= cap => (
            None,
            format!(
                "in flight stays at {c}: {} (more needs more sessions or a deeper pipeline)",
                describe_cap(cap, sessions)
            ),
        ),
        Some(cap) if up && u64::from(next) >= cap => {
            let next = u32::try_from(cap).unwrap_or(u32::MAX);
            (
                Some(next),
                format!("in flight {c} -> {next} ({})", describe_cap(cap, sessions)),
            )
        }
        _ => (Some(next), format!("in flight {c} -> {next}")),
    }
}

/// One `+`/`-` step of in-flight requests: ×1.25 or ÷1.25, and always at
/// least one, so small figures still move.
pub fn step_concurrency(c: u32, up: bool) -> u32 {
    let c = c.max(1);
    if up {
        let scaled = (c as f64 * LOAD_STEP).round() as u32;
        scaled.max(c.saturating_add(1))
    } else {
        let scaled = (c as f64 / LOAD_STEP).round() as u32;
        scaled.min(c - 1).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{closed, model, with};
    use super::super::Msg;
    use super::*;
    use crate::metrics::snapshot::{LoadNow, Phase, ScenarioNow};
    use crate::metrics::Snapshot;
    use crate::tui::input::Action;

    fn press(m: &mut LiveModel, action: Action) -> Option<Effect> {
        m.update(Msg::Action(action))
    }

    #[test]
    fn rate_steps_build_on_the_last_request() {
        let mut m = model(LoadNow {
            rate: Some(1000.0),
            ..LoadNow::default()
        });
        assert_eq!(
            press(&mut m, Action::LoadUp),
            Some(Effect::Engine(Control::SetRate(1250.0)))
        );
        assert_eq!(
            press(&mut m, Action::LoadUp),
            Some(Effect::Engine(Control::SetRate(1562.5)))
        );
        assert_eq!(
            press(&mut m, Action::LoadDown),
            Some(Effect::Engine(Control::SetRate(1250.0)))
        );
        assert_eq!(m.status(), Some("asked rate 1562/s -> 1250/s"));
    }

    #[test]
    fn concurrency_steps_move_at_least_one() {
        assert_eq!(step_concurrency(16, true), 20);
        assert_eq!(step_concurrency(16, false), 13);
        assert_eq!(step_concurrency(1, true), 2);
        assert_eq!(step_concurrency(2, true), 3);
        assert_eq!(step_concurrency(2, false), 1);
        assert_eq!(step_concurrency(1, false), 1);
        let mut m = closed(16);
        assert_eq!(
            press(&mut m, Action::LoadDown),
            Some(Effect::Engine(Control::SetConcurrency(13)))
        );
    }

    #[test]
    fn load_keys_wait_for_a_known_load_and_stop_at_the_end() {
        let mut m = model(LoadNow::default());
        assert_eq!(press(&mut m, Action::LoadUp), None);
        assert!(m.status().is_some_and(|s| s.contains("not known")));
        let mut m = closed(4);
        m.snapshot.phase = Phase::Draining;
        assert_eq!(press(&mut m, Action::LoadUp), None);
        assert_eq!(press(&mut m, Action::TogglePause), None);
    }

    /// Closed loop with 4 sessions × pipeline 2: `+` stops at 8 and says
    /// why, instead of asking for 13 that the sessions cannot hold.
    #[test]
    fn closed_loop_plus_stops_at_the_sessions_cap_and_says_it() {
        let mut m = model(LoadNow {
            concurrency: Some(7),
            sessions: 4,
            cap: Some(8),
            ..LoadNow::default()
        });
        assert_eq!(
            press(&mut m, Action::LoadUp),
            Some(Effect::Engine(Control::SetConcurrency(8)))
        );
        assert_eq!(
            m.status(),
            Some("in flight 7 -> 8 (cap 8 = 4 sessions × 2)")
        );
        assert_eq!(press(&mut m, Action::LoadUp), None);
        assert_eq!(
            m.status(),
            Some(
                "in flight stays at 8: cap 8 = 4 sessions × 2 \
                 (more needs more sessions or a deeper pipeline)"
            )
        );
        assert_eq!(
            press(&mut m, Action::LoadDown),
            Some(Effect::Engine(Control::SetConcurrency(6)))
        );
        assert_eq!(describe_cap(9, 2), "cap 9");
        assert_eq!(describe_cap(9, 0), "cap 9");
    }

    fn scenario(name: &str, rate: Option<f64>, concurrency: Option<u32>) -> ScenarioNow {
        ScenarioNow {
            name: name.into(),
            rate,
            concurrency,
            sessions: 2,
            active: true,
            ..ScenarioNow::default()
        }
    }

    fn two_scenarios() -> LiveModel {
        with(Snapshot {
            load: LoadNow {
                scenarios: 2,
                ..LoadNow::default()
            },
            scenarios: vec![
                scenario("probe", Some(20.0), None),
                ScenarioNow {
                    cap: Some(8),
                    ..scenario("flood", None, Some(6))
                },
            ],
            ..Snapshot::default()
        })
    }

    #[test]
    fn tab_selects_the_scenario_that_plus_and_minus_change() {
        let mut m = two_scenarios();
        assert_eq!(m.selected_scenario().map(|(i, _)| i), Some(0));
        assert_eq!(
            press(&mut m, Action::LoadUp),
            Some(Effect::Engine(Control::SetScenarioRate(0, 25.0)))
        );
        assert_eq!(m.status(), Some("probe: asked rate 20/s -> 25/s"));
        assert_eq!(press(&mut m, Action::NextScenario), None);
        assert_eq!(m.selected_scenario().map(|(i, _)| i), Some(1));
        assert_eq!(
            press(&mut m, Action::LoadUp),
            Some(Effect::Engine(Control::SetScenarioConcurrency(1, 8)))
        );
        assert_eq!(
            m.status(),
            Some("flood: in flight 6 -> 8 (cap 8 = 2 sessions × 4)")
        );
        assert_eq!(press(&mut m, Action::LoadUp), None);
        // Each scenario's steps build on its own last request.
        press(&mut m, Action::NextScenario);
        assert_eq!(m.selected_scenario().map(|(i, _)| i), Some(0));
        assert_eq!(
            press(&mut m, Action::LoadDown),
            Some(Effect::Engine(Control::SetScenarioRate(0, 20.0)))
        );
        press(&mut m, Action::PrevScenario);
        assert_eq!(m.selected_scenario().map(|(i, _)| i), Some(1));
        assert_eq!(
            press(&mut m, Action::LoadDown),
            Some(Effect::Engine(Control::SetScenarioConcurrency(1, 6)))
        );
    }

    #[test]
    fn without_scenarios_tab_does_nothing_and_plus_acts_on_the_run() {
        let mut m = closed(4);
        assert_eq!(m.selected_scenario(), None);
        assert_eq!(press(&mut m, Action::NextScenario), None);
        assert_eq!(m.status(), None);
        assert_eq!(
            press(&mut m, Action::LoadUp),
            Some(Effect::Engine(Control::SetConcurrency(5)))
        );
    }
}

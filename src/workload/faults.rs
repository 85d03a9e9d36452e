//! `[[faults]]` and `reconnect`: what breaks during a run, and whether a
//! session whose transport died comes back. A fault happens at a time on
//! the measured clock (`at`, from the end of warm-up) and does one thing:
//! `kill`, `stop` (SIGSTOP for a while, then SIGCONT), `restart`,
//! `drop_connections`, or on the client side `delay`/`blackhole` for a
//! window. Validation turns the spec into `Fault`s; the engine runs them.

use super::fields::{parse_duration, parse_positive_duration};
use super::spec::WorkloadSpec;
use super::validate::Problems;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One `[[faults]]` entry as written: `at` and exactly one action key.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When, on the measured clock (after warm-up), e.g. "10s".
    pub at: String,
    /// SIGKILL the target process(es).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<bool>,
    /// SIGSTOP for this long, then SIGCONT (a stall or GC-pause look-alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    /// Kill, then start the command again at once (stdio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
    /// Close the client's connections without a goodbye.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_connections: Option<bool>,
    /// Hold every request this long before sending it, for `for`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// Requests sent in this window are never answered (they time out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blackhole: Option<String>,
    /// How long a `delay` lasts.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// `"all"`, or how many sessions (from the first); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<FaultSessionsSpec>,
    /// Only the sessions of this scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// With failover: signal the process of this target (index in
    /// `targets`), the `--target-pid` given in the same place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum FaultSessionsSpec {
    Count(u32),
    Word(String),
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultAction {
    Kill,
    Stop(Duration),
    Restart,
    DropConnections,
    Delay { by: Duration, window: Duration },
    Blackhole(Duration),
}

impl FaultAction {
    /// The action's name, as in the file and the reports.
    pub fn name(&self) -> &'static str {
        match self {
            FaultAction::Kill => "kill",
            FaultAction::Stop(_) => "stop",
            FaultAction::Restart => "restart",
            FaultAction::DropConnections => "drop_connections",
            FaultAction::Delay { .. } => "delay",
            FaultAction::Blackhole(_) => "blackhole",
        }
    }

    /// How long the fault itself lasts (zero for an instant one).
    pub fn window(&self) -> Duration {
        match *self {
            FaultAction::Stop(d) | FaultAction::Blackhole(d) => d,
            FaultAction::Delay { window, .. } => window,
            _ => Duration::ZERO,
        }
    }
}

/// Which sessions a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultSessions {
    All,
    First(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// From the start of measuring.
    pub at: Duration,
    pub action: FaultAction,
    pub sessions: FaultSessions,
    /// Index of the scenario whose sessions it hits.
    pub scenario: Option<usize>,
    /// With failover: only the process of this target (index in `targets`).
    pub target: Option<usize>,
}

impl Fault {
    /// A short label for charts and reports: `kill@10s`.
    pub fn label(&self) -> String {
        format!(
            "{}@{}",
            self.action.name(),
            humantime::format_duration(self.at)
        )
    }
}

/// The faults of a run and whether sessions come back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chaos {
    pub faults: Vec<Fault>,
    /// A session whose transport died reconnects (with capped backoff):
    /// the run's `reconnect`.
    pub reconnect: bool,
    /// Each scenario's own `reconnect` (file order), which decides for its
    /// sessions instead of the run's.
    pub scenario_reconnect: Vec<Option<bool>>,
    /// `targets` with `failover = true`.
    pub failover: Option<super::failover::Failover>,
}

impl Chaos {
    /// True when something in the run is meant to break or come back: a
    /// dead session then does not stop the run.
    pub fn expects_failures(&self) -> bool {
        self.reconnect
            || !self.faults.is_empty()
            || self.scenario_reconnect.contains(&Some(true))
            || self.failover.is_some()
    }

    /// Whether a session shared by `scenarios` (indices) reconnects: a
    /// scenario's own key decides for it, else the run's; a session any of
    /// its scenarios wants back comes back.
    pub fn reconnects(&self, scenarios: impl IntoIterator<Item = usize>) -> bool {
        let mut any = false;
        let mut wants = false;
        for s in scenarios {
            any = true;
            let own = self.scenario_reconnect.get(s).copied().flatten();
            wants |= own.unwrap_or(self.reconnect);
        }
        if any {
            wants
        } else {
            self.reconnect
        }
    }
}

/// The chaos settings of a spec, each problem named by its key.
pub(super) fn chaos(spec: &WorkloadSpec, p: &mut Problems) -> Chaos {
    let reconnect = spec.reconnect.unwrap_or(false);
    let scenario_reconnect = spec.scenarios.iter().map(|s| s.reconnect).collect();
    let failover = super::failover::failover(spec, p);
    let faults = spec
        .faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| fault(spec, f, &format!("faults[{i}]"), p))
        .collect();
    Chaos {
        faults,
        reconnect,
        scenario_reconnect,
        failover,
    }
}

fn fault(spec: &WorkloadSpec, f: &FaultSpec, key: &str, p: &mut Problems) -> Option<Fault> {
    let at = p.check(&format!("{key}.at"), parse_duration(&f.at));
    let action = action(f, key, p);
    let sessions = match &f.sessions {
        None => Some(FaultSessions::First(1)),
        Some(FaultSessionsSpec::Count(0)) => {
            p.add(&format!("{key}.sessions"), "expected at least 1".into());
            None
        }
        Some(FaultSessionsSpec::Count(n)) => Some(FaultSessions::First(*n)),
        Some(FaultSessionsSpec::Word(w)) if w == "all" => Some(FaultSessions::All),
        Some(FaultSessionsSpec::Word(w)) => {
            p.add(
                &format!("{key}.sessions"),
                format!("expected \"all\" or a number of sessions, got {w:?}"),
            );
            None
        }
    };
    let scenario = match &f.scenario {
        None => Some(None),
        Some(name) => match spec.scenarios.iter().position(|s| &s.name == name) {
            Some(i) => Some(Some(i)),
            None => {
                p.add(
                    &format!("{key}.scenario"),
                    format!("no scenario named {name:?} in [[scenarios]]"),
                );
                None
            }
        },
    };
    let action = action?;
    let target = super::failover::fault_target(spec, f.target, action, key, p);
    Some(Fault {
        at: at?,
        action,
        sessions: sessions?,
        scenario: scenario?,
        target: target?,
    })
}

/// The one action of a fault entry.
fn action(f: &FaultSpec, key: &str, p: &mut Problems) -> Option<FaultAction> {
    let mut found: Vec<(&str, Option<FaultAction>)> = Vec::new();
    if f.kill == Some(true) {
        found.push(("kill", Some(FaultAction::Kill)));
    }
    if let Some(d) = &f.stop {
        found.push(("stop", span(p, key, "stop", d).map(FaultAction::Stop)));
    }
    if f.restart == Some(true) {
        found.push(("restart", Some(FaultAction::Restart)));
    }
    if f.drop_connections == Some(true) {
        found.push(("drop_connections", Some(FaultAction::DropConnections)));
    }
    if let Some(d) = &f.blackhole {
        found.push((
            "blackhole",
            span(p, key, "blackhole", d).map(FaultAction::Blackhole),
        ));
    }
    if let Some(d) = &f.delay {
        let by = span(p, key, "delay", d);
        let window = match &f.window {
            Some(w) => span(p, key, "for", w),
            None => {
                p.add(
                    &format!("{key}.for"),
                    "a delay needs a window: for = \"3s\"".into(),
                );
                None
            }
        };
        found.push((
            "delay",
            by.zip(window)
                .map(|(by, window)| FaultAction::Delay { by, window }),
        ));
    } else if f.window.is_some() {
        p.add(&format!("{key}.for"), "`for` goes with `delay` only".into());
    }
    match found.as_slice() {
        [(_, action)] => *action,
        [] => {
            p.add(
                key,
                "expected one action: kill = true, stop = \"2s\", restart = true, \
                 drop_connections = true, delay = \"200ms\" with for = \"3s\", or blackhole = \"3s\""
                    .into(),
            );
            None
        }
        many => {
            let names: Vec<&str> = many.iter().map(|(n, _)| *n).collect();
            p.add(
                key,
                format!("expected one action, got {}", names.join(" and ")),
            );
            None
        }
    }
}

fn span(p: &mut Problems, key: &str, name: &str, text: &str) -> Option<Duration> {
    p.check(&format!("{key}.{name}"), parse_positive_duration(text))
}

#[cfg(test)]
mod tests;

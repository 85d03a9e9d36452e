//! `targets`, `failover` and `failover_timeouts`: sessions that start on
//! the first of several targets and move to the next when theirs fails
//! (a refused connect, a reset, or `failover_timeouts` timeouts in a row),
//! round robin. Validation here names every combination that cannot run
//! (one target, the in-process builtin, transports mixed, `new_session`,
//! a fault's `target` out of range) by its key; the engine's
//! `engine::failover` decides when a session moves.

use super::faults::FaultAction;
use super::spec::WorkloadSpec;
use super::target::TargetSpec;
use super::validate::Problems;

/// Consecutive timeouts that count as a failed target when the file does
/// not say: one slow reply is no failure, three in a row are.
pub const DEFAULT_FAILOVER_TIMEOUTS: u32 = 3;

/// The targets a run's sessions fail over between.
#[derive(Debug, Clone, PartialEq)]
pub struct Failover {
    /// In order: sessions start on the first.
    pub targets: Vec<TargetSpec>,
    /// Consecutive timeouts on one target that make a session move.
    pub timeouts: u32,
}

/// The transport of a target, to refuse a list that mixes them.
fn transport(t: &TargetSpec) -> &'static str {
    match t {
        TargetSpec::Builtin => "builtin",
        TargetSpec::Stdio { .. } => "stdio",
        TargetSpec::Http(_) => "Streamable HTTP",
        TargetSpec::Tcp(_) => "tcp",
        TargetSpec::Ws(_) => "WebSocket",
        TargetSpec::LegacySse(_) => "HTTP+SSE",
    }
}

/// The failover settings of a spec, each problem named by its key.
pub(super) fn failover(spec: &WorkloadSpec, p: &mut Problems) -> Option<Failover> {
    let on = spec.failover == Some(true);
    if !on {
        if !spec.targets.is_empty() {
            p.add(
                "targets",
                "targets are the ones sessions fail over between: set failover = true \
                 (to run once per target instead, repeat --target on the command line)"
                    .into(),
            );
        }
        if spec.failover_timeouts.is_some() {
            p.add(
                "failover_timeouts",
                "failover_timeouts goes with failover = true".into(),
            );
        }
        return None;
    }
    let timeouts = spec.failover_timeouts.unwrap_or(DEFAULT_FAILOVER_TIMEOUTS);
    if timeouts == 0 {
        p.add("failover_timeouts", "expected at least 1".into());
    }
    if spec.targets.len() < 2 {
        p.add(
            "targets",
            format!(
                "failover = true needs at least two targets to move between, got {}",
                spec.targets.len()
            ),
        );
    }
    if spec.target.is_some() {
        p.add(
            "target",
            "with failover = true the sessions use `targets` (the first one first): remove \
             target"
                .into(),
        );
    }
    for (i, s) in spec.scenarios.iter().enumerate() {
        if s.new_session == Some(true) {
            p.add(
                &format!("scenarios[{i}].new_session"),
                "new_session opens a session per iteration and failover moves long-lived \
                 sessions between targets: use one or the other"
                    .into(),
            );
        }
    }
    let targets = parse_targets(&spec.targets, p)?;
    (timeouts > 0 && targets.len() >= 2).then_some(Failover { targets, timeouts })
}

/// Every target of the list, all of one network or stdio transport.
fn parse_targets(texts: &[String], p: &mut Problems) -> Option<Vec<TargetSpec>> {
    let mut targets = Vec::new();
    let mut ok = true;
    for (i, text) in texts.iter().enumerate() {
        let key = format!("targets[{i}]");
        match TargetSpec::parse(text) {
            Err(e) => {
                p.add(&key, e.to_string());
                ok = false;
            }
            Ok(TargetSpec::Builtin) => {
                p.add(
                    &key,
                    "builtin runs inside mcptop and cannot fail: give servers to fail over \
                     between, e.g. two `mcptop serve --http` processes"
                        .into(),
                );
                ok = false;
            }
            Ok(t) => {
                if let Some(first) = targets.first() {
                    if transport(first) != transport(&t) {
                        p.add(
                            &key,
                            format!(
                                "mixes transports: targets[0] is {}, this one {}; a session \
                                 moves between servers of one transport",
                                transport(first),
                                transport(&t)
                            ),
                        );
                        ok = false;
                    }
                }
                targets.push(t);
            }
        }
    }
    ok.then_some(targets)
}

/// A fault's `target`: which failover target's process it signals.
/// `Some(None)`: no target named; `None`: a problem was reported.
pub(super) fn fault_target(
    spec: &WorkloadSpec,
    target: Option<u32>,
    action: FaultAction,
    key: &str,
    p: &mut Problems,
) -> Option<Option<usize>> {
    let Some(n) = target else {
        return Some(None);
    };
    let key = format!("{key}.target");
    if !matches!(
        action,
        FaultAction::Kill | FaultAction::Stop(_) | FaultAction::Restart
    ) {
        p.add(
            &key,
            format!(
                "target picks a process to signal: it goes with kill, stop or restart, not {}",
                action.name()
            ),
        );
        return None;
    }
    if spec.failover != Some(true) {
        p.add(
            &key,
            "target picks one of the failover targets' processes: set failover = true and \
             targets"
                .into(),
        );
        return None;
    }
    if n as usize >= spec.targets.len() {
        p.add(
            &key,
            format!(
                "expected an index into targets (0 to {}), got {n}",
                spec.targets.len().saturating_sub(1)
            ),
        );
        return None;
    }
    Some(Some(n as usize))
}

#[cfg(test)]
mod tests {
    use crate::workload::{Overrides, Workload};

    fn parse(extra: &str) -> Result<Workload, Vec<crate::workload::WorkloadError>> {
        let text = format!(
            "name = \"t\"\nrate = 10\nduration = \"10s\"\n{extra}\n[[ops]]\nmethod = \"ping\"\n"
        );
        Workload::parse_all(&text, "f.toml", &Overrides::default())
    }

    /// Every problem, as `file: key: message` lines.
    fn problems(extra: &str) -> String {
        match parse(extra) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(all) => all
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    const TWO: &str = "targets = [\"http://127.0.0.1:1/mcp\", \"http://127.0.0.1:2/mcp\"]";

    #[test]
    fn two_targets_of_one_transport_fail_over_with_three_timeouts_by_default() {
        let w = parse(&format!("{TWO}\nfailover = true")).expect("valid");
        let f = w.chaos.failover.as_ref().expect("failover");
        assert_eq!(f.targets.len(), 2);
        assert_eq!(f.timeouts, 3);
        assert!(w.chaos.expects_failures());
        let w = parse(&format!("{TWO}\nfailover = true\nfailover_timeouts = 5")).expect("ok");
        assert_eq!(w.chaos.failover.expect("failover").timeouts, 5);
    }

    #[test]
    fn bad_combinations_are_named_by_file_and_key() {
        let one = problems("targets = [\"http://127.0.0.1:1/mcp\"]\nfailover = true");
        assert!(
            one.contains("f.toml: targets: failover = true needs at least two"),
            "{one}"
        );
        let builtin = problems("targets = [\"builtin\", \"http://h:1/mcp\"]\nfailover = true");
        assert!(
            builtin.contains("f.toml: targets[0]: builtin runs inside mcptop"),
            "{builtin}"
        );
        let mixed = problems("targets = [\"http://h:1/mcp\", \"tcp://h:2\"]\nfailover = true");
        assert!(
            mixed.contains("targets[1]: mixes transports: targets[0] is Streamable HTTP"),
            "{mixed}"
        );
        let churn = problems(&format!(
            "{TWO}\nfailover = true\n[[scenarios]]\nname = \"c\"\nrate = 1\n\
             new_session = true\n[[scenarios.ops]]\nmethod = \"ping\""
        ));
        assert!(
            churn.contains("scenarios[0].new_session: new_session opens"),
            "{churn}"
        );
        let off = problems(TWO);
        assert!(off.contains("targets: targets are the ones"), "{off}");
        let zero = problems(&format!("{TWO}\nfailover = true\nfailover_timeouts = 0"));
        assert!(
            zero.contains("failover_timeouts: expected at least 1"),
            "{zero}"
        );
        let both = problems(&format!(
            "target = \"http://h:1/mcp\"\n{TWO}\nfailover = true"
        ));
        assert!(both.contains("f.toml: target: with failover"), "{both}");
        let lone = problems("failover_timeouts = 2");
        assert!(lone.contains("failover_timeouts goes with"), "{lone}");
    }

    #[test]
    fn a_fault_names_a_target_by_its_index() {
        let w = parse(&format!(
            "{TWO}\nfailover = true\n[[faults]]\nat = \"1s\"\nkill = true\ntarget = 1"
        ))
        .expect("valid");
        assert_eq!(w.chaos.faults[0].target, Some(1));
        let far = problems(&format!(
            "{TWO}\nfailover = true\n[[faults]]\nat = \"1s\"\nkill = true\ntarget = 2"
        ));
        assert!(
            far.contains("faults[0].target: expected an index into targets (0 to 1), got 2"),
            "{far}"
        );
        let drop = problems(&format!(
            "{TWO}\nfailover = true\n[[faults]]\nat = \"1s\"\ndrop_connections = true\ntarget = 0"
        ));
        assert!(
            drop.contains("faults[0].target: target picks a process"),
            "{drop}"
        );
        let alone = problems("[[faults]]\nat = \"1s\"\nkill = true\ntarget = 0");
        assert!(alone.contains("set failover = true and targets"), "{alone}");
    }
}

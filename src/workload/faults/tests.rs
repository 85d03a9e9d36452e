use super::*;
use crate::workload::{Overrides, Workload};

fn parse(faults: &str) -> Result<Workload, Vec<crate::workload::WorkloadError>> {
    // Top-level keys first, then the `[[faults]]` tables, then the ops.
    let text = format!(
        "name = \"t\"\nrate = 10\nduration = \"10s\"\n{faults}\n[[ops]]\nmethod = \"ping\"\n"
    );
    Workload::parse_all(&text, "t.toml", &Overrides::default())
}

/// The first problem, as `key: message`.
fn problem(faults: &str) -> String {
    match parse(faults) {
        Ok(_) => panic!("accepted: {faults}"),
        Err(all) => format!("{}: {}", all[0].key, all[0].message),
    }
}

#[test]
fn every_action_is_read_with_its_times() {
    let w = parse(
        "reconnect = true\n\
         [[faults]]\nat = \"2s\"\nkill = true\nsessions = \"all\"\n\
         [[faults]]\nat = \"3s\"\nstop = \"1500ms\"\n\
         [[faults]]\nat = \"4s\"\nrestart = true\nsessions = 2\n\
         [[faults]]\nat = \"5s\"\ndrop_connections = true\n\
         [[faults]]\nat = \"6s\"\ndelay = \"200ms\"\nfor = \"1s\"\n\
         [[faults]]\nat = \"7s\"\nblackhole = \"2s\"\n",
    )
    .expect("valid");
    assert!(w.chaos.reconnect);
    let actions: Vec<FaultAction> = w.chaos.faults.iter().map(|f| f.action).collect();
    let ms = Duration::from_millis;
    assert_eq!(
        actions,
        vec![
            FaultAction::Kill,
            FaultAction::Stop(ms(1500)),
            FaultAction::Restart,
            FaultAction::DropConnections,
            FaultAction::Delay {
                by: ms(200),
                window: ms(1000)
            },
            FaultAction::Blackhole(ms(2000)),
        ]
    );
    assert_eq!(w.chaos.faults[0].sessions, FaultSessions::All);
    assert_eq!(w.chaos.faults[1].sessions, FaultSessions::First(1));
    assert_eq!(w.chaos.faults[2].sessions, FaultSessions::First(2));
    assert_eq!(w.chaos.faults[0].label(), "kill@2s");
}

#[test]
fn a_workload_without_faults_expects_no_failures() {
    let w = parse("").expect("valid");
    assert!(!w.chaos.expects_failures());
}

#[test]
fn bad_faults_name_the_key_and_what_was_expected() {
    let cases = [
        (
            "[[faults]]\nat = \"2s\"\n",
            "faults[0]: expected one action",
        ),
        (
            "[[faults]]\nat = \"2s\"\nkill = true\nstop = \"1s\"\n",
            "faults[0]: expected one action, got kill and stop",
        ),
        (
            "[[faults]]\nat = \"soon\"\nkill = true\n",
            "faults[0].at: expected a duration",
        ),
        (
            "[[faults]]\nat = \"1s\"\nstop = \"0s\"\n",
            "faults[0].stop: expected a duration above zero",
        ),
        (
            "[[faults]]\nat = \"1s\"\ndelay = \"1s\"\n",
            "faults[0].for: a delay needs a window",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkill = true\nfor = \"1s\"\n",
            "faults[0].for: `for` goes with `delay` only",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkill = true\nsessions = \"some\"\n",
            "faults[0].sessions: expected \"all\"",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkill = true\nsessions = 0\n",
            "faults[0].sessions: expected at least 1",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkill = true\nscenario = \"x\"\n",
            "faults[0].scenario: no scenario named \"x\"",
        ),
        (
            "[[faults]]\nat = \"1s\"\nkil = true\n",
            "faults: unknown field `kil`",
        ),
    ];
    for (faults, expected) in cases {
        let got = problem(faults);
        assert!(
            got.starts_with(expected),
            "{faults}\n got: {got}\nwanted: {expected}"
        );
    }
}

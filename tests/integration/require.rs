//! What a test does when an optional tool or peer is missing: on a laptop it
//! says "skipped: <why>, install with <command>" and returns; in CI, where
//! `MCPTOP_REQUIRE_PEERS=1` (set by `.ci/run`), the same absence is a test
//! failure with the install command in its message. One variable covers the
//! peers (`../shared/peers/install.sh`), tmux and perf. Tests never install
//! anything themselves: `.ci/run` or the developer does.

/// Set (to anything but empty or `0`) to turn every skip into a failure.
pub const REQUIRE: &str = "MCPTOP_REQUIRE_PEERS";

/// Installs the real MCP peers and sets their `PEER_*` variables.
pub const PEERS_INSTALL: &str = "eval \"$(../shared/peers/install.sh)\"";

/// Installs tmux (as root; `.ci/run` does this when tmux is missing).
pub const TMUX_INSTALL: &str = "apt-get install -y tmux";

/// Installs perf on Debian/Ubuntu.
pub const PERF_INSTALL: &str = "apt-get install -y linux-perf (or linux-tools-$(uname -r))";

/// Whether this value of [`REQUIRE`] asks for every optional tool.
fn required_by(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty() && v.trim() != "0")
}

/// `Ok(note)` to print when skipping is allowed, `Err(message)` to fail with.
fn outcome(required: bool, why: &str, install: &str) -> Result<String, String> {
    if required {
        Err(format!(
            "{REQUIRE} is set, so this test may not skip: {why}; install with: {install}"
        ))
    } else {
        Ok(format!(
            "skipped: {why}, install with: {install} (with {REQUIRE}=1 this fails)"
        ))
    }
}

/// Reports that `why` (a tool or peer is missing): fails the test when
/// [`REQUIRE`] is set, else prints the skip note. The caller then returns.
pub fn missing(why: &str, install: &str) {
    let required = required_by(std::env::var(REQUIRE).ok().as_deref());
    match outcome(required, why, install) {
        Ok(note) => eprintln!("{note}"),
        Err(message) => panic!("{message}"),
    }
}

/// The command of a peer from `../shared/peers/install.sh`, or `None` after
/// [`missing`] when its variable is not set.
pub fn peer_command(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(command) if !command.trim().is_empty() => Some(command),
        _ => {
            missing(&format!("peer {var} is not set"), PEERS_INSTALL);
            None
        }
    }
}

#[test]
fn the_require_variable_is_on_for_any_value_but_empty_or_zero() {
    assert!(!required_by(None));
    assert!(!required_by(Some("")));
    assert!(!required_by(Some("0")));
    assert!(required_by(Some("1")));
    assert!(required_by(Some("yes")));
}

#[test]
fn a_missing_tool_skips_on_a_laptop_and_fails_in_ci_naming_the_install() {
    let note = outcome(false, "tmux is not installed", TMUX_INSTALL).expect("a skip");
    assert!(note.starts_with("skipped: tmux is not installed"), "{note}");
    assert!(note.contains("apt-get install -y tmux"), "{note}");
    let failure = outcome(true, "peer PEER_PY_HTTP is not set", PEERS_INSTALL).expect_err("a fail");
    assert!(failure.contains("MCPTOP_REQUIRE_PEERS"), "{failure}");
    assert!(failure.contains("PEER_PY_HTTP"), "{failure}");
    assert!(
        failure.contains("eval \"$(../shared/peers/install.sh)\""),
        "{failure}"
    );
}

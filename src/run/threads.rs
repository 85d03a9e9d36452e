//! How many worker threads the async runtime of a command gets. A
//! Streamable HTTP server on this machine (a loopback address) shares its
//! cores with mcptop: with every core a worker, mcptop's workers and the
//! server's threads take turns on the same cores, and each request costs
//! mcptop more CPU in switches and wake-ups (measured on 2 cores against
//! `mcptop serve --http`: 19.8-25.2 µs of mcptop's CPU per request with one
//! worker, 28.1-31.5 µs with two, and a rate as high or higher; see
//! docs/PERFORMANCE.md, "Worker threads by where the target runs"). So such
//! targets get half the cores (at least one). The same halving cost
//! WebSocket 20 % of its rate and did not help stdio, so those, the builtin
//! server (which runs on mcptop's own runtime) and targets on other machines
//! get every core. `--threads`, or tokio's own `TOKIO_WORKER_THREADS`,
//! chooses instead.

use crate::workload::TargetSpec;
use std::net::IpAddr;

/// The environment variable tokio reads for its default worker count.
pub const THREADS_ENV: &str = "TOKIO_WORKER_THREADS";

/// A runtime's worker count and why it is that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    pub count: usize,
    pub why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `--threads N`.
    Asked,
    /// `TOKIO_WORKER_THREADS`.
    Environment,
    /// Every core: the builtin target, one elsewhere, or none known.
    AllCores,
    /// Half the cores: every target is an HTTP server on this machine.
    TargetHere,
}

/// This machine's cores (at least one).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The worker count for a command against `targets` (none when it does not
/// put load on a known target) on a machine of `cores`: `asked` first, then
/// the `env` value of `TOKIO_WORKER_THREADS`, then the policy above.
pub fn choose(
    asked: Option<usize>,
    env: Option<&str>,
    targets: &[TargetSpec],
    cores: usize,
) -> Result<Workers, String> {
    let cores = cores.max(1);
    if let Some(count) = asked {
        if count == 0 {
            return Err("--threads must be at least 1".into());
        }
        return Ok(Workers {
            count,
            why: Why::Asked,
        });
    }
    if let Some(text) = env {
        return match text.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(Workers {
                count,
                why: Why::Environment,
            }),
            _ => Err(format!(
                "{THREADS_ENV}={text:?}: expected a number of worker threads, at least 1"
            )),
        };
    }
    let here = !targets.is_empty() && targets.iter().all(runs_here);
    Ok(if here {
        Workers {
            count: (cores / 2).max(1),
            why: Why::TargetHere,
        }
    } else {
        Workers {
            count: cores,
            why: Why::AllCores,
        }
    })
}

/// Whether `target` is a Streamable HTTP server on this machine, the one
/// kind measured to run better with mcptop on half the cores.
fn runs_here(target: &TargetSpec) -> bool {
    match target {
        TargetSpec::Http(e) => is_loopback(&e.host),
        TargetSpec::Builtin
        | TargetSpec::Stdio { .. }
        | TargetSpec::Tcp(_)
        | TargetSpec::Ws(_)
        | TargetSpec::LegacySse(_) => false,
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> TargetSpec {
        TargetSpec::parse(text).expect("a target")
    }

    fn count(targets: &[&str], cores: usize) -> (usize, Why) {
        let targets: Vec<_> = targets.iter().map(|t| target(t)).collect();
        let w = choose(None, None, &targets, cores).expect("a worker count");
        (w.count, w.why)
    }

    #[test]
    fn an_http_server_on_this_machine_gets_half_the_cores() {
        for t in [
            "http://127.0.0.1:8080/mcp",
            "http://localhost:8080/mcp",
            "http://127.0.0.2:8080/mcp",
            "http://[::1]:9000/mcp",
        ] {
            assert_eq!(count(&[t], 2), (1, Why::TargetHere), "{t}");
            assert_eq!(count(&[t], 8), (4, Why::TargetHere), "{t}");
            assert_eq!(count(&[t], 1), (1, Why::TargetHere), "{t}");
            assert_eq!(count(&[t], 3), (1, Why::TargetHere), "{t}");
        }
    }

    #[test]
    fn builtin_and_other_machines_get_every_core() {
        assert_eq!(count(&["builtin"], 2), (2, Why::AllCores));
        assert_eq!(count(&["http://10.0.0.7:8080/mcp"], 2), (2, Why::AllCores));
        // Measured no better (stdio) or worse (WebSocket) on half the cores.
        for t in [
            "stdio:python3 server.py",
            "ws://127.0.0.1:9000/mcp",
            "tcp://127.0.0.1:9000",
            "sse://127.0.0.1:9000/sse",
        ] {
            assert_eq!(count(&[t], 2), (2, Why::AllCores), "{t}");
        }
        assert_eq!(count(&["wss://mcp.example.com/mcp"], 4), (4, Why::AllCores));
        assert_eq!(count(&[], 2), (2, Why::AllCores));
        // One target elsewhere, or the builtin one, among several: all cores.
        assert_eq!(
            count(&["http://127.0.0.1:1/mcp", "builtin"], 2),
            (2, Why::AllCores)
        );
        assert_eq!(
            count(&["http://127.0.0.1:1/mcp", "http://192.168.1.2:1/mcp"], 2),
            (2, Why::AllCores)
        );
        assert_eq!(
            count(&["http://127.0.0.1:1/mcp", "http://localhost:2/mcp"], 2),
            (1, Why::TargetHere)
        );
    }

    #[test]
    fn threads_asked_or_in_the_environment_come_first() {
        let here = [target("http://127.0.0.1:1/mcp")];
        let w = choose(Some(3), Some("5"), &here, 2).expect("a worker count");
        assert_eq!((w.count, w.why), (3, Why::Asked));
        let w = choose(None, Some(" 5 "), &here, 2).expect("a worker count");
        assert_eq!((w.count, w.why), (5, Why::Environment));
    }

    #[test]
    fn zero_or_garbage_is_an_error_naming_it() {
        let e = choose(Some(0), None, &[], 2).expect_err("an error");
        assert!(e.contains("--threads"), "{e}");
        for bad in ["0", "two", ""] {
            let e = choose(None, Some(bad), &[], 2).expect_err("an error");
            assert!(e.contains(THREADS_ENV) && e.contains("at least 1"), "{e}");
        }
    }
}

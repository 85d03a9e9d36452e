//! Names for a JVM's JIT-compiled frames. perf reads them from
//! `/tmp/perf-PID.map`, which the JVM writes in two ways: at exit when it
//! was started with `-XX:+DumpPerfMapAtExit` (mcptop adds it to the stdio
//! children it starts for perf), or on demand with `jcmd PID
//! Compiler.perfmap` (JDK 17+, for a JVM that is still running, such as a
//! `--target-pid`). Either way the map must exist before `perf script`
//! runs, so `perf` stops recording, then this module makes sure of the maps.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `jcmd` may take to attach and write the map.
const JCMD_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a JVM that is on its way out gets to write its map at exit.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// The perf map of process `pid`.
pub fn map_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{pid}.map"))
}

/// Which maps existed before mcptop asked for them, so that only the ones
/// it caused are removed afterwards.
#[derive(Debug)]
pub struct JitMaps {
    pids: Vec<u32>,
    existed: Vec<bool>,
}

impl JitMaps {
    /// Notes the JVM processes about to be recorded.
    pub fn before(pids: &[u32]) -> JitMaps {
        JitMaps {
            pids: pids.to_vec(),
            existed: pids.iter().map(|p| map_path(*p).is_file()).collect(),
        }
    }

    /// Makes sure every recorded JVM has a current map: a running one is
    /// asked with `jcmd`, one that is exiting writes its own. Returns a note
    /// per process whose JIT frames will stay unnamed, saying why.
    pub fn ensure(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for &pid in &self.pids {
            let asked = if alive(pid) {
                jcmd_perfmap(pid)
            } else {
                Ok(())
            };
            let deadline = Instant::now() + EXIT_WAIT;
            // A JVM that exited (or exits while jcmd attaches) has written
            // its map by the time it is gone.
            while alive(pid) && !map_path(pid).is_file() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !map_path(pid).is_file() {
                let why = match asked {
                    Err(e) => e,
                    Ok(()) => {
                        "it exited without writing one (was -XX:+DumpPerfMapAtExit set?)".into()
                    }
                };
                notes.push(format!(
                    "JVM pid {pid}: no perf map, so its JIT-compiled frames stay unnamed: {why}"
                ));
            }
        }
        notes
    }

    /// Removes the maps mcptop caused (not one that was there before).
    pub fn remove_ours(&self) {
        for (pid, existed) in self.pids.iter().zip(&self.existed) {
            if !existed {
                let _ = std::fs::remove_file(map_path(*pid));
            }
        }
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid)
}

/// A child that exited but is not reaped yet still has `/proc/PID`.
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st == "Z"))
        })
        .unwrap_or(false)
}

/// `jcmd PID Compiler.perfmap`, bounded in time.
fn jcmd_perfmap(pid: u32) -> Result<(), String> {
    let mut child = Command::new("jcmd")
        .arg(pid.to_string())
        .arg("Compiler.perfmap")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run `jcmd` ({e}); it comes with the JDK"))?;
    let deadline = Instant::now() + JCMD_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return Ok(()),
            Ok(Some(s)) => return Err(format!("`jcmd {pid} Compiler.perfmap` failed ({s})")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`jcmd {pid} Compiler.perfmap` did not finish in {JCMD_TIMEOUT:?}"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for jcmd: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_without_a_map_is_named_with_the_reason() {
        // A process that is not a JVM: not alive after it exits, no map.
        let mut child = Command::new("true").spawn().expect("spawn true");
        let pid = child.id();
        child.wait().expect("reaped");
        let _ = std::fs::remove_file(map_path(pid));
        let maps = JitMaps::before(&[pid]);
        let notes = maps.ensure();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains(&format!("pid {pid}")) && notes[0].contains("DumpPerfMapAtExit"),
            "{notes:?}"
        );
    }

    #[test]
    fn only_maps_mcptop_caused_are_removed() {
        let ours = 4_000_000_001u32;
        let theirs = 4_000_000_002u32;
        std::fs::write(map_path(theirs), "1 2 theirs\n").expect("write");
        let maps = JitMaps::before(&[ours, theirs]);
        std::fs::write(map_path(ours), "1 2 ours\n").expect("write");
        maps.remove_ours();
        assert!(!map_path(ours).exists());
        assert!(map_path(theirs).exists());
        std::fs::remove_file(map_path(theirs)).expect("clean up");
    }
}

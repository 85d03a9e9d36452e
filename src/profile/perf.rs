//! Profiling another process with Linux `perf`: `perf record -F HZ -g -p
//! PIDS` between `start` and `stop`, then `perf script` collapsed to folded
//! stacks by inferno's perf collapser.

use super::flame::{parse_folded, Folded};
use super::ProfileError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long `perf record` gets to fail (no permission, no such pid) before we
/// believe it is recording.
const STARTUP_GRACE: Duration = Duration::from_millis(300);

const INSTALL_HINT: &str = "install perf (Debian/Ubuntu: `apt install linux-perf` or \
     `apt install linux-tools-$(uname -r)`; Fedora: `dnf install perf`)";
const PERMISSION_HINT: &str = "allow profiling other processes with \
     `sudo sysctl kernel.perf_event_paranoid=1` (or run as root / with CAP_PERFMON)";

/// Checks that `perf` runs at all, with a message saying how to get it if not.
pub fn check() -> Result<(), ProfileError> {
    match Command::new("perf")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(ProfileError::PerfMissing(format!(
            "`perf --version` failed ({s}); {INSTALL_HINT}"
        ))),
        Err(e) => Err(ProfileError::PerfMissing(format!(
            "cannot run `perf` ({e}); {INSTALL_HINT}"
        ))),
    }
}

/// Classifies what `perf` printed when it gave up.
pub fn explain_failure(stderr: &str) -> ProfileError {
    let lower = stderr.to_lowercase();
    if lower.contains("perf_event_paranoid")
        || lower.contains("permission")
        || lower.contains("not permitted")
        || lower.contains("access to performance monitoring")
    {
        ProfileError::PerfNotPermitted(format!("{PERMISSION_HINT}. perf said: {}", stderr.trim()))
    } else {
        ProfileError::Perf(stderr.trim().to_string())
    }
}

/// A running `perf record`.
pub struct PerfRecording {
    child: Child,
    data: PathBuf,
    pub pids: Vec<u32>,
    /// JVM targets: their JIT maps, made sure of before `perf script`.
    jit: Option<super::jit_map::JitMaps>,
}

impl PerfRecording {
    /// Starts recording `pids` at `hz` with call graphs into `data`; `jvm`
    /// when they are JVMs whose JIT frames need a perf map.
    pub fn start(
        pids: &[u32],
        hz: u32,
        data: &Path,
        jvm: bool,
    ) -> Result<PerfRecording, ProfileError> {
        if pids.is_empty() {
            return Err(ProfileError::NoTargetProcess);
        }
        check()?;
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        let mut child = Command::new("perf")
            .args([
                "record",
                "-F",
                &hz.to_string(),
                "-g",
                "-p",
                &list.join(","),
                "-o",
            ])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                ProfileError::PerfMissing(format!("cannot run `perf` ({e}); {INSTALL_HINT}"))
            })?;
        std::thread::sleep(STARTUP_GRACE);
        if let Ok(Some(_)) = child.try_wait() {
            return Err(explain_failure(&stderr_of(&mut child)));
        }
        Ok(PerfRecording {
            child,
            data: data.to_path_buf(),
            pids: pids.to_vec(),
            jit: jvm.then(|| super::jit_map::JitMaps::before(pids)),
        })
    }

    /// Stops recording and returns the folded stacks, with notes on what
    /// could not be named.
    pub fn stop(mut self) -> Result<(Folded, Vec<String>), ProfileError> {
        let pid =
            i32::try_from(self.child.id()).map_err(|_| ProfileError::Perf("bad pid".into()))?;
        // SAFETY: signals the perf child we started; SIGINT makes it write its data and exit.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let status = self
            .child
            .wait()
            .map_err(|e| ProfileError::Perf(format!("waiting for perf record: {e}")))?;
        let stderr = stderr_of(&mut self.child);
        if !self.data.is_file() {
            return Err(if status.success() {
                ProfileError::Perf(format!("perf record wrote no data. {}", stderr.trim()))
            } else {
                explain_failure(&stderr)
            });
        }
        let notes = self.jit.as_ref().map(|j| j.ensure()).unwrap_or_default();
        let script = Command::new("perf")
            .args(["script", "-i"])
            .arg(&self.data)
            // Without the period field, every sample counts as one.
            .args(["-F", "comm,pid,tid,time,event,ip,sym,dso"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ProfileError::Perf(format!("perf script: {e}")))?;
        let _ = std::fs::remove_file(&self.data);
        if let Some(jit) = &self.jit {
            jit.remove_ours();
        }
        if !script.status.success() {
            return Err(ProfileError::Perf(format!(
                "perf script failed: {}",
                String::from_utf8_lossy(&script.stderr).trim()
            )));
        }
        Ok((collapse_perf_script(&script.stdout)?, notes))
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

/// `perf script` output to folded stacks.
pub fn collapse_perf_script(script: &[u8]) -> Result<Folded, ProfileError> {
    use inferno::collapse::Collapse;
    let mut folder = inferno::collapse::perf::Folder::default();
    let mut out = Vec::new();
    folder
        .collapse(script, &mut out)
        .map_err(|e| ProfileError::Perf(format!("cannot collapse perf script output: {e}")))?;
    Ok(parse_folded(&String::from_utf8_lossy(&out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_problems_say_how_to_fix_them() {
        let e = explain_failure(
            "Error:\nAccess to performance monitoring and observability operations is limited.\n\
             Consider adjusting /proc/sys/kernel/perf_event_paranoid setting",
        );
        assert!(matches!(e, ProfileError::PerfNotPermitted(_)), "{e:?}");
        assert!(
            e.to_string().contains("kernel.perf_event_paranoid=1"),
            "{e}"
        );
        assert!(matches!(
            explain_failure("no such process"),
            ProfileError::Perf(_)
        ));
    }

    #[test]
    fn collapses_perf_script_output() {
        let script = "python3 1234 [001] 100.000001: cpu-clock:pppH:\n\
                      \t    55d0c0de1000 leak_loop+0x10 (/usr/bin/python3)\n\
                      \t    55d0c0de2000 main+0x20 (/usr/bin/python3)\n\n\
                      python3 1234 [001] 100.010001: cpu-clock:pppH:\n\
                      \t    55d0c0de1000 leak_loop+0x10 (/usr/bin/python3)\n\
                      \t    55d0c0de2000 main+0x20 (/usr/bin/python3)\n\n";
        let folded = collapse_perf_script(script.as_bytes()).expect("collapsed");
        assert_eq!(folded.get("python3;main;leak_loop"), Some(&2), "{folded:?}");
    }

    #[test]
    fn no_process_is_an_error() {
        let e = PerfRecording::start(&[], 99, Path::new("x"), false).err();
        assert!(matches!(e, Some(ProfileError::NoTargetProcess)), "{e:?}");
    }
}

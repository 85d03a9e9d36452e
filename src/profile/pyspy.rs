//! Profiling Python processes with `py-spy` (PyPI): `py-spy record --format
//! raw` writes folded stacks of Python frames (`function (file.py:line)`),
//! which perf cannot name. One recorder per process (py-spy follows one pid
//! and, with `--subprocesses`, what it starts); SIGINT ends each, which
//! writes its file; the files are merged into one set of folded stacks.

use super::flame::{parse_folded, Folded};
use super::ProfileError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long `py-spy record` gets to fail (no permission, not Python) before
/// we believe it is recording.
const STARTUP_GRACE: Duration = Duration::from_millis(500);

/// What to run when py-spy is missing.
pub const INSTALL_HINT: &str = "install it with `pip install py-spy` (or `pip install --user \
     py-spy`) and make sure `py-spy` is on PATH";

/// Checks that `py-spy` runs, with a message saying how to get it if not.
pub fn check() -> Result<(), ProfileError> {
    match Command::new("py-spy")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(ProfileError::ProfilerMissing(format!(
            "`py-spy --version` failed ({s}); {INSTALL_HINT}"
        ))),
        Err(e) => Err(ProfileError::ProfilerMissing(format!(
            "cannot run `py-spy` ({e}); {INSTALL_HINT}"
        ))),
    }
}

/// Running `py-spy record`s, one per process.
pub struct PySpyRecording {
    recorders: Vec<(Child, PathBuf)>,
}

impl PySpyRecording {
    /// Starts recording each of `pids` at `hz`, into files beside `base`.
    pub fn start(pids: &[u32], hz: u32, base: &Path) -> Result<PySpyRecording, ProfileError> {
        if pids.is_empty() {
            return Err(ProfileError::NoTargetProcess);
        }
        check()?;
        let mut recording = PySpyRecording {
            recorders: Vec::new(),
        };
        for pid in pids {
            let out = base.with_extension(format!("{pid}.pyspy"));
            let child = Command::new("py-spy")
                .args(["record", "--format", "raw", "--subprocesses", "--rate"])
                .arg(hz.to_string())
                .arg("--pid")
                .arg(pid.to_string())
                .arg("--output")
                .arg(&out)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| {
                    ProfileError::ProfilerMissing(format!(
                        "cannot run `py-spy` ({e}); {INSTALL_HINT}"
                    ))
                })?;
            recording.recorders.push((child, out));
        }
        std::thread::sleep(STARTUP_GRACE);
        for (child, _) in &mut recording.recorders {
            if let Ok(Some(_)) = child.try_wait() {
                let said = stderr_of(child);
                return Err(ProfileError::Start(format!(
                    "py-spy record: {}",
                    said.trim()
                )));
            }
        }
        Ok(recording)
    }

    /// Stops every recorder and returns their folded stacks, merged.
    pub fn stop(mut self) -> Result<Folded, ProfileError> {
        for (child, _) in &self.recorders {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: signals a py-spy child we started; SIGINT makes it
                // write its output and exit.
                unsafe {
                    libc::kill(pid, libc::SIGINT);
                }
            }
        }
        let mut stacks = Folded::new();
        let mut problems = Vec::new();
        for (child, out) in &mut self.recorders {
            let _ = child.wait();
            match std::fs::read_to_string(&*out) {
                Ok(text) => {
                    for (stack, n) in parse_folded(&text) {
                        *stacks.entry(stack).or_default() += n;
                    }
                }
                Err(e) => problems.push(format!("{}: {e}; {}", out.display(), stderr_of(child))),
            }
            let _ = std::fs::remove_file(&*out);
        }
        if stacks.is_empty() && !problems.is_empty() {
            return Err(ProfileError::Report(format!(
                "py-spy wrote no stacks: {}",
                problems.join("; ")
            )));
        }
        Ok(stacks)
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_process_is_an_error() {
        let e = PySpyRecording::start(&[], 99, Path::new("x")).err();
        assert!(matches!(e, Some(ProfileError::NoTargetProcess)), "{e:?}");
    }

    #[test]
    fn the_missing_tool_message_says_the_install_command() {
        let e = ProfileError::ProfilerMissing(format!("cannot run `py-spy`; {INSTALL_HINT}"));
        assert!(e.to_string().contains("pip install py-spy"), "{e}");
    }
}

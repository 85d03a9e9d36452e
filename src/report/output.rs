//! Where results go, and that they get there. An output path is checked
//! before a run starts, so a typo fails in milliseconds rather than after
//! the load; symbolic links are written through, not replaced; devices,
//! fifos and terminals are written as they are; `-` is stdout. If writing
//! still fails after the run, the result goes to a fallback file that is
//! named, so what was measured is never lost.

use super::RunReport;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Symbolic links followed before giving up (as the kernel's ELOOP).
const MAX_LINKS: usize = 40;

/// Where a file write really lands.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub path: PathBuf,
    /// Written in place (a device, fifo, terminal, or a `/proc` link to
    /// one of those): it cannot be replaced by a rename, and must not be.
    pub direct: bool,
}

/// Follows symbolic links from `path` to the file a write should replace.
/// Links inside `/proc` (`/dev/stdout` -> `/proc/self/fd/1` -> `pipe:[..]`)
/// only make sense when opened, so they end the walk as direct writes.
pub fn resolve(path: &Path) -> io::Result<Place> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Place {
                    path: p,
                    direct: false,
                })
            }
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            return Ok(Place {
                direct: !meta.file_type().is_file(),
                path: p,
            });
        }
        if p.starts_with("/proc") {
            return Ok(Place {
                path: p,
                direct: true,
            });
        }
        let target = std::fs::read_link(&p)?;
        p = match p.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Writes into an existing non-regular file (appending, which is what a
/// terminal, pipe or fifo does anyway).
pub fn write_direct(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// A result's destination: a file, or stdout (`-`).
#[derive(Debug, Clone, PartialEq)]
pub enum OutPath {
    Stdout,
    File(PathBuf),
}

impl OutPath {
    pub fn new(path: PathBuf) -> OutPath {
        if path.as_os_str() == "-" {
            OutPath::Stdout
        } else {
            OutPath::File(path)
        }
    }

    pub fn display(&self) -> String {
        match self {
            OutPath::Stdout => "stdout".into(),
            OutPath::File(p) => p.display().to_string(),
        }
    }

    /// Checks, before a run, that a result can be written here: the
    /// directory exists or can be made, and a file can be created in it (one
    /// is, and removed). A device or fifo must be writable.
    pub fn check(&self) -> Result<(), OutputError> {
        let OutPath::File(path) = self else {
            return Ok(());
        };
        let fail = |why: String| OutputError::Unwritable {
            path: path.clone(),
            why,
        };
        let place = resolve(path).map_err(|e| fail(e.to_string()))?;
        if place.path.is_dir() {
            return Err(fail("it is a directory".into()));
        }
        if place.direct {
            return writable(&place.path).map_err(|e| fail(e.to_string()));
        }
        let dir = match place.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| {
            fail(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
        let probe = dir.join(format!(".mcptop-probe-{}", std::process::id()));
        let made = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe);
        match made {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                Ok(())
            }
            Err(e) => Err(fail(format!(
                "cannot create files in {}: {e}",
                dir.display()
            ))),
        }
    }
}

/// Write permission without opening (opening a fifo would wait for a reader).
fn writable(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::other("the path holds a NUL byte"))?;
        // SAFETY: access(2) reads the NUL-terminated path it is given.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Why a result cannot go where it was asked to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write the result to {}: {why}", path.display())]
    Unwritable { path: PathBuf, why: String },
    #[error("cannot write the result to stdout: {0}")]
    Stdout(String),
    #[error("{0}")]
    Write(String),
    #[error("{first}; and the fallback failed too: {second}")]
    FallbackFailed { first: String, second: String },
}

/// Where a result ended up.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    File(PathBuf),
    Stdout,
    /// The asked place failed (`error`); the result is at `path` instead.
    Fallback {
        error: String,
        path: PathBuf,
    },
}

/// Writes a result where asked, or to the fallback file if that fails. An
/// error only when both fail.
pub fn save(out: &OutPath, report: &RunReport) -> Result<Saved, OutputError> {
    let first = match out {
        OutPath::Stdout => write_stdout(report).map(|()| Saved::Stdout),
        OutPath::File(path) => super::write_report(path, report)
            .map(|()| Saved::File(path.clone()))
            .map_err(|e| OutputError::Write(e.to_string())),
    };
    let error = match first {
        Ok(saved) => return Ok(saved),
        Err(e) => e.to_string(),
    };
    let path = fallback_path(&report.workload_id);
    match super::write_report(&path, report) {
        Ok(()) => Ok(Saved::Fallback { error, path }),
        Err(second) => Err(OutputError::FallbackFailed {
            first: error,
            second: second.to_string(),
        }),
    }
}

fn write_stdout(report: &RunReport) -> Result<(), OutputError> {
    let mut bytes =
        serde_json::to_vec_pretty(report).map_err(|e| OutputError::Stdout(e.to_string()))?;
    bytes.push(b'\n');
    let mut out = io::stdout().lock();
    out.write_all(&bytes)
        .and_then(|()| out.flush())
        .map_err(|e| OutputError::Stdout(e.to_string()))
}

/// `runs/x.json` -> `runs/x-2.json`: the name of run `n`'s file when one
/// command writes several (one result, HDR log or HTML report per target).
pub fn numbered(path: &Path, n: usize) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{n}{ext}"))
}

/// `$TMPDIR/mcptop-WORKLOAD-TIME-PID[-N].json`, a name no other file has.
pub fn fallback_path(workload: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    let safe: String = workload
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = format!("mcptop-{safe}-{stamp}-{}", std::process::id());
    let dir = std::env::temp_dir();
    (0..)
        .map(|n| match n {
            0 => dir.join(format!("{base}.json")),
            n => dir.join(format!("{base}-{n}.json")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join(format!("{base}.json")))
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;

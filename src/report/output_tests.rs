//! Output paths: checked before a run, symbolic links written through,
//! fifos written in place, and a named fallback when the write fails.

use super::*;
use crate::engine::{RunOutcome, StopReason, TargetInfo};
use crate::metrics::recorder::{EngineStatus, Recorder};
use crate::workload::Workload;

fn report() -> RunReport {
    let w = Workload::parse(
        "name = \"out-test\"\nconcurrency = 1\nduration = \"1s\"\n[[ops]]\nmethod = \"ping\"\n",
        "test",
    )
    .expect("workload");
    let t0 = tokio::time::Instant::now();
    let metrics =
        Recorder::new(&["ping".to_string()], t0, None).finish(t0, EngineStatus::default());
    RunReport::build(
        &w,
        "builtin",
        std::time::SystemTime::UNIX_EPOCH,
        RunOutcome {
            metrics,
            stopped_by: StopReason::Completed,
            target: TargetInfo::default(),
            unfinished: 0,
        },
    )
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_written_through_and_stays_a_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real.json");
    std::fs::write(&real, "old").expect("write");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink("real.json", &link).expect("symlink");
    crate::report::write_atomic(&link, b"new").expect("write through");
    assert!(std::fs::symlink_metadata(&link)
        .expect("meta")
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&real).expect("read"), b"new");
    // A dangling link creates the file it names.
    let dangling = dir.path().join("dangling.json");
    std::os::unix::fs::symlink("sub/made.json", &dangling).expect("symlink");
    crate::report::write_atomic(&dangling, b"made").expect("write");
    assert!(std::fs::symlink_metadata(&dangling)
        .expect("meta")
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(dir.path().join("sub/made.json")).expect("read"),
        b"made"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_fifo_is_written_in_place_not_replaced() {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("out.fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("path");
    // SAFETY: mkfifo reads the NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // A reader first (non-blocking, so nothing waits for a writer).
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open reader");
    assert_eq!(OutPath::File(fifo.clone()).check(), Ok(()));
    crate::report::write_atomic(&fifo, b"through the fifo").expect("write");
    let mut got = Vec::new();
    let _ = reader.read_to_end(&mut got);
    assert_eq!(got, b"through the fifo");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .expect("meta")
        .file_type()
        .is_fifo());
}

#[test]
fn a_path_that_cannot_be_written_is_refused_before_the_run() {
    let err = OutPath::File(PathBuf::from("/proc/nope/r.json"))
        .check()
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("/proc/nope/r.json") && err.contains("cannot create the directory /proc/nope"),
        "{err}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let err = OutPath::File(dir.path().to_path_buf())
        .check()
        .expect_err("a directory")
        .to_string();
    assert!(err.contains("it is a directory"), "{err}");
    // A new directory is made; the probe file is gone again.
    let fresh = dir.path().join("a/b/r.json");
    assert_eq!(OutPath::File(fresh.clone()).check(), Ok(()));
    let left: Vec<_> = std::fs::read_dir(dir.path().join("a/b"))
        .expect("made")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(OutPath::new(PathBuf::from("-")), OutPath::Stdout);
    assert_eq!(OutPath::Stdout.check(), Ok(()));
}

#[test]
fn a_failed_write_saves_the_result_in_a_named_fallback_file() {
    let r = report();
    let saved = save(&OutPath::File(PathBuf::from("/proc/nope/r.json")), &r).expect("saved");
    let Saved::Fallback { error, path } = saved else {
        panic!("expected the fallback, got {saved:?}");
    };
    assert!(error.contains("/proc/nope/r.json"), "{error}");
    assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert!(name.starts_with("mcptop-out-test-"), "{name}");
    let back = RunReport::read(&path).expect("readable");
    let _ = std::fs::remove_file(&path);
    assert_eq!(back, r);
}

#[test]
fn numbered_puts_the_run_before_the_extension() {
    assert_eq!(
        numbered(Path::new("runs/x.json"), 2),
        PathBuf::from("runs/x-2.json")
    );
    assert_eq!(
        numbered(Path::new("report.html"), 3),
        PathBuf::from("report-3.html")
    );
    assert_eq!(numbered(Path::new("out"), 1), PathBuf::from("out-1"));
    assert_eq!(
        numbered(Path::new("a.b/run.tar.gz"), 4),
        PathBuf::from("a.b/run.tar-4.gz")
    );
}

//! Shared helpers: a temp dir per test and the built `mcptop` binary.

use std::path::{Path, PathBuf};

pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// `mcptop` run with this directory as its working directory.
    pub fn mcptop(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("mcptop").expect("mcptop binary");
        cmd.current_dir(self.path());
        cmd
    }
}

/// Path of the built mcptop binary, for use as a stdio target.
pub fn mcptop_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("mcptop")
}

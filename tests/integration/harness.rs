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

/// A file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Parses a JSON file, failing the test with the path when it cannot.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

//! `deploy/kubernetes/`: every manifest passes a schema check, strictly
//! (an unknown or misspelled key fails). `kubectl apply --dry-run=client`
//! needs a reachable cluster for its schema, so the check is
//! `kubernetes-validate --strict` (PyPI `kubernetes-validate`, which ships
//! the Kubernetes schemas and reads no network); `.ci/install-tools.sh`
//! installs it. A copy with one key misspelled must fail the same check, so
//! the check is known to bite.

use std::path::{Path, PathBuf};
use std::process::Command;

const VALIDATOR: &str = "kubernetes-validate";
const INSTALL: &str = "pip install kubernetes-validate";

fn manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// `None` after saying so when the validator is not installed.
fn validate(file: &Path) -> Option<std::process::Output> {
    match Command::new(VALIDATOR).arg("--strict").arg(file).output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::require::missing(&format!("{VALIDATOR} is not installed"), INSTALL);
            None
        }
        Err(e) => panic!("{VALIDATOR}: {e}"),
    }
}

#[test]
fn the_kubernetes_manifests_pass_a_strict_schema_check() {
    let files = manifests();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    for expected in ["merge-job.yaml", "results-volume.yaml", "shards-job.yaml"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for file in &files {
        let Some(out) = validate(file) else { return };
        assert!(
            out.status.success(),
            "{}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The Indexed Job runs each shard with its index and writes its own file.
    let job = std::fs::read_to_string(
        files
            .iter()
            .find(|f| f.ends_with("shards-job.yaml"))
            .expect("job"),
    )
    .expect("read");
    assert!(job.contains("completionMode: Indexed"));
    assert!(job.contains(r#"--shard "$JOB_COMPLETION_INDEX/$SHARDS""#));
    assert!(job.contains(r#"--out "/results/r-$JOB_COMPLETION_INDEX.json""#));
}

#[test]
fn a_misspelled_key_fails_the_schema_check() {
    let dir = crate::harness::TestDir::new();
    let job = manifests()
        .into_iter()
        .find(|f| f.ends_with("shards-job.yaml"))
        .expect("the shards job");
    let text = std::fs::read_to_string(&job).expect("read");
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, text.replace("completionMode:", "completionMod:")).expect("write");
    let Some(out) = validate(&broken) else { return };
    assert!(!out.status.success(), "a broken manifest passed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("completionMod"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

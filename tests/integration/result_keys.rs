//! The result file's fields stay as they are: the key set of a fresh result
//! file is compared with `tests/data/result-keys.json`, a checked-in sorted
//! list of every key path (arrays collapsed to `[]`).
//!
//! The run behind it (`tests/data/result-keys.toml` against `mcptop serve
//! --stdio` as a real child) makes the sometimes-present sections appear:
//! errors (`errors_by_kind`, `first_error_messages`), the default threshold
//! (`thresholds[].by_default`), the target's resources (`memory.target`).
//! Paths legitimately absent from the sample: `stopped_by` fields other than
//! `reason` (only for a signal, a timeout or a dead target) and a target's
//! absent `memory.target` fields (null for the builtin server). Maps keyed by
//! data (error kinds, a tool's arguments) count as one path ending in `{}`.

use crate::harness::{mcptop_bin, read_json, TestDir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Keys whose children are data (error kinds, tool arguments), not fields.
const DATA_MAPS: [&str; 3] = ["errors_by_kind", "first_error_messages", "arguments"];

/// Every path in `v`: `a.b` for fields, `a[]` for any element of an array.
fn key_paths(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    if !path.is_empty() {
        out.insert(path.to_string());
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if DATA_MAPS.contains(&k.as_str()) {
                    out.insert(format!("{p}{{}}"));
                } else {
                    key_paths(child, &p, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn sample() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/result-keys.json");
    let v = read_json(&path);
    v.as_array()
        .unwrap_or_else(|| panic!("{} is not a list", path.display()))
        .iter()
        .map(|p| p.as_str().expect("a path is a string").to_string())
        .collect()
}

#[test]
fn key_paths_collapse_arrays_and_data_maps() {
    let v = serde_json::json!({
        "a": {"b": 1, "c": null},
        "xs": [{"d": 1}, {"e": [2]}],
        "errors_by_kind": {"timeout": 3}
    });
    let mut got = BTreeSet::new();
    key_paths(&v, "", &mut got);
    let want = [
        "a",
        "a.b",
        "a.c",
        "errors_by_kind{}",
        "xs",
        "xs[]",
        "xs[].d",
        "xs[].e",
        "xs[].e[]",
    ];
    assert_eq!(got, want.iter().map(|s| s.to_string()).collect());
}

#[test]
fn a_fresh_result_file_has_the_checked_in_key_set() {
    let dir = TestDir::new();
    let workload = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/result-keys.toml");
    let target = format!("stdio:{} serve --stdio", mcptop_bin().display());
    dir.mcptop()
        .arg("run")
        .arg(&workload)
        .args(["--target", &target, "--duration", "1s", "--warmup", "0s"])
        .args(["--out", "r.json", "--quiet"])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        // Half the requests fail: the default error_rate threshold fails.
        .code(1);
    let mut fresh = BTreeSet::new();
    let result = read_json(&dir.join("r.json"));
    key_paths(&result, "", &mut fresh);
    // Warnings are strings, there or not by how the run went: on a busy
    // machine the debug build may be told its own CPU limits the rate.
    // Their texts are tested where they are made.
    fresh.remove("warnings[]");
    let want = sample();
    let added: Vec<_> = fresh.difference(&want).collect();
    let removed: Vec<_> = want.difference(&fresh).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "the result file's fields changed\nadded: {added:#?}\nremoved: {removed:#?}\n\
         warnings: {}\n\
         (if intended, replace tests/data/result-keys.json with:\n{})",
        result["warnings"],
        serde_json::to_string_pretty(&fresh).expect("json")
    );
}

//! Finding workloads by name or path. The shipped workloads are compiled into
//! the binary so `mcptop run echo` works from any directory; a `workloads/`
//! folder in the current directory adds to or overrides them.

use super::{Overrides, Workload, WorkloadError};
use std::path::{Path, PathBuf};

/// Every file in `workloads/`, embedded at build time.
pub const SHIPPED: &[(&str, &str)] = &[
    ("echo", include_str!("../../workloads/echo.toml")),
    ("echo-open", include_str!("../../workloads/echo-open.toml")),
    ("mixed", include_str!("../../workloads/mixed.toml")),
    (
        "json-small",
        include_str!("../../workloads/json-small.toml"),
    ),
    (
        "json-medium",
        include_str!("../../workloads/json-medium.toml"),
    ),
    (
        "json-large",
        include_str!("../../workloads/json-large.toml"),
    ),
    ("cpu", include_str!("../../workloads/cpu.toml")),
    ("sleep", include_str!("../../workloads/sleep.toml")),
    ("ramp", include_str!("../../workloads/ramp.toml")),
    ("batch", include_str!("../../workloads/batch.toml")),
    (
        "priority-flood",
        include_str!("../../workloads/priority-flood.toml"),
    ),
    (
        "chaos-kill",
        include_str!("../../workloads/chaos-kill.toml"),
    ),
    (
        "chaos-stall",
        include_str!("../../workloads/chaos-stall.toml"),
    ),
    ("failover", include_str!("../../workloads/failover.toml")),
    (
        "sse-resume-100",
        include_str!("../../workloads/sse-resume-100.toml"),
    ),
    (
        "sse-resume-1000",
        include_str!("../../workloads/sse-resume-1000.toml"),
    ),
    (
        "session-churn",
        include_str!("../../workloads/session-churn.toml"),
    ),
    (
        "integration-flow",
        include_str!("../../workloads/integration-flow.toml"),
    ),
    ("spike", include_str!("../../workloads/spike.toml")),
    (
        "resource-10mb",
        include_str!("../../workloads/resource-10mb.toml"),
    ),
    ("soak", include_str!("../../workloads/soak.toml")),
    (
        "transport-stdio",
        include_str!("../../workloads/transport-stdio.toml"),
    ),
    (
        "transport-http",
        include_str!("../../workloads/transport-http.toml"),
    ),
    (
        "transport-tcp",
        include_str!("../../workloads/transport-tcp.toml"),
    ),
    (
        "transport-ws",
        include_str!("../../workloads/transport-ws.toml"),
    ),
];

/// Where a workload came from, for messages and result files.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Shipped,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub origin: Origin,
    pub description: String,
}

/// Resolves `name_or_path`: an existing file path, else `./workloads/NAME.toml`,
/// else a shipped workload.
pub fn resolve(name_or_path: &str, overrides: &Overrides) -> Result<Workload, WorkloadError> {
    resolve_all(name_or_path, overrides).map_err(super::first_problem)
}

/// `resolve`, with every problem of an invalid file.
pub fn resolve_all(
    name_or_path: &str,
    overrides: &Overrides,
) -> Result<Workload, Vec<WorkloadError>> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Workload::load_all(as_path, overrides);
    }
    let local = local_dir().join(format!("{name_or_path}.toml"));
    if local.is_file() {
        return Workload::load_all(&local, overrides);
    }
    if let Some((name, text)) = SHIPPED.iter().find(|(n, _)| *n == name_or_path) {
        return Workload::parse_all(text, &format!("(shipped) {name}.toml"), overrides);
    }
    let known: Vec<String> = list().into_iter().map(|e| e.name).collect();
    Err(vec![WorkloadError {
        source_name: name_or_path.to_string(),
        key: "(workload)".into(),
        message: format!(
            "no such file and no workload of that name; known: {}",
            known.join(", ")
        ),
    }])
}

fn local_dir() -> PathBuf {
    PathBuf::from("workloads")
}

/// Shipped workloads plus `./workloads/*.toml`, sorted by name; a local file
/// with a shipped name replaces it.
pub fn list() -> Vec<Entry> {
    let mut entries: Vec<Entry> = SHIPPED
        .iter()
        .map(|(name, text)| Entry {
            name: name.to_string(),
            origin: Origin::Shipped,
            description: description_of(text),
        })
        .collect();
    if let Ok(dir) = std::fs::read_dir(local_dir()) {
        for file in dir.flatten() {
            let path = file.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let description = std::fs::read_to_string(&path)
                .map(|t| description_of(&t))
                .unwrap_or_default();
            entries.retain(|e| e.name != name);
            entries.push(Entry {
                name,
                origin: Origin::File(path),
                description,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

fn description_of(text: &str) -> String {
    toml::from_str::<super::spec::WorkloadSpec>(text)
        .map(|s| s.description)
        .unwrap_or_else(|e| format!("(invalid: {})", e.message().trim()))
}

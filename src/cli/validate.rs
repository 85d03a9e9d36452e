//! `mcptop validate`: every problem of each workload file, each with its
//! file and key; with `--target`, also every operation whose tool, resource
//! or prompt the target does not list (all pages of its listings; a
//! resource may match a listed resource template).

use crate::client::CallError;
use crate::protocol::escape::escape_bounded;
use crate::protocol::jsonrpc::{PreparedRequest, ResultProbe};
use crate::protocol::ProtocolChoice;
use crate::run::{Exit, HANDSHAKE_TIMEOUT};
use crate::transport::{self, ConnectOptions, Session};
use crate::workload::flow::TAKEN;
use crate::workload::settings::DeployedSettings;
use crate::workload::TargetSpec;
use crate::workload::{catalog, Method, Overrides, Workload, WorkloadError};
use anyhow::{anyhow, Context};
use std::time::Duration;

/// How long one listing request may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pages of one listing at most: a server whose cursors never end is wrong.
const MAX_PAGES: usize = 1000;
/// Names shown when saying what a target lists instead.
const SHOWN_NAMES: usize = 20;

/// What a target lists; `Err` says why a listing is missing.
#[derive(Debug, Clone)]
pub struct Listings {
    pub tools: Result<Vec<String>, String>,
    pub prompts: Result<Vec<String>, String>,
    pub resources: Result<Vec<String>, String>,
    pub templates: Result<Vec<String>, String>,
}

/// Runs `validate`: prints every problem (stderr) or an ok line per
/// workload (stdout); exit 2 when anything was wrong. `overrides` are the
/// command line's headers and TLS settings.
pub fn run(names: &[String], target: Option<&str>, overrides: &Overrides) -> anyhow::Result<Exit> {
    let mut valid = Vec::new();
    let mut failed = false;
    for name in names {
        match catalog::resolve_all(name, overrides) {
            Ok(w) => valid.push((name.clone(), w)),
            Err(problems) => {
                failed = true;
                report(name, &problems);
            }
        }
    }
    let listings = match target {
        None => None,
        Some(t) => {
            let spec = TargetSpec::parse(t)?;
            // The first workload says how to reach the target, as it
            // says which protocol to offer.
            let (protocol, deployed) = match valid.first() {
                Some((_, w)) => (w.protocol, w.deployed.clone()),
                None => (
                    ProtocolChoice::Auto,
                    DeployedSettings {
                        tls: overrides.tls.clone(),
                        ..DeployedSettings::default()
                    },
                ),
            };
            let runtime = crate::run::runtime()?;
            let listed = runtime.block_on(list_target(&spec, protocol, &deployed))?;
            Some((spec.describe(), listed))
        }
    };
    let target_spec = target.map(TargetSpec::parse).transpose()?;
    for (name, w) in &valid {
        let mut problems = match &listings {
            Some((target, listed)) => check_against(w, name, target, listed),
            None => Vec::new(),
        };
        let resume = target_spec.as_ref().and_then(|t| w.resume_problem(t));
        problems.extend(resume.map(|message| WorkloadError {
            source_name: name.clone(),
            key: "resume_after".into(),
            message,
        }));
        if problems.is_empty() {
            println!(
                "{name}: ok ({}, {} operation(s), {} session(s){})",
                w.describe_load(),
                w.ops.len(),
                w.sessions_to_open(),
                listings
                    .as_ref()
                    .map(|(t, _)| format!(", every tool, resource and prompt listed by {t}"))
                    .unwrap_or_default()
            );
        } else {
            failed = true;
            report(name, &problems);
        }
    }
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

fn report(name: &str, problems: &[WorkloadError]) {
    for p in problems {
        eprintln!("mcptop: error: {p}");
    }
    let n = problems.len();
    eprintln!("{name}: {n} problem{}", if n == 1 { "" } else { "s" });
}

/// Connects one session to `spec` and reads its listings, every page.
pub async fn list_target(
    spec: &TargetSpec,
    protocol: ProtocolChoice,
    deployed: &DeployedSettings,
) -> anyhow::Result<Listings> {
    let (events, _ignored) = tokio::sync::mpsc::unbounded_channel();
    if deployed.tls.insecure {
        eprintln!("warning: {}", transport::tls::INSECURE_WARNING);
    }
    let options = ConnectOptions {
        protocol,
        handshake_timeout: HANDSHAKE_TIMEOUT,
        http_connections: 1,
        server_stream: false,
        deployed: std::sync::Arc::new(transport::deployed::Deployed::build(deployed, spec)?),
    };
    let connector = transport::connector(spec, options, events);
    let connected = connector
        .connect(0)
        .await
        .with_context(|| format!("{}: cannot connect", spec.describe()))?;
    let session = connected.session.as_ref();
    Ok(Listings {
        tools: list_all(session, "tools/list", |p| {
            p.tools
                .0
                .clone()
                .map(|l| l.into_iter().filter_map(|i| i.name).collect())
        })
        .await?,
        prompts: list_all(session, "prompts/list", |p| {
            p.prompts
                .0
                .clone()
                .map(|l| l.into_iter().filter_map(|i| i.name).collect())
        })
        .await?,
        resources: list_all(session, "resources/list", |p| {
            p.resources
                .0
                .clone()
                .map(|l| l.into_iter().filter_map(|i| i.uri).collect())
        })
        .await?,
        templates: list_all(session, "resources/templates/list", |p| {
            p.resource_templates
                .0
                .clone()
                .map(|l| l.into_iter().filter_map(|i| i.uri_template).collect())
        })
        .await?,
    })
}

/// Every page of one listing. `Ok(Err(why))` when the target does not offer
/// it (method not found); `Err` when asking failed otherwise.
async fn list_all(
    session: &dyn Session,
    method: &'static str,
    names: impl Fn(&ResultProbe) -> Option<Vec<String>>,
) -> anyhow::Result<Result<Vec<String>, String>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => serde_json::json!({ "cursor": c }),
            None => serde_json::json!({}),
        };
        let req = PreparedRequest::new(method, &params);
        let probe = match tokio::time::timeout(LIST_TIMEOUT, session.request(&req)).await {
            Err(_) => return Err(anyhow!("{method}: no reply within {LIST_TIMEOUT:?}")),
            Ok(Err(CallError::JsonRpc { code: -32601, .. })) => {
                return Ok(Err(format!("{method}: method not found")))
            }
            Ok(Err(e)) => return Err(anyhow!("{method} failed: {e}")),
            Ok(Ok(probe)) => probe,
        };
        match names(&probe) {
            Some(page) => all.extend(page),
            None => return Ok(Err(format!("{method}: the reply holds no list"))),
        }
        match probe.next_cursor.0 {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            Some(_) => return Err(anyhow!("{method}: the server repeated its cursor")),
            None => return Ok(Ok(all)),
        }
    }
    Err(anyhow!("{method}: still more pages after {MAX_PAGES}"))
}

/// Every operation of `w` (from `source`) whose tool, resource or prompt
/// `listed` lacks.
pub fn check_against(
    w: &Workload,
    source: &str,
    target: &str,
    listed: &Listings,
) -> Vec<WorkloadError> {
    let mut problems = Vec::new();
    for (i, op) in w.ops.iter().enumerate() {
        let missing = match &op.method {
            Method::ToolsCall { tool, .. } if tool != TAKEN => {
                absent("tool", tool, &listed.tools, &[], target).map(|m| ("tool", m))
            }
            Method::PromptsGet { prompt, .. } if prompt != TAKEN => {
                absent("prompt", prompt, &listed.prompts, &[], target).map(|m| ("prompt", m))
            }
            Method::ResourcesRead { uri } if uri != TAKEN => {
                let templates = listed.templates.as_deref().unwrap_or_default();
                absent("resource", uri, &listed.resources, templates, target).map(|m| ("uri", m))
            }
            _ => None,
        };
        if let Some((key, message)) = missing {
            problems.push(WorkloadError {
                source_name: source.to_string(),
                key: format!("ops[{i}].{key}"),
                message,
            });
        }
    }
    problems
}

/// Why `name` is not among `listed` (nor matches a template), or `None`.
fn absent(
    what: &str,
    name: &str,
    listed: &Result<Vec<String>, String>,
    templates: &[String],
    target: &str,
) -> Option<String> {
    let names = match listed {
        Ok(names) => names,
        Err(why) if templates.is_empty() => {
            return Some(format!("{target} lists no {what}s ({why})"))
        }
        Err(_) => &Vec::new(),
    };
    if names.iter().any(|n| n == name) || templates.iter().any(|t| matches_template(t, name)) {
        return None;
    }
    let mut message = format!("no {what} {name:?} on {target}");
    if let Some(close) = closest(name, names) {
        message.push_str(&format!(" (did you mean {:?}?)", escape_bounded(close, 80)));
    }
    let mut shown: Vec<String> = names
        .iter()
        .chain(templates)
        .take(SHOWN_NAMES)
        .map(|n| escape_bounded(n, 80))
        .collect();
    let total = names.len() + templates.len();
    if total > SHOWN_NAMES {
        shown.push(format!("… {} more", total - SHOWN_NAMES));
    }
    message.push_str(&format!("; it lists {total}: {}", shown.join(", ")));
    Some(message)
}

/// The listed name nearest to a misspelt one (a few edits away), if any.
fn closest<'a>(name: &str, names: &'a [String]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    names
        .iter()
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Does `uri` fit an RFC 6570 URI template? Literal parts must match; an
/// expression matches a run of characters: any for `{+x}` and `{#x}`, a
/// query for `{?x}` and `{&x}`, otherwise anything but `/`, `?` and `#`.
pub fn matches_template(template: &str, uri: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return false;
        };
        parts.push((false, &rest[..open]));
        parts.push((true, &rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    parts.push((false, rest));
    fits(&parts, uri)
}

fn fits(parts: &[(bool, &str)], uri: &str) -> bool {
    let Some(((is_expr, part), later)) = parts.split_first() else {
        return uri.is_empty();
    };
    if !is_expr {
        return uri.strip_prefix(part).is_some_and(|r| fits(later, r));
    }
    let allowed = |c: char| match part.chars().next() {
        Some('+' | '#') => true,
        Some('?' | '&') => c != '#',
        _ => !matches!(c, '/' | '?' | '#'),
    };
    // Try every length the expression could take, longest first.
    let run = uri
        .char_indices()
        .find(|&(_, c)| !allowed(c))
        .map_or(uri.len(), |(i, _)| i);
    (0..=run)
        .rev()
        .filter(|&end| uri.is_char_boundary(end))
        .any(|end| fits(later, &uri[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_match_templates() {
        assert!(matches_template(
            "mcptop://payload/{bytes}",
            "mcptop://payload/4096"
        ));
        assert!(!matches_template(
            "mcptop://payload/{bytes}",
            "mcptop://payload/1/2"
        ));
        assert!(!matches_template(
            "mcptop://payload/{bytes}",
            "mcptop://static/x"
        ));
        assert!(matches_template("file:///{+path}", "file:///a/b/c.txt"));
        assert!(matches_template("x://{a}-{b}", "x://1-2-3"));
        assert!(matches_template("x://s{?q,r}", "x://s?q=1&r=2"));
        assert!(!matches_template("x://{unclosed", "x://y"));
    }

    #[test]
    fn a_misspelt_name_gets_a_suggestion() {
        let names: Vec<String> = ["echo", "add", "sleep"].map(String::from).to_vec();
        assert_eq!(closest("ech", &names), Some("echo"));
        assert_eq!(closest("slep", &names), Some("sleep"));
        assert_eq!(closest("zzzzzz", &names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}

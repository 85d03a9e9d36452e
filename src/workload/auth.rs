//! A workload's `[headers]` and `auth` for deployed servers: the file's
//! shape, their validation (`${ENV_VAR}` expanded into `Secret`s, every
//! problem named by key but never by value), and the redacted copy of the
//! spec that result files keep (`***` for every header value, bearer token
//! and client secret).

use super::headers::{self, expand_env, REDACTED};
use super::settings::{parse_url, AuthSettings, ClientCredentials, DeployedSettings, TlsSettings};
use super::validate::Problems;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `auth = { bearer = "${TOKEN}" }` or
/// `auth = { client_credentials = { token_url = ..., client_id = ..., client_secret = ..., scope = ... } }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSpec {
    Bearer(String),
    ClientCredentials(ClientCredentialsSpec),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentialsSpec {
    /// Where to ask for tokens; without it, discovered from the server's
    /// `/.well-known/oauth-protected-resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `tls = { ca_cert = "FILE", insecure = true }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
}

/// Expands and checks `[headers]`, `auth` and `tls`, reporting problems by key.
pub(super) fn settings(spec: &super::spec::WorkloadSpec, p: &mut Problems) -> DeployedSettings {
    let (headers, auth) = (&spec.headers, spec.auth.as_ref());
    let mut out = DeployedSettings::default();
    if let Some(tls) = &spec.tls {
        out.tls.ca_cert = tls.ca_cert.as_ref().map(std::path::PathBuf::from);
        out.tls.insecure = tls.insecure.unwrap_or(false);
        if out.tls.insecure && out.tls.ca_cert.is_some() {
            p.add(
                "tls",
                "give either ca_cert or insecure = true, not both".into(),
            );
        }
    }
    for (name, value) in headers {
        match headers::header(name, value) {
            Ok(h) => out.headers.push(h),
            Err(m) => p.add(&format!("headers.{name}"), m),
        }
    }
    let has_authorization = headers
        .keys()
        .any(|k| k.trim().eq_ignore_ascii_case("authorization"));
    if let Some(auth) = auth {
        if has_authorization {
            p.add(
                "auth",
                "give either `auth` or an Authorization header, not both".into(),
            );
        }
        out.auth = auth_settings(auth, p);
    }
    out
}

fn auth_settings(auth: &AuthSpec, p: &mut Problems) -> Option<AuthSettings> {
    match auth {
        AuthSpec::Bearer(token) => match expand_env(token) {
            Ok(t) if t.is_empty() => {
                p.add("auth.bearer", "the token is empty".into());
                None
            }
            Ok(t) => Some(AuthSettings::Bearer(t)),
            Err(m) => {
                p.add("auth.bearer", m);
                None
            }
        },
        AuthSpec::ClientCredentials(c) => {
            let key = |k: &str| format!("auth.client_credentials.{k}");
            if let Some(url) = &c.token_url {
                if let Err(m) = parse_url(url) {
                    p.add(&key("token_url"), m);
                }
            }
            let expand = |k: &str, v: &str, p: &mut Problems| {
                expand_env(v).map_err(|m| p.add(&key(k), m)).ok()
            };
            let client_id = expand("client_id", &c.client_id, p)?;
            let client_secret = expand("client_secret", &c.client_secret, p)?;
            Some(AuthSettings::ClientCredentials(ClientCredentials {
                token_url: c.token_url.clone(),
                client_id: client_id.expose().to_string(),
                client_secret,
                scope: c.scope.clone(),
            }))
        }
    }
}

/// The spec's headers and credentials as result files keep them.
pub(super) fn redact(headers: &mut BTreeMap<String, String>, auth: &mut Option<AuthSpec>) {
    for value in headers.values_mut() {
        *value = REDACTED.to_string();
    }
    match auth {
        Some(AuthSpec::Bearer(token)) => *token = REDACTED.to_string(),
        Some(AuthSpec::ClientCredentials(c)) => c.client_secret = REDACTED.to_string(),
        None => {}
    }
}

/// The command line's `--ca-cert` / `--insecure` over the file's `tls`.
pub(super) fn override_tls(tls: &mut TlsSettings, flags: &TlsSettings) {
    if flags.ca_cert.is_some() || flags.insecure {
        *tls = flags.clone();
    }
}

/// Adds `-H` headers to the file's, a flag replacing a header of the same
/// name (in any case).
pub(super) fn merge_headers(headers: &mut BTreeMap<String, String>, flags: &[(String, String)]) {
    for (name, value) in flags {
        headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
        headers.insert(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use crate::workload::settings::AuthSettings;
    use crate::workload::{Overrides, Workload};

    const BASE: &str =
        "name = \"w\"\nconcurrency = 1\nduration = \"1s\"\n[[ops]]\nmethod = \"ping\"\n";

    fn parse(extra: &str, o: &Overrides) -> Result<Workload, Vec<String>> {
        let text = format!("{extra}\n{BASE}");
        Workload::parse_all(&text, "w.toml", o)
            .map_err(|all| all.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn headers_auth_and_tls_are_read_expanded_and_redacted() {
        std::env::set_var("MCPTOP_UNIT_SECRET", "sv-1");
        let file = r#"auth = { client_credentials = { client_id = "c", client_secret = "${MCPTOP_UNIT_SECRET}", scope = "s" } }
tls = { ca_cert = "ca.pem" }
headers = { X-A = "lit", X-B = "k-${MCPTOP_UNIT_SECRET}" }"#;
        let o = Overrides {
            headers: vec![("x-a".into(), "flag".into())],
            ..Overrides::default()
        };
        let w = parse(file, &o).expect("valid");
        let values: Vec<(&str, &str)> = w
            .deployed
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.expose()))
            .collect();
        assert_eq!(values, [("X-B", "k-sv-1"), ("x-a", "flag")]);
        let Some(AuthSettings::ClientCredentials(c)) = &w.deployed.auth else {
            panic!("client credentials");
        };
        assert_eq!(
            (c.client_secret.expose(), c.token_url.as_ref()),
            ("sv-1", None)
        );
        assert_eq!(w.deployed.tls.ca_cert.as_deref(), Some("ca.pem".as_ref()));
        let kept = serde_json::to_string(&w.spec).expect("json");
        assert!(!kept.contains("sv-1") && !kept.contains("flag"), "{kept}");
        assert!(kept.contains(r#""client_secret":"***""#), "{kept}");
        // The command line's --insecure wins over the file's ca_cert.
        let o = Overrides {
            tls: crate::workload::settings::TlsSettings {
                ca_cert: None,
                insecure: true,
            },
            ..Overrides::default()
        };
        let w = parse(file, &o).expect("valid");
        assert!(w.deployed.tls.insecure && w.deployed.tls.ca_cert.is_none());
    }

    #[test]
    fn every_problem_is_named_by_key_without_the_value() {
        let file = r#"auth = { bearer = "${MCPTOP_UNIT_UNSET}" }
tls = { ca_cert = "x.pem", insecure = true }
headers = { "Bad Name" = "v1", Authorization = "Bearer v2", Content-Type = "v3" }"#;
        let all = parse(file, &Overrides::default())
            .expect_err("invalid")
            .join("\n");
        for want in [
            "w.toml: headers.Bad Name: \"Bad Name\" is not a header name",
            "w.toml: headers.Content-Type: Content-Type is set by mcptop itself",
            "w.toml: auth: give either `auth` or an Authorization header",
            "w.toml: auth.bearer: environment variable MCPTOP_UNIT_UNSET is not set",
            "w.toml: tls: give either ca_cert or insecure",
        ] {
            assert!(all.contains(want), "{want}\n{all}");
        }
        assert!(
            !all.contains("v1") && !all.contains("v2") && !all.contains("v3"),
            "{all}"
        );
        let all = parse("auth = { basic = \"x\" }", &Overrides::default())
            .expect_err("unknown")
            .join("\n");
        assert!(all.contains("auth"), "{all}");
    }
}

//! A workload's `[headers]` and `auth` for deployed servers: the file's
//! shape, their validation (`${ENV_VAR}` expanded into `Secret`s, every
//! problem named by key but never by value), and the redacted copy of the
//! spec that result files keep (`***` for every header value, bearer token
//! and client secret).

use super::validate::Problems;
use crate::transport::auth::{parse_url, AuthSettings, ClientCredentials};
use crate::transport::deployed::DeployedSettings;
use crate::transport::headers::{self, expand_env, REDACTED};
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

/// Expands and checks `[headers]` and `auth`, reporting problems by key.
pub(super) fn settings(
    headers: &BTreeMap<String, String>,
    auth: Option<&AuthSpec>,
    p: &mut Problems,
) -> DeployedSettings {
    let mut out = DeployedSettings::default();
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

/// Adds `-H` headers to the file's, a flag replacing a header of the same
/// name (in any case).
pub(super) fn merge_headers(headers: &mut BTreeMap<String, String>, flags: &[(String, String)]) {
    for (name, value) in flags {
        headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
        headers.insert(name.clone(), value.clone());
    }
}

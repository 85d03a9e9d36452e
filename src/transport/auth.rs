//! OAuth for protected MCP servers (the MCP authorization spec, OAuth 2.1):
//! a static bearer token, or the client-credentials grant, whose token is
//! fetched before the run and fetched again before it expires (at three
//! quarters of its `expires_in`) or when the server answers 401. Without a
//! `token_url`, the token endpoint is discovered as the spec says: the
//! resource server's `/.well-known/oauth-protected-resource` names the
//! authorization server, whose `/.well-known/oauth-authorization-server`
//! (or `openid-configuration`) names the token endpoint. Requests go
//! through the same HTTP/1 client as the target's (`http::conn`), over TLS
//! when the URL is `https://`. Credentials and tokens are `Secret`s.

use super::headers::Secret;
use super::http::conn::{Conn, RequestBytes};
use super::tls::Dial;
use super::CONNECT_TIMEOUT;
use crate::client::CallError;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

pub use crate::workload::settings::{parse_url, AuthSettings, ClientCredentials};

/// Largest token or metadata reply read.
const MAX_REPLY_BYTES: usize = 256 * 1024;
/// A token is fetched again once this share of its lifetime has passed.
const REFRESH_AT: f64 = 0.75;

/// One GET or POST and its status and body.
async fn fetch(
    url: &str,
    tls: Option<&TlsConnector>,
    form: Option<&str>,
) -> Result<(u16, Vec<u8>), String> {
    let (secure, endpoint) = parse_url(url)?;
    if secure && tls.is_none() {
        return Err(format!("{url}: no TLS configuration"));
    }
    let authority = endpoint.authority();
    let dial = Dial {
        authority: &authority,
        host: &endpoint.host,
        tls: if secure { tls } else { None },
        timeout: CONNECT_TIMEOUT,
        phases: None,
    };
    let mut conn = Conn::open(&dial)
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let method = if form.is_some() { "POST" } else { "GET" };
    let mut request = RequestBytes::new(method, &endpoint.path, &authority);
    request.header("Accept", "application/json");
    if form.is_some() {
        request.header("Content-Type", "application/x-www-form-urlencoded");
    }
    let exchange = async {
        let head = conn
            .send(&request.finish(form.unwrap_or("").as_bytes()))
            .await?;
        let mut framing = head.framing;
        let mut body = Vec::new();
        while conn.body_chunk(&mut framing, &mut body).await? {
            if body.len() > MAX_REPLY_BYTES {
                return Err(std::io::Error::other("reply too long"));
            }
        }
        Ok((head.status, body))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{url}: no reply within {}s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{url}: {e}"))
}

/// `application/x-www-form-urlencoded` escaping.
fn form_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A token in force and when to fetch the next one.
struct Token {
    header: Arc<Secret>,
    refresh_at: Option<Instant>,
}

/// Hands out the `Authorization` header value for each request.
pub struct Authorizer {
    settings: AuthSettings,
    /// The MCP endpoint's URL: the OAuth `resource` and where discovery starts.
    resource: String,
    tls: Option<TlsConnector>,
    current: RwLock<Option<Token>>,
    refreshing: tokio::sync::Mutex<()>,
    /// Tokens fetched so far (a refresh shows as a second one).
    pub fetches: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("settings", &self.settings)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

fn auth_error(why: impl std::fmt::Display) -> CallError {
    CallError::Auth(why.to_string())
}

impl Authorizer {
    pub fn new(settings: AuthSettings, resource: String, tls: Option<TlsConnector>) -> Authorizer {
        let current = match &settings {
            AuthSettings::Bearer(token) => Some(Token {
                header: Arc::new(Secret::new(format!("Bearer {}", token.expose()))),
                refresh_at: None,
            }),
            AuthSettings::ClientCredentials(_) => None,
        };
        Authorizer {
            settings,
            resource,
            tls,
            current: RwLock::new(current),
            refreshing: tokio::sync::Mutex::new(()),
            fetches: Default::default(),
        }
    }

    fn fresh(&self) -> Option<Arc<Secret>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let token = current.as_ref()?;
        match token.refresh_at {
            Some(at) if Instant::now() >= at => None,
            _ => Some(token.header.clone()),
        }
    }

    /// The token in force, if it is not due for refresh.
    pub fn cached(&self) -> Option<Arc<Secret>> {
        self.fresh()
    }

    /// The `Authorization` value for the next request, fetching a token
    /// first when there is none or it is due for refresh.
    pub async fn header(&self) -> Result<Arc<Secret>, CallError> {
        if let Some(h) = self.fresh() {
            return Ok(h);
        }
        let AuthSettings::ClientCredentials(client) = &self.settings else {
            return Err(auth_error("the bearer token was refused"));
        };
        let _one_fetch = self.refreshing.lock().await;
        if let Some(h) = self.fresh() {
            return Ok(h);
        }
        let token = self.fetch_token(client).await?;
        let header = token.header.clone();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
        Ok(header)
    }

    /// The server refused `header` (401): the next request fetches a new
    /// token (a static one stays; its 401s are reported).
    pub fn refused(&self, header: &Arc<Secret>) {
        if matches!(self.settings, AuthSettings::Bearer(_)) {
            return;
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.header, header))
        {
            *current = None;
        }
    }

    async fn fetch_token(&self, client: &ClientCredentials) -> Result<Token, CallError> {
        let token_url = match &client.token_url {
            Some(url) => url.clone(),
            None => self.discover().await.map_err(auth_error)?,
        };
        let mut form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&resource={}",
            form_escape(&client.client_id),
            form_escape(client.client_secret.expose()),
            form_escape(&self.resource),
        );
        if let Some(scope) = &client.scope {
            form.push_str(&format!("&scope={}", form_escape(scope)));
        }
        let asked = Instant::now();
        let (status, body) = fetch(&token_url, self.tls.as_ref(), Some(&form))
            .await
            .map_err(|e| auth_error(format!("token request: {e}")))?;
        let reply: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if !(200..300).contains(&status) {
            // The OAuth error fields only: the body might echo what was sent.
            let error = reply["error"].as_str().unwrap_or("no error code");
            let description = reply["error_description"].as_str().unwrap_or("");
            return Err(auth_error(format!(
                "token endpoint {token_url} answered HTTP {status}: {error} {description}"
            )));
        }
        let Some(access) = reply["access_token"].as_str() else {
            return Err(auth_error(format!(
                "token endpoint {token_url} sent no access_token"
            )));
        };
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let refresh_at = refresh_at(asked, reply["expires_in"].as_f64());
        Ok(Token {
            header: Arc::new(Secret::new(format!("Bearer {access}"))),
            refresh_at,
        })
    }

    /// The token endpoint, from the resource's and then the authorization
    /// server's metadata.
    async fn discover(&self) -> Result<String, String> {
        let (secure, resource) = parse_url(&self.resource.replacen("wss://", "https://", 1))
            .or_else(|_| parse_url(&self.resource.replacen("ws://", "http://", 1)))?;
        let origin = format!(
            "{}://{}",
            if secure { "https" } else { "http" },
            resource.authority()
        );
        let path = resource.path.trim_end_matches('/');
        let metadata = self
            .first_json(&[
                format!("{origin}/.well-known/oauth-protected-resource{path}"),
                format!("{origin}/.well-known/oauth-protected-resource"),
            ])
            .await?;
        let issuer = metadata["authorization_servers"][0]
            .as_str()
            .ok_or("the protected-resource metadata names no authorization_servers")?
            .trim_end_matches('/')
            .to_string();
        let (issuer_tls, issuer_at) = parse_url(&issuer)?;
        let issuer_origin = format!(
            "{}://{}",
            if issuer_tls { "https" } else { "http" },
            issuer_at.authority()
        );
        let issuer_path = issuer_at.path.trim_end_matches('/');
        let server = self
            .first_json(&[
                format!("{issuer_origin}/.well-known/oauth-authorization-server{issuer_path}"),
                format!("{issuer_origin}/.well-known/openid-configuration{issuer_path}"),
            ])
            .await?;
        server["token_endpoint"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{issuer}'s metadata names no token_endpoint"))
    }

    /// The first of `urls` that answers 200 with JSON.
    async fn first_json(&self, urls: &[String]) -> Result<serde_json::Value, String> {
        let mut why = Vec::new();
        for url in urls {
            match fetch(url, self.tls.as_ref(), None).await {
                Ok((200, body)) => match serde_json::from_slice(&body) {
                    Ok(v) => return Ok(v),
                    Err(e) => why.push(format!("{url}: not JSON: {e}")),
                },
                Ok((status, _)) => why.push(format!("{url}: HTTP {status}")),
                Err(e) => why.push(e),
            }
        }
        Err(format!("discovery failed: {}", why.join("; ")))
    }
}

/// When a token asked for at `asked` and valid `expires_in` seconds is
/// fetched again: at three quarters of its life; never without a lifetime.
fn refresh_at(asked: Instant, expires_in: Option<f64>) -> Option<Instant> {
    expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| asked + Duration::from_secs_f64(s.min(1e9) * REFRESH_AT))
}

/// The error for a 401: the server's realm and error, from `WWW-Authenticate`.
pub fn unauthorized(www_authenticate: Option<&str>) -> CallError {
    let Some(value) = www_authenticate else {
        return auth_error("HTTP 401 (no WWW-Authenticate)");
    };
    let param = |name: &str| {
        value.split(',').find_map(|part| {
            let part = part.trim();
            let part = part
                .strip_prefix("Bearer ")
                .or_else(|| part.strip_prefix("bearer "))
                .unwrap_or(part)
                .trim();
            let (k, v) = part.split_once('=')?;
            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let mut parts = vec!["HTTP 401".to_string()];
    for name in ["realm", "error", "error_description"] {
        if let Some(v) = param(name) {
            parts.push(format!("{name}={v:?}"));
        }
    }
    if parts.len() == 1 {
        parts.push(format!(
            "WWW-Authenticate: {}",
            crate::protocol::jsonrpc::snippet(value)
        ));
    }
    auth_error(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_names_the_realm_and_error() {
        let e = unauthorized(Some(
            r#"Bearer realm="mcp", error="invalid_token", error_description="expired""#,
        ));
        assert_eq!(
            e.to_string(),
            r#"auth: HTTP 401 realm="mcp" error="invalid_token" error_description="expired""#
        );
        assert_eq!(
            unauthorized(None).to_string(),
            "auth: HTTP 401 (no WWW-Authenticate)"
        );
    }

    #[test]
    fn urls_and_forms() {
        let (tls, e) = parse_url("https://auth.example/oauth/token").expect("ok");
        assert!(tls && e.tls);
        assert_eq!((e.port, e.path.as_str()), (443, "/oauth/token"));
        assert!(parse_url("ftp://x").is_err());
        assert_eq!(form_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_due_at_three_quarters_of_its_life_exactly() {
        let a = Authorizer::new(
            AuthSettings::ClientCredentials(ClientCredentials {
                token_url: None,
                client_id: "c".into(),
                client_secret: Secret::new("s".into()),
                scope: None,
            }),
            "http://127.0.0.1:1/mcp".into(),
            None,
        );
        assert!(a.cached().is_none(), "none before the first fetch");
        let asked = Instant::now();
        let header = Arc::new(Secret::new("Bearer t1".into()));
        *a.current.write().expect("lock") = Some(Token {
            header: header.clone(),
            refresh_at: refresh_at(asked, Some(2.0)),
        });
        tokio::time::advance(Duration::from_millis(1_499)).await;
        assert!(a.cached().is_some_and(|h| Arc::ptr_eq(&h, &header)));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(a.cached().is_none(), "due at 1.5 s of 2 s");
        assert_eq!(refresh_at(asked, None), None);
        assert_eq!(refresh_at(asked, Some(0.0)), None);
        assert_eq!(refresh_at(asked, Some(f64::INFINITY)), None);
        // A 401 on the token in force drops it; on an older one it does not.
        *a.current.write().expect("lock") = Some(Token {
            header: header.clone(),
            refresh_at: None,
        });
        a.refused(&Arc::new(Secret::new("Bearer t0".into())));
        assert!(a.cached().is_some());
        a.refused(&header);
        assert!(a.cached().is_none());
    }

    #[tokio::test]
    async fn a_static_token_is_sent_as_bearer_and_never_printed() {
        let a = Authorizer::new(
            AuthSettings::Bearer(Secret::new("tok123".into())),
            "http://127.0.0.1:1/mcp".into(),
            None,
        );
        let h = a.header().await.expect("static");
        assert_eq!(h.expose(), "Bearer tok123");
        assert!(!format!("{a:?}").contains("tok123"));
        a.refused(&h);
        assert!(a.header().await.is_ok(), "a static token stays");
    }
}

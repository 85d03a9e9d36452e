//! Who may talk to `mcptop serve` over HTTP and WebSocket: the one Origin
//! and Host policy both transports apply before anything else (the HTTP
//! request, the WebSocket upgrade).
//!
//! A web page in a browser can reach a server on the user's loopback
//! interface. Browsers name the page's site in `Origin`, so a request whose
//! Origin is not a loopback origin (nor one the user allowed) is refused with
//! 403. A page can also rebind its own DNS name to 127.0.0.1 and then talk
//! to the server as "same origin"; the browser still sends that name in
//! `Host`, so a Host that is neither a loopback name, the address the client
//! connected to, nor an allowed host is refused with 403 too. Requests
//! without `Origin` (every non-browser client) pass the Origin check.
//!
//! This follows rmcp's Streamable HTTP checks (loopback hosts, Origin
//! allow-list, 403), with one difference: the connection's own local address
//! is always an allowed Host, so a server bound to a LAN address can be used
//! by that address without naming it.
//!
//! TCP and stdio carry no Origin and no Host: a browser cannot open a raw
//! socket, and what it can send to one (an HTTP request) is refused by
//! `net` because it does not start like JSON-RPC.

use hyper::header::{HOST, ORIGIN};
use hyper::{HeaderMap, StatusCode, Uri};
use std::net::IpAddr;

/// A `--allow-origin` or `--allow-host` value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("--allow-origin {0:?}: expected SCHEME://HOST, SCHEME://HOST:PORT, SCHEME://HOST:*, `null` or `*`")]
    Origin(String),
    #[error("--allow-host {0:?}: expected a host name or address (a port, if given, is ignored), or `*`")]
    Host(String),
}

/// Why a request was refused, with the status it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
}

impl Refusal {
    fn forbidden(reason: String) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            reason,
        }
    }

    fn bad_request(reason: &str) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            reason: reason.to_string(),
        }
    }
}

/// An origin as compared: scheme, host (lower case, no brackets), port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Port {
    Any,
    Exact(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowedOrigin {
    Any,
    Null,
    Site {
        scheme: String,
        host: String,
        port: Port,
    },
}

/// The Origin and Host policy of one `serve` listener.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    origins: Vec<AllowedOrigin>,
    hosts: Vec<String>,
    any_host: bool,
}

impl AccessPolicy {
    /// Loopback origins and hosts, plus what the user allowed with
    /// `--allow-origin` and `--allow-host`.
    pub fn new(allow_origins: &[String], allow_hosts: &[String]) -> Result<Self, AccessError> {
        let origins = allow_origins
            .iter()
            .map(|raw| parse_allowed_origin(raw).ok_or_else(|| AccessError::Origin(raw.clone())))
            .collect::<Result<_, _>>()?;
        let mut policy = AccessPolicy {
            origins,
            ..AccessPolicy::default()
        };
        for raw in allow_hosts {
            if raw.trim() == "*" {
                policy.any_host = true;
                continue;
            }
            let host = parse_authority_host(raw).ok_or_else(|| AccessError::Host(raw.clone()))?;
            policy.hosts.push(host);
        }
        Ok(policy)
    }

    /// Checks a request's `Host` and `Origin`; `local` is the address the
    /// client connected to.
    pub fn check(&self, headers: &HeaderMap, local: IpAddr) -> Result<(), Refusal> {
        self.check_host(headers, local)?;
        self.check_origin(headers)
    }

    fn check_host(&self, headers: &HeaderMap, local: IpAddr) -> Result<(), Refusal> {
        if self.any_host {
            return Ok(());
        }
        let Some(value) = headers.get(HOST) else {
            return Err(Refusal::bad_request("missing Host header"));
        };
        let host = value
            .to_str()
            .ok()
            .and_then(parse_authority_host)
            .ok_or_else(|| Refusal::bad_request("malformed Host header"))?;
        let allowed = is_loopback_name(&host)
            || host.parse::<IpAddr>().is_ok_and(|ip| same_ip(ip, local))
            || self.hosts.contains(&host);
        if allowed {
            return Ok(());
        }
        Err(Refusal::forbidden(format!(
            "Host {host:?} is not allowed (a loopback name or the server's address; \
             see --allow-host)"
        )))
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(value) = headers.get(ORIGIN) else {
            return Ok(());
        };
        let text = value.to_str().unwrap_or_default().trim();
        if self.origins.contains(&AllowedOrigin::Any) {
            return Ok(());
        }
        if text.eq_ignore_ascii_case("null") {
            if self.origins.contains(&AllowedOrigin::Null) {
                return Ok(());
            }
            return Err(Refusal::forbidden(
                "Origin null is not allowed (see --allow-origin)".to_string(),
            ));
        }
        let Some(origin) = parse_origin(text) else {
            return Err(Refusal::forbidden(format!("malformed Origin {text:?}")));
        };
        let loopback =
            matches!(origin.scheme.as_str(), "http" | "https") && is_loopback_name(&origin.host);
        if loopback || self.origins.iter().any(|a| origin_matches(a, &origin)) {
            return Ok(());
        }
        Err(Refusal::forbidden(format!(
            "Origin {text:?} is not allowed (loopback origins are; see --allow-origin)"
        )))
    }
}

/// `localhost` or a loopback address (127.0.0.0/8, ::1).
fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// The host of a `Host` header or `--allow-host` value: `name`,
/// `name:port`, `[v6]:port`, or a bare IPv6 address.
fn parse_authority_host(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let authority = text.parse::<hyper::http::uri::Authority>().ok()?;
    Some(normalize_host(authority.host()))
}

fn parse_origin(text: &str) -> Option<Origin> {
    let uri = text.parse::<Uri>().ok()?;
    let authority = uri.authority()?;
    let path_is_empty = matches!(uri.path(), "" | "/") && uri.query().is_none();
    if !path_is_empty || authority.as_str().contains('@') {
        return None;
    }
    Some(Origin {
        scheme: uri.scheme_str()?.to_ascii_lowercase(),
        host: normalize_host(authority.host()),
        port: authority.port_u16(),
    })
}

fn parse_allowed_origin(raw: &str) -> Option<AllowedOrigin> {
    let text = raw.trim();
    if text == "*" {
        return Some(AllowedOrigin::Any);
    }
    if text.eq_ignore_ascii_case("null") {
        return Some(AllowedOrigin::Null);
    }
    let (text, any_port) = match text.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (text, false),
    };
    let origin = parse_origin(text)?;
    let port = match (any_port, origin.port) {
        (true, None) => Port::Any,
        (true, Some(_)) => return None,
        (false, Some(port)) => Port::Exact(port),
        // An origin written without a port means the scheme's default one,
        // as browsers serialise it (RFC 6454).
        (false, None) => Port::Exact(default_port(&origin.scheme)?),
    };
    Some(AllowedOrigin::Site {
        scheme: origin.scheme,
        host: origin.host,
        port,
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

fn origin_matches(allowed: &AllowedOrigin, origin: &Origin) -> bool {
    match allowed {
        AllowedOrigin::Any => true,
        AllowedOrigin::Null => false,
        AllowedOrigin::Site { scheme, host, port } => {
            *scheme == origin.scheme
                && *host == origin.host
                && match port {
                    Port::Any => true,
                    Port::Exact(p) => origin.port.or_else(|| default_port(scheme)) == Some(*p),
                }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn headers(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(host) = host {
            h.insert(HOST, HeaderValue::from_str(host).expect("header"));
        }
        if let Some(origin) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(origin).expect("header"));
        }
        h
    }

    fn status(policy: &AccessPolicy, host: Option<&str>, origin: Option<&str>) -> u16 {
        status_at(policy, host, origin, LOOPBACK)
    }

    fn status_at(
        policy: &AccessPolicy,
        host: Option<&str>,
        origin: Option<&str>,
        local: IpAddr,
    ) -> u16 {
        match policy.check(&headers(host, origin), local) {
            Ok(()) => 200,
            Err(refusal) => refusal.status.as_u16(),
        }
    }

    #[test]
    fn loopback_origins_and_no_origin_pass_foreign_ones_are_forbidden() {
        let p = AccessPolicy::default();
        let host = Some("127.0.0.1:3003");
        assert_eq!(status(&p, host, None), 200);
        for ok in [
            "http://localhost:5173",
            "http://127.0.0.1",
            "https://[::1]:8443",
            "http://127.1.2.3:80",
        ] {
            assert_eq!(status(&p, host, Some(ok)), 200, "{ok}");
        }
        for bad in [
            "http://evil.example",
            "https://localhost.evil.example",
            "http://localhost@evil.example",
            "null",
            "file://localhost",
            "not an origin",
        ] {
            assert_eq!(status(&p, host, Some(bad)), 403, "{bad}");
        }
    }

    #[test]
    fn a_rebound_host_name_is_forbidden_the_connected_address_is_not() {
        let p = AccessPolicy::default();
        assert_eq!(status(&p, Some("evil.example:3001"), None), 403);
        assert_eq!(status(&p, Some("localhost:3001"), None), 200);
        assert_eq!(status(&p, Some("[::1]:3001"), None), 200);
        assert_eq!(status(&p, None, None), 400);
        assert_eq!(status(&p, Some("a b"), None), 400);
        let lan: IpAddr = "192.168.1.5".parse().expect("ip");
        assert_eq!(status_at(&p, Some("192.168.1.5:3001"), None, lan), 200);
        assert_eq!(status_at(&p, Some("192.168.1.6:3001"), None, lan), 403);
        // A v4 client on a dual-stack socket shows a v4-mapped local address.
        let mapped: IpAddr = "::ffff:192.168.1.5".parse().expect("ip");
        assert_eq!(status_at(&p, Some("192.168.1.5"), None, mapped), 200);
    }

    #[test]
    fn allowed_origins_and_hosts_are_matched_exactly() {
        let p = AccessPolicy::new(
            &[
                "https://app.example".to_string(),
                "http://dev.example:*".to_string(),
                "null".to_string(),
            ],
            &["MyBox.lan:3001".to_string()],
        )
        .expect("policy");
        let host = Some("127.0.0.1:3001");
        assert_eq!(status(&p, host, Some("https://app.example")), 200);
        assert_eq!(status(&p, host, Some("https://app.example:443")), 200);
        assert_eq!(status(&p, host, Some("https://app.example:8443")), 403);
        assert_eq!(status(&p, host, Some("http://app.example")), 403);
        assert_eq!(status(&p, host, Some("http://dev.example:1234")), 200);
        assert_eq!(status(&p, host, Some("null")), 200);
        assert_eq!(status(&p, Some("mybox.lan:9999"), None), 200);
        assert_eq!(status(&p, Some("otherbox.lan"), None), 403);
        let open = AccessPolicy::new(&["*".to_string()], &["*".to_string()]).expect("policy");
        assert_eq!(
            status(&open, Some("anything.example"), Some("http://evil.example")),
            200
        );
    }

    #[test]
    fn unusable_allow_values_are_named() {
        for bad in [
            "evil.example",
            "http://a.example/path",
            "http://a.example:80:*",
            "ftp://x",
        ] {
            let e = AccessPolicy::new(&[bad.to_string()], &[]).expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
        let e = AccessPolicy::new(&[], &["a b".to_string()]).expect_err("host");
        assert!(e.to_string().contains("--allow-host"), "{e}");
    }
}

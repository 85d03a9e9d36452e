//! What a workload says about reaching a deployed server, once expanded:
//! request headers, how requests are authorized, and how server
//! certificates are checked. Plain data; the transports act on it
//! (`transport::deployed`, `transport::auth`, `transport::tls`).

use super::headers::{Header, Secret};
use super::target::Endpoint;
use std::path::PathBuf;

/// The workload's part: headers, auth and TLS settings, already expanded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployedSettings {
    pub headers: Vec<Header>,
    pub auth: Option<AuthSettings>,
    pub tls: TlsSettings,
}

/// How requests are authorized, as the workload says.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthSettings {
    Bearer(Secret),
    ClientCredentials(ClientCredentials),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientCredentials {
    /// `None`: discovered from the resource server's metadata.
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    pub scope: Option<String>,
}

/// How a client checks servers' certificates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsSettings {
    /// PEM certificates trusted besides the public roots (a private CA, or a
    /// self-signed server's own certificate).
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate (said on screen and in the result file).
    pub insecure: bool,
}

/// A URL mcptop fetches itself: `http://` or `https://`.
pub fn parse_url(url: &str) -> Result<(bool, Endpoint), String> {
    let (tls, rest, port) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest, 443)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest, 80)
    } else {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    };
    Endpoint::parse(rest, port)
        .map(|mut e| {
            e.tls = tls;
            (tls, e)
        })
        .map_err(|e| format!("{url:?}: {e}"))
}

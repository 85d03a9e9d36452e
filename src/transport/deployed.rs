//! What reaching a deployed server takes beyond an address: TLS, request
//! headers, an OAuth token, and the connection-phase histograms. The
//! workload holds the settings (`DeployedSettings`); a run builds one
//! `Deployed` from them and every connector shares it.

use super::auth::Authorizer;
use super::headers::{Header, Secret};
use super::http::conn::RequestBytes;
use super::phases::Phases;
use super::tls::{self, TlsError};
use crate::client::CallError;
use crate::workload::TargetSpec;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

pub use crate::workload::settings::DeployedSettings;

/// The run's part, shared by every session.
#[derive(Default)]
pub struct Deployed {
    /// Set for every network target (the token endpoint may be TLS too).
    pub tls: Option<TlsConnector>,
    pub headers: Vec<Header>,
    pub auth: Option<Arc<Authorizer>>,
    pub phases: Arc<Phases>,
    /// SSE resumption figures (`resume_after`), per operation.
    pub resume: Arc<super::resume_figures::ResumeFigures>,
    pub insecure: bool,
}

impl std::fmt::Debug for Deployed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployed")
            .field("tls", &self.tls.is_some())
            .field("headers", &self.headers)
            .field("auth", &self.auth)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Deployed {
    /// Builds the TLS client and the token source for `spec`.
    pub fn build(settings: &DeployedSettings, spec: &TargetSpec) -> Result<Deployed, TlsError> {
        let tls = Some(tls::client_connector(&settings.tls)?);
        let auth = settings
            .auth
            .clone()
            .map(|a| Arc::new(Authorizer::new(a, resource_url(spec), tls.clone())));
        Ok(Deployed {
            tls,
            headers: settings.headers.clone(),
            auth,
            phases: Arc::new(Phases::default()),
            resume: Arc::default(),
            insecure: settings.tls.insecure,
        })
    }

    /// What a reader of the result and of the live screen must know:
    /// `--insecure`.
    pub fn warnings(&self) -> Vec<String> {
        if self.insecure {
            vec![tls::INSECURE_WARNING.to_string()]
        } else {
            Vec::new()
        }
    }

    /// The TLS client for an endpoint that needs one.
    pub fn tls_for(&self, tls: bool) -> Result<Option<&TlsConnector>, String> {
        match (tls, &self.tls) {
            (false, _) => Ok(None),
            (true, Some(c)) => Ok(Some(c)),
            (true, None) => Err("TLS is not set up for this connection".into()),
        }
    }

    /// The `Authorization` value to send, if any (fetching a token when due).
    pub async fn authorization(&self) -> Result<Option<Arc<Secret>>, CallError> {
        match &self.auth {
            Some(a) => a.header().await.map(Some),
            None => Ok(None),
        }
    }

    /// Adds the user's headers and `authorization` to a request.
    pub fn decorate(&self, request: &mut RequestBytes, authorization: Option<&Arc<Secret>>) {
        for h in &self.headers {
            request.header(&h.name, h.value.expose());
        }
        if let Some(a) = authorization {
            request.header("Authorization", a.expose());
        }
    }

    /// `decorate` with whatever token can be had; for requests whose
    /// failure has no caller to report to (DELETE, GET streams).
    pub async fn decorate_now(&self, request: &mut RequestBytes) {
        let authorization = self.authorization().await.ok().flatten();
        self.decorate(request, authorization.as_ref());
    }

    /// `decorate` with the token in force, without waiting for a new one.
    pub fn decorate_cached(&self, request: &mut RequestBytes) {
        let authorization = self.auth.as_ref().and_then(|a| a.cached());
        self.decorate(request, authorization.as_ref());
    }

    /// The server answered 401 to `authorization`.
    pub fn refused(&self, authorization: Option<&Arc<Secret>>) {
        if let (Some(auth), Some(sent)) = (&self.auth, authorization) {
            auth.refused(sent);
        }
    }
}

/// The MCP endpoint's URL, the OAuth `resource` (RFC 8707).
fn resource_url(spec: &TargetSpec) -> String {
    match spec {
        TargetSpec::Http(e) => e.url("http"),
        TargetSpec::Ws(e) => e.url("ws"),
        other => other.describe(),
    }
}

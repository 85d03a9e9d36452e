//! TLS for `https://` and `wss://` targets (and the OAuth token endpoint):
//! rustls on the `ring` provider, roots from `webpki-roots` plus any
//! `--ca-cert`, or no verification at all with `--insecure`. A target's
//! byte stream is `MaybeTls`, so the HTTP/1 client and the WebSocket dial
//! stay one code path for plain and TLS connections. Opening one times the
//! TCP connect and the TLS handshake apart (`phases`).

use super::phases::Phases;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub use crate::workload::settings::TlsSettings;

/// What `--insecure` puts on screen and in the result file.
pub const INSECURE_WARNING: &str =
    "--insecure: server certificates are not verified (anyone on the path can read and change the traffic)";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--ca-cert {path}: {reason}")]
    CaCert { path: String, reason: String },
    #[error("{path}: {reason}")]
    ServerFile { path: String, reason: String },
    #[error("TLS setup: {0}")]
    Config(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client side of TLS, built once per run.
pub fn client_connector(settings: &TlsSettings) -> Result<TlsConnector, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut config = if settings.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &settings.ca_cert {
            add_pem_roots(&mut roots, path)?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

fn add_pem_roots(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsError> {
    let fail = |reason: String| TlsError::CaCert {
        path: path.display().to_string(),
        reason,
    };
    let mut added = 0;
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(fail("no PEM certificate in the file".into()));
    }
    Ok(())
}

/// The name a server's certificate must carry: the URL's host, an IP
/// address without its brackets.
pub fn server_name(host: &str) -> io::Result<ServerName<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host:?} is not a TLS server name: {e}"),
        )
    })
}

/// A connection to a target, plain or TLS.
pub enum MaybeTls {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Where to connect and how.
pub struct Dial<'a> {
    pub authority: &'a str,
    pub host: &'a str,
    pub tls: Option<&'a TlsConnector>,
    pub timeout: Duration,
    pub phases: Option<&'a Phases>,
}

impl Dial<'_> {
    /// Opens the TCP connection (Nagle off) and, for TLS, does the handshake,
    /// each within `timeout`, timing both.
    pub async fn open(&self) -> io::Result<MaybeTls> {
        let started = tokio::time::Instant::now();
        let stream = super::connect_tcp(self.authority, self.timeout).await?;
        stream.set_nodelay(true)?;
        let connected = tokio::time::Instant::now();
        if let Some(p) = self.phases {
            p.connect(connected - started);
        }
        let Some(tls) = self.tls else {
            return Ok(MaybeTls::Plain(stream));
        };
        let name = server_name(self.host)?;
        let handshake = tokio::time::timeout(self.timeout, tls.connect(name, stream))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "TLS handshake: no answer within {}s",
                        self.timeout.as_secs_f64()
                    ),
                )
            })?
            .map_err(|e| {
                let hint = if e.to_string().contains("certificate") {
                    " (a private CA or a self-signed server: --ca-cert FILE; or --insecure)"
                } else {
                    ""
                };
                io::Error::new(e.kind(), format!("TLS handshake: {e}{hint}"))
            })?;
        if let Some(p) = self.phases {
            p.tls(connected.elapsed());
        }
        Ok(MaybeTls::Tls(Box::new(handshake)))
    }
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// `--insecure`: every certificate is taken, but the handshake's signatures
/// are still checked (so the session keys are the server's).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

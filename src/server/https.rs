//! TLS for `mcptop serve --https` (and `--ws` with a certificate: `wss://`):
//! the server configuration from a PEM certificate chain and key, or a
//! throwaway self-signed certificate made with rcgen for loopback
//! (`--self-signed`; its SHA-256 fingerprint is printed, and with `--cert
//! FILE` the certificate is written there for clients' `--ca-cert`). The
//! handshake must finish within the header timeout, like a request head.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Names a self-signed certificate is good for.
const SELF_SIGNED_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("--cert {0}: {1}")]
    Cert(String, String),
    #[error("--key {0}: {1}")]
    Key(String, String),
    #[error("--self-signed: {0}")]
    SelfSigned(String),
    #[error("TLS server setup: {0}")]
    Config(String),
    #[error("give --cert FILE and --key FILE, or --self-signed")]
    Missing,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, Default)]
pub struct CertSource<'a> {
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
    pub self_signed: bool,
}

/// A server configuration, and for a self-signed certificate the lines to
/// print (its fingerprint and where it was written).
pub fn server_config(source: &CertSource) -> Result<(Arc<ServerConfig>, Vec<String>), HttpsError> {
    let (chain, key, notes) = match (source.self_signed, source.cert, source.key) {
        (true, cert_out, None) => self_signed(cert_out)?,
        (false, Some(cert), Some(key)) => (load_chain(cert)?, load_key(key)?, Vec::new()),
        _ => return Err(HttpsError::Missing),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| HttpsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), notes))
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpsError> {
    let fail = |m: String| HttpsError::Cert(path.display().to_string(), m);
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if chain.is_empty() {
        return Err(fail("no PEM certificate in the file".into()));
    }
    Ok(chain)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, HttpsError> {
    // The error never quotes the file: it holds a private key.
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        HttpsError::Key(
            path.display().to_string(),
            format!("no readable PEM private key ({e})"),
        )
    })
}

type Material = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    Vec<String>,
);

fn self_signed(cert_out: Option<&Path>) -> Result<Material, HttpsError> {
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| HttpsError::SelfSigned(e.to_string()))?;
    let der = made.cert.der().clone();
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|e| HttpsError::SelfSigned(e.to_string()))?;
    let mut notes = vec![format!(
        "self-signed certificate for {}: SHA-256 fingerprint {}",
        SELF_SIGNED_NAMES.join(", "),
        fingerprint(&der)
    )];
    if let Some(path) = cert_out {
        std::fs::write(path, made.cert.pem())
            .map_err(|e| HttpsError::SelfSigned(format!("cannot write {}: {e}", path.display())))?;
        notes.push(format!(
            "certificate written to {} (clients: --ca-cert {})",
            path.display(),
            path.display()
        ));
    }
    Ok((vec![der], key, notes))
}

/// The TLS configuration `mcptop serve` asked for: `--https` needs one,
/// `--ws` has one when a certificate is given; its notes go to stderr.
pub fn tls_for_serve(
    https: bool,
    source: &CertSource<'_>,
) -> Result<Option<Arc<ServerConfig>>, HttpsError> {
    let wants = https || source.self_signed || source.key.is_some() || source.cert.is_some();
    if !wants {
        return Ok(None);
    }
    let (config, notes) = server_config(source)?;
    for note in notes {
        eprintln!("{note}");
    }
    Ok(Some(config))
}

/// `AB:CD:...`, as browsers and openssl show it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The server side of one TLS handshake, within `timeout`; `None` when the
/// client did not finish it (it is closed).
pub async fn accept(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_and_written_and_missing_files_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("cert.pem");
        let (_, notes) = server_config(&CertSource {
            cert: Some(&out),
            key: None,
            self_signed: true,
        })
        .expect("config");
        assert!(notes[0].contains("SHA-256 fingerprint"), "{notes:?}");
        let fp = notes[0].rsplit(' ').next().unwrap_or_default();
        assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
        let pem = std::fs::read_to_string(&out).expect("written");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let err = server_config(&CertSource {
            cert: Some(&dir.path().join("none.pem")),
            key: Some(&dir.path().join("none.key")),
            self_signed: false,
        })
        .expect_err("missing");
        assert!(err.to_string().starts_with("--cert "), "{err}");
        let err = server_config(&CertSource::default()).expect_err("nothing");
        assert!(err.to_string().contains("--self-signed"), "{err}");
    }
}

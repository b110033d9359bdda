//! TLS: turns a [`TlsConfig`] into the rustls acceptor used right after INFO.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;
use crate::error::{Error, Result};

/// Builds the acceptor. PEM files are read once, at startup.
pub(crate) fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor> {
    let server_config = match config {
        TlsConfig::Rustls(server_config) => Arc::clone(server_config),
        TlsConfig::PemFiles { cert_chain_pem, key_pem } => {
            let pem_error = |what, path: &std::path::Path| {
                let path = path.to_owned();
                move |source| Error::TlsPem { what, path, source }
            };
            let chain = CertificateDer::pem_file_iter(cert_chain_pem)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(pem_error("certificate chain", cert_chain_pem))?;
            if chain.is_empty() {
                return Err(pem_error("certificate chain", cert_chain_pem)(
                    rustls::pki_types::pem::Error::NoItemsFound,
                ));
            }
            let key = PrivateKeyDer::from_pem_file(key_pem).map_err(pem_error("private key", key_pem))?;
            // An explicit provider: the process may link both ring and aws-lc-rs (through other
            // crates), in which case rustls cannot pick a default on its own.
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let server_config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(chain, key)?;
            Arc::new(server_config)
        }
    };
    Ok(TlsAcceptor::from(server_config))
}

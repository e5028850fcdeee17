//! ClientTlsOptions: how the gateway verifies upstream servers and presents itself to them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;

use crate::config::ConfigError;
use crate::heap::{Declaration, HeapBuilder, HeapObject, ObjectKind, TypeRegistry};

/// `ClientTlsOptions` configuration (IG names).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientTlsConfig {
    /// PEM file of the CA certificates to trust instead of the system's roots.
    #[serde(default)]
    pub trust_store: Option<String>,
    /// PEM file of the certificate chain to present when the upstream asks for one.
    #[serde(default)]
    pub client_certificate: Option<String>,
    /// PEM file of the private key of `clientCertificate`.
    #[serde(default)]
    pub client_key: Option<String>,
    /// `STRICT` (default): the certificate must name the host; `ALLOW_ALL`: any name, but the
    /// chain must still be trusted.
    #[serde(default)]
    pub hostname_verifier: Option<HostnameVerifier>,
    /// Accept any certificate at all. For tests only: logs a warning at load and per upstream.
    #[serde(default)]
    pub insecure_skip_verification: bool,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostnameVerifier {
    #[default]
    Strict,
    AllowAll,
}

/// The built settings, shared by the handlers that refer to them.
pub struct ClientTlsOptions {
    verifier: Arc<dyn ServerCertVerifier>,
    client_auth: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    /// Verification is off: connections log a warning once per upstream.
    pub insecure: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted roots, read once.
static SYSTEM_ROOTS: LazyLock<Arc<RootCertStore>> = LazyLock::new(|| {
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "could not read some system CA certificates");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    tracing::debug!(added, ignored, "system CA certificates loaded");
    Arc::new(roots)
});

impl ClientTlsOptions {
    /// The defaults: system roots, strict host names, no client certificate.
    pub fn system_default() -> Result<Self, String> {
        let verifier =
            WebPkiServerVerifier::builder_with_provider(SYSTEM_ROOTS.clone(), provider())
                .build()
                .map_err(|error| format!("no usable system CA certificates: {error}"))?;
        Ok(ClientTlsOptions {
            verifier,
            client_auth: None,
            insecure: false,
        })
    }

    /// A rustls configuration offering `alpn` protocols.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>, String> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(self.verifier.clone());
        let mut config = match &self.client_auth {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|error| format!("client certificate refused: {error}"))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(Arc::new(config))
    }

    pub fn from_declaration(
        builder: &mut HeapBuilder<'_>,
        declaration: &Declaration<'_>,
    ) -> Result<HeapObject, ConfigError> {
        let at = &declaration.config;
        let config: ClientTlsConfig = builder.decode(at)?;
        let config_dir = builder.environment().config_dir.clone();
        let path_of =
            |builder: &HeapBuilder<'_>, key: &str| -> Result<Option<PathBuf>, ConfigError> {
                match at.get(key) {
                    Some(value) => {
                        let text = builder.config_string(&value)?;
                        Ok(Some(resolve_path(&config_dir, &text)))
                    }
                    None => Ok(None),
                }
            };
        let error_at = |key: &str, message: String| {
            at.get(key)
                .map(|value| value.error(message.clone()))
                .unwrap_or_else(|| at.error(message))
        };
        let provider = provider();
        let roots = match path_of(builder, "trustStore")? {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                let certificates =
                    read_certificates(&path).map_err(|message| error_at("trustStore", message))?;
                let (added, _) = roots.add_parsable_certificates(certificates);
                if added == 0 {
                    return Err(error_at(
                        "trustStore",
                        format!("{} holds no usable CA certificate", path.display()),
                    ));
                }
                Arc::new(roots)
            }
            None => SYSTEM_ROOTS.clone(),
        };
        let verifier: Arc<dyn ServerCertVerifier> = if config.insecure_skip_verification {
            tracing::warn!(
                object = %declaration.name,
                "INSECURE: ClientTlsOptions \"{}\" sets insecureSkipVerification: upstream certificates are NOT verified; anyone on the path can read and change this traffic",
                declaration.name
            );
            Arc::new(NoVerification(provider.clone()))
        } else {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .map_err(|error| at.error(format!("no usable trusted certificate: {error}")))?;
            match config.hostname_verifier.unwrap_or_default() {
                HostnameVerifier::Strict => webpki,
                HostnameVerifier::AllowAll => Arc::new(AnyName {
                    roots,
                    provider: provider.clone(),
                }),
            }
        };
        let client_auth = match (
            path_of(builder, "clientCertificate")?,
            path_of(builder, "clientKey")?,
        ) {
            (Some(certificate), Some(key)) => {
                let chain = read_certificates(&certificate)
                    .map_err(|message| error_at("clientCertificate", message))?;
                if chain.is_empty() {
                    return Err(error_at(
                        "clientCertificate",
                        format!("{} holds no certificate", certificate.display()),
                    ));
                }
                let key = PrivateKeyDer::from_pem_file(&key).map_err(|error| {
                    error_at(
                        "clientKey",
                        format!("cannot read a private key from {}: {error}", key.display()),
                    )
                })?;
                Some((chain, Arc::new(key)))
            }
            (None, None) => None,
            _ => {
                return Err(
                    at.error("clientCertificate and clientKey go together: set both or neither")
                );
            }
        };
        let options = ClientTlsOptions {
            verifier,
            client_auth,
            insecure: config.insecure_skip_verification,
        };
        // Refuse a key that does not suit its certificate now rather than at the first request.
        options
            .client_config(&[])
            .map_err(|message| at.error(message))?;
        Ok(HeapObject::Service(Arc::new(options)))
    }
}

/// A path from the configuration: relative paths are relative to the configuration folder.
pub fn resolve_path(config_dir: &Path, text: &str) -> PathBuf {
    let path = Path::new(text);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        config_dir.join(path)
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    iter.collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("cannot read certificates from {}: {error}", path.display()))
}

/// Checks the chain but not the name (IG's `ALLOW_ALL` host name verifier).
#[derive(Debug)]
struct AnyName {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let certificate = rustls::server::ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &certificate,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts any certificate (`insecureSkipVerification`); handshake signatures are still
/// checked so the connection itself is sound.
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

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["ClientTlsOptions"],
        ObjectKind::Service,
        ClientTlsOptions::from_declaration,
    );
}

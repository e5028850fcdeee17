//! `ServerTlsOptions`: the certificate, private key, ALPN protocols and TLS versions of an
//! HTTPS listener, and `SecretsKeyManager`, which supplies a certificate and key from a secret.
//!
//! Certificates and keys are PEM. A `SecretsKeyManager` secret holds the PEM certificate chain
//! (leaf first) followed by the PEM private key (PKCS#8, PKCS#1 or SEC1), in one value.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::Deserialize;

use crate::config::{ConfigError, Located};
use crate::heap::{HeapBuilder, HeapObject, ObjectKind, TypeRegistry};
use crate::secrets::SecretsProvider;

/// ALPN protocols offered when `alpn` is not set: HTTP/2 first, then HTTP/1.1.
pub const DEFAULT_ALPN: &[&str] = &["h2", "http/1.1"];

/// TLS settings of a listener, ready to accept connections.
pub struct ServerTlsOptions {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTlsOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerTlsOptions")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl ServerTlsOptions {
    /// Options from a PEM certificate chain file and a PEM private key file, with the default
    /// ALPN protocols and TLS versions (the command line's `--tls-cert` / `--tls-key`).
    pub fn from_pem_files(certificate: &Path, private_key: &Path) -> Result<Self, String> {
        let key = certified_key_from_files(certificate, private_key).map_err(|e| e.reason)?;
        Self::new(key, &default_alpn(), &[])
    }

    fn new(
        key: Arc<CertifiedKey>,
        alpn: &[String],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = if versions.is_empty() {
            rustls::DEFAULT_VERSIONS
        } else {
            versions
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|error| format!("cannot configure TLS: {error}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCert(key)));
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(ServerTlsOptions {
            config: Arc::new(config),
        })
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// The one certificate of a listener, whatever name the client asks for.
#[derive(Debug)]
struct SingleCert(Arc<CertifiedKey>);

impl rustls::server::ResolvesServerCert for SingleCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn default_alpn() -> Vec<String> {
    DEFAULT_ALPN.iter().map(|p| (*p).to_owned()).collect()
}

/// Why a certificate or key file is unusable, and which setting names the file at fault.
struct FileError {
    setting: &'static str,
    reason: String,
}

/// A certificate chain and key checked to belong together, from two PEM files.
fn certified_key_from_files(
    certificate: &Path,
    private_key: &Path,
) -> Result<Arc<CertifiedKey>, FileError> {
    let at_certificate = |reason| FileError {
        setting: "certificate",
        reason,
    };
    let at_key = |reason| FileError {
        setting: "privateKey",
        reason,
    };
    let certificate_pem = read(certificate, "certificate").map_err(at_certificate)?;
    let key_pem = read(private_key, "private key").map_err(at_key)?;
    let chain = certificates(&certificate_pem).map_err(|reason| {
        at_certificate(format!(
            "certificate file {}: {reason}",
            certificate.display()
        ))
    })?;
    let key = private_key_of(&key_pem).map_err(|reason| {
        at_key(format!(
            "private key file {}: {reason}",
            private_key.display()
        ))
    })?;
    certified_key(chain, key).map_err(|reason| {
        at_key(format!(
            "private key file {} and certificate file {}: {reason}",
            private_key.display(),
            certificate.display()
        ))
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|error| format!("cannot read the {what} file {}: {error}", path.display()))
}

/// The certificates of a PEM text, leaf first; an error when there is none.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("invalid PEM: {error}"))?;
    if chain.is_empty() {
        return Err(
            "no certificate in it (expected a \"-----BEGIN CERTIFICATE-----\" block)".to_owned(),
        );
    }
    Ok(chain)
}

/// The private key of a PEM text (PKCS#8, PKCS#1 or SEC1).
fn private_key_of(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => {
            "no private key in it (expected a \"-----BEGIN PRIVATE KEY-----\" block)".to_owned()
        }
        other => format!("invalid PEM private key: {other}"),
    })
}

fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, String> {
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|error| format!("the private key is not usable: {error}"))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err("the private key does not match the certificate".to_owned())
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Arc::new(certified))
        }
        Err(error) => Err(format!(
            "the certificate cannot be checked against the key: {error}"
        )),
    }
}

/// A key manager on the heap: the certificate chain and key it supplies.
pub struct KeyManagerObject(pub Arc<CertifiedKey>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SecretsKeyManagerConfig {
    /// The id of the secret holding the PEM certificate chain followed by the PEM key; read
    /// again below with `${...}` evaluated.
    #[allow(dead_code)]
    signing_secret_id: String,
    /// Decoded separately: a store reference or a list of them.
    #[allow(dead_code)]
    secrets_provider: serde_json::Value,
}

/// `alpn`: a list of protocol ids, or IG's `{"enabled": bool}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum AlpnSetting {
    Protocols(Vec<String>),
    Switch {
        #[allow(dead_code)]
        enabled: bool,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ServerTlsConfig {
    /// PEM certificate chain file, relative to the configuration directory.
    #[serde(default)]
    certificate: Option<String>,
    /// PEM private key file, relative to the configuration directory.
    #[serde(default)]
    private_key: Option<String>,
    /// A key manager reference (IG's `SecretsKeyManager`), resolved separately.
    #[serde(default)]
    #[allow(dead_code)]
    key_manager: Option<serde_json::Value>,
    #[serde(default)]
    alpn: Option<AlpnSetting>,
    /// A subset of "TLSv1.2" and "TLSv1.3"; default both.
    #[serde(default)]
    ssl_enabled_protocols: Option<Vec<String>>,
}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["ServerTlsOptions"],
        ObjectKind::Service,
        |builder, declaration| {
            let at = &declaration.config;
            let config: ServerTlsConfig = builder.decode(at)?;
            let key = match (
                &config.certificate,
                &config.private_key,
                at.get("keyManager"),
            ) {
                (Some(_), Some(_), None) => {
                    let certificate = config_path(builder, at, "certificate")?;
                    let private_key = config_path(builder, at, "privateKey")?;
                    certified_key_from_files(&certificate, &private_key).map_err(
                        |FileError { setting, reason }| {
                            at.get(setting).unwrap_or(at.clone()).error(reason)
                        },
                    )?
                }
                (None, None, Some(reference)) => {
                    builder
                        .resolve_service::<KeyManagerObject>(
                            &reference,
                            "a key manager (SecretsKeyManager)",
                        )?
                        .0
                        .clone()
                }
                (None, None, None) => {
                    return Err(at
                        .error("ServerTlsOptions needs a certificate and its private key")
                        .with_hint("set \"certificate\" and \"privateKey\" (PEM files), or \"keyManager\": {\"type\": \"SecretsKeyManager\", ...}"));
                }
                (_, _, Some(reference)) => {
                    return Err(reference.key_error(
                        "\"keyManager\" cannot be combined with \"certificate\" / \"privateKey\"",
                    ));
                }
                (Some(_), None, None) => {
                    return Err(at
                        .get("certificate")
                        .unwrap_or(at.clone())
                        .key_error("\"certificate\" is set but \"privateKey\" is not"));
                }
                (None, Some(_), None) => {
                    return Err(at
                        .get("privateKey")
                        .unwrap_or(at.clone())
                        .key_error("\"privateKey\" is set but \"certificate\" is not"));
                }
            };
            let alpn = match &config.alpn {
                None => default_alpn(),
                Some(AlpnSetting::Switch { enabled: true }) => default_alpn(),
                Some(AlpnSetting::Switch { enabled: false }) => Vec::new(),
                Some(AlpnSetting::Protocols(protocols)) => {
                    let alpn_at = at.get("alpn").unwrap_or(at.clone());
                    for protocol in protocols {
                        if !DEFAULT_ALPN.contains(&protocol.as_str()) {
                            return Err(alpn_at.error(format!(
                                "unsupported ALPN protocol \"{protocol}\"; use \"h2\" and/or \"http/1.1\""
                            )));
                        }
                    }
                    protocols.clone()
                }
            };
            let mut versions = Vec::new();
            if let Some(protocols) = &config.ssl_enabled_protocols {
                let protocols_at = at.get("sslEnabledProtocols").unwrap_or(at.clone());
                for protocol in protocols {
                    versions.push(match protocol.as_str() {
                        "TLSv1.2" => &rustls::version::TLS12,
                        "TLSv1.3" => &rustls::version::TLS13,
                        other => {
                            return Err(protocols_at.error(format!(
                                "unsupported protocol \"{other}\"; use \"TLSv1.2\" and/or \"TLSv1.3\""
                            )));
                        }
                    });
                }
                if versions.is_empty() {
                    return Err(protocols_at
                        .error("\"sslEnabledProtocols\" is empty: no TLS version would be allowed"));
                }
            }
            let options = ServerTlsOptions::new(key, &alpn, &versions).map_err(|reason| at.error(reason))?;
            Ok(HeapObject::Service(Arc::new(options)))
        },
    );
    registry.register_native(
        &["SecretsKeyManager"],
        ObjectKind::Service,
        |builder, declaration| {
            let at = &declaration.config;
            builder.decode::<SecretsKeyManagerConfig>(at)?;
            let provider_at = at.get("secretsProvider").unwrap_or(at.clone());
            let provider = SecretsProvider::resolve(builder, &provider_at)?;
            let id_at = at.get("signingSecretId").unwrap_or(at.clone());
            let id = builder.config_string(&id_at)?;
            let secret = provider.require(&id, &id_at)?;
            let what = format!("secret \"{id}\"");
            let chain = certificates(secret.expose())
                .map_err(|reason| id_at.error(format!("{what}: {reason}")))?;
            let key = private_key_of(secret.expose())
                .map_err(|reason| id_at.error(format!("{what}: {reason}")))?;
            let key = certified_key(chain, key)
                .map_err(|reason| id_at.error(format!("{what}: {reason}")))?;
            Ok(HeapObject::Service(Arc::new(KeyManagerObject(key))))
        },
    );
}

/// A file setting, `${...}` evaluated, relative to the configuration directory.
fn config_path(
    builder: &HeapBuilder<'_>,
    at: &Located<'_>,
    key: &str,
) -> Result<PathBuf, ConfigError> {
    let value_at = at.get(key).unwrap_or(at.clone());
    let text = builder.config_string(&value_at)?;
    Ok(builder.environment().config_dir.join(text))
}

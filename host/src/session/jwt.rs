//! IG's `JwtSession`: the whole session travels in a cookie as a JWT encrypted and
//! authenticated with AES-GCM (JWE compact form, `"alg": "dir"`), so any gateway instance with
//! the key can read it and nothing is kept on the server.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use indexmap::IndexMap;
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use super::{CookieSettings, SessionManager, Ticket};
use crate::config::ConfigError;
use crate::config::duration::IgDuration;
use crate::exchange::Session;
use crate::expr::Value;
use crate::heap::{Declaration, HeapBuilder};
use crate::http::{Request, Response};
use crate::secrets::SecretsProvider;

pub const DEFAULT_COOKIE_NAME: &str = "openig-jwt-session";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The claim holding the session's expiry, IG's name for it; session values are the others.
const EXPIRY_CLAIM: &str = "_ig_exp";
/// A compressed session may not inflate beyond this: a forged cookie must not make the
/// gateway allocate without bound.
const INFLATED_LIMIT: u64 = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct JwtSessionConfig {
    #[serde(default)]
    authenticated_encrypted_secret_id: Option<serde_json::Value>,
    #[serde(default)]
    encryption_method: Option<serde_json::Value>,
    #[serde(default)]
    secrets_provider: Option<serde_json::Value>,
    #[serde(default)]
    cookie: Option<serde_json::Value>,
    #[serde(default)]
    cookie_name: Option<serde_json::Value>,
    #[serde(default)]
    cookie_domain: Option<serde_json::Value>,
    #[serde(default)]
    persistent_cookie: Option<bool>,
    #[serde(default)]
    session_timeout: Option<IgDuration>,
    #[serde(default)]
    skew_allowance: Option<IgDuration>,
    #[serde(default)]
    use_compression: Option<bool>,
}

/// IG's older key settings, which name keystores and signing keys this gateway does not use.
const LEGACY_KEY_SETTINGS: &[&str] = &[
    "keystore",
    "alias",
    "password",
    "passwordSecretId",
    "sharedSecret",
    "signatureSecretId",
    "encryptionSecretId",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EncryptionMethod {
    A128Gcm,
    A256Gcm,
}

impl EncryptionMethod {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "A128GCM" => Some(EncryptionMethod::A128Gcm),
            "A256GCM" => Some(EncryptionMethod::A256Gcm),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            EncryptionMethod::A128Gcm => "A128GCM",
            EncryptionMethod::A256Gcm => "A256GCM",
        }
    }

    fn key_len(self) -> usize {
        match self {
            EncryptionMethod::A128Gcm => 16,
            EncryptionMethod::A256Gcm => 32,
        }
    }

    fn algorithm(self) -> &'static ring::aead::Algorithm {
        match self {
            EncryptionMethod::A128Gcm => &AES_128_GCM,
            EncryptionMethod::A256Gcm => &AES_256_GCM,
        }
    }
}

pub struct JwtSessionManager {
    cookie: CookieSettings,
    method: EncryptionMethod,
    key: LessSafeKey,
    timeout: Duration,
    skew: Duration,
    compress: bool,
    /// The protected header every cookie this manager writes carries, base64url-encoded; it is
    /// also the AEAD's associated data, so a header swapped in transit fails authentication.
    header: String,
    random: SystemRandom,
}

/// Why a session cookie was not accepted; logged, and the request goes on with a new session.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("it is not a JWE in compact form")]
    Malformed,
    #[error("its header is not {0}")]
    UnexpectedHeader(String),
    #[error("it does not decrypt with this session's key (another key, or altered)")]
    Undecryptable,
    #[error("its content is not a JSON object with an expiry")]
    BadClaims,
    #[error("it expired")]
    Expired,
}

impl JwtSessionManager {
    pub fn new(
        cookie: CookieSettings,
        key_bytes: &[u8],
        method: &str,
        timeout: Duration,
        skew: Duration,
        compress: bool,
    ) -> Result<Self, String> {
        let method = EncryptionMethod::parse(method).ok_or_else(|| {
            format!("encryptionMethod \"{method}\" is not supported; use A256GCM (the default) or A128GCM")
        })?;
        if key_bytes.len() != method.key_len() {
            return Err(format!(
                "the session key is {} bytes, but {} needs {} bytes (for example the base64 of `openssl rand -base64 {}`)",
                key_bytes.len(),
                method.name(),
                method.key_len(),
                method.key_len()
            ));
        }
        let key = UnboundKey::new(method.algorithm(), key_bytes)
            .map_err(|_| "the session key is not a valid AES key".to_owned())?;
        let header_json = if compress {
            format!(r#"{{"alg":"dir","enc":"{}","zip":"DEF"}}"#, method.name())
        } else {
            format!(r#"{{"alg":"dir","enc":"{}"}}"#, method.name())
        };
        Ok(JwtSessionManager {
            cookie,
            method,
            key: LessSafeKey::new(key),
            timeout,
            skew,
            compress,
            header: URL_SAFE_NO_PAD.encode(header_json),
            random: SystemRandom::new(),
        })
    }

    pub fn from_config<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<Self, ConfigError> {
        let at = &declaration.config;
        for legacy in LEGACY_KEY_SETTINGS {
            if let Some(legacy_at) = at.get(legacy) {
                return Err(legacy_at
                    .key_error(format!("JwtSession \"{legacy}\" is not supported by Ferrogate"))
                    .with_hint("Ferrogate encrypts and authenticates the session with one AES key: set \"authenticatedEncryptedSecretId\" to a secret holding 32 random bytes (base64)"));
            }
        }
        let config: JwtSessionConfig = builder.decode(at)?;
        let cookie = CookieSettings::from_config(builder, at, DEFAULT_COOKIE_NAME)?;
        let method = match at.get("encryptionMethod") {
            Some(method_at) => (builder.config_string(&method_at)?, Some(method_at)),
            None => ("A256GCM".to_owned(), None),
        };
        let timeout = match config.session_timeout {
            None => DEFAULT_TIMEOUT,
            Some(timeout) => timeout.finite().filter(|t| !t.is_zero()).ok_or_else(|| {
                at.get("sessionTimeout").unwrap_or_else(|| at.clone()).error(
                    "\"sessionTimeout\" must be a finite, non-zero duration such as \"30 minutes\"",
                )
            })?,
        };
        let skew = match config.skew_allowance {
            None => Duration::ZERO,
            Some(skew) => skew.finite().ok_or_else(|| {
                at.get("skewAllowance")
                    .unwrap_or_else(|| at.clone())
                    .error("\"skewAllowance\" must be a finite duration such as \"5 seconds\"")
            })?,
        };
        let key = match at.get("authenticatedEncryptedSecretId") {
            Some(id_at) => {
                let id = builder.config_string(&id_at)?;
                let provider = SecretsProvider::for_config(builder, at)?;
                provider.require(&id, &id_at)?.expose().to_vec()
            }
            None => {
                let wanted = EncryptionMethod::parse(&method.0).map_or(32, |m| m.key_len());
                let mut key = vec![0u8; wanted];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| at.error("the system random generator failed"))?;
                tracing::warn!(object = %declaration.name, "JwtSession has no \"authenticatedEncryptedSecretId\": it uses a key generated at start-up, so sessions end when the gateway restarts and other instances cannot read them");
                key
            }
        };
        JwtSessionManager::new(
            cookie,
            &key,
            &method.0,
            timeout,
            skew,
            config.use_compression.unwrap_or(false),
        )
        .map_err(|message| {
            let where_at = match (&method.1, message.starts_with("encryptionMethod")) {
                (Some(method_at), true) => method_at.clone(),
                _ => at
                    .get("authenticatedEncryptedSecretId")
                    .unwrap_or_else(|| at.clone()),
            };
            where_at.error(message)
        })
    }

    /// The cookie value for `values`, valid until `expires_at` (seconds since the epoch).
    pub fn encode(&self, values: &IndexMap<String, Value>, expires_at: u64) -> Option<String> {
        let mut claims = serde_json::Map::with_capacity(values.len() + 1);
        for (name, value) in values {
            claims.insert(name.clone(), value.to_json());
        }
        claims.insert(EXPIRY_CLAIM.to_owned(), expires_at.into());
        let mut plaintext = serde_json::to_vec(&claims).ok()?;
        if self.compress {
            plaintext = deflate(&plaintext)?;
        }
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).ok()?;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.header.as_bytes()),
                &mut plaintext,
            )
            .ok()?;
        Some(format!(
            "{}..{}.{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(&plaintext),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        ))
    }

    /// The session values and expiry a cookie value holds, when it is authentic and current.
    pub fn decode(
        &self,
        token: &str,
        now: u64,
    ) -> Result<(IndexMap<String, Value>, u64), Rejected> {
        let mut parts = token.split('.');
        let (Some(header), Some(encrypted_key), Some(iv), Some(ciphertext), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Rejected::Malformed);
        };
        if !encrypted_key.is_empty() {
            return Err(Rejected::UnexpectedHeader("a direct-key JWE".to_owned()));
        }
        let header_json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| Rejected::Malformed)?;
        let header_value: serde_json::Value =
            serde_json::from_slice(&header_json).map_err(|_| Rejected::Malformed)?;
        if header_value.get("alg").and_then(|v| v.as_str()) != Some("dir")
            || header_value.get("enc").and_then(|v| v.as_str()) != Some(self.method.name())
        {
            return Err(Rejected::UnexpectedHeader(format!(
                "alg dir with enc {}",
                self.method.name()
            )));
        }
        let compressed = match header_value.get("zip").and_then(|v| v.as_str()) {
            None => false,
            Some("DEF") => true,
            Some(_) => return Err(Rejected::UnexpectedHeader("zip DEF or none".to_owned())),
        };
        let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
            .decode(iv)
            .ok()
            .and_then(|iv| iv.try_into().ok())
            .ok_or(Rejected::Malformed)?;
        let mut sealed = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| Rejected::Malformed)?;
        sealed.extend(
            URL_SAFE_NO_PAD
                .decode(tag)
                .map_err(|_| Rejected::Malformed)?,
        );
        let plaintext = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| Rejected::Undecryptable)?;
        let inflated;
        let claims_bytes: &[u8] = if compressed {
            inflated = inflate(plaintext).ok_or(Rejected::BadClaims)?;
            &inflated
        } else {
            plaintext
        };
        let serde_json::Value::Object(mut claims) =
            serde_json::from_slice(claims_bytes).map_err(|_| Rejected::BadClaims)?
        else {
            return Err(Rejected::BadClaims);
        };
        let expires_at = claims
            .remove(EXPIRY_CLAIM)
            .and_then(|exp| exp.as_u64())
            .ok_or(Rejected::BadClaims)?;
        if expires_at.saturating_add(self.skew.as_secs()) <= now {
            return Err(Rejected::Expired);
        }
        let values = claims
            .iter()
            .map(|(name, value)| (name.clone(), Value::from_json(value)))
            .collect();
        Ok((values, expires_at))
    }
}

impl SessionManager for JwtSessionManager {
    fn load(&self, request: &Request) -> (Session, Ticket) {
        let Some(token) = self.cookie.find(request) else {
            return (Session::default(), Ticket::default());
        };
        match self.decode(token, epoch_seconds()) {
            Ok((values, expires_at)) => (
                Session {
                    values,
                    changed: false,
                },
                Ticket {
                    present: true,
                    id: None,
                    expires_at: Some(expires_at),
                },
            ),
            Err(reason) => {
                tracing::debug!(cookie = %self.cookie.name, %reason, "session cookie ignored; the request starts a new session");
                // The stale cookie is replaced (or removed) when the response is saved.
                (
                    Session::default(),
                    Ticket {
                        present: true,
                        id: None,
                        expires_at: Some(0),
                    },
                )
            }
        }
    }

    fn save(&self, session: &Session, ticket: Ticket, response: &mut Response, route: &str) {
        let now = epoch_seconds();
        if session.values.is_empty() {
            if ticket.present && (session.changed || ticket.expires_at == Some(0)) {
                self.cookie.expire(response);
            }
            return;
        }
        // A session nobody changed is still re-issued once half its lifetime has passed, so
        // an active user is not logged out at the fixed time the first cookie set.
        let renew = ticket
            .expires_at
            .is_some_and(|expires_at| expires_at.saturating_sub(now) < self.timeout.as_secs() / 2);
        if !session.changed && !renew {
            return;
        }
        let expires_at = now + self.timeout.as_secs();
        let Some(token) = self.encode(&session.values, expires_at) else {
            tracing::error!(route, cookie = %self.cookie.name, "the session could not be encrypted; it is not saved");
            return;
        };
        if let Err(error) = self.cookie.set(response, &token, self.timeout.as_secs()) {
            tracing::error!(
                route,
                cookie = %self.cookie.name,
                size = error.size,
                limit = super::cookie::COOKIE_SIZE_LIMIT,
                "the JWT session cookie is larger than browsers keep, so this request's session changes are NOT saved; store less in the session, or set \"useCompression\": true"
            );
        }
    }
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn deflate(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

fn inflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(INFLATED_LIMIT + 1)
        .read_to_end(&mut inflated)
        .ok()?;
    (inflated.len() as u64 <= INFLATED_LIMIT).then_some(inflated)
}

//! The JOSE pieces JwtBuilderFilter needs: JWS compact serialization (HMAC, RSA PKCS#1 v1.5,
//! ECDSA P-256) and JWE compact serialization (direct or RSA-OAEP-256 key management, AES-GCM).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use ferrogate_sdk::encoding::base64url;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Oaep, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::json;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Random bytes from the host (WASI `random`), for content keys, IVs and OAEP.
struct HostRng;

impl rand_core::RngCore for HostRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if getrandom::fill(dest).is_err() {
            // Without randomness nothing safe can be produced: fail the call (a trap, 500).
            panic!("no random bytes from the host");
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        getrandom::fill(dest).map_err(|e| rand_core::Error::new(e.to_string()))
    }
}

impl rand_core::CryptoRng for HostRng {}

fn pem(key: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(key).map_err(|_| "the key is not PEM text".to_owned())
}

fn rsa_private(key: &[u8]) -> Result<RsaPrivateKey, String> {
    let text = pem(key)?;
    RsaPrivateKey::from_pkcs8_pem(text)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
        .map_err(|e| format!("not a PEM RSA private key: {e}"))
}

fn rsa_public(key: &[u8]) -> Result<RsaPublicKey, String> {
    let text = pem(key)?;
    RsaPublicKey::from_public_key_pem(text)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
        .or_else(|_| rsa_private(key).map(|private| private.to_public_key()))
        .map_err(|_| "not a PEM RSA public or private key".to_owned())
}

enum SigningKey {
    Hmac(&'static str, Vec<u8>),
    Rsa(Box<RsaPrivateKey>),
    Ec(Box<p256::ecdsa::SigningKey>),
}

pub struct Signer {
    header: String,
    key: SigningKey,
}

impl Signer {
    pub fn new(algorithm: &str, key: &[u8], key_id: Option<String>) -> Result<Signer, String> {
        let key = match algorithm {
            "HS256" | "HS384" | "HS512" => {
                let minimum = match algorithm {
                    "HS256" => 32,
                    "HS384" => 48,
                    _ => 64,
                };
                if key.len() < minimum {
                    return Err(format!(
                        "{algorithm} needs a secret of at least {minimum} bytes, this one has {}",
                        key.len()
                    ));
                }
                let name = match algorithm {
                    "HS256" => "HS256",
                    "HS384" => "HS384",
                    _ => "HS512",
                };
                SigningKey::Hmac(name, key.to_vec())
            }
            "RS256" => SigningKey::Rsa(Box::new(rsa_private(key)?)),
            "ES256" => {
                let text = pem(key)?;
                let secret = p256::SecretKey::from_pkcs8_pem(text)
                    .or_else(|_| p256::SecretKey::from_sec1_pem(text))
                    .map_err(|e| format!("not a PEM P-256 private key: {e}"))?;
                SigningKey::Ec(Box::new(secret.into()))
            }
            other => {
                return Err(format!(
                    "algorithm \"{other}\" is not supported; use HS256, HS384, HS512, RS256 or ES256"
                ));
            }
        };
        let mut header = json!({"alg": algorithm, "typ": "JWT"});
        if let Some(kid) = key_id {
            header["kid"] = kid.into();
        }
        Ok(Signer {
            header: base64url(header.to_string().as_bytes()),
            key,
        })
    }

    pub fn sign(&self, payload: &[u8]) -> Result<String, String> {
        let input = format!("{}.{}", self.header, base64url(payload));
        let signature = match &self.key {
            SigningKey::Hmac(algorithm, key) => {
                macro_rules! mac {
                    ($digest:ty) => {{
                        let mut mac = <Hmac<$digest> as Mac>::new_from_slice(key)
                            .map_err(|e| e.to_string())?;
                        mac.update(input.as_bytes());
                        mac.finalize().into_bytes().to_vec()
                    }};
                }
                match *algorithm {
                    "HS256" => mac!(Sha256),
                    "HS384" => mac!(Sha384),
                    _ => mac!(Sha512),
                }
            }
            SigningKey::Rsa(key) => {
                let digest = Sha256::digest(input.as_bytes());
                key.sign_with_rng(&mut HostRng, Pkcs1v15Sign::new::<Sha256>(), &digest)
                    .map_err(|e| format!("RS256 signing failed: {e}"))?
            }
            SigningKey::Ec(key) => {
                let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
                signature.to_bytes().to_vec()
            }
        };
        Ok(format!("{input}.{}", base64url(&signature)))
    }
}

enum KeyManagement {
    Direct(Vec<u8>),
    RsaOaep256(Box<RsaPublicKey>),
}

pub struct Encrypter {
    algorithm: &'static str,
    method: &'static str,
    key_length: usize,
    keys: KeyManagement,
}

impl Encrypter {
    pub fn new(algorithm: &str, method: &str, key: &[u8]) -> Result<Encrypter, String> {
        let (method, key_length) = match method {
            "A128GCM" => ("A128GCM", 16),
            "A256GCM" => ("A256GCM", 32),
            other => {
                return Err(format!(
                    "method \"{other}\" is not supported; use A128GCM or A256GCM"
                ));
            }
        };
        let (algorithm, keys) = match algorithm {
            "dir" => {
                if key.len() != key_length {
                    return Err(format!(
                        "{method} with \"dir\" needs a {key_length}-byte secret, this one has {}",
                        key.len()
                    ));
                }
                ("dir", KeyManagement::Direct(key.to_vec()))
            }
            "RSA-OAEP-256" => (
                "RSA-OAEP-256",
                KeyManagement::RsaOaep256(Box::new(rsa_public(key)?)),
            ),
            other => {
                return Err(format!(
                    "algorithm \"{other}\" is not supported; use dir or RSA-OAEP-256"
                ));
            }
        };
        Ok(Encrypter {
            algorithm,
            method,
            key_length,
            keys,
        })
    }

    pub fn encrypt(&self, plaintext: &[u8], content_type: Option<&str>) -> Result<String, String> {
        let mut header = json!({"alg": self.algorithm, "enc": self.method, "typ": "JWT"});
        if let Some(content_type) = content_type {
            header["cty"] = content_type.into();
        }
        let header = base64url(header.to_string().as_bytes());
        let mut rng = HostRng;
        let (content_key, encrypted_key) = match &self.keys {
            KeyManagement::Direct(key) => (key.clone(), Vec::new()),
            KeyManagement::RsaOaep256(public) => {
                let mut content_key = vec![0; self.key_length];
                rand_core::RngCore::try_fill_bytes(&mut rng, &mut content_key)
                    .map_err(|e| e.to_string())?;
                let wrapped = public
                    .encrypt(&mut rng, Oaep::new::<Sha256>(), &content_key)
                    .map_err(|e| format!("RSA-OAEP-256 failed: {e}"))?;
                (content_key, wrapped)
            }
        };
        let mut iv = [0u8; 12];
        rand_core::RngCore::try_fill_bytes(&mut rng, &mut iv).map_err(|e| e.to_string())?;
        let payload = Payload {
            msg: plaintext,
            aad: header.as_bytes(),
        };
        let nonce = Nonce::from(iv);
        let sealed = match self.method {
            "A128GCM" => <Aes128Gcm as KeyInit>::new_from_slice(&content_key)
                .map_err(|e| e.to_string())?
                .encrypt(&nonce, payload),
            _ => <Aes256Gcm as KeyInit>::new_from_slice(&content_key)
                .map_err(|e| e.to_string())?
                .encrypt(&nonce, payload),
        }
        .map_err(|_| "AES-GCM encryption failed".to_owned())?;
        let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
        Ok(format!(
            "{header}.{}.{}.{}.{}",
            base64url(&encrypted_key),
            base64url(&iv),
            base64url(ciphertext),
            base64url(tag)
        ))
    }
}

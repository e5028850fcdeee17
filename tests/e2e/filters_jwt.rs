//! JwtBuilderFilter (an embedded plugin) through the real binary: the JWTs it builds are
//! checked here with ring (signatures, AES-GCM) and the openssl command (RSA-OAEP key
//! unwrapping), independent implementations of the same standards. Keys: tests/fixtures/jwt.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway};
use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};

use crate::{client, send};

const HMAC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const DIRECT_KEY: &[u8] = b"fedcba9876543210fedcba9876543210";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt")
}

fn decode(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).unwrap()
}

fn json_of(part: &str) -> Value {
    serde_json::from_slice(&decode(part)).unwrap()
}

/// A route that builds a JWT with `jwt_config` and forwards it to the echo upstream.
fn jwt_route(path: &str, jwt_config: Value, upstream: &Upstream) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "baseURI": upstream.base_uri(),
        "handler": {"type": "Chain", "config": {
            "filters": [
                {"type": "JwtBuilderFilter", "config": jwt_config},
                {"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {
                    "X-Jwt": ["${contexts.jwtBuilder.value}"]
                }}}
            ],
            "handler": "ReverseProxyHandler"
        }}
    })
}

fn claims_template() -> Value {
    json!({
        "sub": "${request.headers['X-User'][0]}",
        "iss": "ferrogate",
        "admin": "${request.headers['X-Admin'][0] == 'yes'}",
        "absent": "${attributes.nothing}"
    })
}

fn serve(routes: &[(&str, Value)]) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    for name in ["rsa-private.pem", "rsa-public.pem", "ec-private.pem"] {
        let key = std::fs::read_to_string(fixtures().join(name)).unwrap();
        config.write(&format!("keys/{name}"), &key);
    }
    config.write(
        "config.json",
        &json!({
            "heap": [
                {"name": "JwtKeys", "type": "Base64EncodedSecretStore", "config": {"secrets": {
                    "jwt.hmac": STANDARD.encode(HMAC_KEY),
                    "jwt.direct": STANDARD.encode(DIRECT_KEY),
                    "jwt.short": STANDARD.encode(b"too short")
                }}},
                {"name": "KeyFiles", "type": "FileSystemSecretStore", "config": {
                    "directory": config.path().join("keys").display().to_string(),
                    "format": "PLAIN"
                }}
            ],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    for (name, route) in routes {
        config.write_route(&format!("{name}.json"), route);
    }
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

fn forwarded_jwt(gateway: &Gateway, path: &str) -> String {
    let reply = send(
        client()
            .get(gateway.url(path))
            .header("x-user", "alice")
            .header("x-admin", "yes"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let echo: Value = serde_json::from_str(&reply.body).unwrap();
    echo["headers"]["x-jwt"]
        .as_str()
        .unwrap_or_else(|| panic!("no X-Jwt: {echo}"))
        .to_owned()
}

fn assert_claims(claims: &Value) {
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], "ferrogate");
    assert_eq!(claims["admin"], true, "an expression keeps its type");
    assert!(claims.get("absent").is_none(), "null claims are left out");
}

/// Checks a JWS and returns its claims.
fn verify_jws(jws: &str, check: impl Fn(&[u8], &[u8])) -> Value {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "{jws}");
    let signed = format!("{}.{}", parts[0], parts[1]);
    check(signed.as_bytes(), &decode(parts[2]));
    json_of(parts[1])
}

#[test]
fn jwt_builder_filter_signs_with_hmac_rsa_and_ecdsa() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "hs256",
            jwt_route(
                "/hs256",
                json!({"template": claims_template(), "secretsProvider": "JwtKeys",
                       "signature": {"secretId": "jwt.hmac", "algorithm": "HS256"}}),
                &upstream,
            ),
        ),
        (
            "rs256",
            jwt_route(
                "/rs256",
                json!({"template": claims_template(), "secretsProvider": "KeyFiles",
                       "signature": {"secretId": "rsa-private.pem", "algorithm": "RS256"}}),
                &upstream,
            ),
        ),
        (
            "es256",
            jwt_route(
                "/es256",
                json!({"template": claims_template(), "secretsProvider": "KeyFiles",
                       "signature": {"secretId": "ec-private.pem", "algorithm": "ES256", "includeKeyId": false}}),
                &upstream,
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes);

    let jws = forwarded_jwt(&gateway, "/hs256");
    let header = json_of(jws.split('.').next().unwrap());
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["kid"], "jwt.hmac");
    let claims = verify_jws(&jws, |signed, signature| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HMAC_KEY);
        ring::hmac::verify(&key, signed, signature).expect("HS256 signature verifies");
    });
    assert_claims(&claims);

    let rsa_public = std::fs::read(fixtures().join("rsa-public.pkcs1.der")).unwrap();
    let claims = verify_jws(&forwarded_jwt(&gateway, "/rs256"), |signed, signature| {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &rsa_public)
            .verify(signed, signature)
            .expect("RS256 signature verifies");
    });
    assert_claims(&claims);

    let spki = std::fs::read(fixtures().join("ec-public.spki.der")).unwrap();
    let point = &spki[spki.len() - 65..];
    let jws = forwarded_jwt(&gateway, "/es256");
    assert!(json_of(jws.split('.').next().unwrap()).get("kid").is_none());
    let claims = verify_jws(&jws, |signed, signature| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(signed, signature)
            .expect("ES256 signature verifies");
    });
    assert_claims(&claims);
}

fn aes_gcm_open(key: &[u8], jwe: &str) -> (Value, Vec<u8>) {
    let parts: Vec<&str> = jwe.split('.').collect();
    assert_eq!(parts.len(), 5, "{jwe}");
    let algorithm = if key.len() == 16 {
        &ring::aead::AES_128_GCM
    } else {
        &ring::aead::AES_256_GCM
    };
    let key = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(algorithm, key).unwrap());
    let nonce = ring::aead::Nonce::try_assume_unique_for_key(&decode(parts[2])).unwrap();
    let mut sealed = decode(parts[3]);
    sealed.extend(decode(parts[4]));
    let plain = key
        .open_in_place(
            nonce,
            ring::aead::Aad::from(parts[0].as_bytes()),
            &mut sealed,
        )
        .expect("AES-GCM opens with the header as additional data")
        .to_vec();
    (json_of(parts[0]), plain)
}

#[test]
fn jwt_builder_filter_encrypts_directly_and_with_rsa_oaep() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "direct",
            jwt_route(
                "/direct",
                json!({"template": claims_template(), "secretsProvider": "JwtKeys",
                       "encryption": {"secretId": "jwt.direct", "algorithm": "dir", "method": "A256GCM"}}),
                &upstream,
            ),
        ),
        (
            "nested",
            jwt_route(
                "/nested",
                json!({"template": claims_template(), "secretsProvider": "KeyFiles",
                       "signature": {"secretId": "rsa-private.pem", "algorithm": "RS256"},
                       "encryption": {"secretId": "rsa-public.pem", "algorithm": "RSA-OAEP-256", "method": "A128GCM"}}),
                &upstream,
            ),
        ),
    ];
    let (config, gateway) = serve(&routes);

    let (header, plain) = aes_gcm_open(DIRECT_KEY, &forwarded_jwt(&gateway, "/direct"));
    assert_eq!(
        (header["alg"].as_str(), header["enc"].as_str()),
        (Some("dir"), Some("A256GCM"))
    );
    assert_claims(&serde_json::from_slice(&plain).unwrap());

    // Signed, then encrypted: unwrap the content key with openssl, open, verify the JWS.
    let jwe = forwarded_jwt(&gateway, "/nested");
    let parts: Vec<&str> = jwe.split('.').collect();
    assert_eq!(json_of(parts[0])["cty"], "JWT");
    let wrapped = config.write("wrapped.bin", "");
    std::fs::write(&wrapped, decode(parts[1])).unwrap();
    let unwrapped = Command::new("openssl")
        .args(["pkeyutl", "-decrypt", "-inkey"])
        .arg(fixtures().join("rsa-private.pem"))
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
        ])
        .arg("-in")
        .arg(&wrapped)
        .output()
        .expect("openssl runs (scripts/setup --for-tests installs it)");
    assert!(
        unwrapped.status.success(),
        "{}",
        String::from_utf8_lossy(&unwrapped.stderr)
    );
    let (_, inner) = aes_gcm_open(&unwrapped.stdout, &jwe);
    let rsa_public = std::fs::read(fixtures().join("rsa-public.pkcs1.der")).unwrap();
    let claims = verify_jws(std::str::from_utf8(&inner).unwrap(), |signed, signature| {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &rsa_public)
            .verify(signed, signature)
            .expect("the inner JWS verifies");
    });
    assert_claims(&claims);
}

#[test]
fn jwt_builder_filter_takes_its_claims_from_one_expression_and_nests_signature_encryption() {
    let upstream = Upstream::echo();
    let route = json!({
        "condition": "${request.uri.path == '/expression'}",
        "baseURI": upstream.base_uri(),
        "handler": {"type": "Chain", "config": {
            "filters": [
                {"type": "AssignmentFilter", "config": {"onRequest": [
                    {"target": "${attributes.sub}", "value": "${request.headers['X-User'][0]}"},
                    {"target": "${attributes.admin}", "value": "${request.headers['X-Admin'][0] == 'yes'}"}
                ]}},
                // IG's shorthand of a signed, then encrypted JWT: encryption inside signature.
                {"type": "JwtBuilderFilter", "config": {
                    "template": "${attributes}",
                    "secretsProvider": "JwtKeys",
                    "signature": {"secretId": "jwt.hmac", "algorithm": "HS256",
                                  "encryption": {"secretId": "jwt.direct", "algorithm": "dir"}}
                }},
                {"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {
                    "X-Jwt": ["${contexts.jwtBuilder.value}"]
                }}}
            ],
            "handler": "ReverseProxyHandler"
        }}
    });
    let (_config, gateway) = serve(&[("expression", route)]);

    let (header, inner) = aes_gcm_open(DIRECT_KEY, &forwarded_jwt(&gateway, "/expression"));
    assert_eq!(
        (
            header["alg"].as_str(),
            header["enc"].as_str(),
            header["cty"].as_str()
        ),
        (Some("dir"), Some("A256GCM"), Some("JWT"))
    );
    let claims = verify_jws(std::str::from_utf8(&inner).unwrap(), |signed, signature| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HMAC_KEY);
        ring::hmac::verify(&key, signed, signature).expect("the inner HS256 signature verifies");
    });
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["admin"], true);
}

#[test]
fn jwt_builder_filter_refuses_weak_or_unknown_settings_at_load() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "short",
            jwt_route(
                "/short",
                json!({"template": {}, "secretsProvider": "JwtKeys",
                       "signature": {"secretId": "jwt.short", "algorithm": "HS256"}}),
                &upstream,
            ),
        ),
        (
            "none",
            jwt_route("/none", json!({"template": {"a": 1}}), &upstream),
        ),
        (
            "cbc",
            jwt_route(
                "/cbc",
                json!({"template": {}, "secretsProvider": "JwtKeys",
                       "encryption": {"secretId": "jwt.direct", "algorithm": "dir", "method": "A128CBC-HS256"}}),
                &upstream,
            ),
        ),
        (
            "twice",
            jwt_route(
                "/twice",
                json!({"template": {}, "secretsProvider": "JwtKeys",
                       "signature": {"secretId": "jwt.hmac", "algorithm": "HS256",
                                     "encryption": {"secretId": "jwt.direct", "algorithm": "dir"}},
                       "encryption": {"secretId": "jwt.direct", "algorithm": "dir"}}),
                &upstream,
            ),
        ),
        (
            "literal",
            jwt_route(
                "/literal",
                json!({"template": "sub=alice", "secretsProvider": "JwtKeys",
                       "signature": {"secretId": "jwt.hmac", "algorithm": "HS256"}}),
                &upstream,
            ),
        ),
    ];
    let (config, _gateway) = serve(&routes);
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(
        stderr.contains("short.json") && stderr.contains("at least 32 bytes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("none.json") && stderr.contains("unprotected JWT"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cbc.json") && stderr.contains("A128CBC-HS256"),
        "{stderr}"
    );
    assert!(
        stderr.contains("twice.json")
            && stderr.contains("use \"encryption\" or \"signature\".\"encryption\", not both"),
        "{stderr}"
    );
    assert!(
        stderr.contains("literal.json")
            && stderr.contains("neither an object of claims nor a ${...} expression"),
        "{stderr}"
    );
}

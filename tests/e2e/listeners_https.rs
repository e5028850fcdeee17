//! HTTPS listeners declared in admin.json: certificate and key files, a SecretsKeyManager
//! reading the PEM from the environment (PLAIN or Base64), and HTTP beside HTTPS.

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway};
use hyper::Version;
use serde_json::json;

use super::listeners_client::{Pki, free_port, h2c_get, https_get, write_scheme_routes};

/// admin.json with one HTTPS connector (and a plain one when `plain_port` is given).
fn write_admin(
    config: &ConfigDir,
    tls_port: u16,
    plain_port: Option<u16>,
    tls: serde_json::Value,
    heap: serde_json::Value,
) {
    let mut connectors = vec![json!({"port": tls_port, "host": "127.0.0.1", "tls": tls})];
    if let Some(port) = plain_port {
        connectors.push(json!({"port": port, "host": "127.0.0.1"}));
    }
    config.write(
        "admin.json",
        &serde_json::to_string_pretty(&json!({"heap": heap, "connectors": connectors})).unwrap(),
    );
}

#[test]
fn admin_json_https_and_http_connectors_with_certificate_files() {
    let pki = Pki::new();
    let config = ConfigDir::new();
    pki.write_files(&config);
    write_scheme_routes(&config);
    write_admin(
        &config,
        free_port(),
        Some(free_port()),
        json!("Tls"),
        json!([{
            "name": "Tls",
            "type": "ServerTlsOptions",
            "config": {"certificate": "tls/cert.pem", "privateKey": "tls/key.pem"}
        }]),
    );
    let gateway = Gateway::start_listening(config.path(), &[], &[], 2);
    let https = gateway.listener("https");
    let http = gateway.listener("http");

    // HTTP/1.1 over TLS: the scheme is https and the client is secure.
    let answer = https_get(&pki, https, &["http/1.1"], "/");
    assert_eq!(answer.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(answer.version, Version::HTTP_11);
    assert_eq!((answer.status, answer.body.as_str()), (200, "https true"));

    // HTTP/2 negotiated by ALPN; the https route condition matches.
    let answer = https_get(&pki, https, &["h2", "http/1.1"], "/");
    assert_eq!(answer.alpn.as_deref(), Some("h2"));
    assert_eq!(answer.version, Version::HTTP_2);
    assert_eq!((answer.status, answer.body.as_str()), (200, "https true"));

    // The plain connector of the same file serves http, and h2c by prior knowledge.
    let answer = h2c_get(http, "/");
    assert_eq!(answer.version, Version::HTTP_2);
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "plain http false")
    );
    let plain = super::client()
        .get(format!("http://{http}/"))
        .send()
        .unwrap();
    assert_eq!(plain.text().unwrap(), "plain http false");
}

#[test]
fn key_manager_reads_the_pem_from_a_plain_environment_variable() {
    let pki = Pki::new();
    let config = ConfigDir::new();
    write_scheme_routes(&config);
    write_admin(
        &config,
        free_port(),
        None,
        json!({
            "type": "ServerTlsOptions",
            "config": {
                "keyManager": {
                    "type": "SecretsKeyManager",
                    "config": {"signingSecretId": "gateway.tls.pem", "secretsProvider": "PlainEnv"}
                },
                "alpn": ["http/1.1"],
                "sslEnabledProtocols": ["TLSv1.3"]
            }
        }),
        json!([{"name": "PlainEnv", "type": "SystemAndEnvSecretStore", "config": {"format": "PLAIN"}}]),
    );
    let pem = format!("{}{}", pki.cert_pem, pki.key_pem);
    let gateway = Gateway::start_listening(config.path(), &[], &[("GATEWAY_TLS_PEM", &pem)], 1);
    assert_eq!(gateway.listeners[0].0, "https");
    // Only http/1.1 is offered by the server, even to a client that prefers h2.
    let answer = https_get(&pki, gateway.address, &["h2", "http/1.1"], "/");
    assert_eq!(answer.alpn.as_deref(), Some("http/1.1"));
    assert_eq!((answer.status, answer.body.as_str()), (200, "https true"));
}

#[test]
fn key_manager_reads_a_base64_environment_variable_and_proxies_with_forwarded_proto() {
    use base64::Engine;
    let pki = Pki::new();
    let upstream = Upstream::echo();
    let config = ConfigDir::new();
    config.write_route(
        "proxy.json",
        &json!({"handler": "ReverseProxyHandler", "baseURI": upstream.base_uri()}),
    );
    write_admin(
        &config,
        free_port(),
        None,
        json!({
            "type": "ServerTlsOptions",
            "config": {
                "keyManager": {
                    "type": "SecretsKeyManager",
                    // The always-present store, format BASE64.
                    "config": {"signingSecretId": "gateway.tls.b64", "secretsProvider": "SystemAndEnvSecretStore"}
                }
            }
        }),
        json!([]),
    );
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{}{}", pki.cert_pem, pki.key_pem));
    let gateway = Gateway::start_listening(config.path(), &[], &[("GATEWAY_TLS_B64", &encoded)], 1);
    let answer = https_get(&pki, gateway.address, &["h2"], "/proxied");
    assert_eq!(answer.version, Version::HTTP_2);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let echo: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(echo["uri"], "/proxied");
    assert_eq!(echo["headers"]["x-forwarded-proto"], "https");
}

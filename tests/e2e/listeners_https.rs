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

/// A configuration with the scheme routes and an HTTPS connector whose certificate and key
/// are files (and a plain connector when `plain_port` is given).
fn certificate_files_config(pki: &Pki, plain_port: Option<u16>) -> ConfigDir {
    let config = ConfigDir::new();
    pki.write_files(&config);
    write_scheme_routes(&config);
    write_admin(
        &config,
        free_port(),
        plain_port,
        json!("Tls"),
        json!([{
            "name": "Tls",
            "type": "ServerTlsOptions",
            "config": {"certificate": "tls/cert.pem", "privateKey": "tls/key.pem"}
        }]),
    );
    config
}

#[test]
fn admin_json_https_and_http_connectors_with_certificate_files() {
    let pki = Pki::new();
    let config = certificate_files_config(&pki, Some(free_port()));
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

/// One HTTP/1.1 request through `openssl s_client`, which puts the name given to it in the
/// SNI extension even when it is an IP address (as wrk and other clients do); its output.
fn openssl_get_with_sni(address: std::net::SocketAddr, sni: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    // -quiet goes on reading after its input ends, until the gateway closes the connection
    // (the request asks it to); `timeout` bounds a gateway that would not.
    let mut client = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-quiet", "-connect"])
        .arg(address.to_string())
        .args(["-servername", sni])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl (scripts/setup --for-tests installs it)");
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let output = client.wait_with_output().unwrap();
    assert!(
        !output.stdout.is_empty(),
        "openssl s_client: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_ip_address_sent_as_sni_is_served_without_a_warning_per_handshake() {
    let pki = Pki::new();
    let config = certificate_files_config(&pki, None);
    let illegal_sni = |gateway: &Gateway| {
        gateway
            .logs()
            .iter()
            .filter(|line| line.contains("Illegal SNI"))
            .count()
    };

    // RUST_LOG empty: the default filter, which keeps rustls's warnings about peers out.
    let quiet = Gateway::start_listening(config.path(), &[], &[("RUST_LOG", "")], 1);
    for _ in 0..3 {
        let output = openssl_get_with_sni(quiet.address, "127.0.0.1");
        assert!(output.starts_with("HTTP/1.1 200"), "{output}");
        assert!(output.ends_with("https true"), "{output}");
    }
    // The last line the gateway logs: whatever the handshakes logged is read by then.
    quiet.send_sigterm();
    assert!(
        quiet
            .wait_for_log(
                &["all connections closed"],
                std::time::Duration::from_secs(10)
            )
            .is_some()
    );
    assert_eq!(illegal_sni(&quiet), 0, "{:?}", quiet.logs());
    drop(quiet);

    // The same client with rustls's warnings let through: one per handshake, which shows
    // that the client really sent the address.
    let loud = Gateway::start_listening(config.path(), &[], &[("RUST_LOG", "info")], 1);
    let output = openssl_get_with_sni(loud.address, "127.0.0.1");
    assert!(output.starts_with("HTTP/1.1 200"), "{output}");
    assert!(
        ferrogate_e2e::eventually(std::time::Duration::from_secs(5), || illegal_sni(&loud)
            == 1)
        .is_some(),
        "{:?}",
        loud.logs()
    );
}

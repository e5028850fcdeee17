//! HTTPS and HTTP/2 upstreams: a test CA in a trustStore, ALPN h2, h2c by prior knowledge, a
//! client certificate, and a certificate the gateway must refuse.

use std::time::Duration;

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::json;

use crate::get;
use crate::upstream_support::{TestCa, http_server, write_file};

#[test]
fn tls_h2_h2c_and_client_certificates() {
    let ca = TestCa::new();
    let h1 = http_server(Some(ca.server_config(&[b"http/1.1"], false)));
    let h2 = http_server(Some(ca.server_config(&[b"h2", b"http/1.1"], false)));
    let h2c = http_server(None);
    let mutual = http_server(Some(ca.server_config(&[b"http/1.1"], true)));
    let misnamed = http_server(Some(ca.server_config_for(
        &["other.test"],
        &[b"http/1.1"],
        false,
    )));
    let config = ConfigDir::new();
    write_file(config.path(), "ca.pem", &ca.pem());
    let client = ca.issue(&["gateway.test"], true);
    write_file(config.path(), "client.pem", &client.certificate);
    write_file(config.path(), "client.key", &client.key);
    config.write(
        "config.json",
        &json!({
            "heap": [
                {"name": "TestCa", "type": "ClientTlsOptions", "config": {"trustStore": "ca.pem"}},
                {"name": "WithClientCert", "type": "ClientTlsOptions", "config": {
                    "trustStore": "ca.pem", "clientCertificate": "client.pem", "clientKey": "client.key"
                }}
            ],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    let routes = [
        ("h1", h1.url("https"), json!({"tls": "TestCa"})),
        (
            "h2",
            h2.url("https"),
            json!({"tls": "TestCa", "protocolVersion": "HTTP/2"}),
        ),
        ("h2-off", h2.url("https"), json!({"tls": "TestCa"})),
        (
            "h2c",
            h2c.url("http"),
            json!({"protocolVersion": "HTTP/2", "http2PriorKnowledge": true}),
        ),
        (
            "mutual",
            mutual.url("https"),
            json!({"tls": "WithClientCert"}),
        ),
        ("mutual-none", mutual.url("https"), json!({"tls": "TestCa"})),
        ("untrusted", h1.url("https"), json!({})),
        ("misnamed", misnamed.url("https"), json!({"tls": "TestCa"})),
        (
            "any-name",
            misnamed.url("https"),
            json!({
                "tls": {"type": "ClientTlsOptions", "config": {"trustStore": "ca.pem", "hostnameVerifier": "ALLOW_ALL"}}
            }),
        ),
        (
            "insecure",
            h1.url("https"),
            json!({
                "tls": {"type": "ClientTlsOptions", "config": {"insecureSkipVerification": true}}
            }),
        ),
    ];
    for (name, base, handler_config) in routes {
        config.write_route(
            &format!("{name}.json"),
            &json!({
                "condition": format!("${{request.uri.path == '/{name}'}}"),
                "baseURI": base,
                "handler": {"type": "ReverseProxyHandler", "config": handler_config}
            }),
        );
    }
    let gateway = Gateway::start(config.path());

    let reply = get(&gateway, "/h1");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["version"], "HTTP/1.1");

    let reply = get(&gateway, "/h2");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["version"],
        "HTTP/2.0",
        "ALPN should have chosen h2"
    );

    let reply = get(&gateway, "/h2-off");
    assert_eq!(
        reply.json()["version"],
        "HTTP/1.1",
        "HTTP/1.1 handlers must not offer h2"
    );

    let reply = get(&gateway, "/h2c");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["version"], "HTTP/2.0");

    let reply = get(&gateway, "/mutual");
    assert_eq!(reply.status, 200, "{}", reply.body);

    let reply = get(&gateway, "/mutual-none");
    assert_eq!(reply.status, 502, "{}", reply.body);

    let reply = get(&gateway, "/untrusted");
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(
        gateway
            .wait_for_log(
                &["TLS handshake with 127.0.0.1", "certificate"],
                Duration::from_secs(5)
            )
            .is_some(),
        "no log line about the certificate:\n{}",
        gateway.logs().join("\n")
    );

    // A trusted certificate for another name: refused by STRICT, accepted by ALLOW_ALL.
    let reply = get(&gateway, "/misnamed");
    assert_eq!(reply.status, 502, "{}", gateway.logs().join("\n"));
    let reply = get(&gateway, "/any-name");
    assert_eq!(reply.status, 200, "{}", reply.body);

    let reply = get(&gateway, "/insecure");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let _ = get(&gateway, "/insecure");
    let warnings = || {
        gateway
            .logs()
            .into_iter()
            .filter(|line| line.contains("INSECURE: connecting to"))
            .count()
    };
    // The warning leaves through the log's queue: wait for it, then for any second one.
    gateway.expect_log(&["INSECURE: connecting to"], Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(warnings(), 1, "one warning per upstream");
    assert!(
        gateway
            .logs()
            .iter()
            .any(|line| line.contains("INSECURE: ClientTlsOptions")),
        "no warning at load"
    );
}

#[test]
fn bad_upstream_settings_fail_the_load() {
    let cases = [
        (
            json!({"type": "ClientHandler", "config": {"conections": 3}}),
            "did you mean \"connections\"",
        ),
        (
            json!({"type": "ClientHandler", "config": {"protocolVersion": "HTTP/3"}}),
            "protocolVersion \"HTTP/3\" is not supported",
        ),
        (
            json!({"type": "ClientHandler", "config": {"tls": {"type": "ClientTlsOptions", "config": {"clientCertificate": "c.pem"}}}}),
            "clientCertificate and clientKey go together",
        ),
        (
            json!({"type": "ClientHandler", "config": {"tls": {"type": "ClientTlsOptions", "config": {"trustStore": "missing.pem"}}}}),
            "missing.pem",
        ),
        (
            json!({"type": "ClientHandler", "config": {"tls": {"type": "ClientTlsOptions", "config": {"hostnameVerifier": "LAX"}}}}),
            "LAX",
        ),
        (
            json!({"type": "ClientHandler", "config": {"retries": {"enabled": true, "times": 3}}}),
            "times",
        ),
        (
            json!({"type": "ClientHandler", "config": {"proxyOptions": {"type": "CustomProxyOptions", "config": {"uri": "socks5://p:1080"}}}}),
            "socks5",
        ),
    ];
    for (handler, expected) in cases {
        let config = ConfigDir::new();
        config.write_route("bad.json", &json!({"handler": handler}));
        let (ok, stdout, stderr) = ferrogate_e2e::check(config.path());
        assert!(!ok, "{handler} was accepted: {stdout}");
        assert!(
            stderr.contains(expected),
            "{handler}: expected {expected:?} in:\n{stderr}"
        );
    }
}

//! Forward proxies, through a real tinyproxy: the global ProxyOptions of config.json, a
//! handler's own proxyOptions, NoProxyOptions bypassing, CONNECT to a TLS upstream,
//! authentication failures and passwords from secrets.

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

use crate::upstream_support::{
    PROXY_PASSWORD, PROXY_USER, Server, TestCa, TinyProxy, http_server, write_file,
};
use crate::{client, get, send};

fn custom(proxy: &TinyProxy, password_secret: &str) -> Value {
    json!({
        "type": "CustomProxyOptions",
        "config": {
            "uri": proxy.uri(),
            "username": PROXY_USER,
            "passwordSecretId": password_secret
        }
    })
}

fn route(path: &str, base: &str, handler: Value) -> Value {
    json!({
        "condition": format!("${{find(request.uri.path, '^{path}')}}"),
        "baseURI": base,
        "handler": handler
    })
}

fn plain_password_store() -> Value {
    json!({"name": "PlainEnv", "type": "SystemAndEnvSecretStore", "config": {"format": "PLAIN"}})
}

#[test]
fn global_proxy_options_per_handler_override_and_bypass() {
    let upstream = http_server(None);
    let ca = TestCa::new();
    let tls_upstream = http_server(Some(ca.server_config(&[b"http/1.1"], false)));
    let proxy = TinyProxy::start(&[tls_upstream.address.port()]);
    let other_proxy = TinyProxy::start(&[]);
    let config = ConfigDir::new();
    let trust = write_file(config.path(), "ca.pem", &ca.pem());
    config.write(
        "config.json",
        &json!({
            "heap": [
                plain_password_store(),
                {"name": "ProxyOptions", "type": "CustomProxyOptions", "config": {
                    "uri": proxy.uri(), "username": PROXY_USER,
                    "passwordSecretId": "proxy.password", "secretsProvider": "PlainEnv"
                }}
            ],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    let tls = json!({"type": "ClientTlsOptions", "config": {"trustStore": trust.file_name().unwrap().to_str().unwrap()}});
    config.write_route(
        "global.json",
        &route(
            "/global",
            &upstream.url("http"),
            json!("ReverseProxyHandler"),
        ),
    );
    config.write_route(
        "bypass.json",
        &route("/bypass", &upstream.url("http"), json!({"type": "ReverseProxyHandler", "config": {"proxyOptions": {"type": "NoProxyOptions"}}})),
    );
    config.write_route(
        "other.json",
        &json!({
            "condition": "${find(request.uri.path, '^/other')}",
            "heap": [{"name": "ProxyOptions", "type": "CustomProxyOptions", "config": {
                "uri": format!("http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}", other_proxy.port)
            }}],
            "baseURI": upstream.url("http"),
            // Declared here, so the route heap's ProxyOptions is its default (the config.json
            // ReverseProxyHandler keeps config.json's).
            "handler": {"type": "ReverseProxyHandler"}
        }),
    );
    config.write_route(
        "tunnel.json",
        &route(
            "/tunnel",
            &tls_upstream.url("https"),
            json!({"type": "ClientHandler", "config": {"tls": tls}}),
        ),
    );
    let mut gateway =
        Gateway::start_with(config.path(), &[], &[("PROXY_PASSWORD", PROXY_PASSWORD)]);

    let reply = get(&gateway, "/global/a");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["uri"], "/global/a");
    let port = upstream.address.port().to_string();
    assert!(
        proxy.logged(&["GET http://127.0.0.1:", &port, "/global/a"]),
        "the global proxy did not log the request:\n{}",
        proxy.log()
    );

    let reply = get(&gateway, "/bypass/b");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        !proxy.log().contains("/bypass/b"),
        "NoProxyOptions went through the proxy"
    );
    assert!(!other_proxy.log().contains("/bypass/b"));

    let reply = get(&gateway, "/other/c");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        other_proxy.logged(&["/other/c"]),
        "route heap ProxyOptions not used:\n{}",
        other_proxy.log()
    );
    assert!(!proxy.log().contains("/other/c"));

    let reply = get(&gateway, "/tunnel/d");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["uri"], "/tunnel/d");
    assert!(
        proxy.logged(&[
            "CONNECT 127.0.0.1:",
            &tls_upstream.address.port().to_string()
        ]),
        "no CONNECT in the proxy log:\n{}",
        proxy.log()
    );
    let output = gateway.stop_and_read_all_logs().join("\n");
    assert!(
        !output.contains(PROXY_PASSWORD),
        "the password leaked into the gateway's output"
    );
}

#[test]
fn wrong_password_is_a_502_naming_the_proxy_without_the_password() {
    let upstream = http_server(None);
    let ca = TestCa::new();
    let tls_upstream = http_server(Some(ca.server_config(&[b"http/1.1"], false)));
    let proxy = TinyProxy::start(&[tls_upstream.address.port()]);
    let config = ConfigDir::new();
    let trust = write_file(config.path(), "ca.pem", &ca.pem());
    let wrong = "Wr0ngSecretValue";
    let wrong_base64 = "V3IwbmdTZWNyZXRWYWx1ZQ==";
    config.write_route(
        "plain.json",
        &route("/plain", &upstream.url("http"), json!({"type": "ReverseProxyHandler", "config": {"proxyOptions": custom(&proxy, "wrong.password")}})),
    );
    config.write_route(
        "tunnel.json",
        &route("/tunnel", &tls_upstream.url("https"), json!({"type": "ReverseProxyHandler", "config": {
            "proxyOptions": custom(&proxy, "wrong.password"),
            "tls": {"type": "ClientTlsOptions", "config": {"trustStore": trust.to_str().unwrap()}}
        }})),
    );
    // SystemAndEnvSecretStore's default format is BASE64.
    let mut gateway = Gateway::start_with(config.path(), &[], &[("WRONG_PASSWORD", wrong_base64)]);

    // tinyproxy 1.11 refuses a plain (absolute-form) request with 401 and WWW-Authenticate,
    // which cannot be told apart from the upstream's own 401: it is relayed. A 407 is the
    // gateway's failure (see `a_407_to_a_plain_request_is_a_502`).
    let reply = get(&gateway, "/plain/x");
    assert_eq!(reply.status, 401, "proxy log:\n{}", proxy.log());
    assert!(proxy.logged(&["GET http://127.0.0.1:", "/plain/x"]));
    let reply = get(&gateway, "/tunnel/x");
    assert_eq!(reply.status, 502, "{}", reply.body);
    // tinyproxy 1.11 refuses CONNECT with 401 rather than 407; a 407 is covered by
    // `a_407_to_a_plain_request_is_a_502`.
    let expected = format!(
        "proxy 127.0.0.1:{} answered 401 Unauthorized to CONNECT 127.0.0.1:{}",
        proxy.port,
        tls_upstream.address.port()
    );
    assert!(
        gateway
            .wait_for_log(&[&expected], std::time::Duration::from_secs(5))
            .is_some(),
        "no log line naming the proxy and its refusal:\n{}",
        gateway.logs().join("\n")
    );
    let output = gateway.stop_and_read_all_logs().join("\n");
    assert!(
        !output.contains(wrong),
        "the password leaked into the gateway's output"
    );
    assert!(!output.contains(wrong_base64));
    assert!(proxy.logged(&["CONNECT"]), "{}", proxy.log());
}

/// A proxy answering 407 to everything: a plain request or a CONNECT through it is a 502
/// whose log line names the proxy, and the client never sees Proxy-Authenticate.
#[test]
fn a_407_to_a_plain_request_is_a_502() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let refusing = Server::spawn(None, std::time::Duration::ZERO, |mut stream| async move {
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\ncontent-length: 0\r\n\r\n")
            .await;
    });
    let config = ConfigDir::new();
    config.write_route(
        "plain.json",
        &route("/plain", "http://app.invalid:8080", json!({"type": "ReverseProxyHandler", "config": {
            "proxyOptions": {"type": "CustomProxyOptions", "config": {"uri": format!("http://{}", refusing.address)}}
        }})),
    );
    config.write_route(
        "tls.json",
        &route("/tls", "https://app.invalid:8443", json!({"type": "ReverseProxyHandler", "config": {
            "proxyOptions": {"type": "CustomProxyOptions", "config": {"uri": format!("http://{}", refusing.address)}}
        }})),
    );
    let gateway = Gateway::start(config.path());
    let reply = get(&gateway, "/tls/x");
    assert_eq!(reply.status, 502);
    assert!(
        gateway
            .wait_for_log(
                &[&format!("proxy {} answered 407 Proxy Authentication Required to CONNECT app.invalid:8443", refusing.address)],
                std::time::Duration::from_secs(5)
            )
            .is_some(),
        "{}",
        gateway.logs().join("\n")
    );
    let reply = get(&gateway, "/plain/x");
    assert_eq!(reply.status, 502);
    assert!(reply.header("proxy-authenticate").is_none());
    assert!(
        gateway
            .wait_for_log(
                &[&format!("proxy {} answered 407 Proxy Authentication Required to GET http://app.invalid:8080/plain/x", refusing.address)],
                std::time::Duration::from_secs(5)
            )
            .is_some(),
        "{}",
        gateway.logs().join("\n")
    );
}

#[test]
fn password_from_a_base64_secret_and_an_unreachable_proxy() {
    let upstream = http_server(None);
    let proxy = TinyProxy::start(&[]);
    let config = ConfigDir::new();
    config.write_route(
        "secret.json",
        &route("/secret", &upstream.url("http"), json!({"type": "ReverseProxyHandler", "config": {
            "proxyOptions": {"type": "CustomProxyOptions", "config": {
                "uri": proxy.uri(), "username": PROXY_USER,
                "passwordSecretId": "proxy.password", "secretsProvider": "SystemAndEnvSecretStore"
            }}
        }})),
    );
    let closed = crate::refused_port();
    config.write_route(
        "unreachable.json",
        &route("/unreachable", &upstream.url("http"), json!({"type": "ReverseProxyHandler", "config": {
            "proxyOptions": {"type": "CustomProxyOptions", "config": {"uri": format!("http://127.0.0.1:{closed}")}}
        }})),
    );
    let encoded = base64_encode(PROXY_PASSWORD);
    let mut gateway = Gateway::start_with(config.path(), &[], &[("PROXY_PASSWORD", &encoded)]);
    let reply = send(client().post(gateway.url("/secret/post")).body("through"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["body"], "through");
    assert!(
        reply.json()["headers"].get("proxy-authorization").is_none(),
        "credentials must not reach the upstream"
    );
    assert!(
        proxy.logged(&["POST http://127.0.0.1:", "/secret/post"]),
        "{}",
        proxy.log()
    );

    let reply = get(&gateway, "/unreachable/x");
    assert_eq!(reply.status, 502);
    assert!(
        gateway
            .wait_for_log(
                &[&format!("proxy 127.0.0.1:{closed} is unreachable")],
                std::time::Duration::from_secs(5)
            )
            .is_some(),
        "{}",
        gateway.logs().join("\n")
    );
    let output = gateway.stop_and_read_all_logs().join("\n");
    assert!(!output.contains(PROXY_PASSWORD));
}

#[test]
fn a_missing_password_secret_fails_the_load_naming_the_id() {
    let config = ConfigDir::new();
    config.write_route(
        "missing.json",
        &json!({"handler": {"type": "ClientHandler", "config": {"proxyOptions": {
            "type": "CustomProxyOptions",
            "config": {"uri": "http://127.0.0.1:3128", "username": "u", "passwordSecretId": "no.such.secret.e2e"}
        }}}}),
    );
    let (ok, stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("secret \"no.such.secret.e2e\" was not found"),
        "{stderr}"
    );
}

fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SystemProxyOptions reads HTTP_PROXY (credentials in the URL) and NO_PROXY of the gateway's
/// environment at load.
#[test]
fn system_proxy_options_from_the_environment() {
    let upstream = http_server(None);
    let proxy = TinyProxy::start(&[]);
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &json!({
            "heap": [{"name": "ProxyOptions", "type": "SystemProxyOptions"}],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    config.write_route(
        "via.json",
        &route("/via", &upstream.url("http"), json!("ReverseProxyHandler")),
    );
    config.write_route(
        "direct.json",
        &route(
            "/direct",
            &format!("http://localhost:{}", upstream.address.port()),
            json!("ReverseProxyHandler"),
        ),
    );
    let proxy_url = format!(
        "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
        proxy.port
    );
    let mut gateway = Gateway::start_with(
        config.path(),
        &[],
        &[
            ("http_proxy", &proxy_url),
            ("HTTP_PROXY", &proxy_url),
            ("no_proxy", "localhost"),
            ("NO_PROXY", "localhost"),
        ],
    );
    let reply = get(&gateway, "/via/1");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        proxy.logged(&["GET http://127.0.0.1:", "/via/1"]),
        "{}",
        proxy.log()
    );
    let reply = get(&gateway, "/direct/2");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(!proxy.log().contains("/direct/2"), "NO_PROXY was ignored");
    assert!(
        !gateway
            .stop_and_read_all_logs()
            .join("\n")
            .contains(PROXY_PASSWORD)
    );
}

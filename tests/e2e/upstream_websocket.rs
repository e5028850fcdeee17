//! WebSocket through the gateway: an echo over ws and wss upstreams, and an Upgrade request
//! forwarded as plain HTTP when websocket is not enabled.

use ferrogate_e2e::{ConfigDir, Gateway};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::upstream_support::{
    PROXY_PASSWORD, PROXY_USER, TestCa, TinyProxy, http_server, websocket_server, write_file,
};

async fn echo_through(url: &str) {
    let (mut socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|error| panic!("websocket handshake with {url} failed: {error}"));
    assert_eq!(response.status(), 101);
    for text in ["hello", "through the gateway", ""] {
        socket.send(Message::text(text)).await.unwrap();
        let answer = socket.next().await.unwrap().unwrap();
        assert_eq!(answer, Message::text(text));
    }
    let blob = vec![7u8; 200_000];
    socket.send(Message::binary(blob.clone())).await.unwrap();
    let answer = socket.next().await.unwrap().unwrap();
    assert_eq!(answer.into_data().as_ref(), blob.as_slice());
    socket.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_over_ws_and_wss() {
    let ca = TestCa::new();
    let ws = websocket_server(None);
    let wss = websocket_server(Some(ca.server_config(&[b"http/1.1"], false)));
    let plain = http_server(None);
    let proxy = TinyProxy::start(&[wss.address.port()]);
    let config = ConfigDir::new();
    write_file(config.path(), "ca.pem", &ca.pem());
    config.write_route(
        "ws.json",
        &json!({
            "condition": "${request.uri.path == '/ws'}",
            "baseURI": ws.url("ws"),
            "handler": {"type": "ReverseProxyHandler", "config": {"websocket": {"enabled": true, "numberOfSelectors": 2}}}
        }),
    );
    config.write_route(
        "wss.json",
        &json!({
            "condition": "${request.uri.path == '/wss'}",
            "baseURI": wss.url("https"),
            "handler": {"type": "ReverseProxyHandler", "config": {
                "protocolVersion": "HTTP/2",
                "websocket": {"enabled": true, "tls": {"type": "ClientTlsOptions", "config": {"trustStore": "ca.pem"}}}
            }}
        }),
    );
    config.write_route(
        "wss-proxied.json",
        &json!({
            "condition": "${request.uri.path == '/wss-proxied'}",
            "baseURI": wss.url("wss"),
            "handler": {"type": "ReverseProxyHandler", "config": {
                "tls": {"type": "ClientTlsOptions", "config": {"trustStore": "ca.pem"}},
                "proxyOptions": {"type": "CustomProxyOptions", "config": {
                    "uri": format!("http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}", proxy.port)
                }},
                "websocket": {"enabled": true}
            }}
        }),
    );
    config.write_route(
        "disabled.json",
        &json!({
            "condition": "${request.uri.path == '/disabled'}",
            "baseURI": plain.url("http"),
            "handler": "ReverseProxyHandler"
        }),
    );
    let gateway = tokio::task::spawn_blocking(move || {
        let gateway = Gateway::start(config.path());
        (config, gateway)
    })
    .await
    .unwrap();
    let (_config, gateway) = gateway;
    let base = format!("ws://{}", gateway.address);
    echo_through(&format!("{base}/ws")).await;
    echo_through(&format!("{base}/wss")).await;
    echo_through(&format!("{base}/wss-proxied")).await;
    assert!(
        proxy.logged(&["CONNECT 127.0.0.1:", &wss.address.port().to_string()]),
        "{}",
        proxy.log()
    );

    // Disabled (IG's default): the Upgrade request reaches the upstream as plain HTTP.
    let url = gateway.url("/disabled");
    let reply = tokio::task::spawn_blocking(move || {
        crate::send(
            crate::client()
                .get(url)
                .header("Connection", "Upgrade")
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13")
                .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        )
    })
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let headers = &reply.json()["headers"];
    assert!(headers.get("upgrade").is_none(), "{headers}");
    assert!(headers.get("connection").is_none(), "{headers}");
}

#[test]
fn unknown_websocket_keys_are_refused() {
    let config = ConfigDir::new();
    config.write_route(
        "bad.json",
        &json!({"handler": {"type": "ReverseProxyHandler", "config": {"websocket": {"enabled": true, "maxFrameSize": 10}}}}),
    );
    let (ok, _, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("maxFrameSize"), "{stderr}");
}

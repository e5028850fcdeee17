//! Upstream failures: down (502), slow (504), reset mid-response (aborted, gateway keeps
//! serving), retries until the upstream comes up, and the per-upstream connection limit.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::json;

use crate::upstream_support::{Server, http_server, http_server_at};
use crate::{client, closed_port, get, send, try_send};

#[test]
fn down_slow_reset_retried_and_limited() {
    let upstream = http_server(None);
    // Answers with a head promising 10 MB, sends a little, then closes the connection.
    let resetting = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut request = [0u8; 4096];
                    let _ = std::io::Read::read(&mut stream, &mut request);
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\npartial");
                    std::thread::sleep(Duration::from_millis(100));
                    drop(stream);
                });
            }
        });
        address
    };
    let late_port = closed_port();
    let late_address = SocketAddr::from(([127, 0, 0, 1], late_port));
    let config = ConfigDir::new();
    let routes = [
        (
            "down",
            format!("http://127.0.0.1:{}", crate::refused_port()),
            json!({}),
        ),
        ("slow", upstream.url("http"), json!({"soTimeout": "300 ms"})),
        ("reset", format!("http://{resetting}"), json!({})),
        (
            "late",
            format!("http://{late_address}"),
            json!({"retries": {"enabled": true, "count": 20, "delay": "200 ms"}}),
        ),
        (
            "limited",
            upstream.url("http"),
            json!({"connections": 1, "soTimeout": "5 seconds"}),
        ),
    ];
    for (name, base, handler_config) in routes {
        config.write_route(
            &format!("{name}.json"),
            &json!({
                "condition": format!("${{find(request.uri.path, '^/{name}')}}"),
                "baseURI": base,
                "handler": {"type": "ReverseProxyHandler", "config": handler_config}
            }),
        );
    }
    let gateway = Gateway::start(config.path());

    let reply = get(&gateway, "/down");
    assert_eq!(reply.status, 502);
    assert!(reply.body.len() < 64, "short body: {}", reply.body);
    assert!(
        gateway
            .wait_for_log(
                &["upstream request failed", "cannot connect to 127.0.0.1"],
                Duration::from_secs(5)
            )
            .is_some()
    );

    let (reply, _) = crate::get_delayed(&gateway, "/slow", Duration::from_millis(2000));
    assert_eq!(reply.status, 504);
    assert!(
        gateway
            .wait_for_log(&["did not answer within soTimeout"], Duration::from_secs(5))
            .is_some()
    );

    let result = try_send(client().get(gateway.url("/reset")));
    assert!(
        result.is_err(),
        "the client must see an aborted response, got {result:?}"
    );
    assert!(
        gateway
            .wait_for_log(
                &[
                    "aborting the response to the client",
                    &format!("upstream {resetting} response body failed"),
                ],
                Duration::from_secs(5)
            )
            .is_some(),
        "{}",
        gateway.logs().join("\n")
    );
    assert_eq!(
        get(&gateway, "/slow").status,
        200,
        "the gateway keeps serving"
    );

    // The upstream comes up 1 s after the first attempt; a POST with a body is not retried.
    let reply = send(client().post(gateway.url("/late")).body("data"));
    assert_eq!(reply.status, 502, "requests with a body are not retried");
    let started = Instant::now();
    let _late = http_server_at(Some(late_address), Duration::from_millis(1000), None);
    let reply = get(&gateway, "/late/x");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(
        gateway
            .wait_for_log(&["connection failed; retrying"], Duration::from_secs(1))
            .is_some()
    );

    // connections: 1 serialises requests to that upstream.
    let started = Instant::now();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let url = gateway.url("/limited");
            std::thread::spawn(move || send(client().get(url).header("x-delay-ms", "400")).status)
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 200);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1150),
        "3 x 400 ms with one connection took {:?}",
        started.elapsed()
    );
}

/// connectionTimeout covers the proxy tunnel and the TLS handshake: a proxy that accepts but
/// never answers the CONNECT makes a 504 after connectionTimeout.
#[test]
fn a_connection_that_never_completes_is_a_504() {
    let silent = Server::spawn(None, Duration::ZERO, |stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let config = ConfigDir::new();
    config.write_route(
        "stuck.json",
        &json!({
            "baseURI": "https://app.invalid:8443",
            "handler": {"type": "ClientHandler", "config": {
                "connectionTimeout": "300 ms",
                "proxyOptions": {"type": "CustomProxyOptions", "config": {"uri": format!("http://{}", silent.address)}}
            }}
        }),
    );
    let gateway = Gateway::start(config.path());
    let started = Instant::now();
    let reply = get(&gateway, "/x");
    assert_eq!(reply.status, 504, "{}", reply.body);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        gateway
            .wait_for_log(
                &["connecting to app.invalid:8443 took more than connectionTimeout"],
                Duration::from_secs(5)
            )
            .is_some(),
        "{}",
        gateway.logs().join("\n")
    );
}

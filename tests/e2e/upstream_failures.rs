//! Upstream failures: down (502), slow (504), reset mid-response (aborted, gateway keeps
//! serving), an HTTP/2 upstream stalling mid-response (aborted after soTimeout), retries
//! until the upstream comes up, and the per-upstream connection limit.

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

/// A failed request is one record: the client handler's, which names the upstream, the
/// reason, the transaction and the status. The edge logs only what nobody logged before it.
#[test]
fn a_failed_request_is_one_record_naming_the_upstream_the_reason_and_the_transaction() {
    let upstream = http_server(None);
    let config = ConfigDir::new();
    config.write_route(
        "down.json",
        &json!({
            "condition": "${request.uri.path == '/down'}",
            "baseURI": format!("http://127.0.0.1:{}", crate::refused_port()),
            "handler": "ReverseProxyHandler"
        }),
    );
    config.write_route(
        "slow.json",
        &json!({
            "condition": "${request.uri.path == '/slow'}",
            "baseURI": upstream.url("http"),
            "handler": {"type": "ReverseProxyHandler", "config": {"soTimeout": "300 ms"}}
        }),
    );
    // Two bindings replay the request, so its body must fit in memory: a larger one is a 400
    // that no handler logged.
    config.write_route(
        "replayed.json",
        &json!({
            "condition": "${request.uri.path == '/replayed'}",
            "handler": {"type": "SequenceHandler", "config": {"bindings": [
                {"handler": {"type": "StaticResponseHandler", "config": {"status": 404}}},
                {"handler": {"type": "StaticResponseHandler", "config": {"status": 200}}}
            ]}}
        }),
    );
    let mut gateway = Gateway::start(config.path());

    for _ in 0..3 {
        assert_eq!(get(&gateway, "/down").status, 502);
    }
    let (slow, _) = crate::get_delayed(&gateway, "/slow", Duration::from_millis(2000));
    assert_eq!(slow.status, 504);
    let too_large = send(
        client()
            .post(gateway.url("/replayed"))
            .body(vec![b'x'; (1 << 20) + 1]),
    );
    assert_eq!(too_large.status, 400, "{}", too_large.body);

    let records: Vec<serde_json::Value> = gateway
        .stop_and_read_all_logs()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|record: &serde_json::Value| record["level"] == "WARN")
        .collect();
    let with_message = |message: &str| -> Vec<&serde_json::Value> {
        records
            .iter()
            .filter(|record| record["message"] == message)
            .collect()
    };
    let failed = with_message("upstream request failed");
    assert_eq!(failed.len(), 3, "{records:#?}");
    let mut transactions = std::collections::HashSet::new();
    for record in &failed {
        assert!(
            record["upstream"]
                .as_str()
                .is_some_and(|upstream| upstream.starts_with("127.0.0.1:")),
            "{record}"
        );
        assert!(
            record["reason"]
                .as_str()
                .is_some_and(|reason| reason.contains("cannot connect")),
            "{record}"
        );
        assert_eq!(record["status"], 502, "{record}");
        let transaction = record["transaction"].as_str().unwrap_or_default();
        assert!(!transaction.is_empty(), "{record}");
        transactions.insert(transaction.to_owned());
    }
    assert_eq!(transactions.len(), 3, "one transaction each: {failed:#?}");
    let timed_out = with_message("upstream did not answer in time");
    let [timed_out] = timed_out.as_slice() else {
        panic!("one timeout record expected: {records:#?}");
    };
    assert_eq!(timed_out["status"], 504, "{timed_out}");
    assert!(timed_out["transaction"].is_string(), "{timed_out}");
    // The edge's record is left for the failure nobody logged: the 400.
    let at_the_edge = with_message("request failed");
    let [at_the_edge] = at_the_edge.as_slice() else {
        panic!("one record at the edge expected: {records:#?}");
    };
    assert_eq!(at_the_edge["status"], 400, "{at_the_edge}");
}

/// soTimeout bounds each wait for an HTTP/2 upstream's response body too: an h2c upstream
/// that sends its head and part of its body, then nothing, is cut off after soTimeout and
/// named in the log, as an HTTP/1.1 one is (tests/e2e/http1.rs).
#[test]
fn an_http2_upstream_that_stalls_midway_through_its_body_is_cut_off_after_so_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let upstream = std::thread::spawn(move || {
        crate::listeners_client::runtime().block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|_request| async {
                // "partial", then a body that never ends nor gives more.
                let parts = futures_util::StreamExt::chain(
                    futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
                        hyper::body::Frame::data(bytes::Bytes::from_static(b"partial")),
                    )]),
                    futures_util::stream::pending(),
                );
                let body = http_body_util::StreamBody::new(futures_util::StreamExt::boxed(parts));
                Ok::<_, std::convert::Infallible>(hyper::Response::new(body))
            });
            let served =
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
        });
    });
    let config = ConfigDir::new();
    config.write_route(
        "h2c.json",
        &json!({"baseURI": format!("http://{address}"), "handler": {
            "type": "ReverseProxyHandler",
            "config": {"http2PriorKnowledge": true, "soTimeout": "500 ms"}}}),
    );
    let gateway = Gateway::start(config.path());
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(gateway.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(8)))
        .unwrap();
    stream
        .write_all(b"GET /stalls HTTP/1.1\r\nHost: gw\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("partial"), "{answer}");
    assert!(
        !answer.ends_with("0\r\n\r\n"),
        "the response looks complete: {answer:?}"
    );
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    let record = gateway.wait_for_log(
        &[
            &format!("upstream http://{address} response body failed"),
            "no byte of the body arrived for 0.5 s",
        ],
        Duration::from_secs(5),
    );
    assert!(record.is_some(), "{:#?}", gateway.logs());
    drop(gateway);
    upstream.join().unwrap();
}

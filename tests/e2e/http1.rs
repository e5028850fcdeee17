//! HTTP/1.1 as the gateway speaks it, seen from raw sockets: keep-alive and pipelining,
//! HTTP/1.0, `Expect: 100-continue`, chunked bodies, heads and framings refused as smuggling
//! attempts, unread request bodies, bodies that stall or break on either side, and upstream
//! connections that close while pooled.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrogate_e2e::upstream::{Server, Upstream};
use ferrogate_e2e::{ConfigDir, Gateway, serve};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{client, path_route, send};

/// One response read off a raw connection.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection that writes raw bytes and reads whole responses (Content-Length or
/// chunked), so that what crosses the wire is what the test says.
struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(gateway: &Gateway) -> Raw {
        let stream = TcpStream::connect(gateway.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Raw {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    /// The next response; `None` when the gateway closed the connection instead.
    fn response(&mut self) -> Option<RawResponse> {
        let status_line = self.line();
        if status_line.is_empty() {
            return None;
        }
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if status == 100 || status == 204 || status == 304 {
            return Some(response);
        }
        if let Some(length) = response.header("content-length") {
            let mut body = vec![0; length.parse().unwrap()];
            self.reader.read_exact(&mut body).unwrap();
            response.body = body;
        } else if response.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line(), 16).unwrap();
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                response.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            self.reader.read_to_end(&mut response.body).unwrap();
        }
        Some(response)
    }

    /// Whether the gateway closed the connection (nothing more to read).
    fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}

fn statics() -> (ConfigDir, Gateway) {
    serve(&[
        ("a", path_route("/a", "answer a")),
        ("b", path_route("/b", "answer b")),
    ])
}

#[test]
fn pipelined_requests_on_a_kept_alive_connection_are_answered_in_order() {
    let (_config, gateway) = statics();
    let mut raw = Raw::connect(&gateway);
    raw.send(b"GET /a HTTP/1.1\r\nHost: gw\r\n\r\nGET /b HTTP/1.1\r\nHost: gw\r\n\r\n");
    let first = raw.response().unwrap();
    let second = raw.response().unwrap();
    assert_eq!((first.status, first.text().as_str()), (200, "answer a"));
    assert_eq!((second.status, second.text().as_str()), (200, "answer b"));
    assert!(first.header("date").is_some());
    assert_eq!(
        first.header("connection"),
        None,
        "HTTP/1.1 keeps alive by default"
    );
    raw.send(b"GET /a HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    let last = raw.response().unwrap();
    assert_eq!(last.header("connection"), Some("close"));
    assert!(raw.closed());
}

#[test]
fn http_1_0_clients_keep_the_connection_only_when_they_ask() {
    let (_config, gateway) = statics();
    let mut raw = Raw::connect(&gateway);
    raw.send(b"GET /a HTTP/1.0\r\n\r\n");
    let answer = raw.response().unwrap();
    assert_eq!(answer.text(), "answer a");
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(raw.closed());

    let mut raw = Raw::connect(&gateway);
    raw.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let answer = raw.response().unwrap();
    assert_eq!(answer.header("connection"), Some("keep-alive"));
    raw.send(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(raw.response().unwrap().text(), "answer b");
}

fn proxied(upstream: &Upstream) -> (ConfigDir, Gateway) {
    serve(&[(
        "proxy",
        json!({"baseURI": upstream.base_uri(), "handler": "ReverseProxyHandler"}),
    )])
}

#[test]
fn expect_continue_is_answered_by_the_gateway_and_chunked_bodies_arrive_whole() {
    let upstream = Upstream::echo();
    let (_config, gateway) = proxied(&upstream);
    let mut raw = Raw::connect(&gateway);
    raw.send(
        b"POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = raw.response().unwrap();
    assert_eq!(interim.status, 100);
    raw.send(b"hello");
    let answer = raw.response().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let echo: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(echo["body"], "hello");
    assert!(
        echo["headers"].get("expect").is_none(),
        "the expectation is the gateway's to answer: {echo}"
    );

    raw.send(
        b"POST /chunks HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n\
          3;note=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    let answer = raw.response().unwrap();
    let echo: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(echo["body"], "abcdefg");
    assert_eq!(echo["uri"], "/chunks");
}

#[test]
fn framings_that_could_smuggle_a_request_are_refused() {
    let upstream = Upstream::echo();
    let (_config, gateway) = proxied(&upstream);
    // The head alone gives these away: 400 (501 for a coding the gateway would have to drop).
    // A broken chunked body is only found while the upstream request is being sent, and is
    // the client's failure all the same: 400. The connection closes either way.
    for (request, status) in [
        (
            &b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            501,
        ),
        // Routed by one Host, read by the upstream with the other.
        (
            b"GET / HTTP/1.1\r\nHost: gw\r\nHost: admin.internal\r\n\r\n",
            400,
        ),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n3;ext\nabc\r\n0\r\n\r\n",
            400,
        ),
    ] {
        let mut raw = Raw::connect(&gateway);
        raw.send(request);
        let text = String::from_utf8_lossy(request).into_owned();
        let answer = raw.response().unwrap_or_else(|| panic!("{text:?}: no answer"));
        assert_eq!(answer.status, status, "{text:?}: {answer:?}");
        assert!(raw.closed(), "{text:?}: the connection must close");
    }
    // Nothing of those reached the upstream as a second request.
    assert_eq!(send(client().get(gateway.url("/after"))).status, 200);
    // The client's malformed bodies are not reported as the upstream's failures.
    let blamed: Vec<String> = gateway
        .logs()
        .into_iter()
        .filter(|line| line.contains("upstream request failed"))
        .collect();
    assert!(blamed.is_empty(), "{blamed:#?}");
}

fn proxied_with_so_timeout(base_uri: &str, so_timeout: &str) -> (ConfigDir, Gateway) {
    serve(&[(
        "proxy",
        json!({"baseURI": base_uri, "handler": {
            "type": "ReverseProxyHandler", "config": {"soTimeout": so_timeout}}}),
    )])
}

/// soTimeout is the upstream's limit: a client uploading slower than it is not cut off,
/// and a client going away midway is not reported as the upstream failing.
#[test]
fn an_upload_slower_than_so_timeout_arrives_whole() {
    let upstream = Upstream::echo();
    let (_config, gateway) = proxied_with_so_timeout(&upstream.base_uri(), "300 ms");
    let mut raw = Raw::connect(&gateway);
    raw.send(b"POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 8\r\n\r\n");
    // 8 bytes over about 1.2 s, four times soTimeout.
    for byte in b"slowly!!" {
        std::thread::sleep(Duration::from_millis(150));
        raw.send(&[*byte]);
    }
    let answer = raw.response().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let echo: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(echo["body"], "slowly!!");

    // A client that goes away in the middle of its body.
    let mut raw = Raw::connect(&gateway);
    raw.send(b"POST /gone HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nabc");
    std::thread::sleep(Duration::from_millis(200));
    drop(raw);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(send(client().get(gateway.url("/after"))).status, 200);
    let blamed: Vec<String> = gateway
        .logs()
        .into_iter()
        .filter(|line| line.contains("upstream") && line.contains("WARN"))
        .collect();
    assert!(blamed.is_empty(), "{blamed:#?}");
}

/// A client that stops sending its body holds the request no longer than a silent client
/// holds a connection (30 s, the head timeout), and gets the client's status, 408, not the
/// upstream's 504, though soTimeout is far shorter.
#[test]
fn a_client_that_stalls_midway_through_its_body_gets_408_after_the_body_timeout() {
    let upstream = Upstream::echo();
    let (_config, gateway) = proxied_with_so_timeout(&upstream.base_uri(), "300 ms");
    let stream = TcpStream::connect(gateway.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(45)))
        .unwrap();
    let mut raw = Raw {
        reader: BufReader::new(stream),
    };
    let started = std::time::Instant::now();
    raw.send(b"POST /stall HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nabc");
    let answer = raw.response().unwrap();
    let took = started.elapsed();
    assert_eq!(answer.status, 408, "{}", answer.text());
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(
        took >= Duration::from_secs(29) && took < Duration::from_secs(40),
        "answered after {took:?}"
    );
}

/// soTimeout, IG's socket timeout, bounds each wait for a response body's bytes: an upstream
/// that stops midway does not hold the client for ever.
#[test]
fn an_upstream_that_stalls_midway_through_its_body_is_cut_off_after_so_timeout() {
    let stalling = Server::spawn(None, Duration::ZERO, |mut stream| async move {
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            .await;
        tokio::time::sleep(Duration::from_secs(20)).await;
    });
    let (_config, gateway) = proxied_with_so_timeout(&stalling.url("http"), "500 ms");
    let mut raw = Raw::connect(&gateway);
    let started = std::time::Instant::now();
    raw.send(b"GET /stalls HTTP/1.1\r\nHost: gw\r\n\r\n");
    let status_line = raw.line();
    assert!(status_line.contains(" 200 "), "{status_line}");
    // The head and what came of the body, then the connection closes short of 100 bytes.
    let mut rest = Vec::new();
    let _ = raw.reader.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(
        String::from_utf8_lossy(&rest).ends_with("partial"),
        "{rest:?}"
    );
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    assert!(
        gateway
            .wait_for_log(
                &["no byte of the body arrived for 0.5 s"],
                Duration::from_secs(5)
            )
            .is_some(),
        "{:#?}",
        gateway.logs()
    );
}

#[test]
fn a_request_body_nobody_reads_is_skipped_when_small_and_ends_the_connection_when_large() {
    let (_config, gateway) = statics();
    let mut raw = Raw::connect(&gateway);
    raw.send(b"POST /a HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\n\r\nignore this");
    assert_eq!(raw.response().unwrap().text(), "answer a");
    raw.send(b"GET /b HTTP/1.1\r\nHost: gw\r\n\r\n");
    assert_eq!(raw.response().unwrap().text(), "answer b");

    let mut raw = Raw::connect(&gateway);
    let large = 1 << 20;
    raw.send(format!("POST /a HTTP/1.1\r\nHost: gw\r\nContent-Length: {large}\r\n\r\n").as_bytes());
    raw.send(&vec![b'x'; 128 * 1024]);
    let answer = raw.response().unwrap();
    assert_eq!(answer.text(), "answer a");
    assert_eq!(answer.header("connection"), Some("close"));
}

/// An upstream that answers the first request of each connection and, like a server whose
/// keep-alive timeout just expired, closes the connection when a second one arrives.
fn closes_after_one_request(connections: Arc<AtomicUsize>) -> Server {
    Server::spawn(None, Duration::ZERO, move |mut stream| {
        let connections = connections.clone();
        async move {
            connections.fetch_add(1, Ordering::SeqCst);
            let mut seen = Vec::new();
            let mut buffer = [0u8; 4096];
            let mut answered = false;
            loop {
                let Ok(read) = stream.read(&mut buffer).await else {
                    return;
                };
                if read == 0 {
                    return;
                }
                seen.extend_from_slice(&buffer[..read]);
                if !seen.windows(4).any(|window| window == b"\r\n\r\n") {
                    continue;
                }
                if answered {
                    return;
                }
                answered = true;
                seen.clear();
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
                    .await;
            }
        }
    })
}

#[test]
fn a_pooled_connection_the_upstream_closed_is_replaced_for_idempotent_requests() {
    let connections = Arc::new(AtomicUsize::new(0));
    let upstream = closes_after_one_request(connections.clone());
    let (_config, gateway) = serve(&[(
        "proxy",
        json!({"baseURI": upstream.url("http"), "handler": "ReverseProxyHandler"}),
    )]);
    for attempt in 0..3 {
        let reply = send(client().get(gateway.url("/again")));
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "fresh"),
            "request {attempt}"
        );
    }
    assert!(connections.load(Ordering::SeqCst) >= 3);
    // A request with a body cannot be sent twice: on the pooled connection the upstream
    // drops, it fails rather than risk a duplicate.
    assert_eq!(send(client().get(gateway.url("/prime"))).status, 200);
    let reply = send(client().post(gateway.url("/once")).body("payload"));
    assert_eq!(reply.status, 502, "{}", reply.body);
}

/// soTimeout runs on a timer each pooled connection keeps from request to request: it must
/// neither fire at a previous request's deadline nor stay silent.
#[test]
fn so_timeout_holds_for_every_request_on_a_pooled_connection() {
    let upstream = Upstream::echo();
    let (_config, gateway) = serve(&[(
        "proxy",
        json!({"baseURI": upstream.base_uri(), "handler": {
            "type": "ReverseProxyHandler", "config": {"soTimeout": "300 ms"}}}),
    )]);
    assert_eq!(send(client().get(gateway.url("/fast"))).status, 200);
    // Longer than soTimeout: the connection's timer fires while it is idle in the pool.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(send(client().get(gateway.url("/fast-again"))).status, 200);
    let (slow, took) = crate::get_delayed(&gateway, "/slow", Duration::from_millis(1500));
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1200),
        "answered 504 after {took:?}"
    );
    assert_eq!(send(client().get(gateway.url("/after"))).status, 200);
}

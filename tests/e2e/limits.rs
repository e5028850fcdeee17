//! What a client may send: oversized headers are refused without harm to other clients.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ferrogate_e2e::{ConfigDir, Gateway};

use crate::{body_of, path_route};

/// Sends a raw request and returns what came back: Some(status line) or None when the
/// gateway closed the connection without answering.
fn raw_exchange(gateway: &Gateway, request: &[u8]) -> Option<String> {
    let mut stream = TcpStream::connect(gateway.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The gateway may stop reading (and close) before the whole request is written.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                ) =>
            {
                break;
            }
            Err(error) => panic!("no answer and no close: {error}"),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines()
        .next()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
}

#[track_caller]
fn assert_refused(gateway: &Gateway, what: &str, request: &[u8]) {
    match raw_exchange(gateway, request) {
        None => {}
        Some(status_line) => assert!(
            status_line.starts_with("HTTP/1.1 431"),
            "{what}: expected 431 or a closed connection, got {status_line:?}"
        ),
    }
    assert_eq!(
        body_of(gateway, "/ok"),
        "ok",
        "{what}: the gateway keeps serving"
    );
}

#[test]
fn oversized_headers_are_refused_and_the_gateway_keeps_serving() {
    let config = ConfigDir::new();
    config.write_route("ok.json", &path_route("/ok", "ok"));
    let gateway = Gateway::start(config.path());

    let normal = raw_exchange(
        &gateway,
        b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(normal.as_deref(), Some("HTTP/1.1 200 OK"));

    let big = format!(
        "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    assert_refused(&gateway, "one 100 KiB header", big.as_bytes());

    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /ok HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert_refused(&gateway, "300 headers", many.as_bytes());

    let long_uri = format!(
        "GET /ok?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "q".repeat(100 * 1024)
    );
    match raw_exchange(&gateway, long_uri.as_bytes()) {
        None => {}
        Some(status_line) => assert!(
            status_line.starts_with("HTTP/1.1 414") || status_line.starts_with("HTTP/1.1 431"),
            "a 100 KiB URI: {status_line:?}"
        ),
    }
    assert_eq!(body_of(&gateway, "/ok"), "ok");
}

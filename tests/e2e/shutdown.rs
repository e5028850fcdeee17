//! Graceful shutdown: SIGTERM stops accepting at once and lets requests in flight finish.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway, eventually, serve};
use serde_json::json;

use crate::{client, path_route, try_send};

/// Sends SIGTERM and asserts the gateway exits cleanly within 2 s, far below its drain timeout
/// (5 s here, 30 s by default): the one check of the tests that leave connections `open`
/// (idle, stalled) that must not hold the exit up.
#[track_caller]
fn exits_promptly(gateway: &mut Gateway, open: &str) {
    let started = Instant::now();
    let status = gateway
        .terminate(Duration::from_secs(10))
        .expect("the gateway exits");
    assert!(status.success(), "exit status {status}");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "shutdown took {took:?} {open}"
    );
}

#[test]
fn sigterm_drains_requests_in_flight_and_refuses_new_connections() {
    let upstream = Upstream::echo();
    let config = ConfigDir::new();
    config.write_route(
        "slow.json",
        &json!({
            "name": "slow",
            "condition": "${request.uri.path == '/slow'}",
            "handler": {"type": "Chain", "baseURI": upstream.base_uri(), "config": {"filters": [], "handler": "ReverseProxyHandler"}}
        }),
    );
    config.write_route("fast.json", &path_route("/fast", "fast"));
    let mut gateway = Gateway::start(config.path());

    let url = gateway.url("/slow");
    let in_flight = std::thread::spawn(move || {
        let started = Instant::now();
        let reply = try_send(client().get(url).header("x-delay-ms", "1500"));
        (reply, started.elapsed())
    });
    assert!(
        gateway
            .wait_for_log(&["route matched", "slow"], Duration::from_secs(5))
            .is_some(),
        "the slow request never reached its route"
    );
    let signalled = Instant::now();
    gateway.send_sigterm();

    let refused = eventually(Duration::from_secs(1), || {
        TcpStream::connect(gateway.address).is_err()
    });
    assert!(
        refused.is_some(),
        "new connections are still accepted 1 s after SIGTERM"
    );
    assert!(
        !in_flight.is_finished(),
        "the slow request finished before new connections were refused ({:?} after SIGTERM)",
        signalled.elapsed()
    );

    let (reply, took) = in_flight.join().unwrap();
    let reply = reply.expect("the request in flight must complete");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["uri"], "/slow");
    assert!(took >= Duration::from_millis(1500), "{took:?}");

    let status = gateway
        .wait_exit(Duration::from_secs(5))
        .expect("the gateway exits after draining");
    assert!(status.success(), "exit status {status}");
    assert!(TcpStream::connect(gateway.address).is_err());
}

/// Idle keep-alive connections (HTTP/1.1 and HTTP/2) must not hold the exit up until the
/// drain timeout.
#[test]
fn idle_connections_do_not_delay_shutdown() {
    let (_config, mut gateway) = serve(&[("fast", path_route("/fast", "fast"))]);
    let http1 = client();
    assert_eq!(crate::send(http1.get(gateway.url("/fast"))).body, "fast");
    let http2 = reqwest::blocking::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    assert_eq!(crate::send(http2.get(gateway.url("/fast"))).body, "fast");
    // A connection that has not sent anything yet.
    let _silent = TcpStream::connect(gateway.address).unwrap();

    exits_promptly(&mut gateway, "with idle connections open");
}

/// A client that stalls in the middle of its request head has no request in flight worth
/// waiting for: it must not hold the exit up for the drain timeout (30 s by default).
#[test]
fn a_client_stalled_mid_request_head_does_not_delay_shutdown() {
    let (_config, mut gateway) = serve(&[("fast", path_route("/fast", "fast"))]);
    let mut stalled = TcpStream::connect(gateway.address).unwrap();
    std::io::Write::write_all(&mut stalled, b"GET /fast HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Let the gateway read the partial head.
    std::thread::sleep(Duration::from_millis(100));

    exits_promptly(&mut gateway, "with a stalled client");
}

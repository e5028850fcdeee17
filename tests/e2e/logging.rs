//! The log's queue: a reader of stdout that stops reading costs the log records, never the
//! traffic; the records come out in order once it reads again, with a count of those lost.

use std::time::{Duration, Instant};

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::json;

use crate::{client, get, refused_port, try_send};

/// A configuration whose one route's upstream refuses connections: each request a 502 and
/// its warnings in the log.
fn down_route() -> ConfigDir {
    let config = ConfigDir::new();
    config.write_route(
        "down.json",
        &json!({
            "name": "down",
            "handler": {"type": "ReverseProxyHandler",
                        "baseURI": format!("http://127.0.0.1:{}", refused_port())},
        }),
    );
    config
}

#[test]
fn a_stalled_log_reader_costs_records_not_requests() {
    let config = down_route();
    // 64 KiB of queue, behind a pipe of 64 KiB that nobody reads: each failed request logs
    // a warning and debug records, hundreds of bytes, so the pipe fills within a few hundred
    // requests, and the queue soon after.
    let mut gateway = Gateway::start_stalling_log(config.path(), &["--log-buffer-kib", "64"]);
    let client = client();
    let started = Instant::now();
    for n in 0..3000 {
        let reply = try_send(client.get(gateway.url("/down")))
            .unwrap_or_else(|error| panic!("request {n} with the log stalled: {error:?}"));
        assert_eq!(reply.status, 502, "request {n}: {}", reply.body);
    }
    let took = started.elapsed();
    let metrics = get(&gateway, "/openig/metrics/prometheus").body;
    let dropped: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("ferrogate_log_records_dropped_total "))
        .unwrap_or_else(|| panic!("no dropped-records counter in\n{metrics}"))
        .parse()
        .unwrap();
    assert!(
        dropped > 0,
        "3,000 failures were logged whole ({took:?}):\n{metrics}"
    );

    gateway.resume_log();
    let report = gateway.expect_log(
        &["the log's reader fell behind", "\"dropped\""],
        Duration::from_secs(10),
    );
    let reported: serde_json::Value = serde_json::from_str(&report).unwrap();
    let reported = reported["dropped_since_start"].as_u64().unwrap();
    assert!(
        reported >= dropped,
        "reported {reported}, counted {dropped} before: {report}"
    );
    // What the queue held came out whole, each line one record.
    let logs = gateway.logs();
    let failures = logs
        .iter()
        .filter(|line| line.contains("upstream request failed"))
        .count();
    assert!(failures > 0, "no failure logged");
    for line in &logs {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|error| panic!("not one whole JSON record ({error}): {line}"));
    }
    // The records of a normal exit still reach the reader, flushed from the queue.
    gateway.stop_and_read_all_logs();
}

#[test]
fn a_gateway_whose_log_reader_stalled_for_good_still_exits_on_sigterm() {
    let config = down_route();
    let mut gateway = Gateway::start_stalling_log(config.path(), &[]);
    // Enough failures to fill the pipe many times over; bounded in time, since a gateway
    // that waits on its log stops answering.
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..500 {
        if Instant::now() > deadline {
            break;
        }
        let _ = try_send(client.get(gateway.url("/down")));
    }
    // The queue's flush at exit gives up on the stalled reader after its 2 s.
    let asked = Instant::now();
    let status = gateway
        .terminate(Duration::from_secs(20))
        .expect("exits with its log stalled");
    assert!(status.success(), "{status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "took {:?}",
        asked.elapsed()
    );
}

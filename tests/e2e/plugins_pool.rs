//! The process-wide pool of plugin instance slots (`"instanceSlots"`, 1,000 by default) under
//! pressure: more plugin objects than slots (each object keeps the instance its validation
//! made, so without shedding idle instances for room the configuration would not load), and
//! more requests in flight through a filter that holds its instance across the upstream's
//! answer than there are slots (they wait for a slot to come back, as long as the plugin
//! deadline, rather than fail).

use std::time::{Duration, Instant};

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway, check};
use serde_json::json;

use crate::{Reply, client, get, send};

/// Past the allocator's 1,000 component instances, with room to spare for the embedded
/// plugins' own instances.
const ROUTES: usize = 1_100;

fn route(number: usize) -> serde_json::Value {
    json!({
        "condition": format!("${{request.uri.path == '/r{number}'}}"),
        "handler": {"type": "Chain", "config": {
            // An expression value, so the plugin is called per request rather than the
            // header added by the host.
            "filters": [{"type": "HeaderFilter", "config": {
                "messageType": "RESPONSE",
                "add": {"X-Path": ["${request.uri.path}"]}
            }}],
            "handler": {"type": "StaticResponseHandler", "config": {"status": 200, "entity": "ok"}}
        }}
    })
}

#[test]
fn more_plugin_objects_than_instance_slots_load_and_each_serves() {
    let config = ConfigDir::new();
    for number in 0..ROUTES {
        config.write_route(&format!("r{number:04}.json"), &route(number));
    }

    let (valid, stdout, stderr) = check(config.path());
    assert!(valid, "check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("({ROUTES} routes)")), "{stdout}");

    let gateway = Gateway::start(config.path());
    // Every route twice, in order: a route whose idle instance was shed finds the pool full
    // of other routes' idle instances, and only shedding again lets it make a new one.
    for round in 0..2 {
        for number in 0..ROUTES {
            let path = format!("/r{number}");
            let reply = get(&gateway, &path);
            assert_eq!(reply.status, 200, "round {round}, {path}: {}", reply.body);
            assert_eq!(
                reply
                    .headers
                    .get("x-path")
                    .and_then(|value| value.to_str().ok()),
                Some(path.as_str()),
                "round {round}"
            );
        }
    }
}

/// The fewest slots a configuration may ask for.
const FEW_SLOTS: usize = 16;

/// A gateway with [`FEW_SLOTS`] instance slots and the plugin deadline `deadline`, whose one
/// route times each request (`"timer": true`, the embedded TimerDecorator, which takes part
/// in both phases and so holds its instance from the request to the upstream's answer)
/// and proxies it to `upstream`.
fn timed_route_with_few_slots(upstream: &Upstream, deadline: &str) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &json!({
            "plugins": {"instanceSlots": FEW_SLOTS, "deadline": deadline},
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    config.write_route(
        "timed.json",
        &json!({
            "name": "timed",
            "timer": true,
            "baseURI": upstream.base_uri(),
            "handler": "ReverseProxyHandler"
        }),
    );
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

/// `count` requests at once, each answered by the upstream after `upstream_delay`.
fn at_once(gateway: &Gateway, count: usize, upstream_delay: Duration) -> Vec<Reply> {
    let url = gateway.url("/slow");
    std::thread::scope(|scope| {
        let sent: Vec<_> = (0..count)
            .map(|_| {
                let request = client()
                    .get(&url)
                    .header("x-delay-ms", upstream_delay.as_millis().to_string());
                scope.spawn(move || send(request))
            })
            .collect();
        sent.into_iter()
            .map(|reply| reply.join().unwrap())
            .collect()
    })
}

#[test]
fn requests_past_the_instance_slots_wait_for_one_to_come_back() {
    let upstream = Upstream::echo();
    let (_config, gateway) = timed_route_with_few_slots(&upstream, "10 seconds");

    // Three times the slots: a third of the requests find one, the others wait for theirs.
    let count = 3 * FEW_SLOTS;
    let upstream_delay = Duration::from_millis(500);
    let started = Instant::now();
    let replies = at_once(&gateway, count, upstream_delay);
    let failed: Vec<_> = replies.iter().filter(|reply| reply.status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {count} failed, the first: {:?}",
        failed.len(),
        failed.first().map(|reply| &reply.body)
    );
    // Never more requests inside the upstream than slots: at least three rounds of its delay.
    assert!(
        started.elapsed() >= 3 * upstream_delay,
        "{:?}",
        started.elapsed()
    );

    let metrics = metrics(&gateway);
    assert!(
        metrics.contains(&format!("\nferrogate_plugin_instance_slots {FEW_SLOTS}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nferrogate_plugin_instance_slot_waiting 0\n"),
        "{metrics}"
    );
    // Not necessarily every request past the slots: one sent late finds an instance idle.
    assert!(
        metric(&metrics, "ferrogate_plugin_instance_slot_waits_total") > 0.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "ferrogate_plugin_instance_slot_wait_expired_total"
        ),
        0.0
    );
    assert!(
        metric(
            &metrics,
            "ferrogate_plugin_instance_slot_wait_seconds_total"
        ) > 0.0
    );
}

fn metrics(gateway: &Gateway) -> String {
    let reply = get(gateway, "/openig/metrics/prometheus");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The value of an unlabelled series.
fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

#[test]
fn a_request_that_finds_no_slot_within_the_deadline_fails_with_what_to_raise() {
    let upstream = Upstream::echo();
    let (_config, gateway) = timed_route_with_few_slots(&upstream, "200 ms");

    let replies = at_once(&gateway, 2 * FEW_SLOTS, Duration::from_millis(1500));
    let served = replies.iter().filter(|reply| reply.status == 200).count();
    let failed = replies.iter().filter(|reply| reply.status == 500).count();
    assert_eq!(served + failed, 2 * FEW_SLOTS, "only 200s and 500s");
    assert!(
        (1..=FEW_SLOTS).contains(&served),
        "at most one request per slot was served: {served}"
    );
    assert!(failed >= FEW_SLOTS, "{failed}");
    assert_eq!(
        metric(
            &metrics(&gateway),
            "ferrogate_plugin_instance_slot_wait_expired_total"
        ),
        failed as f64,
        "each failure is a wait that ran out"
    );
    gateway.expect_log(
        &[
            "no plugin instance slot came free within 200ms",
            // The log is JSON: the quotes are escaped.
            r#"raise \"instanceSlots\" in config.json's \"plugins\""#,
            "maximum concurrent limit of 16 for component instances",
            "timer",
        ],
        Duration::from_secs(5),
    );
}

//! A plugin from a folder adds at most `logRecordsPerSecond` records a second to the log (its
//! `log` messages, its stderr and the records of its failures alike), each `log` message at
//! most 16 KiB; what it drops is counted and, once a second, said. The embedded plugins have
//! no such limit.

use std::time::{Duration, Instant};

use ferrogate_e2e::Gateway;
use serde_json::{Value, json};

use crate::plugins_support::{records, start, wait_for_records, wait_for_records_where};
use crate::{chain, get};

const NOTICE: &str =
    "plugin logged its limit of records this second: the rest of the second's are dropped";

fn answered_by_static(path: &str, filter: Value) -> Value {
    chain(
        path,
        json!([filter]),
        json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "reached"}}),
    )
}

/// `ferrogate_plugin_<counter>_total` of the route's `type` objects.
fn plugin_counter(gateway: &Gateway, counter: &str, type_name: &str, route: &str) -> Option<u64> {
    let metrics = get(gateway, "/openig/metrics/prometheus").body;
    metrics
        .lines()
        .filter(|line| {
            line.starts_with(&format!(
                "ferrogate_plugin_{counter}_total{{type=\"{type_name}\","
            )) && line.contains(&format!("route=\"{route}\""))
        })
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .reduce(|total, value| total + value)
}

fn dropped_total(gateway: &Gateway, type_name: &str, route: &str) -> Option<u64> {
    plugin_counter(gateway, "log_records_dropped", type_name, route)
}

fn notices_of(gateway: &Gateway, route: &str) -> Vec<Value> {
    records(gateway, NOTICE)
        .into_iter()
        .filter(|record| record["route"] == route)
        .collect()
}

#[test]
fn a_plugin_logs_at_most_its_limit_a_second_and_what_it_drops_is_counted_and_said() {
    let routes = [
        (
            "chatty",
            answered_by_static(
                "/chatty",
                json!({"type": "LogWriter", "config": {"text": "checked the token", "times": 10}}),
            ),
        ),
        (
            "printer",
            answered_by_static(
                "/printer",
                json!({"type": "StderrWriter", "config": {"text": "printed\n"}}),
            ),
        ),
    ];
    let (_config, gateway) = start(&routes, json!([]), json!({"logRecordsPerSecond": 3}));

    // Ten records in one call: three logged, the fourth replaced by the notice, six more
    // dropped quietly.
    assert_eq!(get(&gateway, "/chatty").status, 200);
    let notices = wait_for_records(&gateway, NOTICE, 1);
    let [notice] = notices.as_slice() else {
        panic!("one notice expected: {notices:#?}");
    };
    assert_eq!(notice["level"], "WARN", "{notice}");
    assert_eq!(notice["plugin_type"], "LogWriter", "{notice}");
    assert_eq!(notice["route"], "chatty", "{notice}");
    assert!(
        notice["file"]
            .as_str()
            .unwrap()
            .ends_with("log-writer.wasm")
    );
    assert_eq!(notice["limit"], 3, "{notice}");
    assert_eq!(notice["dropped_before"], 0, "{notice}");
    let logged = records(&gateway, "checked the token");
    assert_eq!(logged.len(), 3, "{logged:#?}");
    for record in &logged {
        assert_eq!(record["level"], "WARN", "{record}");
        assert_eq!(record["route"], "chatty", "{record}");
        assert!(
            record.get("left_out").is_none(),
            "nothing was cut: {record}"
        );
    }
    assert_eq!(dropped_total(&gateway, "LogWriter", "chatty"), Some(7));

    // The next second has a full budget again, and its notice reports the seven before.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&gateway, "/chatty").status, 200);
    let notices = wait_for_records(&gateway, NOTICE, 2);
    assert_eq!(notices.len(), 2, "{notices:#?}");
    assert_eq!(notices[1]["dropped_before"], 7, "{:#}", notices[1]);
    assert_eq!(records(&gateway, "checked the token").len(), 6);
    assert_eq!(dropped_total(&gateway, "LogWriter", "chatty"), Some(14));

    // stderr counts against the same kind of budget: one record per call that wrote.
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(get(&gateway, "/printer").status, 200);
    }
    let within_a_second = started.elapsed() < Duration::from_millis(900);
    wait_for_records(&gateway, "plugin wrote to stderr", 3);
    let printed = records(&gateway, "plugin wrote to stderr");
    if within_a_second {
        assert_eq!(printed.len(), 3, "{printed:#?}");
        // The fourth call's notice follows the third record through the log's queue.
        wait_for_records(&gateway, NOTICE, 3);
        assert_eq!(notices_of(&gateway, "printer").len(), 1);
        assert_eq!(dropped_total(&gateway, "StderrWriter", "printer"), Some(2));
    } else {
        // A machine this slow spread the five calls over two seconds.
        assert!(printed.len() < 5, "{printed:#?}");
    }
}

#[test]
fn a_long_message_is_cut_and_the_embedded_plugins_are_not_limited() {
    let long = "x".repeat(20_000);
    let routes = [
        (
            "long",
            answered_by_static(
                "/long",
                json!({"type": "LogWriter", "config": {"text": long}}),
            ),
        ),
        (
            "captured",
            json!({
                "condition": "${request.uri.path == '/captured'}",
                "handler": {"type": "StaticResponseHandler", "capture": ["RESPONSE"],
                            "config": {"status": 200, "entity": "captured"}}
            }),
        ),
    ];
    let (_config, gateway) = start(&routes, json!([]), json!({"logRecordsPerSecond": 1}));

    assert_eq!(get(&gateway, "/long").status, 200);
    let cut = wait_for_records_where(&gateway, |message| message.starts_with("xxxx"), 1);
    let [cut] = cut.as_slice() else {
        panic!("one record expected: {cut:#?}");
    };
    assert_eq!(cut["message"].as_str().unwrap().len(), 16 * 1024);
    assert_eq!(cut["left_out"], 20_000 - 16 * 1024, "{}", cut["left_out"]);

    // CaptureDecorator logs every message it sees, as IG's does, whatever the limit.
    for _ in 0..5 {
        assert_eq!(get(&gateway, "/captured").status, 200);
    }
    let captured = wait_for_records_where(
        &gateway,
        |message| message.starts_with("capture RESPONSE"),
        5,
    );
    assert_eq!(captured.len(), 5, "{:#?}", gateway.logs());
    assert!(
        records(&gateway, NOTICE)
            .iter()
            .all(|notice| notice["plugin_type"] != "CaptureDecorator"),
        "{:#?}",
        records(&gateway, NOTICE)
    );
}

#[test]
fn a_plugin_failing_on_every_request_is_logged_within_its_budget_and_counted_in_full() {
    let routes = [("trap", answered_by_static("/trap", json!({"type": "Trap"})))];
    let (_config, mut gateway) = start(&routes, json!([]), json!({"logRecordsPerSecond": 2}));

    let started = Instant::now();
    for _ in 0..6 {
        assert_eq!(get(&gateway, "/trap").status, 500);
    }
    let within_a_second = started.elapsed() < Duration::from_millis(900);
    assert_eq!(
        plugin_counter(&gateway, "failures", "Trap", "trap"),
        Some(6)
    );
    let failed = wait_for_records_where(
        &gateway,
        |message| message.starts_with("plugin on-request failed"),
        2,
    );
    if within_a_second {
        assert_eq!(failed.len(), 2, "{failed:#?}");
        assert_eq!(failed[0]["level"], "ERROR", "{:#}", failed[0]);
        assert_eq!(failed[0]["kind"], "trap", "{:#}", failed[0]);
        let notices = notices_of(&gateway, "trap");
        assert_eq!(notices.len(), 1, "{notices:#?}");
        assert_eq!(notices[0]["plugin_type"], "Trap", "{:#}", notices[0]);
        assert_eq!(dropped_total(&gateway, "Trap", "trap"), Some(4));
    } else {
        // A machine this slow spread the six calls over two seconds.
        assert!(failed.len() < 6, "{failed:#?}");
    }
    // Nor does the gateway's edge log a record per failed request beside the budget's.
    let at_the_edge: Vec<String> = gateway
        .stop_and_read_all_logs()
        .into_iter()
        .filter(|line| line.contains("\"message\":\"request failed\""))
        .collect();
    assert!(at_the_edge.is_empty(), "{at_the_edge:#?}");
}

#[test]
fn a_plugin_cannot_add_to_the_gateways_own_counters() {
    let routes = [(
        "forger",
        answered_by_static(
            "/forger",
            json!({"name": "forger", "type": "LogWriter", "config": {
                "text": "counted", "level": "trace", "metric": "failures"
            }}),
        ),
    )];
    let (_config, gateway) = start(&routes, json!([]), json!({"logRecordsPerSecond": 1}));

    for _ in 0..3 {
        assert_eq!(get(&gateway, "/forger").status, 200);
    }
    let refused = wait_for_records_where(
        &gateway,
        |message| message.starts_with("plugin metric refused"),
        1,
    );
    assert_eq!(
        refused.first().map(|record| record["message"].clone()),
        Some(json!(
            "plugin metric refused: the metric name \"failures\" is the gateway's own \
             (ferrogate_plugin_failures_total): not added to"
        )),
        "{refused:#?}"
    );
    assert_eq!(
        refused.len(),
        1,
        "one a second, the others dropped: {refused:#?}"
    );
    assert_eq!(refused[0]["level"], "WARN");
    assert_eq!(refused[0]["object"], "forger");
    let metrics = get(&gateway, "/openig/metrics/prometheus").body;
    assert!(
        !metrics.contains("ferrogate_plugin_failures_total{type=\"LogWriter\""),
        "{metrics}"
    );
    assert_eq!(dropped_total(&gateway, "LogWriter", "forger"), Some(2));
}

//! The `timer`, `capture` and `baseURI` decorators, standard plugins embedded in the binary,
//! on handlers and on filters.

use std::time::Duration;

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, serve};
use serde_json::json;

use crate::{client, get, send};

fn position(logs: &[String], object: &str, needle: &str) -> usize {
    logs.iter()
        .position(|line| line.contains(object) && line.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "no log line of {object} with {needle:?}:\n{}",
                logs.join("\n")
            )
        })
}

#[test]
fn capture_sees_the_four_points_around_a_filter_and_two_around_a_handler() {
    let routes = [(
        "captured",
        json!({
            "condition": "${request.uri.path == '/captured'}",
            "handler": {"type": "Chain", "config": {
                "filters": [{
                    "name": "stamp",
                    "type": "HeaderFilter",
                    "capture": "all",
                    "config": {"messageType": "REQUEST", "add": {"X-Stamped": ["yes"]}}
                }],
                "handler": {"name": "answer", "type": "StaticResponseHandler", "capture": ["REQUEST", "RESPONSE"],
                            "config": {"status": 201, "headers": {"X-Answer": ["42"]}}}
            }}
        }),
    )];
    let (_config, gateway) = serve(&routes);
    assert_eq!(get(&gateway, "/captured").status, 201);
    assert!(
        gateway
            .wait_for_log(&["capture FILTERED_RESPONSE"], Duration::from_secs(5))
            .is_some(),
        "{:#?}",
        gateway.logs()
    );
    let logs = gateway.logs();
    let filter = "\"object\":\"capture@stamp\"";
    let request = position(&logs, filter, "capture REQUEST\\nGET http");
    let filtered_request = position(&logs, filter, "capture FILTERED_REQUEST");
    let response = position(&logs, filter, "capture RESPONSE\\n201");
    let filtered_response = position(&logs, filter, "capture FILTERED_RESPONSE");
    assert!(
        request < filtered_request && filtered_request < response && response < filtered_response
    );
    // What the filter passed on carries its header; what arrived did not.
    assert!(
        logs[filtered_request].contains("x-stamped: yes"),
        "{}",
        logs[filtered_request]
    );
    assert!(!logs[request].contains("x-stamped"), "{}", logs[request]);
    assert!(
        logs[response].contains("x-answer: 42"),
        "{}",
        logs[response]
    );
    assert!(
        logs[request].contains("stamp"),
        "the log names the decorated object"
    );
}

#[test]
fn timer_logs_handlers_and_filters_unless_false() {
    let routes = [
        (
            "timed",
            json!({
                "condition": "${request.uri.path == '/timed'}",
                "handler": {"type": "Chain", "timer": true, "config": {
                    "filters": [{"type": "HeaderFilter", "timer": true, "config": {"messageType": "REQUEST"}}],
                    "handler": {"type": "StaticResponseHandler", "config": {"status": 200}}
                }}
            }),
        ),
        (
            "untimed",
            json!({
                "condition": "${request.uri.path == '/untimed'}",
                "handler": {"name": "quiet", "type": "StaticResponseHandler", "timer": false, "config": {"status": 200}}
            }),
        ),
    ];
    let (_config, gateway) = serve(&routes);
    assert_eq!(get(&gateway, "/timed").status, 200);
    assert!(
        gateway
            .wait_for_log(&["timer: handler finished in"], Duration::from_secs(5))
            .is_some()
    );
    assert!(
        gateway
            .wait_for_log(
                &["timer: filter finished (including what it called) in"],
                Duration::from_secs(5)
            )
            .is_some()
    );
    assert_eq!(get(&gateway, "/untimed").status, 200);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !gateway
            .logs()
            .iter()
            .any(|line| line.contains("quiet") && line.contains("timer"))
    );
}

#[test]
fn base_uri_rebases_before_the_decorated_object() {
    let upstream = Upstream::echo();
    let routes = [(
        "rebased",
        json!({
            "condition": "${find(request.uri.path, '^/rebased')}",
            "handler": {"type": "ClientHandler", "baseURI": format!("{}/prefix/", upstream.base_uri())}
        }),
    )];
    let (_config, gateway) = serve(&routes);
    let reply = send(client().get(gateway.url("/rebased/item?id=3")));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let echo = reply.json();
    assert!(
        echo["uri"]
            .as_str()
            .unwrap()
            .ends_with("/prefix/rebased/item?id=3"),
        "{echo}"
    );
}

#[test]
fn a_per_request_base_uri_rebases_each_request_and_a_bad_value_fails_that_request_only() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "templated",
            json!({
                "condition": "${find(request.uri.path, '^/templated')}",
                "handler": {"name": "app", "type": "ClientHandler",
                            "baseURI": "${request.headers['X-Base'][0]}"}
            }),
        ),
        // A property is a configuration-time value: evaluated once, at load.
        (
            "configured",
            json!({
                "condition": "${find(request.uri.path, '^/configured')}",
                "properties": {"appUrl": upstream.base_uri()},
                "handler": {"type": "ClientHandler", "baseURI": "${appUrl}/from-properties"}
            }),
        ),
    ];
    let (_config, gateway) = serve(&routes);
    let good = format!("{}/tenant-a", upstream.base_uri());
    let reply = send(
        client()
            .get(gateway.url("/templated/x?y=1"))
            .header("X-Base", good.as_str()),
    );
    assert_eq!(reply.status, 200, "{}\n{:#?}", reply.body, gateway.logs());
    let echo = reply.json();
    assert!(
        echo["uri"]
            .as_str()
            .unwrap()
            .ends_with("/tenant-a/templated/x?y=1"),
        "{echo}"
    );
    let bad = send(
        client()
            .get(gateway.url("/templated/x"))
            .header("X-Base", "tenant-b.internal"),
    );
    assert_eq!(bad.status, 500, "{}", bad.body);
    assert!(
        gateway
            .wait_for_log(
                &["tenant-b.internal", "not an absolute URI"],
                Duration::from_secs(5)
            )
            .is_some(),
        "{:#?}",
        gateway.logs()
    );
    // The route keeps serving.
    let again = send(
        client()
            .get(gateway.url("/templated/z"))
            .header("X-Base", good.as_str()),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    let configured = get(&gateway, "/configured/y");
    assert_eq!(configured.status, 200, "{}", configured.body);
    assert!(
        configured.json()["uri"]
            .as_str()
            .unwrap()
            .ends_with("/from-properties/configured/y"),
        "{}",
        configured.body
    );
}

#[test]
fn bad_decorations_are_load_errors_naming_the_object() {
    let config = ConfigDir::new();
    config.write_route(
        "bad.json",
        &json!({"handler": {"name": "answer", "type": "StaticResponseHandler", "capture": "SOMETIMES", "config": {"status": 200}}}),
    );
    config.write_route(
        "relative.json",
        &json!({"handler": {"type": "ClientHandler", "baseURI": "app.internal"}}),
    );
    // Neither a configuration-time value nor one the exchange has: a load error, not a 500
    // on every request.
    config.write_route(
        "unknown.json",
        &json!({"handler": {"type": "ClientHandler", "baseURI": "${nosuch['url']}"}}),
    );
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(
        stderr.contains("bad.json") && stderr.contains("SOMETIMES"),
        "{stderr}"
    );
    assert!(
        stderr.contains("relative.json") && stderr.contains("not an absolute URI"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown.json") && stderr.contains("evaluated to null"),
        "{stderr}"
    );
}

#[test]
fn declared_decorators_take_ig_settings_entity_context_masks_and_time_unit() {
    let routes = [(
        "declared",
        json!({
            "condition": "${find(request.uri.path, '^/declared')}",
            "heap": [
                {"name": "capture", "type": "CaptureDecorator", "config": {
                    "captureEntity": true,
                    "captureContext": true,
                    "maxEntityLength": 64,
                    "masks": {"headers": ["^x-api-key$"], "attributes": ["secret"], "mask": "[hidden]"}
                }},
                {"name": "microtimer", "type": "TimerDecorator", "config": {"timeUnit": "us"}}
            ],
            "handler": {"type": "Chain", "microtimer": true, "config": {
                "filters": [{"type": "AssignmentFilter", "config": {"onRequest": [
                    {"target": "${attributes.secretToken}", "value": "s3cr3t"},
                    {"target": "${attributes.visible}", "value": "shown"}
                ]}}],
                "handler": {"name": "answer", "type": "StaticResponseHandler", "capture": ["RESPONSE"],
                            "config": {"status": 200, "entity": "small body"}}
            }}
        }),
    )];
    let (_config, gateway) = serve(&routes);
    let reply = send(
        client()
            .get(gateway.url("/declared"))
            .header("x-api-key", "k-123"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let captured = gateway
        .wait_for_log(&["capture RESPONSE"], Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{:#?}", gateway.logs()));
    assert!(captured.contains("small body"), "{captured}");
    assert!(captured.contains("contexts: {"), "{captured}");
    // The declaration's own heap overrides config.json's `capture`; masked values never show.
    assert!(
        captured.contains("\\\"visible\\\":\\\"shown\\\""),
        "{captured}"
    );
    assert!(
        captured.contains("\\\"secretToken\\\":\\\"[hidden]\\\""),
        "{captured}"
    );
    assert!(!captured.contains("s3cr3t"), "{captured}");
    let timed = gateway
        .wait_for_log(&["timer: handler finished in"], Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{:#?}", gateway.logs()));
    assert!(timed.contains(" us"), "{timed}");
}

#[test]
fn capture_masks_request_headers_and_bounds_entities() {
    let routes = [(
        "bounded",
        json!({
            "heap": [{"name": "capture", "type": "CaptureDecorator", "config": {
                "captureEntity": true, "maxEntityLength": 16, "masks": {"headers": ["api-key"]}
            }}],
            "handler": {"name": "sink", "type": "StaticResponseHandler", "capture": "REQUEST",
                        "config": {"status": 204}}
        }),
    )];
    let (_config, gateway) = serve(&routes);
    let reply = send(
        client()
            .post(gateway.url("/anything"))
            .header("X-Api-Key", "k-123")
            .body("a body much longer than sixteen bytes"),
    );
    assert_eq!(reply.status, 204);
    let captured = gateway
        .wait_for_log(&["capture REQUEST"], Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{:#?}", gateway.logs()));
    assert!(captured.contains("x-api-key: *****"), "{captured}");
    assert!(!captured.contains("k-123"), "{captured}");
    assert!(
        captured.contains("[entity over 16 bytes, not captured]"),
        "{captured}"
    );
}

#[test]
fn bad_decorator_declarations_are_load_errors_naming_the_file_and_object() {
    let config = ConfigDir::new();
    config.write_route(
        "typo.json",
        &json!({"heap": [{"name": "capture", "type": "CaptureDecorator", "config": {"captureEntty": true}}],
                "handler": {"type": "StaticResponseHandler", "config": {"status": 200}}}),
    );
    config.write_route(
        "unit.json",
        &json!({"heap": [{"name": "slowtimer", "type": "TimerDecorator", "config": {"timeUnit": "fortnights"}}],
                "handler": {"type": "StaticResponseHandler", "config": {"status": 200}}}),
    );
    config.write_route(
        "mask.json",
        &json!({"heap": [{"name": "masked", "type": "CaptureDecorator", "config": {"masks": {"headers": ["("]}}}],
                "handler": {"type": "StaticResponseHandler", "config": {"status": 200}}}),
    );
    config.write_route(
        "base.json",
        &json!({"heap": [{"name": "rebase", "type": "BaseUriDecorator", "config": {"uri": "http://app"}}],
                "handler": {"type": "StaticResponseHandler", "config": {"status": 200}}}),
    );
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    for (file, object, detail) in [
        ("typo.json", "\"capture\"", "captureEntty"),
        ("unit.json", "\"slowtimer\"", "fortnights"),
        ("mask.json", "\"masked\"", "not a regex"),
        ("base.json", "\"rebase\"", "uri"),
    ] {
        let line = stderr
            .lines()
            .find(|line| line.contains(file))
            .unwrap_or_else(|| panic!("no error for {file}:\n{stderr}"));
        let error: String = stderr
            .split(file)
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take(400)
            .collect();
        assert!(
            error.contains(object) && error.contains(detail),
            "{file}: {line}\n{stderr}"
        );
    }
}

//! Runs: adjacent filters of one component that use the same single phase share an instance
//! and one component call per request (host/src/plugin/run.rs). Each object must still act as
//! itself: its own configuration, name, metrics and errors, in chain order.

use std::time::Duration;

use ferrogate_e2e::upstream::Upstream;
use serde_json::{Value, json};

use crate::get;
use crate::plugins_support::{component, configure, install, start};

fn tag(name: &str, phase: &str) -> Value {
    json!({"name": name, "type": "ObjectTag", "config": {"phase": phase}})
}

fn route(path: &str, filters: Value, upstream: &Upstream) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "baseURI": upstream.base_uri(),
        "handler": {"type": "Chain", "config": {"filters": filters, "handler": "ReverseProxyHandler"}}
    })
}

/// The route `responses`: three response-phase tags, `outer`, `middle` and `inner`.
fn three_response_tags(upstream: &Upstream) -> (&'static str, Value) {
    let filters = json!([
        tag("outer", "response"),
        tag("middle", "response"),
        tag("inner", "response")
    ]);
    ("responses", route("/responses", filters, upstream))
}

#[test]
fn adjacent_plugin_filters_run_together_each_as_itself_in_chain_order() {
    let upstream = Upstream::echo();
    let seen = json!({"type": "HeaderFilter", "config": {"messageType": "RESPONSE",
        "add": {"X-Seen": ["${join(request.headers['X-Objects'], ',')}"]}}});
    let routes = [
        three_response_tags(&upstream),
        (
            "requests",
            route(
                "/requests",
                json!([
                    seen,
                    tag("first", "request"),
                    tag("second", "request"),
                    tag("third", "request")
                ]),
                &upstream,
            ),
        ),
        // A request filter of the run answers: the ones after it and the upstream never run.
        (
            "answered",
            route(
                "/answered",
                json!([
                    tag("before", "request"),
                    {"name": "answering", "type": "ObjectTag", "config": {"phase": "request", "answer": 418}},
                    tag("after", "request")
                ]),
                &upstream,
            ),
        ),
        // Runs end where the phase or the component changes.
        (
            "mixed",
            route(
                "/mixed",
                json!([
                    tag("mixed-request", "request"),
                    tag("mixed-response-1", "response"),
                    {"type": "HeaderFilter", "config": {"messageType": "RESPONSE", "add": {"X-Objects": ["header-filter"]}}},
                    tag("mixed-response-2", "response"),
                    tag("mixed-response-3", "response")
                ]),
                &upstream,
            ),
        ),
    ];
    let (_config, gateway) = start(&routes, json!([]), json!({}));

    // Responses go back through the chain from the inside out.
    for _ in 0..3 {
        let reply = get(&gateway, "/responses");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.all("x-objects"), ["inner", "middle", "outer"]);
    }

    let reply = get(&gateway, "/requests");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.all("x-seen"), ["first,second,third"]);

    let answered = get(&gateway, "/answered");
    assert_eq!(answered.status, 418, "{}", answered.body);
    assert_eq!(answered.header("x-answered-by"), Some("answering"));

    let mixed = get(&gateway, "/mixed");
    assert_eq!(mixed.status, 200, "{}", mixed.body);
    assert_eq!(
        mixed.all("x-objects"),
        [
            "mixed-response-3",
            "mixed-response-2",
            "header-filter",
            "mixed-response-1"
        ]
    );
    assert_eq!(mixed.json()["headers"]["x-objects"], "mixed-request");

    // Each object counted its own calls, under its own name and route.
    let metrics = get(&gateway, "/openig/metrics/prometheus").body;
    let count = |object: &str, route: &str| {
        let prefix = format!(
            "ferrogate_plugin_tagged_total{{type=\"ObjectTag\",object=\"{object}\",route=\"{route}\"}} "
        );
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(|value| value.parse::<u64>().unwrap())
    };
    for object in ["outer", "middle", "inner"] {
        assert_eq!(count(object, "responses"), Some(3), "{object}\n{metrics}");
    }
    for object in ["first", "second", "third"] {
        assert_eq!(count(object, "requests"), Some(1), "{object}\n{metrics}");
    }
    assert_eq!(count("before", "answered"), Some(1), "{metrics}");
    assert_eq!(count("answering", "answered"), Some(1), "{metrics}");
    assert_eq!(count("after", "answered"), None, "{metrics}");
}

#[test]
fn a_failing_object_in_a_run_is_the_one_reported() {
    let upstream = Upstream::echo();
    let failing = |name: &str, phase: &str| json!({"name": name, "type": "ObjectTag", "config": {"phase": phase, "fail": true}});
    let routes = [
        (
            "responses",
            route(
                "/responses",
                json!([
                    tag("fine-outer", "response"),
                    failing("broken-response", "response"),
                    tag("fine-inner", "response")
                ]),
                &upstream,
            ),
        ),
        (
            "requests",
            route(
                "/requests",
                json!([
                    tag("fine-first", "request"),
                    failing("broken-request", "request"),
                    tag("never-reached", "request")
                ]),
                &upstream,
            ),
        ),
    ];
    let (_config, gateway) = start(&routes, json!([]), json!({}));

    let reply = get(&gateway, "/responses");
    assert_eq!(reply.status, 500, "{}", reply.body);
    // The log says which object failed and why; the client learns neither.
    assert!(!reply.body.contains("on purpose"), "{}", reply.body);
    assert!(
        gateway
            .wait_for_log(
                &[
                    "broken-response",
                    "on-response",
                    "broken-response failed on purpose"
                ],
                Duration::from_secs(5)
            )
            .is_some(),
        "{:#?}",
        gateway.logs()
    );

    let reply = get(&gateway, "/requests");
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(
        gateway
            .wait_for_log(
                &[
                    "broken-request",
                    "on-request",
                    "broken-request failed on purpose"
                ],
                Duration::from_secs(5)
            )
            .is_some(),
        "{:#?}",
        gateway.logs()
    );
    // The instance survives a plugin's error: the route keeps answering the same way.
    assert_eq!(get(&gateway, "/responses").status, 500);
    let metrics = get(&gateway, "/openig/metrics/prometheus").body;
    assert!(!metrics.contains("object=\"never-reached\""), "{metrics}");
}

#[test]
fn a_run_goes_one_filter_at_a_time_while_its_component_lacks_the_objects_export() {
    let upstream = Upstream::echo();
    let routes = [three_response_tags(&upstream)];
    let config = configure(&[], json!({}), json!([]), &routes);
    install(&config, &component("object-tag"), "tag.wasm");
    let gateway = ferrogate_e2e::Gateway::start(config.path());
    let builds = |reply: &crate::Reply| reply.all("x-tag-build");

    let reply = get(&gateway, "/responses");
    assert_eq!(reply.all("x-objects"), ["inner", "middle", "outer"]);
    assert!(builds(&reply).is_empty());

    // The same type from a component built on the bare filter-plugin world.
    install(&config, &component("plain-world-tag"), "tag.wasm");
    let switched = ferrogate_e2e::eventually(Duration::from_secs(10), || {
        !builds(&get(&gateway, "/responses")).is_empty()
    });
    assert!(switched.is_some(), "the plain-world build never answered");
    let reply = get(&gateway, "/responses");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.all("x-objects"), ["inner", "middle", "outer"]);
    assert_eq!(builds(&reply), ["plain-world"; 3]);

    // And back: the run serves again.
    install(&config, &component("object-tag"), "tag.wasm");
    let back = ferrogate_e2e::eventually(Duration::from_secs(10), || {
        builds(&get(&gateway, "/responses")).is_empty()
    });
    assert!(back.is_some(), "the SDK build never answered again");
    let reply = get(&gateway, "/responses");
    assert_eq!(reply.all("x-objects"), ["inner", "middle", "outer"]);
}

//! Plugin filters, a handler and a decorator through the real binary.

use ferrogate_e2e::upstream::Upstream;
use serde_json::{Value, json};

use crate::plugins_support::start;
use crate::{client, get, send};

fn proxied(path: &str, filter: Value, upstream: &Upstream) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "baseURI": upstream.base_uri(),
        "handler": {"type": "Chain", "config": {"filters": [filter], "handler": "ReverseProxyHandler"}}
    })
}

fn echoed(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("not an echo ({error}): {body}"))
}

#[test]
fn plugin_filters_handlers_and_decorators_use_every_import() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "header",
            proxied(
                "/header",
                json!({"type": "TestHeaderFilter", "config": {"value": "v1"}}),
                &upstream,
            ),
        ),
        (
            "deny",
            proxied("/deny", json!({"type": "TestDenyFilter"}), &upstream),
        ),
        (
            "body",
            proxied("/body", json!({"type": "TestBodyFilter"}), &upstream),
        ),
        (
            "expr",
            proxied("/expr", json!({"type": "TestExprFilter"}), &upstream),
        ),
        (
            "fallback",
            proxied(
                "/fallback",
                json!({"type": "TestFallbackFilter", "config": {"failureHandler": "Teapot"}}),
                &upstream,
            ),
        ),
        (
            "outbound",
            proxied(
                "/outbound",
                json!({"type": "TestOutboundFilter", "config": {"uri": format!("{}/side", upstream.base_uri())}}),
                &upstream,
            ),
        ),
        (
            "hello",
            json!({
                "condition": "${request.uri.path == '/hello'}",
                "handler": {"name": "greeter", "type": "TestHelloHandler"}
            }),
        ),
        (
            "decorated",
            json!({
                "condition": "${request.uri.path == '/decorated'}",
                "handler": {"type": "StaticResponseHandler", "deco": "decoration-value", "config": {"status": 200, "entity": "plain"}}
            }),
        ),
    ];
    let heap = json!([
        {"name": "Teapot", "type": "StaticResponseHandler", "config": {"status": 418, "entity": "short and stout"}},
        {"name": "deco", "type": "TestDecorator"}
    ]);
    let (_config, gateway) = start(&routes, heap, json!({}));

    // Request and response headers; instance state survives between requests (reuse).
    let first = get(&gateway, "/header");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(echoed(&first.body)["headers"]["x-plugin"], "v1");
    assert_eq!(first.header("x-plugin-response"), Some("v1"));
    let second = get(&gateway, "/header");
    assert_eq!(echoed(&second.body)["headers"]["x-count"], "2");

    // Short-circuit.
    let denied = get(&gateway, "/deny");
    assert_eq!(
        (denied.status, denied.body.as_str()),
        (401, "denied by plugin")
    );
    assert_eq!(denied.header("www-authenticate"), Some("Bearer"));
    let allowed = send(
        client()
            .get(gateway.url("/deny"))
            .header("authorization", "Bearer good"),
    );
    assert_eq!(allowed.status, 200);

    // Body read and rewritten.
    let body = send(client().post(gateway.url("/body")).body("hello body"));
    let echo = echoed(&body.body);
    assert_eq!(echo["body"], "HELLO BODY");
    assert_eq!(echo["headers"]["x-body-length"], "10");

    // Expressions, attributes, counters, log, metrics.
    let expr = get(&gateway, "/expr");
    let echo = echoed(&expr.body);
    assert_eq!(echo["headers"]["x-expr"], "GET-from-plugin");
    assert_eq!(echo["headers"]["x-counter"], "1");
    assert!(
        gateway
            .wait_for_log(
                &["expression filter ran", "TestExprFilter"],
                std::time::Duration::from_secs(5)
            )
            .is_some()
    );

    // A heap handler resolved in init.
    assert_eq!(get(&gateway, "/fallback").status, 200);
    let fallback = send(client().get(gateway.url("/fallback")).header("x-fail", "1"));
    assert_eq!(
        (fallback.status, fallback.body.as_str()),
        (418, "short and stout")
    );

    // Outbound HTTP through the host's client.
    let outbound = get(&gateway, "/outbound");
    assert_eq!(outbound.status, 200, "{}", outbound.body);
    let echo = echoed(&outbound.body);
    assert_eq!(echo["headers"]["x-outbound-status"], "200");
    assert_ne!(echo["headers"]["x-outbound-length"], "0");

    // A handler type.
    let hello = get(&gateway, "/hello");
    assert_eq!(hello.status, 200);
    assert!(
        hello.body.starts_with("hello greeter GET http://"),
        "{}",
        hello.body
    );

    // A decorator.
    let decorated = get(&gateway, "/decorated");
    assert_eq!(decorated.body, "plain");
    assert_eq!(
        decorated.header("x-decorated"),
        Some("\"decoration-value\"")
    );
}

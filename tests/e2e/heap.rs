//! Heap semantics through the binary: lookup through the parent heap, inline declarations,
//! duplicates and cycles, global decorators and properties.

use std::time::Duration;

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway, check};
use serde_json::json;

use crate::check::diagnostic_for;
use crate::{body_of, client, get, send, status_of};

fn greeter(entity: &str) -> serde_json::Value {
    json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": entity}})
}

#[test]
fn references_resolve_locally_then_in_config_json_and_inline() {
    let upstream = Upstream::echo();
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &json!({
            "heap": [
                {"name": "Greeter", "type": "StaticResponseHandler", "config": {"status": 200, "entity": "from config.json"}},
                {"name": "Upstream", "type": "ReverseProxyHandler", "baseURI": upstream.base_uri()}
            ],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    config.write_route(
        "parent.json",
        &json!({"condition": "${request.uri.path == '/parent'}", "handler": "Greeter"}),
    );
    config.write_route(
        "local.json",
        &json!({
            "condition": "${request.uri.path == '/local'}",
            "heap": [{"name": "Greeter", "type": "StaticResponseHandler", "config": {"status": 200, "entity": "from the route"}}],
            "handler": "Greeter"
        }),
    );
    config.write_route(
        "through.json",
        &json!({
            "condition": "${request.uri.path == '/through'}",
            "heap": [{"name": "MyChain", "type": "Chain", "config": {"filters": [], "handler": "Greeter"}}],
            "handler": "MyChain"
        }),
    );
    config.write_route(
        "inline.json",
        &json!({
            "condition": "${request.uri.path == '/inline'}",
            "handler": {"type": "Chain", "config": {"handler": greeter("inline")}}
        }),
    );
    config.write_route(
        "decorated.json",
        &json!({"condition": "${request.uri.path == '/decorated'}", "handler": "Upstream"}),
    );
    config.write_route(
        "missing.json",
        &json!({"condition": "${request.uri.path == '/missing'}", "handler": "Gretter"}),
    );
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/parent"), "from config.json");
    assert_eq!(body_of(&gateway, "/local"), "from the route");
    assert_eq!(body_of(&gateway, "/through"), "from config.json");
    assert_eq!(body_of(&gateway, "/inline"), "inline");
    let decorated = get(&gateway, "/decorated");
    assert_eq!(decorated.status, 200, "{}", decorated.body);
    assert_eq!(decorated.json()["uri"], "/decorated");
    assert_eq!(
        status_of(&gateway, "missing.json").as_deref(),
        Some("failed")
    );
    assert_eq!(get(&gateway, "/missing").status, 404);

    let (success, _, stderr) = check(config.path());
    assert!(!success);
    let missing = diagnostic_for(&stderr, "missing.json");
    assert!(
        missing.contains("Gretter") && missing.contains("\"Greeter\""),
        "{missing}"
    );
}

#[test]
fn duplicate_names_and_cycles_are_reported() {
    let config = ConfigDir::new();
    config.write(
        "routes/duplicate.json",
        &serde_json::to_string_pretty(&json!({
            "condition": "${request.uri.path == '/duplicate'}",
            "heap": [
                {"name": "A", "type": "StaticResponseHandler", "config": {"status": 200}},
                {"name": "A", "type": "StaticResponseHandler", "config": {"status": 201}}
            ],
            "handler": "A"
        }))
        .unwrap(),
    );
    config.write(
        "routes/cycle.json",
        &serde_json::to_string_pretty(&json!({
            "condition": "${request.uri.path == '/cycle'}",
            "heap": [
                {"name": "A", "type": "Chain", "config": {"handler": "B"}},
                {"name": "B", "type": "Chain", "config": {"handler": "A"}}
            ],
            "handler": "A"
        }))
        .unwrap(),
    );
    config.write_route(
        "fine.json",
        &json!({"condition": "${request.uri.path == '/fine'}", "handler": greeter("fine")}),
    );

    let (success, _, stderr) = check(config.path());
    assert!(!success, "{stderr}");
    let duplicate = diagnostic_for(&stderr, "duplicate.json");
    assert!(duplicate.contains("\"A\" twice"), "{duplicate}");
    assert!(duplicate.contains("(at /heap/1"), "{duplicate}");
    let cycle = diagnostic_for(&stderr, "cycle.json");
    assert!(
        cycle.contains("reference cycle in the heap: A -> B -> A")
            || cycle.contains("reference cycle in the heap: B -> A -> B"),
        "{cycle}"
    );

    // Serving: both refused, the rest serves (and the cycle does not hang the loader).
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/fine"), "fine");
    assert_eq!(
        status_of(&gateway, "duplicate.json").as_deref(),
        Some("failed")
    );
    assert_eq!(status_of(&gateway, "cycle.json").as_deref(), Some("failed"));
    assert_eq!(get(&gateway, "/cycle").status, 404);

    // The same in config.json.
    let top = ConfigDir::new();
    top.write(
        "config.json",
        &serde_json::to_string_pretty(&json!({
            "heap": [
                {"name": "X", "type": "Chain", "config": {"handler": "Y"}},
                {"name": "Y", "type": "Chain", "config": {"handler": "X"}}
            ],
            "handler": "X"
        }))
        .unwrap(),
    );
    let (success, _, stderr) = check(top.path());
    assert!(!success);
    assert!(
        diagnostic_for(&stderr, "config.json").contains("reference cycle in the heap"),
        "{stderr}"
    );
}

#[test]
fn global_decorators_and_properties_from_a_file() {
    let config = ConfigDir::new();
    config.write(
        "props.json",
        &json!({"greeting": "hi", "tenant": "blue"}).to_string(),
    );
    config.write(
        "config.json",
        &json!({
            "globalDecorators": {"timer": true},
            "properties": {"$location": "props.json"},
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    config.write_route(
        "tenant.json",
        &json!({
            "name": "tenant",
            "condition": "${request.uri.path == '/tenant' && request.headers['X-Tenant'][0] == tenant}",
            "handler": greeter("${greeting}, ${tenant} tenant")
        }),
    );
    let (success, stdout, stderr) = check(config.path());
    assert!(success, "{stdout}{stderr}");

    let gateway = Gateway::start(config.path());
    let blue = send(
        client()
            .get(gateway.url("/tenant"))
            .header("X-Tenant", "blue"),
    );
    assert_eq!((blue.status, blue.body.as_str()), (200, "hi, blue tenant"));
    let red = send(
        client()
            .get(gateway.url("/tenant"))
            .header("X-Tenant", "red"),
    );
    assert_eq!(red.status, 404);
    // The timer decorated the route's handler.
    assert!(
        gateway
            .wait_for_log(&["timer: handler finished"], Duration::from_secs(2))
            .is_some(),
        "no timer log line:\n{}",
        gateway.logs().join("\n")
    );
}

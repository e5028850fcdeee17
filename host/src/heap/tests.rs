//! Heap semantics: lookup through parents, inline objects, duplicates, cycles, decorators,
//! properties.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use futures_util::FutureExt;

use crate::config::ConfigErrors;
use crate::exchange::test_support::exchange;
use crate::gateway::Gateway;
use crate::heap::{BuildMode, TypeRegistry};

fn load(
    config: &str,
    files: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Gateway, ConfigErrors>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("routes")).unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let gateway = Gateway::load(
        dir.path(),
        BuildMode::Check,
        Arc::new(TypeRegistry::standard()),
    );
    (dir, gateway)
}

fn errors_of(config: &str) -> String {
    match load(config, &[]).1 {
        Ok(_) => panic!("configuration should have been refused"),
        Err(errors) => errors.to_string(),
    }
}

fn body_of(gateway: &Gateway, uri: &str) -> (u16, String) {
    let mut exchange = exchange("GET", uri);
    let response = gateway
        .handle(&mut exchange)
        .now_or_never()
        .expect("static handlers answer at once")
        .unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .now_or_never()
        .unwrap()
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

const STATIC_OK: &str =
    r#"{"type": "StaticResponseHandler", "config": {"status": 200, "entity": "ok"}}"#;

#[test]
fn a_name_resolves_in_the_same_heap_and_declaration_order_does_not_matter() {
    let config = r#"{"handler": "main", "heap": [
        {"name": "main", "type": "Chain", "config": {"filters": [], "handler": "answer"}},
        {"name": "answer", "type": "StaticResponseHandler", "config": {"status": 201, "entity": "from heap"}}
    ]}"#;
    let (_dir, gateway) = load(config, &[]);
    let gateway = gateway.unwrap();
    assert_eq!(
        body_of(&gateway, "http://gw/x"),
        (201, "from heap".to_owned())
    );
}

#[test]
fn an_inline_declaration_builds_without_a_name() {
    let config = format!(r#"{{"handler": {STATIC_OK}}}"#);
    let (_dir, gateway) = load(&config, &[]);
    assert_eq!(
        body_of(&gateway.unwrap(), "http://gw/"),
        (200, "ok".to_owned())
    );
}

#[test]
fn duplicate_heap_names_are_refused_with_both_positions() {
    let message = errors_of(
        r#"{"handler": "a", "heap": [
  {"name": "a", "type": "StaticResponseHandler", "config": {"status": 200}},
  {"name": "a", "type": "StaticResponseHandler", "config": {"status": 201}}
]}"#,
    );
    assert!(message.contains("config.json:3:3"), "{message}");
    assert!(message.contains("declares \"a\" twice"), "{message}");
    assert!(message.contains("/heap/0"), "{message}");
}

#[test]
fn a_reference_cycle_is_refused_and_named() {
    let message = errors_of(
        r#"{"handler": "a", "heap": [
  {"name": "a", "type": "Chain", "config": {"handler": "b"}},
  {"name": "b", "type": "Chain", "config": {"handler": "a"}}
]}"#,
    );
    assert!(
        message.contains("reference cycle in the heap: a -> b -> a"),
        "{message}"
    );
}

#[test]
fn an_unknown_reference_suggests_a_close_name() {
    let message = errors_of(
        r#"{"handler": "answr", "heap": [
  {"name": "answer", "type": "StaticResponseHandler", "config": {"status": 200}}
]}"#,
    );
    assert!(
        message.contains("no heap object is named \"answr\""),
        "{message}"
    );
    assert!(message.contains("did you mean \"answer\""), "{message}");
}

#[test]
fn an_unknown_type_lists_the_known_ones() {
    let message =
        errors_of(r#"{"handler": {"type": "StaticResponseHandlr", "config": {"status": 200}}}"#);
    assert!(message.contains("config.json:1:22"), "{message}");
    assert!(
        message.contains("unknown type \"StaticResponseHandlr\""),
        "{message}"
    );
    assert!(
        message.contains("did you mean \"StaticResponseHandler\""),
        "{message}"
    );
    assert!(message.contains("DispatchHandler"), "{message}");
}

#[test]
fn an_unknown_config_key_points_at_the_key_with_a_hint() {
    let message = errors_of(
        r#"{"handler": {"type": "StaticResponseHandler", "config": {"status": 200, "entitty": "x"}}}"#,
    );
    assert!(message.contains("\"entitty\""), "{message}");
    assert!(message.contains("did you mean \"entity\""), "{message}");
    assert!(message.contains("/handler/config/entitty"), "{message}");
}

#[test]
fn a_filter_where_a_handler_is_needed_is_refused() {
    let message =
        errors_of(r#"{"handler": {"type": "ChainOfFilters", "config": {"filters": []}}}"#);
    assert!(
        message.contains("refers to a filter, but a handler is needed"),
        "{message}"
    );
}

#[test]
fn the_always_present_objects_are_there_and_can_be_overridden() {
    let config = r#"{"handler": {"type": "Chain", "config": {"handler": "ReverseProxyHandler"}}, "heap": [
        {"name": "timer", "type": "TimerDecorator"}
    ]}"#;
    let (_dir, gateway) = load(config, &[]);
    assert!(
        gateway.is_ok(),
        "{:?}",
        gateway.err().map(|e| e.to_string())
    );
    for name in [
        "ClientHandler",
        "ReverseProxyHandler",
        "ProxyOptions",
        "capture",
        "timer",
        "baseURI",
        "SystemAndEnvSecretStore",
    ] {
        let gateway = gateway.as_ref().unwrap();
        assert!(
            gateway.heap.get(name).is_some(),
            "{name} should be in the top-level heap"
        );
    }
}

#[test]
fn decorator_keys_apply_in_order_and_unknown_ones_are_errors() {
    let config = r#"{"handler": {"type": "StaticResponseHandler", "config": {"status": 200}, "timer": true, "capture": "all"}}"#;
    let (_dir, gateway) = load(config, &[]);
    assert!(gateway.is_ok());
    let message = errors_of(
        r#"{"handler": {"type": "StaticResponseHandler", "config": {"status": 200}, "timmer": true}}"#,
    );
    assert!(message.contains("unknown key \"timmer\""), "{message}");
    assert!(
        message.contains("did you mean the decorator \"timer\""),
        "{message}"
    );
}

#[test]
fn base_uri_decoration_is_validated_at_load() {
    let message = errors_of(
        r#"{"handler": {"type": "StaticResponseHandler", "config": {"status": 200}, "baseURI": "not a uri"}}"#,
    );
    assert!(message.contains("baseURI"), "{message}");
}

#[test]
fn global_decorators_must_name_decorators() {
    let message = errors_of(&format!(
        r#"{{"handler": {STATIC_OK}, "globalDecorators": {{"capture": "all", "tmer": true}}}}"#
    ));
    assert!(message.contains("tmer"), "{message}");
    let (_dir, gateway) = load(
        &format!(r#"{{"handler": {STATIC_OK}, "globalDecorators": {{"timer": true}}}}"#),
        &[],
    );
    assert_eq!(
        body_of(&gateway.unwrap(), "http://gw/"),
        (200, "ok".to_owned())
    );
}

#[test]
fn properties_are_evaluated_in_order_and_loaded_from_location() {
    let config = r#"{
        "properties": {"host": "app.example.com", "base": "http://${host}:8080", "fromFile": {"$location": "value.txt"}, "json": {"$location": "values.json"}},
        "handler": {"type": "StaticResponseHandler", "config": {"status": 200, "entity": "${base} ${fromFile} ${json.port}"}}
    }"#;
    let (_dir, gateway) = load(
        config,
        &[
            ("value.txt", "from a file\n"),
            ("values.json", r#"{"port": 9090}"#),
        ],
    );
    let gateway = gateway.unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(
        body_of(&gateway, "http://gw/"),
        (
            200,
            "http://app.example.com:8080 from a file 9090".to_owned()
        )
    );
}

#[test]
fn configuration_time_expressions_read_env_and_fail_clearly_on_null() {
    let message = errors_of(
        r#"{"handler": {"type": "Router", "config": {"directory": "${env['FERROGATE_TEST_SURELY_UNSET']}"}}}"#,
    );
    assert!(message.contains("evaluated to null"), "{message}");
}

#[test]
fn a_missing_handler_in_config_json_says_what_to_add() {
    let message = errors_of(r#"{"heap": []}"#);
    assert!(
        message.contains("config.json has no \"handler\""),
        "{message}"
    );
    assert!(message.contains("_router"), "{message}");
}

//! A plugin file replaced while requests flow: no request fails, new requests use the new
//! version, with reused instances and with a fresh instance per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::plugins_support::{component, configure, hello_v2, install};
use crate::{client, try_send};

fn replaced_while_serving(instances: &str) {
    let routes = [(
        "hello",
        json!({"handler": {"type": "HelloHandler", "config": {"message": "hello"}}}),
    )];
    let config = configure(&[], json!({"instances": instances}), json!([]), &routes);
    install(&config, &component("hello-handler"), "hello.wasm");
    let gateway = ferrogate_e2e::Gateway::start(config.path());
    let stop = Arc::new(AtomicBool::new(false));
    let url = gateway.url("/x");
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let client = client();
            let mut versions = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let reply = try_send(client.get(&url)).unwrap();
                assert_eq!(reply.status, 200, "{}", reply.body);
                let version = reply.header("x-plugin-version").unwrap_or("none");
                if versions.last().map(String::as_str) != Some(version) {
                    versions.push(version.to_owned());
                }
            }
            versions
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    install(&config, &hello_v2(), "hello.wasm");
    let switched = ferrogate_e2e::eventually(Duration::from_secs(10), || {
        try_send(client().get(gateway.url("/x")))
            .is_ok_and(|reply| reply.header("x-plugin-version") == Some("2"))
    });
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let versions = load.join().unwrap();
    assert!(switched.is_some(), "the new version never answered");
    // Once switched, never back: every new request uses the new version.
    assert_eq!(versions, ["1", "2"], "{instances}");
    assert!(
        gateway
            .wait_for_log(&["plugin reloaded", "hello.wasm"], Duration::from_secs(5))
            .is_some()
    );
}

#[test]
fn a_replaced_plugin_serves_new_requests_without_failures_when_instances_are_reused() {
    replaced_while_serving("reuse");
}

#[test]
fn a_replaced_plugin_serves_new_requests_without_failures_with_fresh_instances() {
    replaced_while_serving("fresh");
}

//! A plugin file replaced while requests flow: no request fails, the new version shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::plugins_support::{copy_plugin, fixtures, start};
use crate::{client, try_send};

#[test]
fn a_replaced_plugin_is_used_without_restart_and_without_failures() {
    let routes = [(
        "hello",
        json!({"handler": {"name": "greeter", "type": "TestHelloHandler"}}),
    )];
    let (config, gateway) = start(&routes, json!([]), json!({"instances": "fresh"}));
    let stop = Arc::new(AtomicBool::new(false));
    let url = gateway.url("/x");
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let reply = try_send(client().get(&url)).unwrap();
                assert_eq!(reply.status, 200, "{}", reply.body);
                seen.push(reply.body.split(' ').next().unwrap_or_default().to_owned());
            }
            seen
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    copy_plugin(&config, &fixtures().handler_v2, "hello.wasm");
    let switched = ferrogate_e2e::eventually(Duration::from_secs(10), || {
        try_send(client().get(gateway.url("/x")))
            .is_ok_and(|reply| reply.body.starts_with("hello-v2 "))
    });
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let seen = load.join().unwrap();
    assert!(switched.is_some(), "the new version never answered");
    assert!(
        seen.contains(&"hello".to_owned()) && seen.contains(&"hello-v2".to_owned()),
        "{seen:?}"
    );
}

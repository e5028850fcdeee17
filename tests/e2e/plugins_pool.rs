//! More plugin objects than the pooling allocator has instance slots (1,000, process-wide):
//! each object keeps the instance its validation made, so without shedding idle instances
//! for room the configuration would not load.

use ferrogate_e2e::{ConfigDir, Gateway, check};
use serde_json::json;

use crate::get;

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

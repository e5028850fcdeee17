//! Plugin settings, secret grants, shared counters and metric rendering.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::shared;
use super::*;

fn load_settings(config: &str) -> Result<(PluginSettings, Limits), ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    settings_from_config(dir.path())
}

#[test]
fn sizes_accept_the_usual_units() {
    assert_eq!(parse_memory("64 MiB"), Ok(64 << 20));
    assert_eq!(parse_memory("64MiB"), Ok(64 << 20));
    assert_eq!(parse_memory("512 kib"), Ok(512 << 10));
    assert_eq!(parse_memory("1 GiB"), Ok(1 << 30));
    assert_eq!(parse_memory("4096"), Ok(4096));
    assert!(
        parse_memory("12 parsecs")
            .unwrap_err()
            .contains("KiB, MiB or GiB")
    );
    assert!(parse_memory("MiB").is_err());
}

#[test]
fn absent_settings_are_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, limits) = settings_from_config(dir.path()).unwrap();
    assert!(settings.directories.is_empty());
    assert_eq!(limits.deadline, Duration::from_secs(1));
    assert_eq!(limits.memory, 64 << 20);
    assert_eq!(limits.instances, InstanceMode::Reuse);
    assert_eq!(limits.log_records_per_second, 100);

    let (_, limits) = load_settings(r#"{"heap": []}"#).unwrap();
    assert_eq!(limits.memory, 64 << 20);
}

#[test]
fn settings_are_read_from_config_json() {
    let (settings, limits) = load_settings(
        r#"{"plugins": {"directories": ["a", "b"], "deadline": "250 ms", "memory": "8 MiB", "instances": "fresh", "instanceSlots": 3000, "logRecordsPerSecond": 5}}"#,
    )
    .unwrap();
    assert_eq!(
        settings.directories,
        [PathBuf::from("a"), PathBuf::from("b")]
    );
    assert_eq!(limits.deadline, Duration::from_millis(250));
    assert_eq!(limits.memory, 8 << 20);
    assert_eq!(limits.instances, InstanceMode::Fresh);
    assert_eq!(limits.instance_slots, 3000);
    assert_eq!(limits.log_records_per_second, 5);
    assert_eq!(
        limits.sizing(),
        engine::Sizing {
            memory: 8 << 20,
            instance_slots: 3000
        }
    );
}

#[test]
fn bad_settings_name_the_setting_and_the_file() {
    let error = load_settings(r#"{"plugins": {"memory": "1 KiB"}}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("config.json"), "{error}");
    assert!(error.contains("at least 1 MiB"), "{error}");

    let error = load_settings(r#"{"plugins": {"deadline": "forever"}}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"deadline\""), "{error}");

    for slots in [0, 15, 10_001] {
        let error = load_settings(&format!(r#"{{"plugins": {{"instanceSlots": {slots}}}}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!(
                "\"instanceSlots\": {slots} is out of range; use 16 to 10000"
            )),
            "{error}"
        );
    }

    let error = load_settings(r#"{"plugins": {"logRecordsPerSecond": 0}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("\"logRecordsPerSecond\": 0") && error.contains("at least 1"),
        "{error}"
    );

    let error = load_settings(r#"{"plugins": {"logRecordsPerSecond": -1}}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("logRecordsPerSecond"), "{error}");

    let error = load_settings(r#"{"plugins": {"instance": "fresh"}}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("instance"), "{error}");

    let error = load_settings(r#"{"plugins": {"instances": "pooled"}}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("pooled"), "{error}");
}

#[test]
fn only_ids_named_by_secret_id_keys_are_granted() {
    let config = serde_json::json!({
        "passwordSecretId": "db.password",
        "nested": [{"signingSecretId": "jwt.key"}],
        "signature": {"secretId": "jwt.signing"},
        "secret": "not-granted",
        "otherSecretId": 42
    });
    let mut granted = Vec::new();
    collect_secret_ids(&config, &mut granted);
    granted.sort();
    assert_eq!(granted, ["db.password", "jwt.key", "jwt.signing"]);
}

#[test]
fn counters_count_within_a_window_and_restart_after_it() {
    let key = "tests/counters-window";
    assert_eq!(shared::increment(key, 1, 60_000).0, 1);
    let (value, remaining) = shared::increment(key, 2, 60_000);
    assert_eq!(value, 3);
    assert!(remaining > 0 && remaining <= 60_000);

    let short = "tests/counters-expiry";
    assert_eq!(shared::increment(short, 5, 20).0, 5);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(shared::increment(short, 1, 20).0, 1);
}

#[test]
fn try_increment_stops_at_the_limit_and_leaves_the_count() {
    let key = "tests/try-increment";
    assert_eq!(shared::try_increment(key, 1, 2, 60_000).map(|c| c.0), Ok(1));
    assert_eq!(shared::try_increment(key, 1, 2, 60_000).map(|c| c.0), Ok(2));
    assert_eq!(
        shared::try_increment(key, 1, 2, 60_000).map_err(|c| c.0),
        Err(2)
    );
    // A larger allowance later still sees the refused attempt uncounted.
    assert_eq!(shared::try_increment(key, 1, 5, 60_000).map(|c| c.0), Ok(3));
}

#[test]
fn plugin_metrics_render_as_prometheus_counters() {
    let object = state::ObjectInfo {
        type_name: "Tést\"Type".into(),
        object_name: "line\nbreak".into(),
        route: Some("metrics-route".into()),
        file: "test".into(),
        config: "{}".into(),
        declaration: "{}".into(),
        secrets: Vec::new(),
        client: None,
        secrets_provider: None,
        handlers: OnceLock::new(),
        filters: OnceLock::new(),
        decoration_point: None,
        log_budget: None,
    };
    shared::plugin_counter_add("cache hits", &object, 2).unwrap();
    shared::plugin_counter_add("cache hits", &object, 3).unwrap();
    // The host's counters are its own: a plugin's name that reduces to one is refused.
    shared::counter_add("failures", &object, 1);
    let refused = shared::plugin_counter_add("failures", &object, 1000).unwrap_err();
    assert!(
        refused.contains("\"failures\" is the gateway's own"),
        "{refused}"
    );
    assert!(shared::plugin_counter_add("log-records-dropped", &object, 1).is_err());
    let mut out = String::new();
    shared::render_metrics(&mut out);
    assert!(
        out.contains("# TYPE ferrogate_plugin_cache_hits_total counter\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "ferrogate_plugin_cache_hits_total{type=\"Tést\\\"Type\",object=\"line\\nbreak\",route=\"metrics-route\"} 5\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "ferrogate_plugin_failures_total{type=\"Tést\\\"Type\",object=\"line\\nbreak\",route=\"metrics-route\"} 1\n"
        ),
        "{out}"
    );
}

/// Which standard plugins are called without a fiber (docs/plugin-runtime.md lists them):
/// all but those that read a body, call a heap handler or call out through the host's client.
#[test]
fn standard_plugins_that_wait_on_nothing_are_immediate() {
    let runtime = engine::runtime(engine::Sizing::default()).unwrap();
    let on_a_fiber: Vec<&str> = embedded::EMBEDDED
        .iter()
        .filter(|plugin| {
            !loader::open_embedded(runtime, plugin.name, plugin.wasm)
                .unwrap()
                .current()
                .immediate
        })
        .map(|plugin| plugin.name)
        .collect();
    assert_eq!(
        on_a_fiber,
        [
            "capture-decorator",
            "condition-enforcement-filter",
            "cors-filter",
            "entity-extract-filter",
            "http-basic-auth-filter",
            "oauth2-resource-server-filter",
            "switch-filter",
        ]
    );
}

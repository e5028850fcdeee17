//! A plugin's stderr reaches the log: per call, with the plugin, route and transaction, at
//! error level beside the failure it explains, bounded, and never forging a record; a trap's
//! backtrace names the plugin's functions.

use std::time::Duration;

use ferrogate_e2e::Gateway;
use serde_json::{Value, json};

use crate::plugins_support::{ALL, configure, start, wait_for_records, wait_for_records_where};
use crate::{chain, get};

fn route(path: &str, filter: Value) -> Value {
    chain(
        path,
        json!([filter]),
        json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "reached"}}),
    )
}

#[test]
fn a_panics_message_is_logged_with_its_failure_and_the_backtrace_names_functions() {
    let routes = [("panic", route("/panic", json!({"type": "Panic"})))];
    let (_config, gateway) = start(&routes, json!([]), json!({}));

    let reply = get(&gateway, "/panic");
    assert_eq!(reply.status, 500);
    assert!(
        !reply.body.contains("plugin panic"),
        "the panic's message leaks to the client: {}",
        reply.body
    );

    let written = wait_for_records(&gateway, "plugin wrote to stderr before it failed", 1);
    let [written] = written.as_slice() else {
        panic!("one record expected: {written:#?}");
    };
    assert_eq!(written["level"], "ERROR", "{written}");
    assert_eq!(written["plugin_type"], "Panic", "{written}");
    assert_eq!(written["route"], "panic", "{written}");
    assert!(written["file"].as_str().unwrap().ends_with("panic.wasm"));
    let stderr = written["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("panicked at") && stderr.contains("plugin panic on GET"),
        "{stderr}"
    );
    assert_eq!(written["left_out"], 0);

    let failure = wait_for_records_where(
        &gateway,
        |message| message.starts_with("plugin on-request failed"),
        1,
    )
    .into_iter()
    .next()
    .expect("the failure is logged");
    let transaction = written["transaction"].as_str().unwrap();
    assert!(!transaction.is_empty());
    assert_eq!(
        failure["transaction"].as_str(),
        Some(transaction),
        "{failure}"
    );
    let message = failure["message"].as_str().unwrap();
    // The plugin keeps its `name` section and the runtime demangles it.
    assert!(
        message.contains("<panic::Panic as ferrogate_sdk::Filter>::on_request"),
        "{message}"
    );
}

#[test]
fn what_a_plugin_writes_to_stderr_is_logged_per_call_and_bounded() {
    let routes = [
        (
            "chatty",
            route(
                "/chatty",
                json!({"type": "StderrWriter", "config": {"text": "checked the token\n"}}),
            ),
        ),
        (
            "flood",
            route(
                "/flood",
                json!({"type": "StderrWriter", "config": {
                    "text": format!("{}\n", "x".repeat(999)),
                    "times": 100
                }}),
            ),
        ),
        (
            "quiet",
            route(
                "/quiet",
                json!({"type": "AddRequestHeader", "config": {"name": "X-A", "value": "1"}}),
            ),
        ),
    ];
    let (_config, gateway) = start(&routes, json!([]), json!({}));

    for _ in 0..2 {
        assert_eq!(get(&gateway, "/chatty").status, 200);
    }
    let written = wait_for_records(&gateway, "plugin wrote to stderr", 2);
    assert_eq!(written.len(), 2, "{written:#?}");
    for record in &written {
        assert_eq!(record["level"], "WARN", "{record}");
        assert_eq!(record["plugin_type"], "StderrWriter", "{record}");
        assert_eq!(record["route"], "chatty", "{record}");
        // Each call's own output: the instance is reused, its stderr taken after each call.
        assert_eq!(record["stderr"], "checked the token", "{record}");
    }
    assert_ne!(
        written[0]["transaction"], written[1]["transaction"],
        "{written:#?}"
    );

    // 100,000 bytes in one call: the last 4 KiB are logged, and how much was left out.
    assert_eq!(get(&gateway, "/flood").status, 200);
    let written = wait_for_records(&gateway, "plugin wrote to stderr", 3);
    let flood = written
        .iter()
        .find(|record| record["route"] == "flood")
        .unwrap_or_else(|| panic!("{written:#?}"));
    let stderr = flood["stderr"].as_str().unwrap();
    assert_eq!(stderr.len(), 4096 - 1, "the last newline is cut");
    assert!(stderr.ends_with('x') && stderr.contains("x\nx"));
    assert_eq!(flood["left_out"], 100_000 - 4096, "{flood}");

    // A plugin that writes nothing adds no record.
    assert_eq!(get(&gateway, "/quiet").status, 200);
    assert_eq!(get(&gateway, "/chatty").status, 200);
    let written = wait_for_records(&gateway, "plugin wrote to stderr", 4);
    assert!(
        written.iter().all(|record| record["route"] != "quiet"),
        "{written:#?}"
    );
    assert_eq!(written.len(), 4, "{written:#?}");
}

#[test]
fn in_the_text_log_what_a_plugin_wrote_can_never_start_a_record() {
    let forged = "2026-12-05T00:00:00.000000Z  INFO ferrogate: forged record";
    let routes = [
        (
            "broken",
            route(
                "/broken",
                json!({"type": "StderrWriter", "config": {
                    "text": "x",
                    "initError": format!("bad value\n{forged}")
                }}),
            ),
        ),
        (
            "chatty",
            route(
                "/chatty",
                json!({"type": "StderrWriter", "config": {"text": format!("note\n{forged}\n")}}),
            ),
        ),
        ("panic", route("/panic", json!({"type": "Panic"}))),
    ];
    let config = configure(ALL, json!({}), json!([]), &routes);
    let gateway = Gateway::start_with(config.path(), &["--log-format", "text"], &[]);
    assert_eq!(get(&gateway, "/chatty").status, 200);
    assert_eq!(get(&gateway, "/panic").status, 500);

    let logged = |needles: &[&str]| {
        gateway
            .wait_for_log(needles, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no line with {needles:?} in {:#?}", gateway.logs()))
    };
    let load_error = logged(&["route failed to load", "broken.json"]);
    assert!(
        load_error.contains(&format!("bad value\\n{forged}")),
        "{load_error}"
    );
    let written = logged(&["plugin wrote to stderr", "StderrWriter"]);
    assert!(written.contains("note\\n"), "{written}");
    // The failure's backtrace, its lines escaped, and the function the plugin named.
    let failed = logged(&["plugin on-request failed", "Panic"]);
    assert!(
        failed.contains("wasm backtrace:\\n")
            && failed.contains("<panic::Panic as ferrogate_sdk::Filter>::on_request"),
        "{failed}"
    );
    let lines = gateway.logs();
    assert!(
        lines.iter().all(|line| !line.starts_with(forged)
            && line.starts_with(|first: char| first.is_ascii_digit())),
        "a line that is not a record of the gateway's:\n{}",
        lines.join("\n")
    );
}

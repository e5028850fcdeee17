//! Broken route files while serving: the previous version of a route keeps serving, other
//! routes are unaffected, the admin listing says what is wrong and where.

use ferrogate_e2e::{ConfigDir, Gateway};

use crate::traffic::{Traffic, ok};
use crate::{RELOAD_LIMIT, body_of, entry, locates, path_route, settles, status_of, within};

/// A route on `/changing`, as text so the line numbers below are known.
fn route_text(condition: &str, handler_type: &str, body: &str) -> String {
    format!(
        r#"{{
  "condition": "{condition}",
  "handler": {{
    "type": "{handler_type}",
    "config": {{
      "status": 200,
      "entity": "{body}"
    }}
  }}
}}
"#
    )
}

const CONDITION: &str = "${request.uri.path == '/changing'}";

/// (what is broken, file text, the line the error must point at)
fn broken_versions() -> Vec<(&'static str, String, usize)> {
    let bad_json = route_text(CONDITION, "StaticResponseHandler", "x")
        .replace("\"status\": 200,", "\"status\": 200,,");
    vec![
        ("bad JSON", bad_json, 6),
        (
            "unknown type",
            route_text(CONDITION, "StaticResponseHandlr", "x"),
            4,
        ),
        (
            "bad expression",
            route_text("${request.method ==}", "StaticResponseHandler", "x"),
            2,
        ),
    ]
}

#[test]
fn a_broken_file_leaves_its_previous_version_serving_until_fixed() {
    let config = ConfigDir::new();
    config.write_route("stable.json", &path_route("/stable", "stable"));
    config.write(
        "routes/changing.json",
        &route_text(CONDITION, "StaticResponseHandler", "good-0"),
    );
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/changing"), "good-0");
    let traffic = Traffic::start(
        &gateway,
        ("/stable", "stable"),
        "/changing",
        &[&ok("good-0")],
    );

    for (round, (what, text, line)) in broken_versions().into_iter().enumerate() {
        let serving = format!("good-{round}");
        config.write("routes/changing.json", &text);
        settles(&format!("{what}: the route marked stale"), || {
            status_of(&gateway, "changing.json").as_deref() == Some("stale")
        });
        let stale = entry(&gateway, "changing.json").unwrap();
        let error = stale["error"].as_str().unwrap_or_default();
        let located = locates(error, "changing.json");
        assert!(
            located.is_some_and(|(at_line, column)| at_line == line && column > 0),
            "{what}: the error should point at changing.json:{line}:<column>: {error}"
        );
        assert_eq!(stale["_id"], "changing", "{what}: {stale}");
        assert_eq!(
            body_of(&gateway, "/changing"),
            serving,
            "{what}: the previous version serves"
        );
        assert_eq!(body_of(&gateway, "/stable"), "stable", "{what}");
        traffic.await_answers(&ok(&serving), 10);

        let fixed = format!("good-{}", round + 1);
        traffic.allow(&ok(&fixed));
        config.write(
            "routes/changing.json",
            &route_text(CONDITION, "StaticResponseHandler", &fixed),
        );
        within(
            RELOAD_LIMIT,
            &format!("{what}: the fixed file serving"),
            || body_of(&gateway, "/changing") == fixed,
        );
        traffic.forbid(&ok(&serving));
        let deployed = entry(&gateway, "changing.json").unwrap();
        assert_eq!(deployed["status"], "deployed", "{deployed}");
        assert!(
            deployed.get("error").is_none_or(serde_json::Value::is_null),
            "{deployed}"
        );
    }
    traffic.finish();
}

#[test]
fn a_new_broken_file_serves_nothing_and_is_reported_failed() {
    let config = ConfigDir::new();
    config.write_route("stable.json", &path_route("/stable", "stable"));
    // Broken from the start: the gateway starts anyway.
    config.write(
        "routes/early.json",
        &route_text(
            "${request.uri.path == '/early'}",
            "StaticResponseHandlr",
            "x",
        ),
    );
    let gateway = Gateway::start(config.path());
    assert_eq!(status_of(&gateway, "early.json").as_deref(), Some("failed"));
    assert_eq!(body_of(&gateway, "/early"), "<404>");

    for (what, text, line) in broken_versions() {
        let text = text.replace("/changing", "/late");
        config.write("routes/late.json", &text);
        settles(&format!("{what}: the new file reported"), || {
            status_of(&gateway, "late.json").as_deref() == Some("failed")
        });
        let failed = entry(&gateway, "late.json").unwrap();
        assert!(
            failed.get("_id").is_none(),
            "{what}: a failed file has no route: {failed}"
        );
        let error = failed["error"].as_str().unwrap_or_default();
        assert_eq!(
            locates(error, "late.json").map(|(line, _)| line),
            Some(line),
            "{what}: {error}"
        );
        assert_eq!(body_of(&gateway, "/late"), "<404>", "{what}");
        assert_eq!(body_of(&gateway, "/stable"), "stable", "{what}");
        config.remove("routes/late.json");
        settles("the broken file forgotten", || {
            entry(&gateway, "late.json").is_none()
        });
    }

    config.write(
        "routes/late.json",
        &route_text(
            "${request.uri.path == '/late'}",
            "StaticResponseHandler",
            "late",
        ),
    );
    within(RELOAD_LIMIT, "the fixed file serving", || {
        body_of(&gateway, "/late") == "late"
    });
}

/// A file that cannot be read as text is reported like any other broken file, by `check` and
/// in the admin listing, rather than silently skipped.
#[test]
fn an_unreadable_route_file_is_reported() {
    let config = ConfigDir::new();
    config.write_route("stable.json", &path_route("/stable", "stable"));
    let mut bytes = route_text(
        "${request.uri.path == '/latin1'}",
        "StaticResponseHandler",
        "caf",
    )
    .into_bytes();
    let at = bytes.iter().position(|&b| b == b'f').unwrap() + 1;
    bytes.insert(at, 0xE9);
    std::fs::write(config.routes().join("latin1.json"), &bytes).unwrap();

    let (success, _, stderr) = ferrogate_e2e::check(config.path());
    assert!(!success, "check must report the file:\n{stderr}");
    assert!(
        crate::check::diagnostic_for(&stderr, "latin1.json").contains("UTF-8"),
        "{stderr}"
    );

    let gateway = Gateway::start(config.path());
    assert_eq!(
        status_of(&gateway, "latin1.json").as_deref(),
        Some("failed")
    );
    assert_eq!(body_of(&gateway, "/stable"), "stable");
    std::fs::write(config.routes().join("late-latin1.json"), &bytes).unwrap();
    settles("a new unreadable file reported", || {
        status_of(&gateway, "late-latin1.json").as_deref() == Some("failed")
    });
    config.write(
        "routes/latin1.json",
        &route_text(
            "${request.uri.path == '/latin1'}",
            "StaticResponseHandler",
            "fixed",
        ),
    );
    within(RELOAD_LIMIT, "the fixed file serving", || {
        body_of(&gateway, "/latin1") == "fixed"
    });
}

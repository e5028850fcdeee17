use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::*;

fn file(name: &str) -> Option<Arc<Path>> {
    Some(Arc::from(Path::new(name)))
}

#[test]
fn display_with_file_position_pointer_and_hint() {
    let error = ConfigError::new("unknown key \"condtion\" in the route")
        .with_hint("did you mean \"condition\"?")
        .at(
            file("routes/api.json"),
            "/condtion",
            Some(Position {
                line: 12,
                column: 5,
            }),
        );
    assert_eq!(
        error.to_string(),
        "routes/api.json:12:5: unknown key \"condtion\" in the route (at /condtion)\n  \
         help: did you mean \"condition\"?"
    );
}

#[test]
fn display_without_position() {
    let error = ConfigError::new("cannot read the file").at(file("config.json"), "", None);
    assert_eq!(error.to_string(), "config.json: cannot read the file");
}

#[test]
fn display_without_file_omits_location() {
    let error =
        ConfigError::new("bad value").at(None, "/heap/0", Some(Position { line: 1, column: 1 }));
    assert_eq!(error.to_string(), "bad value (at /heap/0)");
    assert_eq!(ConfigError::new("plain").to_string(), "plain");
}

#[test]
fn errors_display_one_per_line_and_collect() {
    let mut errors = ConfigErrors::new();
    assert!(errors.is_empty());
    assert_eq!(errors.collect(Ok::<_, ConfigError>(3)), Some(3));
    assert_eq!(
        errors.collect::<()>(Err(ConfigError::new("first").with_hint("fix it"))),
        None
    );
    errors.push(ConfigError::new("second"));
    assert_eq!(errors.len(), 2);
    assert_eq!(errors.to_string(), "first\n  help: fix it\nsecond");
    assert!(errors.clone().into_result(()).is_err());
    assert_eq!(ConfigErrors::new().into_result(7), Ok(7));

    let single: ConfigErrors = ConfigError::new("only").into();
    assert_eq!(single.0.len(), 1);
    let boxed: Box<dyn std::error::Error> = Box::new(single);
    assert_eq!(boxed.to_string(), "only");
}

#[test]
fn did_you_mean_prefers_case_insensitive_match() {
    let candidates = ["baseURI", "baseUri2", "capture"];
    assert_eq!(did_you_mean("baseuri", candidates), Some("baseURI"));
    assert_eq!(did_you_mean("BASEURI", candidates), Some("baseURI"));
}

#[test]
fn did_you_mean_finds_typos() {
    let keys = [
        "handler",
        "condition",
        "heap",
        "name",
        "session",
        "properties",
    ];
    assert_eq!(did_you_mean("condtion", keys), Some("condition"));
    assert_eq!(did_you_mean("hnadler", keys), Some("handler"));
    assert_eq!(did_you_mean("handlr", keys), Some("handler"));
    assert_eq!(did_you_mean("nmae", keys), Some("name"));
    assert_eq!(did_you_mean("propertis", keys), Some("properties"));
    assert_eq!(did_you_mean("sesion", keys), Some("session"));
}

#[test]
fn did_you_mean_refuses_far_fetched_suggestions() {
    let keys = ["handler", "condition", "heap", "name"];
    assert_eq!(did_you_mean("x", keys), None);
    assert_eq!(did_you_mean("zzzz", keys), None);
    assert_eq!(did_you_mean("directory", keys), None);
    assert_eq!(did_you_mean("", keys), None);
    assert_eq!(did_you_mean("anything", std::iter::empty()), None);
}

#[test]
fn did_you_mean_picks_the_closest() {
    // "filter" is one edit from "filters" and two from "filler".
    assert_eq!(
        did_you_mean("filter", ["filler", "filters"]),
        Some("filters")
    );
    // Equal distance: the shared prefix (Jaro-Winkler) decides.
    assert_eq!(did_you_mean("heapp", ["heap", "eapp"]), Some("heap"));
}

#[test]
fn pointers_escape_per_rfc_6901() {
    assert_eq!(pointer_push("", "heap"), "/heap");
    assert_eq!(pointer_push("/heap", "a/b"), "/heap/a~1b");
    assert_eq!(pointer_push("", "m~n"), "/m~0n");
    assert_eq!(pointer_push("", "~/"), "/~0~1");
    assert_eq!(pointer_push("", ""), "/");
    assert_eq!(pointer_push_index("/heap", 3), "/heap/3");
    assert_eq!(unescape_token("~01"), "~1");
    assert_eq!(unescape_token("a~1b~0"), "a/b~");
    assert_eq!(pointer_last_token("/heap/a~1b"), Some("a/b".to_owned()));
    assert_eq!(pointer_last_token(""), None);
    assert_eq!(pointer_parent("/heap/0"), Some("/heap"));
    assert_eq!(pointer_parent("/heap"), Some(""));
    assert_eq!(pointer_parent(""), None);
}

#[test]
fn pointers_agree_with_serde_json() {
    let value = json!({"a/b": {"m~n": [10, 20]}});
    let pointer = pointer_push_index(&pointer_push(&pointer_push("", "a/b"), "m~n"), 1);
    assert_eq!(value.pointer(&pointer), Some(&json!(20)));
}

#[test]
fn describes_values() {
    assert_eq!(describe_value(&json!("abc")), "the string \"abc\"");
    assert_eq!(describe_value(&json!(5)), "the number 5");
    assert_eq!(describe_value(&json!(1.5)), "the number 1.5");
    assert_eq!(describe_value(&json!(true)), "true");
    assert_eq!(describe_value(&json!(null)), "null");
    assert_eq!(describe_value(&json!([])), "an empty array");
    assert_eq!(describe_value(&json!([1])), "an array");
    assert_eq!(describe_value(&json!({})), "an empty object");
    assert_eq!(describe_value(&json!({"a": 1})), "an object");
    assert_eq!(describe_value(&json!("a\"b\n")), "the string \"a\\\"b\\n\"");
    let long = "x".repeat(100);
    let described = describe_value(&json!(long));
    assert!(described.ends_with("…\""), "{described}");
    assert!(described.len() < 80);
}

//! `ferrogate check`: validates a configuration directory without serving, and says what is
//! wrong where (file:line:column, JSON pointer) with a hint.

use ferrogate_e2e::{ConfigDir, check};
use serde_json::json;

use crate::{locates, path_route};

/// The diagnostics of `check`'s stderr, one block (error line plus `help:` lines) each.
pub fn diagnostics(stderr: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in stderr.lines() {
        match blocks.last_mut() {
            Some(block) if line.starts_with("  ") => {
                block.push('\n');
                block.push_str(line);
            }
            _ => blocks.push(line.to_owned()),
        }
    }
    blocks
}

/// The one diagnostic about `file_name`.
#[track_caller]
pub fn diagnostic_for(stderr: &str, file_name: &str) -> String {
    let needle = format!("/{file_name}:");
    let found: Vec<String> = diagnostics(stderr)
        .into_iter()
        .filter(|block| block.contains(&needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one diagnostic about {file_name} expected in:\n{stderr}"
    );
    found.into_iter().next().unwrap()
}

#[test]
fn a_valid_directory_passes() {
    let config = ConfigDir::new();
    config.write_route("a.json", &path_route("/a", "a"));
    config.write_route("b.json", &path_route("/b", "b"));
    let (success, stdout, stderr) = check(config.path());
    assert!(success, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("configuration is valid (2 routes)"),
        "{stdout}"
    );
}

#[test]
fn broken_routes_are_reported_with_file_position_pointer_and_hint() {
    let config = ConfigDir::new();
    config.write_route("good.json", &path_route("/good", "good"));
    config.write(
        "routes/typo-type.json",
        "{\n  \"handler\": {\n    \"type\": \"StaticResponseHandlr\",\n    \"config\": {\"status\": 200}\n  }\n}\n",
    );
    config.write(
        "routes/typo-key.json",
        "{\n  \"condtion\": \"${true}\",\n  \"handler\": {\"type\": \"StaticResponseHandler\", \"config\": {\"status\": 200}}\n}\n",
    );
    config.write(
        "routes/bad-expression.json",
        "{\n  \"condition\": \"${request.method ==}\",\n  \"handler\": {\"type\": \"StaticResponseHandler\", \"config\": {\"status\": 200}}\n}\n",
    );
    config.write(
        "routes/bad-json.json",
        "{\n  \"handler\": {\n    \"type\": \"StaticResponseHandler\",\n  }\n}\n",
    );
    let (success, stdout, stderr) = check(config.path());
    assert!(
        !success,
        "check must fail; stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stderr.contains("4 error(s)"), "{stderr}");

    let typo_type = diagnostic_for(&stderr, "typo-type.json");
    assert_eq!(
        locates(&typo_type, "typo-type.json"),
        Some((3, 13)),
        "{typo_type}"
    );
    assert!(typo_type.contains("(at /handler/type)"), "{typo_type}");
    assert!(
        typo_type.contains("did you mean \"StaticResponseHandler\"?"),
        "{typo_type}"
    );

    let typo_key = diagnostic_for(&stderr, "typo-key.json");
    assert_eq!(
        locates(&typo_key, "typo-key.json"),
        Some((2, 3)),
        "{typo_key}"
    );
    assert!(typo_key.contains("(at /condtion)"), "{typo_key}");
    assert!(
        typo_key.contains("did you mean \"condition\"?"),
        "{typo_key}"
    );

    let bad_expression = diagnostic_for(&stderr, "bad-expression.json");
    assert_eq!(
        locates(&bad_expression, "bad-expression.json").map(|(line, _)| line),
        Some(2),
        "{bad_expression}"
    );
    assert!(
        bad_expression.contains("(at /condition)"),
        "{bad_expression}"
    );

    let bad_json = diagnostic_for(&stderr, "bad-json.json");
    assert_eq!(
        locates(&bad_json, "bad-json.json"),
        Some((3, 36)),
        "{bad_json}"
    );
    assert!(bad_json.contains("help:"), "{bad_json}");

    assert!(!stderr.contains("good.json"), "{stderr}");
}

#[test]
fn a_broken_config_json_is_reported() {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &serde_json::to_string_pretty(&json!({
            "handler": {"name": "_router", "type": "Routr"}
        }))
        .unwrap(),
    );
    let (success, _, stderr) = check(config.path());
    assert!(!success);
    let diagnostic = diagnostic_for(&stderr, "config.json");
    assert!(diagnostic.contains("(at /handler/type)"), "{diagnostic}");
    assert!(
        diagnostic.contains("did you mean \"Router\"?"),
        "{diagnostic}"
    );
}

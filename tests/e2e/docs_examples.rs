//! The JSON examples of the filter and decorator reference pages (docs/filters, docs/decorators)
//! pass `ferrogate check`, so a page cannot show a key the gateway refuses. A route example is
//! loaded as written, a Chain or handler declaration as a route's handler, a filter
//! declaration inside a Chain, a named declaration in a route's heap. The heap objects,
//! secrets and variables the pages take for granted come from one config.json and
//! environment. Snippets that are not whole examples are fenced `text`, not `json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrogate_e2e::{ConfigDir, binary};
use serde_json::{Value, json};

struct Example {
    page: String,
    index: usize,
    json: Value,
}

fn reference_pages() -> Vec<PathBuf> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut pages: Vec<PathBuf> = ["filters", "decorators"]
        .iter()
        .flat_map(|folder| std::fs::read_dir(docs.join(folder)).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    pages
}

/// The ```json blocks of a page; one that does not parse fails the test here, naming it.
fn json_blocks(page: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(page).unwrap();
    let name = page.file_stem().unwrap().to_string_lossy().into_owned();
    let mut examples = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match &mut block {
            None if line.trim_end() == "```json" => block = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => {
                let source = block.take().unwrap();
                let json = serde_json::from_str(&source).unwrap_or_else(|error| {
                    panic!(
                        "{}: JSON example {} does not parse ({error}); fence snippets as `text`:\n{source}",
                        page.display(),
                        examples.len()
                    )
                });
                examples.push(Example {
                    page: name.clone(),
                    index: examples.len(),
                    json,
                });
            }
            Some(source) => {
                source.push_str(line);
                source.push('\n');
            }
        }
    }
    examples
}

fn as_route(example: &Value) -> Value {
    let answer = json!({"type": "StaticResponseHandler", "config": {"status": 200}});
    let declared_type = example
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if example.get("handler").is_some() {
        example.clone()
    } else if declared_type == "Chain" || declared_type.ends_with("Handler") {
        json!({"handler": example})
    } else if example.get("name").is_some() {
        json!({"heap": [example], "handler": answer})
    } else {
        json!({"handler": {"type": "Chain", "config": {"filters": [example], "handler": answer}}})
    }
}

/// What the pages' examples refer to without declaring it.
fn surroundings(config: &ConfigDir) {
    let rsa = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt/rsa-private.pem");
    config.write(
        "secrets/jwt.signing.key",
        &std::fs::read_to_string(rsa).unwrap(),
    );
    config.write(
        "secrets/jwt.signing.hmac",
        "an HMAC key of thirty-two bytes or more",
    );
    config.write("secrets/jwt.encryption.key", "sixteen byte key");
    config.write("secrets/app.password", "legacy-pass");
    let files = |name: &str| {
        json!({"name": name, "type": "FileSystemSecretStore",
               "config": {"directory": "secrets", "format": "PLAIN"}})
    };
    config.write(
        "config.json",
        &json!({
            "heap": [
                files("AppSecrets"),
                files("JwtKeys"),
                {"name": "AdminOnly", "type": "HeaderFilter",
                 "config": {"messageType": "REQUEST", "add": {"X-Admin": ["true"]}}},
                {"name": "LogoutHandler", "type": "StaticResponseHandler",
                 "config": {"status": 200, "entity": "logged out"}},
                {"name": "LoginFailed", "type": "StaticResponseHandler",
                 "config": {"status": 403, "entity": "login failed"}},
                {"name": "MaintenancePage", "type": "StaticResponseHandler",
                 "config": {"status": 503, "entity": "down for maintenance"}},
                {"name": "IntrospectionClient", "type": "ClientHandler"}
            ],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
}

#[test]
fn every_json_example_of_the_reference_pages_passes_check() {
    let examples: Vec<Example> = reference_pages()
        .iter()
        .flat_map(|page| json_blocks(page))
        .collect();
    // The pages hold about thirty examples; far fewer means the extraction broke.
    assert!(
        examples.len() >= 25,
        "only {} JSON examples found",
        examples.len()
    );

    let config = ConfigDir::new();
    surroundings(&config);
    for example in &examples {
        config.write_route(
            &format!("{}-{}.json", example.page, example.index),
            &as_route(&example.json),
        );
    }
    let output = Command::new(binary())
        .args(["check", "--config-dir"])
        .arg(config.path())
        .env("APP_URL", "http://app.example.com:8080")
        // The default SystemAndEnvSecretStore reads BASE64 values: "legacy-pass".
        .env("APP_PASSWORD", "bGVnYWN5LXBhc3M=")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "reference-page examples refused (route file = page-index):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

//! Secret stores through `ferrogate check`: every declared store is built at load, so a
//! store that cannot work is refused before the gateway serves, with its file, position and
//! id, and never with the secret's value. (Looking secrets up is unit-tested in
//! host/src/secrets/tests.rs: no handler type consumes secrets yet.)

use ferrogate_e2e::{ConfigDir, check};
use serde_json::json;

use crate::check::diagnostic_for;
use crate::{locates, path_route};

#[test]
fn valid_secret_stores_pass_check() {
    let config = ConfigDir::new();
    config.write("secrets/app.password", "cGFzc3dvcmQ=\n");
    config.write(
        "config.json",
        &json!({
            "handler": {"name": "_router", "type": "Router"},
            "heap": [
                {"name": "inline", "type": "Base64EncodedSecretStore",
                 "config": {"secrets": {"app.key": "AAEC/w=="}}},
                {"name": "files", "type": "FileSystemSecretStore",
                 "config": {"directory": "secrets", "format": "BASE64"}},
                {"name": "env", "type": "SystemAndEnvSecretStore", "config": {"format": "PLAIN"}}
            ]
        })
        .to_string(),
    );
    let mut route = path_route("/a", "a");
    route["heap"] = json!([{"name": "local", "type": "FileSystemSecretStore",
                            "config": {"directory": "secrets", "format": "PLAIN", "suffix": ".txt"}}]);
    config.write_route("a.json", &route);
    let (success, stdout, stderr) = check(config.path());
    assert!(success, "stdout: {stdout}\nstderr: {stderr}");
}

#[test]
fn broken_secret_stores_fail_check_with_the_id_and_position_never_the_value() {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        "{\n  \"handler\": {\"name\": \"_router\", \"type\": \"Router\"},\n  \"heap\": [{\n    \"name\": \"inline\",\n    \"type\": \"Base64EncodedSecretStore\",\n    \"config\": {\"secrets\": {\n      \"db.password\": \"hunter2!\"\n    }}\n  }]\n}\n",
    );
    let (success, stdout, stderr) = check(config.path());
    assert!(
        !success,
        "check must fail; stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the value leaked: {stderr}");

    let base64 = diagnostic_for(&stderr, "config.json");
    assert_eq!(locates(&base64, "config.json"), Some((7, 22)), "{base64}");
    assert!(
        base64.contains("the value of secret \"db.password\" is not Base64"),
        "{base64}"
    );
    assert!(base64.contains("help:"), "{base64}");
}

#[test]
fn a_missing_secrets_directory_fails_check_for_its_route() {
    let config = ConfigDir::new();
    config.write_route("good.json", &path_route("/good", "good"));
    let mut route = path_route("/a", "a");
    route["heap"] = json!([{"name": "files", "type": "FileSystemSecretStore",
                            "config": {"directory": "no-such-secrets-dir"}}]);
    config.write_route("files.json", &route);
    let (success, stdout, stderr) = check(config.path());
    assert!(
        !success,
        "check must fail; stdout: {stdout}\nstderr: {stderr}"
    );

    let files = diagnostic_for(&stderr, "files.json");
    assert!(
        files.contains("the secrets directory") && files.contains("no-such-secrets-dir"),
        "{files}"
    );
    assert!(files.contains("does not exist"), "{files}");
}

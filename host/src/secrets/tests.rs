//! Secret stores and `secretsProvider`: each store type, lookup order through a list, and
//! load-time errors that name the id and the stores but never print a value.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use super::stores::{SecretFormat, SecretMapping, SystemAndEnvSecretStore};
use super::{Secret, SecretError, SecretStore, SecretsProvider};
use crate::config::{ConfigErrors, Located, SourceDoc};
use crate::gateway::Gateway;
use crate::heap::{BuildMode, HeapBuilder, TypeRegistry};

// ---- helpers ----

const STATIC_OK: &str =
    r#"{"type": "StaticResponseHandler", "config": {"status": 200, "entity": "ok"}}"#;

/// A configuration directory whose config.json declares `heap`, with extra files written
/// relative to it (`secrets/a.txt` creates `secrets/`).
fn config_dir(heap: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("routes")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"handler": {STATIC_OK}, "heap": {heap}}}"#),
    )
    .unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn load(dir: &Path) -> Result<Gateway, ConfigErrors> {
    Gateway::load(dir, BuildMode::Check, Arc::new(TypeRegistry::standard()))
}

#[track_caller]
fn load_error(heap: &str, files: &[(&str, &[u8])]) -> String {
    let dir = config_dir(heap, files);
    match load(dir.path()) {
        Ok(_) => panic!("the configuration should have been refused"),
        Err(errors) => errors.to_string(),
    }
}

/// Resolves `provider` (a `secretsProvider` value: names of config.json's heap objects, inline
/// declarations, or a list) the way a route object would, then runs `with` on it.
fn with_provider<R>(
    gateway: &Gateway,
    provider: &str,
    with: impl FnOnce(&SecretsProvider, &Located<'_>) -> R,
) -> R {
    let (doc, value) = SourceDoc::parse(
        Some(Arc::from(Path::new("route.json"))),
        format!(r#"{{"secretsProvider": {provider}}}"#),
    )
    .unwrap();
    let root = Located::root(&doc, &value);
    let at = root.get("secretsProvider").unwrap();
    let mut builder = HeapBuilder::new(
        gateway.environment.clone(),
        "route.json",
        Some("route".to_owned()),
        Some(gateway.heap.clone()),
        gateway.heap.properties().clone(),
        None,
        Vec::new(),
    )
    .unwrap();
    let resolved = SecretsProvider::resolve(&mut builder, &at).unwrap();
    with(&resolved, &at)
}

fn text(secret: Option<Secret>) -> Option<String> {
    secret.map(|secret| secret.expose_str().unwrap().to_owned())
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), OsString::from(value)))
        .collect();
    move |name| map.get(name).cloned()
}

/// A store answering from a fixed map, recording the ids it was asked for.
struct Fixed {
    label: &'static str,
    secrets: HashMap<&'static str, &'static str>,
    asked: std::sync::Mutex<Vec<String>>,
    fails: bool,
}

impl Fixed {
    fn new(label: &'static str, secrets: &[(&'static str, &'static str)]) -> Arc<Self> {
        Arc::new(Fixed {
            label,
            secrets: secrets.iter().copied().collect(),
            asked: std::sync::Mutex::new(Vec::new()),
            fails: false,
        })
    }
}

impl SecretStore for Fixed {
    fn describe(&self) -> String {
        self.label.to_owned()
    }

    fn get(&self, id: &str) -> Result<Option<Secret>, SecretError> {
        self.asked.lock().unwrap().push(id.to_owned());
        if self.fails {
            return Err(SecretError {
                store: self.label.to_owned(),
                reason: "unreachable".to_owned(),
            });
        }
        Ok(self
            .secrets
            .get(id)
            .map(|value| Secret::new(value.as_bytes().to_vec())))
    }
}

// ---- SystemAndEnvSecretStore ----

fn env_store(format: SecretFormat, mappings: &[(&str, &[&str])]) -> SystemAndEnvSecretStore {
    SystemAndEnvSecretStore {
        format,
        mappings: mappings
            .iter()
            .map(|(id, aliases)| SecretMapping {
                secret_id: (*id).to_owned(),
                aliases: aliases.iter().map(|alias| (*alias).to_owned()).collect(),
            })
            .collect(),
    }
}

#[test]
fn env_ids_map_to_upper_case_variables_with_underscores() {
    assert_eq!(
        SystemAndEnvSecretStore::variable_name("my.secret.id"),
        "MY_SECRET_ID"
    );
    assert_eq!(SystemAndEnvSecretStore::variable_name("db-pass"), "DB-PASS");
    let store = env_store(SecretFormat::Plain, &[]);
    let vars = env(&[("MY_SECRET_ID", "s3cret")]);
    assert_eq!(
        text(store.get_from("my.secret.id", &vars).unwrap()),
        Some("s3cret".to_owned())
    );
    assert_eq!(text(store.get_from("other.id", &vars).unwrap()), None);
}

#[test]
fn env_base64_is_the_default_and_is_decoded() {
    let store = env_store(SecretFormat::default(), &[]);
    // "hello world" in Base64, with the surrounding whitespace a shell may leave.
    let vars = env(&[
        ("GREETING", " aGVsbG8gd29ybGQ=\n"),
        ("BROKEN", "not*base64"),
    ]);
    assert_eq!(
        text(store.get_from("greeting", &vars).unwrap()),
        Some("hello world".to_owned())
    );
    let error = store.get_from("broken", &vars).unwrap_err().to_string();
    assert!(error.contains("not Base64"), "{error}");
    assert!(error.contains("PLAIN"), "{error}");
    assert!(!error.contains("not*base64"), "the value leaked: {error}");
    assert!(
        !error.contains('*'),
        "a character of the value leaked: {error}"
    );
}

#[test]
fn env_mapping_aliases_are_tried_in_order_before_the_derived_name() {
    let store = env_store(
        SecretFormat::Plain,
        &[("db.password", &["FIRST_ALIAS", "SECOND_ALIAS"])],
    );
    let all = env(&[
        ("FIRST_ALIAS", "first"),
        ("SECOND_ALIAS", "second"),
        ("DB_PASSWORD", "derived"),
    ]);
    assert_eq!(
        text(store.get_from("db.password", &all).unwrap()),
        Some("first".to_owned())
    );
    let later = env(&[("SECOND_ALIAS", "second"), ("DB_PASSWORD", "derived")]);
    assert_eq!(
        text(store.get_from("db.password", &later).unwrap()),
        Some("second".to_owned())
    );
    let derived = env(&[("DB_PASSWORD", "derived")]);
    assert_eq!(
        text(store.get_from("db.password", &derived).unwrap()),
        Some("derived".to_owned())
    );
    // Aliases apply to their own id only.
    let other = env(&[("FIRST_ALIAS", "first")]);
    assert_eq!(text(store.get_from("other", &other).unwrap()), None);
}

#[test]
fn env_store_declared_in_the_heap_reads_the_process_environment() {
    // The tests cannot set variables (unsafe), but PATH is always there.
    let dir = config_dir(
        r#"[{"name": "env", "type": "SystemAndEnvSecretStore", "config": {"format": "PLAIN",
              "mappings": [{"secretId": "search.path", "aliases": ["FERROGATE_TEST_UNSET_X", "PATH"]}]}}]"#,
        &[],
    );
    let gateway = load(dir.path()).unwrap();
    let path = std::env::var("PATH").unwrap();
    with_provider(&gateway, r#""env""#, |provider, at| {
        let secret = provider.require("search.path", at).unwrap();
        assert_eq!(secret.expose_str(), Some(path.trim()));
    });
}

#[test]
fn env_store_refuses_unknown_settings_and_formats() {
    let message = load_error(
        r#"[{"name": "env", "type": "SystemAndEnvSecretStore", "config": {"format": "HEX"}}]"#,
        &[],
    );
    assert!(message.contains("format"), "{message}");
}

// ---- Base64EncodedSecretStore ----

#[test]
fn base64_store_decodes_its_secrets_at_load() {
    let dir = config_dir(
        r#"[{"name": "inline", "type": "Base64EncodedSecretStore", "config": {"secrets": {
              "app.password": "cGFzc3dvcmQ=", "app.key": "AAEC/w=="}}}]"#,
        &[],
    );
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#""inline""#, |provider, _| {
        assert_eq!(
            text(provider.get("app.password").unwrap()),
            Some("password".to_owned())
        );
        assert_eq!(
            provider.get("app.key").unwrap().unwrap().expose(),
            &[0, 1, 2, 255]
        );
        assert!(provider.get("app.other").unwrap().is_none());
    });
}

#[test]
fn base64_store_refuses_a_bad_value_naming_the_id_not_the_value() {
    let message = load_error(
        r#"[{"name": "inline", "type": "Base64EncodedSecretStore", "config": {"secrets": {
              "good": "b2s=", "db.password": "hunter2!"}}}]"#,
        &[],
    );
    assert!(message.contains("\"db.password\""), "{message}");
    assert!(message.contains("not Base64"), "{message}");
    assert!(message.contains("config.json:2:"), "{message}");
    assert!(!message.contains("hunter2"), "the value leaked: {message}");
    assert!(
        !message.contains('!'),
        "a character of the value leaked: {message}"
    );
}

#[test]
fn base64_store_needs_its_secrets() {
    let message = load_error(
        r#"[{"name": "inline", "type": "Base64EncodedSecretStore", "config": {}}]"#,
        &[],
    );
    assert!(message.contains("secrets"), "{message}");
}

// ---- FileSystemSecretStore ----

fn file_store(config: &str) -> String {
    format!(r#"[{{"name": "files", "type": "FileSystemSecretStore", "config": {config}}}]"#)
}

#[test]
fn file_store_reads_base64_files_by_default_relative_to_the_config_dir() {
    let dir = config_dir(
        &file_store(r#"{"directory": "secrets"}"#),
        &[
            ("secrets/app.password", b"cGFzc3dvcmQ=\n"),
            // `base64` wraps long output: line breaks are ignored.
            ("secrets/app.long", b"MDEyMzQ1Njc4OTAx\nMjM0NTY3ODk=\n"),
        ],
    );
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#""files""#, |provider, _| {
        assert_eq!(
            text(provider.get("app.password").unwrap()),
            Some("password".to_owned())
        );
        assert_eq!(
            text(provider.get("app.long").unwrap()),
            Some("0123456789012345678 9".replace(' ', ""))
        );
        assert!(provider.get("app.missing").unwrap().is_none());
    });
}

#[test]
fn file_store_plain_trims_one_line_ending_of_text_only() {
    let dir = config_dir(
        &file_store(r#"{"directory": "secrets", "format": "PLAIN", "suffix": ".txt"}"#),
        &[
            ("secrets/unix.txt", b"pass word \n"),
            ("secrets/dos.txt", b"dos\r\n"),
            ("secrets/two.txt", b"two\n\n"),
            ("secrets/none.txt", b"none"),
            ("secrets/binary.txt", b"\xff\x00\n"),
            ("secrets/unix", b"without the suffix"),
        ],
    );
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#""files""#, |provider, _| {
        let get = |id: &str| provider.get(id).unwrap().map(|s| s.expose().to_vec());
        assert_eq!(get("unix"), Some(b"pass word ".to_vec()));
        assert_eq!(get("dos"), Some(b"dos".to_vec()));
        assert_eq!(get("two"), Some(b"two\n".to_vec()));
        assert_eq!(get("none"), Some(b"none".to_vec()));
        assert_eq!(get("binary"), Some(b"\xff\x00\n".to_vec()));
        assert_eq!(get("unix.txt"), None, "the suffix is added to the id");
    });
}

#[test]
fn file_store_reads_the_file_each_time_so_rotation_is_picked_up() {
    let dir = config_dir(
        &file_store(r#"{"directory": "secrets", "format": "PLAIN"}"#),
        &[("secrets/rotating", b"v1")],
    );
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#""files""#, |provider, _| {
        assert_eq!(text(provider.get("rotating").unwrap()), Some("v1".into()));
        std::fs::write(dir.path().join("secrets/rotating"), "v2").unwrap();
        assert_eq!(text(provider.get("rotating").unwrap()), Some("v2".into()));
        std::fs::remove_file(dir.path().join("secrets/rotating")).unwrap();
        assert_eq!(text(provider.get("rotating").unwrap()), None);
    });
}

#[test]
fn file_store_mapping_aliases_name_files_tried_first() {
    let dir = config_dir(
        &file_store(
            r#"{"directory": "secrets", "format": "PLAIN",
                "mappings": [{"secretId": "db.password", "aliases": ["missing", "db-pass"]}]}"#,
        ),
        &[
            ("secrets/db-pass", b"aliased"),
            ("secrets/db.password", b"own"),
        ],
    );
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#""files""#, |provider, _| {
        assert_eq!(
            text(provider.get("db.password").unwrap()),
            Some("aliased".into())
        );
    });
}

#[test]
fn file_store_refuses_ids_that_leave_the_directory_oversized_and_bad_files() {
    let big = vec![b'a'; (super::stores::SECRET_FILE_LIMIT + 1) as usize];
    let dir = config_dir(
        &file_store(r#"{"directory": "secrets"}"#),
        &[
            ("outside", b"b3V0c2lkZQ=="),
            ("secrets/big", &big),
            ("secrets/bad", b"s3cr*t"),
            ("secrets/sub/x", b"eA=="),
        ],
    );
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#""files""#, |provider, at| {
        for id in ["../outside", "..", "", "sub/x"] {
            let error = provider.get(id).unwrap_err().to_string();
            assert!(error.contains("path separator"), "{id}: {error}");
        }
        let error = provider.get("big").unwrap_err().to_string();
        assert!(error.contains("more than the 1048576"), "{error}");
        let error = provider.get("sub").unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        let error = provider.require("bad", at).unwrap_err().to_string();
        assert!(
            error.contains("secret \"bad\" could not be read"),
            "{error}"
        );
        assert!(error.contains("not Base64"), "{error}");
        assert!(!error.contains("s3cr"), "the value leaked: {error}");
    });
}

#[test]
fn file_store_missing_directory_is_a_load_time_error() {
    let message = load_error(&file_store(r#"{"directory": "no-such-dir"}"#), &[]);
    assert!(
        message.contains("the secrets directory") && message.contains("no-such-dir"),
        "{message}"
    );
    assert!(message.contains("does not exist"), "{message}");
    assert!(message.contains("config.json:1:"), "{message}");
}

#[test]
fn file_store_directory_may_be_absolute_and_use_properties() {
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("k"), "dmFsdWU=").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("routes")).unwrap();
    let config = serde_json::json!({
        "properties": {"secretsDir": secrets.path()},
        "handler": serde_json::from_str::<serde_json::Value>(STATIC_OK).unwrap(),
        "heap": [{"name": "files", "type": "FileSystemSecretStore",
                  "config": {"directory": "${secretsDir}"}}]
    });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#""files""#, |provider, _| {
        assert_eq!(text(provider.get("k").unwrap()), Some("value".into()));
    });
}

#[test]
fn file_store_needs_a_directory_and_refuses_unknown_keys() {
    let message = load_error(&file_store(r#"{"format": "PLAIN"}"#), &[]);
    assert!(message.contains("directory"), "{message}");
    let message = load_error(&file_store(r#"{"directory": ".", "sufix": ".txt"}"#), &[]);
    assert!(message.contains("suffix"), "{message}");
}

// ---- secretsProvider ----

#[test]
fn a_provider_list_is_searched_in_order_and_stops_at_the_first_hit() {
    let first = Fixed::new("first", &[("shared", "from first")]);
    let second = Fixed::new("second", &[("shared", "from second"), ("only2", "two")]);
    let provider = SecretsProvider::new(vec![first.clone(), second.clone()]);
    assert_eq!(
        text(provider.get("shared").unwrap()),
        Some("from first".into())
    );
    assert_eq!(*second.asked.lock().unwrap(), Vec::<String>::new());
    assert_eq!(text(provider.get("only2").unwrap()), Some("two".into()));
    assert_eq!(text(provider.get("nowhere").unwrap()), None);
    assert_eq!(*first.asked.lock().unwrap(), ["shared", "only2", "nowhere"]);
    assert_eq!(*second.asked.lock().unwrap(), ["only2", "nowhere"]);
}

#[test]
fn a_failing_store_stops_the_search_with_its_error() {
    let failing = Arc::new(Fixed {
        label: "failing",
        secrets: HashMap::new(),
        asked: std::sync::Mutex::new(Vec::new()),
        fails: true,
    });
    let later = Fixed::new("later", &[("id", "value")]);
    let provider = SecretsProvider::new(vec![failing, later.clone()]);
    let error = provider.get("id").unwrap_err();
    assert_eq!(error.store, "failing");
    assert!(later.asked.lock().unwrap().is_empty());
}

#[test]
fn a_heap_provider_list_mixes_names_and_inline_stores_in_order() {
    let dir = config_dir(
        r#"[{"name": "inline", "type": "Base64EncodedSecretStore",
             "config": {"secrets": {"shared": "ZnJvbSBpbmxpbmU=", "only.inline": "aQ=="}}},
            {"name": "files", "type": "FileSystemSecretStore",
             "config": {"directory": "secrets", "format": "PLAIN"}}]"#,
        &[
            ("secrets/shared", b"from files"),
            ("secrets/only.files", b"f"),
        ],
    );
    let gateway = load(dir.path()).unwrap();
    with_provider(&gateway, r#"["files", "inline"]"#, |provider, _| {
        assert_eq!(
            text(provider.get("shared").unwrap()),
            Some("from files".into())
        );
        assert_eq!(text(provider.get("only.inline").unwrap()), Some("i".into()));
    });
    with_provider(&gateway, r#"["inline", "files"]"#, |provider, _| {
        assert_eq!(
            text(provider.get("shared").unwrap()),
            Some("from inline".into())
        );
        assert_eq!(text(provider.get("only.files").unwrap()), Some("f".into()));
    });
    with_provider(
        &gateway,
        r#"[{"type": "Base64EncodedSecretStore", "config": {"secrets": {"shared": "aW5saW5lZA=="}}}, "files"]"#,
        |provider, _| {
            assert_eq!(
                text(provider.get("shared").unwrap()),
                Some("inlined".into())
            );
        },
    );
}

#[test]
fn a_missing_secret_names_the_id_and_every_store_searched() {
    let dir = config_dir(
        r#"[{"name": "inline", "type": "Base64EncodedSecretStore", "config": {"secrets": {"a": "YQ=="}}},
            {"name": "files", "type": "FileSystemSecretStore",
             "config": {"directory": "secrets", "suffix": ".pem"}},
            {"name": "env", "type": "SystemAndEnvSecretStore"}]"#,
        &[("secrets/.keep", b"")],
    );
    let gateway = load(dir.path()).unwrap();
    let message = with_provider(&gateway, r#"["inline", "files", "env"]"#, |provider, at| {
        provider
            .require("no.such.secret", at)
            .unwrap_err()
            .to_string()
    });
    assert!(
        message.starts_with("route.json:1:"),
        "located at the secretsProvider: {message}"
    );
    assert!(
        message.contains("secret \"no.such.secret\" was not found"),
        "{message}"
    );
    let inline = message.find("Base64EncodedSecretStore \"inline\"").unwrap();
    let files = message.find("FileSystemSecretStore \"files\"").unwrap();
    let env = message.find("SystemAndEnvSecretStore").unwrap();
    assert!(inline < files && files < env, "in search order: {message}");
    assert!(message.contains("suffix \".pem\""), "{message}");
}

#[test]
fn a_provider_must_name_secret_stores() {
    let dir = config_dir("[]", &[]);
    let gateway = load(dir.path()).unwrap();
    let (doc, value) =
        SourceDoc::parse(None, r#"{"p": [], "q": "ClientHandler"}"#.to_owned()).unwrap();
    let root = Located::root(&doc, &value);
    let mut builder = HeapBuilder::new(
        gateway.environment.clone(),
        "route.json",
        None,
        Some(gateway.heap.clone()),
        gateway.heap.properties().clone(),
        None,
        Vec::new(),
    )
    .unwrap();
    let error = SecretsProvider::resolve(&mut builder, &root.get("p").unwrap())
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("names no secret store"),
        "{error}"
    );
    let error = SecretsProvider::resolve(&mut builder, &root.get("q").unwrap())
        .err()
        .unwrap();
    assert!(error.to_string().contains("not a secret store"), "{error}");
}

#[test]
fn secrets_never_print_their_value() {
    let secret = Secret::new(b"hunter2".to_vec());
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
}

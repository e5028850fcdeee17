use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::super::diagnostic::Position;
use super::super::duration::{IgDuration, seconds_or_text};
use super::super::source::{Located, SourceDoc};
use super::*;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Route {
    name: Option<String>,
    condition: Option<String>,
    handler: Reference,
    #[serde(default)]
    heap: Vec<HeapObject>,
    session_timeout: Option<IgDuration>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct HeapObject {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    config: Value,
}

/// A heap reference: a name, or an inline declaration.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
enum Reference {
    Name(String),
    Inline(HeapObject),
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum MessageType {
    Request,
    Response,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HeaderFilter {
    message_type: MessageType,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    add: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClientHandler {
    connections: u32,
    #[serde(default)]
    so_timeout: Option<IgDuration>,
    #[serde(default)]
    retries: Option<Retries>,
    #[serde(default)]
    tls: Option<Tls>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Retries {
    enabled: bool,
    count: u8,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Tls {
    versions: Vec<TlsVersion>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum TlsVersion {
    #[serde(rename = "TLSv1.2")]
    Tls12,
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, tag = "type", content = "config")]
enum ProxyOptions {
    NoProxyOptions,
    CustomProxyOptions { uri: String },
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type")]
enum Secrets {
    SystemAndEnvSecretStore {
        #[serde(default)]
        format: Option<String>,
    },
    Base64EncodedSecretStore {
        secrets: BTreeMap<String, String>,
    },
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
enum Action {
    Allow,
    Deny { status: u16 },
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Router {
    #[serde(deserialize_with = "seconds_or_text")]
    scan_interval: IgDuration,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Empty {}

fn doc(text: &str) -> (SourceDoc, Value) {
    match SourceDoc::parse(Some(Arc::from(Path::new("routes/api.json"))), text) {
        Ok(parsed) => parsed,
        Err(error) => panic!("test document does not parse: {error}"),
    }
}

fn decode_ok<T: DeserializeOwned>(text: &str) -> T {
    let (doc, value) = doc(text);
    match decode(&doc, "", &value) {
        Ok(decoded) => decoded,
        Err(error) => panic!("unexpected error: {error}"),
    }
}

fn decode_err<T: DeserializeOwned + fmt::Debug>(text: &str) -> ConfigError {
    let (doc, value) = doc(text);
    match decode::<T>(&doc, "", &value) {
        Ok(decoded) => panic!("expected an error, decoded {decoded:?}"),
        Err(error) => error,
    }
}

fn pos(line: usize, column: usize) -> Option<Position> {
    Some(Position { line, column })
}

#[test]
fn decodes_a_route() {
    let route: Route = decode_ok(
        r#"{
          "name": "api",
          "condition": "${true}",
          "handler": {"name": "h", "type": "Chain", "config": {"filters": []}},
          "heap": [{"name": "a", "type": "ClientHandler"}],
          "sessionTimeout": "30 minutes"
        }"#,
    );
    assert_eq!(route.name.as_deref(), Some("api"));
    assert!(
        matches!(route.handler, Reference::Inline(HeapObject { ref type_name, .. }) if type_name == "Chain")
    );
    assert_eq!(route.heap[0].config, Value::Null);
    assert_eq!(
        route.session_timeout,
        Some(IgDuration::Finite(Duration::from_secs(1800)))
    );
    let route: Route = decode_ok(r#"{"handler": "ReverseProxyHandler", "name": null}"#);
    assert_eq!(
        route.handler,
        Reference::Name("ReverseProxyHandler".to_owned())
    );
    assert_eq!(route.name, None);
}

#[test]
fn unknown_key_points_at_the_key_with_a_suggestion() {
    let error = decode_err::<Route>("{\n  \"handler\": \"x\",\n  \"condtion\": \"${true}\"\n}");
    assert_eq!(error.pointer, "/condtion");
    assert_eq!(error.position, pos(3, 3));
    assert_eq!(error.message, "unknown key \"condtion\"");
    assert_eq!(
        error.hint.as_deref(),
        Some(
            "did you mean \"condition\"? Allowed keys: name, condition, handler, heap, \
             sessionTimeout"
        )
    );
    assert_eq!(
        error.to_string(),
        "routes/api.json:3:3: unknown key \"condtion\" (at /condtion)\n  help: did you mean \
         \"condition\"? Allowed keys: name, condition, handler, heap, sessionTimeout"
    );
}

#[test]
fn unknown_key_without_a_close_match_lists_the_allowed_keys() {
    let error = decode_err::<Retries>(r#"{"enabled": true, "count": 1, "xyz": 0}"#);
    assert_eq!(error.pointer, "/xyz");
    assert_eq!(error.position, pos(1, 31));
    assert_eq!(error.hint.as_deref(), Some("allowed keys: enabled, count"));

    let error = decode_err::<Empty>(r#"{"x": 0}"#);
    assert_eq!(
        error.hint.as_deref(),
        Some("this object takes no keys; remove it")
    );
}

#[test]
fn unknown_key_in_a_nested_array_element() {
    let error = decode_err::<Route>(
        "{\n  \"handler\": \"x\",\n  \"heap\": [\n    {\"name\": \"a\", \"type\": \"T\"},\n    {\"name\": \"b\", \"typ\": \"T\"}\n  ]\n}",
    );
    assert_eq!(error.pointer, "/heap/1/typ");
    assert_eq!(error.position, pos(5, 19));
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean \"type\"?"))
    );
}

#[test]
fn case_mistakes_are_caught() {
    let error = decode_err::<ClientHandler>(r#"{"connections": 1, "sotimeout": "1 s"}"#);
    assert_eq!(error.message, "unknown key \"sotimeout\"");
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean \"soTimeout\"?"))
    );
}

#[test]
fn missing_key_points_at_the_object() {
    let error = decode_err::<Route>("{\n  \"heap\": []\n}");
    assert_eq!(error.pointer, "");
    assert_eq!(error.position, pos(1, 1));
    assert_eq!(error.message, "missing required key \"handler\"");
    assert_eq!(
        error.hint.as_deref(),
        Some("add \"handler\" to this object")
    );

    let error = decode_err::<Route>(
        "{\n  \"handler\": \"x\",\n  \"heap\": [\n    {\"type\": \"T\"}\n  ]\n}",
    );
    assert_eq!(error.pointer, "/heap/0");
    assert_eq!(error.position, pos(4, 5));
    assert_eq!(error.message, "missing required key \"name\"");
}

#[test]
fn wrong_kinds_are_explained() {
    let error = decode_err::<ClientHandler>("{\n  \"connections\": \"abc\"\n}");
    assert_eq!(error.pointer, "/connections");
    assert_eq!(error.position, pos(2, 18));
    assert_eq!(
        error.message,
        "expected a whole number from 0 to 4294967295 here, found the string \"abc\""
    );
    assert_eq!(error.hint, None);

    let error = decode_err::<ClientHandler>(r#"{"connections": "64"}"#);
    assert_eq!(
        error.hint.as_deref(),
        Some("write the number without quotes: 64")
    );

    let error = decode_err::<ClientHandler>(r#"{"connections": -1}"#);
    assert_eq!(
        error.message,
        "invalid value: expected a whole number from 0 to 4294967295, found the number -1"
    );

    let error = decode_err::<ClientHandler>(
        r#"{"connections": 1, "retries": {"enabled": "true", "count": 1}}"#,
    );
    assert_eq!(error.pointer, "/retries/enabled");
    assert_eq!(error.position, pos(1, 43));
    assert_eq!(
        error.message,
        "expected true or false here, found the string \"true\""
    );
    assert_eq!(error.hint.as_deref(), Some("write true without quotes"));

    let error = decode_err::<ClientHandler>(
        r#"{"connections": 1, "retries": {"enabled": true, "count": 300}}"#,
    );
    assert_eq!(error.pointer, "/retries/count");
    assert_eq!(
        error.message,
        "invalid value: expected a whole number from 0 to 255, found the number 300"
    );

    let error = decode_err::<HeapObject>(r#"{"name": 5, "type": "T"}"#);
    assert_eq!(error.message, "expected a string here, found the number 5");
    assert_eq!(
        error.hint.as_deref(),
        Some("put the value in double quotes: \"5\"")
    );

    let error = decode_err::<Route>(r#"{"handler": "x", "heap": {"name": "a"}}"#);
    assert_eq!(error.pointer, "/heap");
    assert_eq!(error.message, "expected an array here, found an object");

    let error = decode_err::<ClientHandler>(r#"{"connections": 1, "retries": [true, 1]}"#);
    assert_eq!(error.pointer, "/retries");
    assert_eq!(error.message, "expected an object here, found an array");

    let error = decode_err::<HeaderFilter>(r#"{"messageType": "REQUEST", "add": {"X-A": "one"}}"#);
    assert_eq!(error.pointer, "/add/X-A");
    assert_eq!(
        error.message,
        "expected an array here, found the string \"one\""
    );
}

#[test]
fn unknown_enum_value_suggests_the_closest() {
    let error = decode_err::<HeaderFilter>("{\n  \"messageType\": \"REQEUST\"\n}");
    assert_eq!(error.pointer, "/messageType");
    assert_eq!(error.position, pos(2, 18));
    assert_eq!(error.message, "unknown value \"REQEUST\"");
    assert_eq!(
        error.hint.as_deref(),
        Some("did you mean \"REQUEST\"? Accepted values: REQUEST, RESPONSE")
    );

    let error = decode_err::<HeaderFilter>(r#"{"messageType": "request"}"#);
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean \"REQUEST\"?"))
    );

    let error = decode_err::<HeaderFilter>(r#"{"messageType": "BOTH"}"#);
    assert_eq!(
        error.hint.as_deref(),
        Some("accepted values: REQUEST, RESPONSE")
    );

    let error = decode_err::<HeaderFilter>(r#"{"messageType": 1}"#);
    assert_eq!(error.pointer, "/messageType");
    assert_eq!(
        error.message,
        "expected one of REQUEST, RESPONSE here, found the number 1"
    );
}

#[test]
fn enum_values_inside_arrays() {
    let ok: ClientHandler =
        decode_ok(r#"{"connections": 1, "tls": {"versions": ["TLSv1.2", "TLSv1.3"]}}"#);
    assert_eq!(
        ok.tls,
        Some(Tls {
            versions: vec![TlsVersion::Tls12, TlsVersion::Tls13]
        })
    );
    let error = decode_err::<ClientHandler>(
        "{\"connections\": 1,\n \"tls\": {\"versions\": [\"TLSv1.2\", \"TLSv1.4\"]}}",
    );
    assert_eq!(error.pointer, "/tls/versions/1");
    assert_eq!(error.position, pos(2, 34));
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Accepted values: TLSv1.2, TLSv1.3"))
    );
}

#[test]
fn externally_tagged_enum_with_content() {
    let ok: Vec<Action> = decode_ok(r#"["allow", {"deny": {"status": 403}}]"#);
    assert_eq!(ok, vec![Action::Allow, Action::Deny { status: 403 }]);

    let error = decode_err::<Vec<Action>>("[\"allow\",\n {\"dney\": {\"status\": 403}}]");
    assert_eq!(error.pointer, "/1/dney");
    assert_eq!(error.position, pos(2, 3));
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean \"deny\"?"))
    );

    let error = decode_err::<Vec<Action>>(r#"[{"deny": {"status": "x"}}]"#);
    assert_eq!(error.pointer, "/0/deny/status");
    assert_eq!(error.position, pos(1, 22));

    let error = decode_err::<Vec<Action>>(r#"[{"deny": {}, "allow": null}]"#);
    assert_eq!(error.pointer, "/0");
    assert!(error.message.contains("an object"), "{error}");
}

#[test]
fn adjacently_tagged_type_and_config() {
    let ok: ProxyOptions =
        decode_ok(r#"{"type": "CustomProxyOptions", "config": {"uri": "http://proxy:3128"}}"#);
    assert_eq!(
        ok,
        ProxyOptions::CustomProxyOptions {
            uri: "http://proxy:3128".to_owned()
        }
    );
    let error = decode_err::<ProxyOptions>("{\n  \"type\": \"CustomProxyOption\"\n}");
    assert_eq!(error.message, "unknown value \"CustomProxyOption\"");
    assert_eq!(error.pointer, "/type");
    assert_eq!(error.position, pos(2, 11));
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean \"CustomProxyOptions\"?"))
    );
}

#[test]
fn internally_tagged_type() {
    let ok: Secrets =
        decode_ok(r#"{"type": "Base64EncodedSecretStore", "secrets": {"a": "YQ=="}}"#);
    assert!(matches!(ok, Secrets::Base64EncodedSecretStore { .. }));
    let error = decode_err::<Secrets>("{\n  \"type\": \"Base64EncodedSecretStor\"\n}");
    assert_eq!(error.pointer, "/type");
    assert_eq!(error.position, pos(2, 11));
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean \"Base64EncodedSecretStore\"?"))
    );
}

#[test]
fn untagged_mismatch_is_reported_at_the_value() {
    let error = decode_err::<Route>("{\n  \"handler\": 42\n}");
    assert_eq!(error.pointer, "/handler");
    assert_eq!(error.position, pos(2, 14));
    assert!(
        error.message.contains("did not match any variant"),
        "{error}"
    );
}

#[test]
fn custom_errors_pass_through_at_the_value() {
    let error = decode_err::<Route>("{\"handler\": \"x\",\n \"sessionTimeout\": \"30 minuts\"}");
    assert_eq!(error.pointer, "/sessionTimeout");
    assert_eq!(error.position, pos(2, 20));
    assert!(
        error.message.starts_with(
            "invalid duration \"30 minuts\": unknown unit \"minuts\" (did you mean \"minutes\"?)"
        ),
        "{error}"
    );

    let error = decode_err::<Route>(r#"{"handler": "x", "sessionTimeout": 30}"#);
    assert_eq!(
        error.message,
        "expected a duration such as \"10 seconds\" here, found the number 30"
    );
}

#[test]
fn seconds_or_text_fields() {
    let router: Router = decode_ok(r#"{"scanInterval": 5}"#);
    assert_eq!(
        router.scan_interval,
        IgDuration::Finite(Duration::from_secs(5))
    );
    let router: Router = decode_ok(r#"{"scanInterval": -1}"#);
    assert_eq!(router.scan_interval, IgDuration::Disabled);
    let router: Router = decode_ok(r#"{"scanInterval": "disabled"}"#);
    assert_eq!(router.scan_interval, IgDuration::Disabled);
    let router: Router = decode_ok(r#"{"scanInterval": "2 seconds"}"#);
    assert_eq!(
        router.scan_interval,
        IgDuration::Finite(Duration::from_secs(2))
    );
    let error = decode_err::<Router>(r#"{"scanInterval": 1.5}"#);
    assert_eq!(
        error.message,
        "expected a duration such as \"10 seconds\", or a number of seconds here, found the \
         number 1.5"
    );
}

#[test]
fn tuples_of_the_wrong_length() {
    let ok: (u16, String) = decode_ok(r#"[200, "OK"]"#);
    assert_eq!(ok, (200, "OK".to_owned()));
    let error = decode_err::<(u16, String)>(r#"[200]"#);
    assert_eq!(
        error.message,
        "expected an array of 2 elements, found an array of 1 element"
    );
    let error = decode_err::<(u16, String)>(r#"[200, "OK", 3]"#);
    assert!(
        error.message.contains("found an array of 3 elements"),
        "{error}"
    );
}

#[test]
fn decode_below_a_pointer() {
    let (doc, value) = doc(
        "{\n  \"heap\": [\n    {\"name\": \"c\", \"type\": \"ClientHandler\",\n     \"config\": {\"connections\": 1, \"retries\": {\"enabled\": true, \"cuont\": 2}}}\n  ]\n}",
    );
    let config = Located::root(&doc, &value)
        .get("heap")
        .and_then(|h| h.index(0))
        .and_then(|o| o.get("config"));
    let Some(config) = config else {
        panic!("fixture has a config");
    };
    assert_eq!(config.pointer, "/heap/0/config");
    let error = match config.decode::<ClientHandler>() {
        Ok(decoded) => panic!("expected an error, decoded {decoded:?}"),
        Err(error) => error,
    };
    assert_eq!(error.pointer, "/heap/0/config/retries/cuont");
    assert_eq!(error.position, pos(4, 64));
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean \"count\"?"))
    );
}

#[test]
fn builtin_documents_decode_with_pointers_only() {
    let doc = SourceDoc::builtin("config.json");
    let value = serde_json::json!({"connections": 1, "sotimeout": "1 s"});
    let error = match decode::<ClientHandler>(&doc, "/heap/0/config", &value) {
        Ok(decoded) => panic!("expected an error, decoded {decoded:?}"),
        Err(error) => error,
    };
    assert_eq!(error.pointer, "/heap/0/config/sotimeout");
    assert_eq!(error.position, None);
    assert!(error.to_string().starts_with(
        "built-in config.json: unknown key \"sotimeout\" (at /heap/0/config/sotimeout)"
    ));
}

#[test]
fn opaque_values_and_maps_decode() {
    let ok: HeaderFilter = decode_ok(
        r#"{"messageType": "RESPONSE", "remove": ["Server"], "add": {"X-A": ["1", "2"]}}"#,
    );
    assert_eq!(ok.message_type, MessageType::Response);
    assert_eq!(ok.add.get("X-A").map(Vec::len), Some(2));
    let any: Value = decode_ok(r#"{"a": [1, -2, 1.5, null, true, "s"]}"#);
    assert_eq!(any, serde_json::json!({"a": [1, -2, 1.5, null, true, "s"]}));
    let map: BTreeMap<String, i64> = decode_ok(r#"{"a": -5}"#);
    assert_eq!(map.get("a"), Some(&-5));
}

//! Message-rewriting standard filters (embedded plugins) through the real binary:
//! LocationHeaderFilter, StaticRequestFilter, EntityExtractFilter, and HeaderFilter's
//! `replace` and its literal values.

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

use crate::{client, get, send};

fn serve(routes: &[(&str, Value)]) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    for (name, route) in routes {
        config.write_route(&format!("{name}.json"), route);
    }
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

fn chain(path: &str, filters: Value, handler: Value) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "handler": {"type": "Chain", "config": {"filters": filters, "handler": handler}}
    })
}

fn redirect(status: u16, location: &str) -> Value {
    json!({"type": "StaticResponseHandler", "config": {"status": status, "headers": {"Location": [location]}}})
}

fn echoed(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("not an echo ({error}): {body}"))
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[test]
fn location_header_filter_sends_redirects_back_through_the_gateway() {
    let routes = [
        (
            "implicit",
            chain(
                "/default",
                json!([{"type": "LocationHeaderFilter"}]),
                redirect(302, "http://app.internal:8081/login?next=%2Fhome#top"),
            ),
        ),
        (
            "explicit",
            chain(
                "/explicit",
                json!([{"type": "LocationHeaderFilter", "config": {"baseURI": "https://gateway.example.com:8443/ignored"}}]),
                redirect(201, "http://app.internal:8081/items/7"),
            ),
        ),
        (
            "relative",
            chain(
                "/relative",
                json!([{"type": "LocationHeaderFilter"}]),
                redirect(302, "/login"),
            ),
        ),
        (
            "ok",
            chain(
                "/ok",
                json!([{"type": "LocationHeaderFilter"}]),
                json!({"type": "StaticResponseHandler", "config": {"status": 200, "headers": {"Location": ["http://app.internal/x"]}}}),
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes);
    let client = no_redirects();
    let origin = gateway.url("");
    let origin = origin.trim_end_matches('/');

    let reply = send(client.get(gateway.url("/default")));
    assert_eq!(reply.status, 302);
    assert_eq!(
        reply.header("location"),
        Some(format!("{origin}/login?next=%2Fhome#top").as_str())
    );
    let reply = send(client.get(gateway.url("/explicit")));
    assert_eq!(
        reply.header("location"),
        Some("https://gateway.example.com:8443/items/7")
    );
    let reply = send(client.get(gateway.url("/relative")));
    assert_eq!(reply.header("location"), Some("/login"));
    // Not a redirect: untouched.
    let reply = send(client.get(gateway.url("/ok")));
    assert_eq!(reply.header("location"), Some("http://app.internal/x"));
}

#[test]
fn static_request_filter_replaces_the_request() {
    let upstream = Upstream::echo();
    let base = upstream.base_uri();
    let routes = [
        (
            "post-form",
            chain(
                "/post-form",
                json!([{"type": "StaticRequestFilter", "config": {
                    "method": "POST",
                    "uri": format!("{base}/login"),
                    "headers": {"X-From": ["${request.method}"]},
                    "form": {"user": ["${request.headers['X-User'][0]}"], "note": ["a b&c"]}
                }}]),
                json!("ClientHandler"),
            ),
        ),
        (
            "get-form",
            chain(
                "/get-form",
                json!([{"type": "StaticRequestFilter", "config": {
                    "method": "GET",
                    "uri": format!("{base}/search?x=1"),
                    "form": {"q": ["rust wasm"]}
                }}]),
                json!("ClientHandler"),
            ),
        ),
        (
            "entity",
            chain(
                "/entity",
                json!([{"type": "StaticRequestFilter", "config": {
                    "method": "PUT",
                    "uri": format!("{base}/doc"),
                    "headers": {"Content-Type": ["application/json"]},
                    "entity": "{\"path\": \"${request.uri.path}\"}"
                }}]),
                json!("ClientHandler"),
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes);

    let reply = send(
        client()
            .get(gateway.url("/post-form"))
            .header("x-user", "alice")
            .header("x-dropped", "1"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let echo = echoed(&reply.body);
    assert_eq!(echo["method"], "POST");
    assert!(echo["uri"].as_str().unwrap().ends_with("/login"), "{echo}");
    assert_eq!(echo["body"], "note=a+b%26c&user=alice");
    assert_eq!(
        echo["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(echo["headers"]["x-from"], "GET");
    assert!(echo["headers"].get("x-dropped").is_none(), "{echo}");

    let echo = echoed(&get(&gateway, "/get-form").body);
    assert_eq!(echo["method"], "GET");
    assert!(
        echo["uri"]
            .as_str()
            .unwrap()
            .ends_with("/search?x=1&q=rust+wasm"),
        "{echo}"
    );

    let echo = echoed(&send(client().post(gateway.url("/entity")).body("old")).body);
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["body"], "{\"path\": \"/entity\"}");
}

#[test]
fn entity_extract_filter_assigns_what_the_patterns_find() {
    let page =
        "<form><input name=\"csrf\" value=\"tok-123\"><input name=\"user\" value=\"bob\"></form>";
    let routes = [
        (
            "response",
            chain(
                "/response",
                json!([
                    {"type": "HeaderFilter", "config": {"messageType": "RESPONSE", "add": {
                        "X-Csrf": ["${attributes.found.csrf}"],
                        "X-User": ["${attributes.found.user}"],
                        "X-Missing": ["${attributes.found.missing}"]
                    }}},
                    {"type": "EntityExtractFilter", "config": {
                        "messageType": "RESPONSE",
                        "target": "${attributes.found}",
                        "bindings": [
                            {"key": "csrf", "pattern": "name=\"csrf\" value=\"([^\"]+)\"", "template": "$1"},
                            {"key": "user", "pattern": "name=\"user\" value=\"(?P<name>[a-z]+)\"", "template": "user:${name}"},
                            {"key": "missing", "pattern": "absent=(\\d+)"}
                        ]
                    }}
                ]),
                json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": page}}),
            ),
        ),
        (
            "request",
            chain(
                "/request",
                json!([{"type": "EntityExtractFilter", "config": {
                    "messageType": "REQUEST",
                    "target": "${attributes.order}",
                    "bindings": [{"key": "id", "pattern": "\"id\":\\s*(\\d+)", "template": "$1"}]
                }}]),
                json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "order ${attributes.order.id} of ${request.entity}"}}),
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes);

    let reply = get(&gateway, "/response");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, page, "the body still reaches the client");
    assert_eq!(reply.header("x-csrf"), Some("tok-123"));
    assert_eq!(reply.header("x-user"), Some("user:bob"));
    assert!(reply.header("x-missing").is_none());

    let reply = send(
        client()
            .post(gateway.url("/request"))
            .body("{\"id\": 42, \"qty\": 1}"),
    );
    assert_eq!(reply.body, "order 42 of {\"id\": 42, \"qty\": 1}");
}

#[test]
fn location_header_filter_is_also_called_redirect_filter() {
    let routes = [(
        "alias",
        chain(
            "/alias",
            json!([{"type": "RedirectFilter", "config": {"baseURI": "https://gateway.example.com"}}]),
            redirect(303, "http://app.internal:8081/done"),
        ),
    )];
    let (_config, gateway) = serve(&routes);
    let reply = send(no_redirects().get(gateway.url("/alias")));
    assert_eq!(reply.status, 303);
    assert_eq!(
        reply.header("location"),
        Some("https://gateway.example.com/done")
    );
}

#[test]
fn static_request_filter_puts_a_form_in_the_query_and_an_entity_in_the_body_but_for_post() {
    let upstream = Upstream::echo();
    let base = upstream.base_uri();
    let routes = [(
        "get-both",
        chain(
            "/get-both",
            json!([{"type": "StaticRequestFilter", "config": {
                "method": "GET",
                "uri": format!("{base}/search"),
                "version": "HTTP/1.1",
                "form": {"q": ["a b"]},
                "entity": "for ${request.method}"
            }}]),
            json!("ClientHandler"),
        ),
    )];
    let (_config, gateway) = serve(&routes);
    let echo = echoed(&send(client().post(gateway.url("/get-both")).body("old")).body);
    assert_eq!(echo["method"], "GET");
    assert!(
        echo["uri"].as_str().unwrap().ends_with("/search?q=a+b"),
        "{echo}"
    );
    assert_eq!(echo["body"], "for POST");
}

#[test]
fn a_header_filter_literal_that_http_forbids_is_a_load_error_naming_the_header() {
    let config = ConfigDir::new();
    config.write_route(
        "crlf.json",
        &chain(
            "/crlf",
            json!([{"name": "injector", "type": "HeaderFilter", "config": {
                "messageType": "RESPONSE", "add": {"X-Bad": ["a\r\nSet-Cookie: admin=1"]}
            }}]),
            json!({"type": "StaticResponseHandler", "config": {"status": 200}}),
        ),
    );
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok, "{stderr}");
    for needle in [
        "crlf.json",
        "injector",
        "header \"X-Bad\"",
        "HTTP does not allow",
    ] {
        assert!(stderr.contains(needle), "{needle} in {stderr}");
    }
}

#[test]
fn header_filter_replaces_headers_and_reads_its_message_type_ignoring_case() {
    let upstream = Upstream::echo();
    // IG's remove, replace, add, over a response that has the headers already.
    let rewriting = |path: &str, message_type: &str, replaced: Value| {
        chain(
            path,
            json!([{"type": "HeaderFilter", "config": {
                "messageType": message_type,
                "remove": ["Server"],
                "replace": {"X-Env": replaced},
                "add": {"X-Env": ["extra"]}
            }}]),
            json!({"type": "StaticResponseHandler", "config": {"status": 200, "headers": {
                "X-Env": ["dev", "test"], "Server": ["app/1.0"]
            }}}),
        )
    };
    let routes = [
        (
            "request",
            chain(
                "/request",
                json!([{"type": "HeaderFilter", "config": {
                    "messageType": "request",
                    "replace": {"X-User": ["fixed"]}
                }}]),
                json!({"type": "ClientHandler", "baseURI": upstream.base_uri()}),
            ),
        ),
        (
            "response",
            rewriting(
                "/response",
                "Response",
                json!(["prod", "${request.method}"]),
            ),
        ),
        // All values literal: the plugin declares the edit, and the host makes it.
        (
            "literal",
            rewriting("/literal", "RESPONSE", json!(["prod", "live"])),
        ),
    ];
    let (_config, gateway) = serve(&routes);

    let echo = echoed(
        &send(
            client()
                .get(gateway.url("/request"))
                .header("x-user", "forged"),
        )
        .body,
    );
    assert_eq!(echo["headers"]["x-user"], "fixed");

    for (path, env) in [
        ("/response", ["prod", "GET", "extra"]),
        ("/literal", ["prod", "live", "extra"]),
    ] {
        let reply = get(&gateway, path);
        assert_eq!(reply.all("x-env"), env, "{path}");
        assert!(reply.header("server").is_none(), "{path}");
    }
}

#[test]
fn entity_extract_filter_reads_the_body_in_its_charset() {
    // Answers with the `name` found in the request body.
    let extracting = |path: &str, settings: Value| {
        let mut config = json!({
            "messageType": "request",
            "target": "${attributes.found}",
            "bindings": [{"key": "name", "pattern": "name=([^&]+)", "template": "$1"}]
        });
        if let (Some(config), Value::Object(settings)) = (config.as_object_mut(), settings) {
            config.extend(settings);
        }
        chain(
            path,
            json!([{"type": "EntityExtractFilter", "config": config}]),
            json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "${attributes.found.name}"}}),
        )
    };
    let routes = [
        ("declared", extracting("/declared", json!({}))),
        (
            "overridden",
            extracting("/overridden", json!({"charset": "UTF-8"})),
        ),
    ];
    let (_config, gateway) = serve(&routes);
    let latin1 = |path: &str| {
        send(
            client()
                .post(gateway.url(path))
                .header("content-type", "text/plain; charset=ISO-8859-1")
                .body(b"name=caf\xe9".to_vec()),
        )
    };
    // The Content-Type's charset by default; "charset" overrides it.
    assert_eq!(latin1("/declared").body, "café");
    assert_eq!(latin1("/overridden").body, "caf\u{fffd}");
}

#[test]
fn message_filters_reject_bad_configuration_at_load() {
    let ok = json!({"type": "StaticResponseHandler", "config": {"status": 200}});
    let config = ConfigDir::new();
    config.write_route(
        "both.json",
        &chain(
            "/a",
            json!([{"type": "StaticRequestFilter", "config": {"method": "POST", "uri": "http://x/", "form": {"a": ["1"]}, "entity": "e"}}]),
            ok.clone(),
        ),
    );
    config.write_route(
        "regex.json",
        &chain(
            "/b",
            json!([{"type": "EntityExtractFilter", "config": {"messageType": "REQUEST", "target": "${attributes.x}", "bindings": [{"key": "k", "pattern": "(unclosed"}]}}]),
            ok.clone(),
        ),
    );
    config.write_route(
        "base.json",
        &chain(
            "/c",
            json!([{"type": "LocationHeaderFilter", "config": {"baseURI": "gateway.example.com"}}]),
            ok,
        ),
    );
    config.write_route(
        "version.json",
        &chain(
            "/d",
            json!([{"type": "StaticRequestFilter", "config": {"method": "GET", "uri": "http://x/", "version": "HTTP/2"}}]),
            json!({"type": "StaticResponseHandler", "config": {"status": 200}}),
        ),
    );
    config.write_route(
        "charset.json",
        &chain(
            "/e",
            json!([{"type": "EntityExtractFilter", "config": {"messageType": "REQUEST", "charset": "KOI8-R", "target": "${attributes.x}", "bindings": []}}]),
            json!({"type": "StaticResponseHandler", "config": {"status": 200}}),
        ),
    );
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("both.json"), "{stderr}");
    assert!(
        stderr.contains("cannot be used together in a POST"),
        "{stderr}"
    );
    assert!(
        stderr.contains("version.json")
            && stderr.contains("\"version\": \"HTTP/2\" is not supported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("charset.json") && stderr.contains("KOI8-R is not supported"),
        "{stderr}"
    );
    assert!(stderr.contains("regex.json"), "{stderr}");
    assert!(stderr.contains("\"bindings\"[0].pattern"), "{stderr}");
    assert!(stderr.contains("base.json"), "{stderr}");
    assert!(stderr.contains("not an absolute URI"), "{stderr}");
}

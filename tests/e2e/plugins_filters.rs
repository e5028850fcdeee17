//! The example plugins (tests/plugins, built on the SDK) and the embedded HeaderFilter
//! through the real binary: every capability of the contract, used from route JSON.

use std::time::Duration;

use ferrogate_e2e::upstream::Upstream;
use serde_json::{Value, json};

use crate::plugins_support::{configure, start};
use crate::{client, get, send};

fn proxied(path: &str, filters: Value, upstream: &Upstream) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "baseURI": upstream.base_uri(),
        "handler": {"type": "Chain", "config": {"filters": filters, "handler": "ReverseProxyHandler"}}
    })
}

#[test]
fn example_plugins_use_every_capability_of_the_contract() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "headers",
            proxied(
                "/headers",
                json!([
                    {"type": "AddRequestHeader", "config": {"name": "X-Plugin", "value": "v1"}},
                    {"type": "AddResponseHeader", "config": {"name": "X-Plugin-Response", "value": "r1"}}
                ]),
                &upstream,
            ),
        ),
        (
            "auth",
            proxied(
                "/auth",
                json!([{"type": "RequireToken", "config": {"token": "good"}}]),
                &upstream,
            ),
        ),
        (
            "body",
            proxied(
                "/body",
                json!([{"type": "BodyEcho", "config": {"limit": 64}}]),
                &upstream,
            ),
        ),
        (
            "expressions",
            proxied(
                "/expressions",
                json!([
                    {"type": "ExpressionsFilter", "config": {
                        "condition": "${request.method == 'GET'}",
                        "attribute-template": "${request.method}-from-${request.uri.path}",
                        "header": "X-Template"
                    }},
                    {"type": "HeaderFilter", "config": {
                        "messageType": "REQUEST",
                        "add": {"X-Checked": ["${attributes.checked}"]}
                    }}
                ]),
                &upstream,
            ),
        ),
        (
            "fallback",
            proxied(
                "/fallback",
                json!([{"type": "FailureHandlerFilter", "config": {"failureHandler": "Teapot"}}]),
                &upstream,
            ),
        ),
        (
            "inline-fallback",
            proxied(
                "/inline-fallback",
                json!([{"type": "FailureHandlerFilter", "config": {"failureHandler": {
                    "type": "StaticResponseHandler", "config": {"status": 503, "entity": "inline"}
                }}}]),
                &upstream,
            ),
        ),
        (
            "outbound",
            proxied(
                "/outbound",
                json!([{"type": "OutboundFilter", "config": {"url": format!("{}/side", upstream.base_uri())}}]),
                &upstream,
            ),
        ),
        (
            "limited",
            proxied(
                "/limited",
                json!([{"name": "limiter", "type": "WindowLimit", "config": {"limit": 2, "windowMs": 60000}}]),
                &upstream,
            ),
        ),
        (
            "hello",
            json!({
                "name": "hello-route",
                "condition": "${request.uri.path == '/hello'}",
                "handler": {"type": "HelloHandler", "config": {"message": "hello from a plugin handler"}}
            }),
        ),
        (
            "decorated",
            json!({
                "condition": "${request.uri.path == '/decorated'}",
                "handler": {"type": "StaticResponseHandler", "deco": "decoration-value", "config": {"status": 200, "entity": "plain"}}
            }),
        ),
    ];
    let heap = json!([
        {"name": "Teapot", "type": "StaticResponseHandler", "config": {"status": 418, "entity": "short and stout"}},
        {"name": "deco", "type": "timing"}
    ]);
    let (_config, gateway) = start(&routes, heap, json!({}));

    // A request header filter and a response header filter.
    let reply = get(&gateway, "/headers");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["headers"]["x-plugin"], "v1");
    assert_eq!(reply.header("x-plugin-response"), Some("r1"));

    // A short-circuiting auth check: the upstream never sees the refused request.
    let denied = get(&gateway, "/auth");
    assert_eq!(denied.status, 401);
    assert_eq!(denied.body, "missing or wrong bearer token\n");
    assert_eq!(denied.header("www-authenticate"), Some("Bearer"));
    assert!(denied.header("x-upstream").is_none());
    let allowed = send(
        client()
            .get(gateway.url("/auth"))
            .header("authorization", "Bearer good"),
    );
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.header("x-upstream"), Some("echo"));

    // A body-reading filter, with its bound.
    let body = send(client().post(gateway.url("/body")).body("hello body"));
    assert_eq!((body.status, body.body.as_str()), (200, "ydob olleh"));
    assert_eq!(body.header("x-body-length"), Some("10"));
    let too_large = send(client().post(gateway.url("/body")).body(vec![b'x'; 1000]));
    assert_eq!(too_large.status, 500, "{}", too_large.body);

    // Expressions compiled once, an attribute set by a plugin and read by HeaderFilter.
    let reply = get(&gateway, "/expressions");
    let echo = reply.json();
    assert_eq!(echo["headers"]["x-template"], "GET-from-/expressions");
    assert_eq!(echo["headers"]["x-checked"], "true");

    // A heap handler by reference, by name and inline.
    assert_eq!(get(&gateway, "/fallback").status, 200);
    let failed = send(client().get(gateway.url("/fallback")).header("x-fail", "1"));
    assert_eq!(
        (failed.status, failed.body.as_str()),
        (418, "short and stout")
    );
    let inline = send(
        client()
            .get(gateway.url("/inline-fallback"))
            .header("x-fail", "1"),
    );
    assert_eq!((inline.status, inline.body.as_str()), (503, "inline"));

    // Outbound HTTP through the host's client.
    let reply = get(&gateway, "/outbound");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["headers"]["x-outbound-status"], "200");

    // Shared counters with expiry, and a plugin metric.
    assert_eq!(get(&gateway, "/limited").status, 200);
    assert_eq!(get(&gateway, "/limited").status, 200);
    let limited = get(&gateway, "/limited");
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let metrics = get(&gateway, "/openig/metrics/prometheus");
    assert!(
        metrics.body.contains(
            "ferrogate_plugin_rejected_total{type=\"WindowLimit\",object=\"limiter\",route=\"limited\"} 1"
        ),
        "{}",
        metrics.body
    );

    // A handler type, which sees the route it serves.
    let hello = get(&gateway, "/hello");
    assert_eq!(
        (hello.status, hello.body.as_str()),
        (200, "hello from a plugin handler")
    );
    assert_eq!(hello.header("x-route"), Some("hello-route"));

    // A decorator, configured by its decoration value.
    let decorated = get(&gateway, "/decorated");
    assert_eq!(decorated.body, "plain");
    assert_eq!(decorated.header("x-decorated"), Some("decoration-value"));
}

#[test]
fn the_embedded_header_filter_rewrites_requests_and_responses() {
    let upstream = Upstream::echo();
    let routes = [(
        "rewrite",
        proxied(
            "/rewrite",
            json!([
                {"type": "HeaderFilter", "config": {
                    "messageType": "REQUEST",
                    "remove": ["X-Secret"],
                    "add": {"X-Method": ["${request.method}"], "X-Null": ["${attributes.absent}"]}
                }},
                {"type": "HeaderFilter", "config": {
                    "messageType": "RESPONSE",
                    "remove": ["X-Upstream"],
                    "add": {"X-Gateway": ["ferrogate", "${request.method}"]}
                }}
            ]),
            &upstream,
        ),
    )];
    // No plugin directory at all: HeaderFilter is part of the binary.
    let (_config, gateway) = ferrogate_e2e::serve(&routes);
    let reply = send(
        client()
            .get(gateway.url("/rewrite"))
            .header("x-secret", "hunter2"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let echo = reply.json();
    assert_eq!(echo["headers"]["x-method"], "GET");
    assert!(echo["headers"].get("x-secret").is_none(), "{echo}");
    assert!(echo["headers"].get("x-null").is_none(), "{echo}");
    let added: Vec<&str> = reply
        .headers
        .get_all("x-gateway")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert_eq!(added, ["ferrogate", "GET"]);
    assert!(reply.header("x-upstream").is_none());
}

/// `config.rebase-requests`: the host rebases each request onto the declared base and does
/// not call the object's `on-request` (FixedRebase fails the request if it is called); the
/// response phase still runs; the declaration is refused during a call, and a base that is
/// not absolute is a load error naming the route and the object.
#[test]
fn a_declared_rebase_is_done_by_the_host_without_calling_the_plugin() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "declared",
            json!({
                "handler": {"type": "Chain", "config": {
                    "filters": [{"type": "FixedRebase", "config": {"base": format!("{}/prefix/", upstream.base_uri())}}],
                    "handler": "ReverseProxyHandler"
                }}
            }),
        ),
        (
            "relative",
            json!({
                "condition": "${request.uri.path == '/relative'}",
                "handler": {"type": "Chain", "config": {
                    "filters": [{"name": "badbase", "type": "FixedRebase", "config": {"base": "/not/absolute"}}],
                    "handler": "ReverseProxyHandler"
                }}
            }),
        ),
    ];
    let config = configure(&["fixed-rebase"], json!({}), json!([]), &routes);
    let gateway = ferrogate_e2e::Gateway::start(config.path());
    for _ in 0..3 {
        let reply = send(client().get(gateway.url("/item?id=3")));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let echo = reply.json();
        assert!(
            echo["uri"]
                .as_str()
                .is_some_and(|uri| uri.ends_with("/prefix/item?id=3")),
            "{echo}"
        );
        let late = reply.header("x-late-declaration").unwrap_or_default();
        assert!(late.contains("during init"), "{late}");
    }
    let refused = gateway.wait_for_log(
        &[
            "relative.json",
            "badbase",
            "/not/absolute",
            "is not an absolute URI",
        ],
        Duration::from_secs(5),
    );
    assert!(refused.is_some(), "{:#?}", gateway.logs());
}

#[test]
fn declared_header_edits_are_made_by_the_host_without_calling_the_plugin() {
    let upstream = Upstream::echo();
    let fixed = |config: Value| json!({"type": "FixedHeaders", "config": config});
    let routes = [
        (
            "request",
            proxied(
                "/request",
                json!([fixed(json!({
                    "messageType": "REQUEST",
                    "remove": ["Cookie", "X-Fixed"],
                    "append": [["X-Fixed", "one"]],
                    "otherPhase": true
                }))]),
                &upstream,
            ),
        ),
        (
            // Three adjacent objects of one component, each using only its response phase:
            // they would form a run, whose call would fail, if the host did not exclude them.
            "response",
            proxied(
                "/response",
                json!([
                    fixed(
                        json!({"messageType": "RESPONSE", "append": [["X-Order", "outer"]], "otherPhase": true})
                    ),
                    fixed(json!({"messageType": "RESPONSE", "append": [["X-Order", "middle"]]})),
                    fixed(
                        json!({"messageType": "RESPONSE", "remove": ["Content-Type"], "append": [["X-Order", "inner"]]})
                    )
                ]),
                &upstream,
            ),
        ),
        (
            "badvalue",
            proxied(
                "/badvalue",
                json!([{"name": "splitter", "type": "FixedHeaders", "config": {
                    "messageType": "RESPONSE", "append": [["X-Split", "a\r\nInjected: 1"]]
                }}]),
                &upstream,
            ),
        ),
        (
            "conflict",
            proxied(
                "/conflict",
                json!([{"name": "both", "type": "FixedHeaders", "config": {
                    "messageType": "REQUEST", "rebase": upstream.base_uri()
                }}]),
                &upstream,
            ),
        ),
    ];
    let config = configure(&["fixed-headers"], json!({}), json!([]), &routes);
    let gateway = ferrogate_e2e::Gateway::start(config.path());
    for _ in 0..3 {
        let reply = send(
            client()
                .get(gateway.url("/request"))
                .header("cookie", "session=secret")
                .header("x-fixed", "forged"),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let echo = reply.json();
        assert!(echo["headers"].get("cookie").is_none(), "{echo}");
        assert_eq!(echo["headers"]["x-fixed"], "one", "{echo}");
        let late = reply.header("x-late-declaration").unwrap_or_default();
        assert!(late.contains("during init"), "{late}");

        let reply = get(&gateway, "/response");
        assert_eq!(reply.status, 200, "{}", reply.body);
        // The response flows back from the handler: the innermost filter's edit comes first.
        assert_eq!(reply.all("x-order"), ["inner", "middle", "outer"]);
        assert!(reply.header("content-type").is_none());
        let late = reply.json()["headers"]["x-late-declaration"].clone();
        assert!(
            late.as_str()
                .is_some_and(|late| late.contains("during init")),
            "{late}"
        );
    }
    for (file, object, reason) in [
        ("badvalue.json", "splitter", "X-Split"),
        ("conflict.json", "both", "only one of the two"),
    ] {
        let refused = gateway.wait_for_log(&[file, object, reason], Duration::from_secs(5));
        assert!(refused.is_some(), "{:#?}", gateway.logs());
    }
}

#[test]
fn plugin_configuration_errors_name_the_route_file_and_the_object() {
    let routes = [
        (
            "typo",
            json!({"handler": {"type": "Chain", "config": {
                "filters": [{"name": "rewriter", "type": "HeaderFilter", "config": {"messageType": "REQUEST", "ad": {}}}],
                "handler": {"type": "StaticResponseHandler", "config": {"status": 200}}
            }}}),
        ),
        (
            "unknown",
            json!({"handler": {"type": "Chain", "config": {
                "filters": [{"type": "RequireTokn"}],
                "handler": {"type": "StaticResponseHandler", "config": {"status": 200}}
            }}}),
        ),
    ];
    let config = configure(&["require-token"], json!({}), json!([]), &routes);
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok, "{stderr}");
    // The plugin's own validation, reported with the file, the object and the position.
    assert!(stderr.contains("typo.json"), "{stderr}");
    assert!(stderr.contains("rewriter"), "{stderr}");
    assert!(stderr.contains("unknown field `ad`"), "{stderr}");
    // ... once: neither the object's name twice nor serde's position inside the config text,
    // which is not the file's.
    let diagnostic = crate::check::diagnostic_for(&stderr, "typo.json");
    assert_eq!(diagnostic.matches("rewriter").count(), 1, "{diagnostic}");
    assert!(!diagnostic.contains("at line"), "{diagnostic}");
    // An unknown type lists the plugin types with the native ones.
    assert!(stderr.contains("unknown.json"), "{stderr}");
    assert!(stderr.contains("RequireToken"), "{stderr}");
    assert!(stderr.contains("HeaderFilter"), "{stderr}");
    assert!(stderr.contains("StaticResponseHandler"), "{stderr}");

    // Served anyway: the broken routes are reported, the gateway starts.
    let gateway = ferrogate_e2e::Gateway::start(config.path());
    assert!(
        gateway
            .wait_for_log(&["typo", "unknown field `ad`"], Duration::from_secs(5))
            .is_some(),
        "{:#?}",
        gateway.logs()
    );
    assert_eq!(get(&gateway, "/").status, 404);
}

#[test]
fn a_plugin_directory_that_cannot_load_is_a_clear_error() {
    let config = configure(&[], json!({"directories": ["missing"]}), json!([]), &[]);
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("missing"), "{stderr}");
    assert!(stderr.contains("plugin directory"), "{stderr}");

    let config = configure(&[], json!({}), json!([]), &[]);
    config.write("plugins/broken.wasm", "not a component");
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("broken.wasm"), "{stderr}");

    let config = configure(&["trap"], json!({"memory": "12 parsecs"}), json!([]), &[]);
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("config.json"), "{stderr}");
    assert!(stderr.contains("unknown size unit"), "{stderr}");
}

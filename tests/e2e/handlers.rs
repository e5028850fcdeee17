//! The native handlers through the real binary, against a real upstream.

use std::time::Duration;

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

use crate::{client, get, refused_port, send};

fn static_handler(status: u16, entity: &str) -> Value {
    json!({"type": "StaticResponseHandler", "config": {"status": status, "entity": entity}})
}

fn start(upstream: &Upstream) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    let base = upstream.base_uri();
    let routes = [
        (
            "static",
            json!({
                "condition": "${request.uri.path == '/static'}",
                "handler": {
                    "type": "StaticResponseHandler",
                    "config": {
                        "status": 201,
                        "reason": "Made",
                        "headers": {
                            "Content-Type": ["text/plain; charset=utf-8"],
                            "X-Path": ["${request.uri.path}"],
                            "X-Client": ["${contexts.client.remoteAddress}"],
                            "X-Many": ["one", "${1 + 2}"]
                        },
                        "entity": "Hello ${request.form['name'][0]}, ${request.method} ${request.uri.path} ${7 / 2}"
                    }
                }
            }),
        ),
        (
            "chain",
            json!({
                "condition": "${find(request.uri.path, '^/proxy/')}",
                "handler": {
                    "type": "Chain",
                    "baseURI": base,
                    "config": {"filters": [], "handler": "ReverseProxyHandler"}
                }
            }),
        ),
        (
            "dispatch",
            json!({
                "condition": "${find(request.uri.path, '^/dispatch/')}",
                "handler": {
                    "type": "DispatchHandler",
                    "config": {
                        "bindings": [
                            {
                                "condition": "${request.uri.path == '/dispatch/up'}",
                                "handler": "ReverseProxyHandler",
                                "baseURI": format!("{base}/base")
                            },
                            {"handler": static_handler(200, "dispatch-fallback")}
                        ]
                    }
                }
            }),
        ),
        (
            "sequence-go",
            json!({
                "condition": "${request.uri.path == '/sequence/go'}",
                "handler": {
                    "type": "SequenceHandler",
                    "config": {
                        "bindings": [
                            {"handler": static_handler(404, "first"), "postcondition": "${response.status.code == 404}"},
                            {"handler": static_handler(200, "second")}
                        ]
                    }
                }
            }),
        ),
        (
            "sequence-stop",
            json!({
                "condition": "${request.uri.path == '/sequence/stop'}",
                "handler": {
                    "type": "SequenceHandler",
                    "config": {
                        "bindings": [
                            {"handler": static_handler(200, "first"), "postcondition": "${response.status.code == 404}"},
                            {"handler": static_handler(200, "second")}
                        ]
                    }
                }
            }),
        ),
        (
            "down",
            json!({
                "condition": "${request.uri.path == '/down'}",
                "baseURI": format!("http://127.0.0.1:{}", refused_port()),
                "handler": "ReverseProxyHandler"
            }),
        ),
        (
            "slow",
            json!({
                "condition": "${request.uri.path == '/slow'}",
                "baseURI": base,
                "handler": {"type": "ReverseProxyHandler", "config": {"soTimeout": "300 ms"}}
            }),
        ),
    ];
    config.write_routes(&routes);
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

#[test]
fn static_response_handler_evaluates_its_headers_and_entity() {
    let upstream = Upstream::echo();
    let (_config, gateway) = start(&upstream);
    let reply = get(&gateway, "/static?name=Ada");
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body, "Hello Ada, GET /static 3.5");
    assert_eq!(reply.header("x-path"), Some("/static"));
    assert_eq!(reply.header("x-client"), Some("127.0.0.1"));
    let many: Vec<&str> = reply
        .headers
        .get_all("x-many")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(many, ["one", "3"]);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

#[test]
fn static_response_handler_reads_a_posted_form_as_ig_does() {
    let upstream = Upstream::echo();
    let (_config, gateway) = start(&upstream);
    // IG's request.form holds the query parameters and, for a form body, the posted ones.
    let reply = send(
        client()
            .post(gateway.url("/static?name=Query"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=Grace&other=1"),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body, "Hello Query, POST /static 3.5");
    let reply = send(
        client()
            .post(gateway.url("/static"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=Grace+Hopper"),
    );
    assert_eq!(reply.body, "Hello Grace Hopper, POST /static 3.5");
}

#[test]
fn a_chain_with_a_base_uri_proxies_to_the_upstream() {
    let upstream = Upstream::echo();
    let (_config, gateway) = start(&upstream);
    let reply = send(
        client()
            .get(gateway.url("/proxy/a/b?c=1&d=%20x"))
            .header("X-Custom", "yes"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-upstream"), Some("echo"));
    let echo = reply.json();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["uri"], "/proxy/a/b?c=1&d=%20x");
    let headers = &echo["headers"];
    assert_eq!(headers["x-custom"], "yes");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], gateway.address.to_string());
    assert_eq!(headers["host"], upstream.address.to_string());

    // An existing X-Forwarded-For is appended to; hop-by-hop headers stay on this hop;
    // the path goes as the client encoded it.
    let reply = send(
        client()
            .get(gateway.url("/proxy/a%2Fb%20c"))
            .header("X-Forwarded-For", "203.0.113.9")
            .header("Connection", "X-Hop")
            .header("X-Hop", "secret"),
    );
    let echo = reply.json();
    assert_eq!(echo["uri"], "/proxy/a%2Fb%20c");
    assert_eq!(echo["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert!(echo["headers"].get("x-hop").is_none(), "{echo}");

    // HTTP/2 clients are proxied too.
    let h2 = reqwest::blocking::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let reply = send(h2.get(gateway.url("/proxy/h2")));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["uri"], "/proxy/h2");
    assert_eq!(
        reply.json()["headers"]["x-forwarded-host"],
        gateway.address.to_string()
    );

    let posted = send(client().post(gateway.url("/proxy/post")).body("payload"));
    assert_eq!(posted.json()["body"], "payload");
    assert_eq!(posted.json()["method"], "POST");
}

#[test]
fn dispatch_handler_picks_a_binding_and_rebases() {
    let upstream = Upstream::echo();
    let (_config, gateway) = start(&upstream);
    let reply = get(&gateway, "/dispatch/up?x=1");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["uri"], "/base/dispatch/up?x=1");
    let fallback = get(&gateway, "/dispatch/other");
    assert_eq!(
        (fallback.status, fallback.body.as_str()),
        (200, "dispatch-fallback")
    );
}

#[test]
fn sequence_handler_follows_its_postconditions() {
    let upstream = Upstream::echo();
    let (_config, gateway) = start(&upstream);
    let go = get(&gateway, "/sequence/go");
    assert_eq!((go.status, go.body.as_str()), (200, "second"));
    let stop = get(&gateway, "/sequence/stop");
    assert_eq!((stop.status, stop.body.as_str()), (200, "first"));
}

#[test]
fn upstream_failures_answer_502_and_504() {
    let upstream = Upstream::echo();
    let (_config, gateway) = start(&upstream);
    assert_eq!(get(&gateway, "/down").status, 502);

    let (slow, took) = crate::get_delayed(&gateway, "/slow", Duration::from_millis(3000));
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert!(
        took < Duration::from_millis(2000),
        "the 300 ms soTimeout answered after {took:?}"
    );
    // The route still serves requests the upstream answers in time.
    let fast = get(&gateway, "/slow");
    assert_eq!(fast.status, 200, "{}", fast.body);
    assert_eq!(fast.json()["uri"], "/slow");
    assert_eq!(get(&gateway, "/down").status, 502);
}

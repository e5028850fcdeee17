//! Route conditions over every part of the request and the gateway's environment.

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::json;

use crate::{body_or_status, client, send, static_route};

/// One gateway with a route per condition; each route answers its own name.
fn gateway(upstream: &Upstream) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &json!({
            "properties": {"tenant": "blue"},
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    let routes = [
        ("path-find", "${find(request.uri.path, '^/api/')}"),
        ("path-starts-with", "${request.uri.path.startsWith('/x')}"),
        (
            "method",
            "${request.uri.path == '/m' && request.method == 'DELETE'}",
        ),
        (
            "header",
            "${request.uri.path == '/h' && request.headers['X-Tenant'][0] == 'blue'}",
        ),
        (
            "query",
            "${request.uri.path == '/q' && request.uri.query == 'a=1'}",
        ),
        (
            "form",
            "${request.uri.path == '/f' && request.form['q'][0] == 'x'}",
        ),
        // Sorts before "ip-local" on the same path: must not match from loopback.
        (
            "ip-10",
            "${request.uri.path == '/ip' && ipMatch(contexts.client.remoteAddress, '10.0.0.0/8')}",
        ),
        (
            "ip-local",
            "${request.uri.path == '/ip' && contexts.client.remoteAddress == '127.0.0.1'}",
        ),
        (
            "env-unset",
            "${request.uri.path == '/env' && env['FG_TEST_UNSET'] == 'on'}",
        ),
        (
            "env-on",
            "${request.uri.path == '/env' && env['FG_TEST_FLAG'] == 'on'}",
        ),
        (
            "property",
            "${request.uri.path == '/p' && request.headers['X-Tenant'][0] == tenant}",
        ),
    ];
    for (name, condition) in routes {
        config.write_route(
            &format!("{name}.json"),
            &static_route(Some(name), Some(condition), name),
        );
    }
    // The body condition's route proxies, so the test also sees that the body read for the
    // condition still reaches the upstream.
    config.write_route(
        "body.json",
        &json!({
            "name": "body",
            "condition": "${request.uri.path == '/orders' && request.entity.json.kind == 'order'}",
            "baseURI": upstream.base_uri(),
            "handler": "ReverseProxyHandler"
        }),
    );
    let gateway = Gateway::start_with(config.path(), &[], &[("FG_TEST_FLAG", "on")]);
    (config, gateway)
}

#[test]
fn conditions_see_the_request_and_the_environment() {
    let upstream = Upstream::echo();
    let (_config, gateway) = gateway(&upstream);
    let client = client();
    let get = |path: &str| body_or_status(send(client.get(gateway.url(path))));
    let with_header = |method: reqwest::Method, path: &str, tenant: &str| {
        body_or_status(send(
            client
                .request(method, gateway.url(path))
                .header("X-Tenant", tenant),
        ))
    };

    assert_eq!(get("/api/v1"), "path-find");
    assert_eq!(get("/v1/api/"), "<404>");
    assert_eq!(get("/xyz"), "path-starts-with");
    assert_eq!(get("/y/x"), "<404>");

    assert_eq!(
        body_or_status(send(client.delete(gateway.url("/m")))),
        "method"
    );
    assert_eq!(get("/m"), "<404>");

    assert_eq!(with_header(reqwest::Method::GET, "/h", "blue"), "header");
    assert_eq!(with_header(reqwest::Method::GET, "/h", "red"), "<404>");
    // No header at all: the condition fails to evaluate, which counts as false.
    assert_eq!(get("/h"), "<404>");

    assert_eq!(get("/q?a=1"), "query");
    assert_eq!(get("/q?a=2"), "<404>");
    assert_eq!(get("/q"), "<404>");
    assert_eq!(get("/f?q=x"), "form");
    assert_eq!(get("/f?q=y"), "<404>");
    // A POSTed form counts too.
    let posted = |body: &str| {
        body_or_status(send(
            client
                .post(gateway.url("/f"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.to_owned()),
        ))
    };
    assert_eq!(posted("q=x"), "form");
    assert_eq!(posted("q=y"), "<404>");

    assert_eq!(get("/ip"), "ip-local");
    assert_eq!(get("/env"), "env-on");

    assert_eq!(with_header(reqwest::Method::GET, "/p", "blue"), "property");
    assert_eq!(with_header(reqwest::Method::GET, "/p", "red"), "<404>");
}

#[test]
fn a_condition_on_the_request_body() {
    let upstream = Upstream::echo();
    let (_config, gateway) = gateway(&upstream);
    let client = client();
    let post = |body: &str| {
        send(
            client
                .post(gateway.url("/orders"))
                .header("Content-Type", "application/json")
                .body(body.to_owned()),
        )
    };

    let order = r#"{"kind": "order", "id": 7}"#;
    let reply = post(order);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-upstream"), Some("echo"));
    let echo = reply.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["uri"], "/orders");
    assert_eq!(
        echo["body"], order,
        "the body read by the condition must still be forwarded"
    );

    assert_eq!(post(r#"{"kind": "refund"}"#).status, 404);
    assert_eq!(post("not json").status, 404);
    assert_eq!(
        body_or_status(send(client.post(gateway.url("/orders")))),
        "<404>"
    );
    // Other routes still work while the body is read for conditions.
    assert_eq!(
        body_or_status(send(client.get(gateway.url("/api/x")))),
        "path-find"
    );
}

/// A body over the buffering limit, sent while some route's condition reads bodies, must not
/// be silently dropped on its way to another route's upstream.
#[test]
fn a_large_body_is_not_lost_to_body_conditions() {
    let upstream = Upstream::echo();
    let (config, gateway) = gateway(&upstream);
    config.write_route(
        "upload.json",
        &json!({
            "name": "upload",
            "condition": "${request.uri.path == '/upload'}",
            "baseURI": upstream.base_uri(),
            "handler": "ReverseProxyHandler"
        }),
    );
    crate::settles("the upload route", || {
        crate::status_of(&gateway, "upload.json").as_deref() == Some("deployed")
    });
    let small = send(client().post(gateway.url("/upload")).body("small"));
    assert_eq!(small.json()["body"], "small");
    let large = "x".repeat(2 << 20);
    let reply = send(client().post(gateway.url("/upload")).body(large.clone()));
    assert_eq!(
        reply.status, 200,
        "a 2 MiB body answered {}: {}",
        reply.status, reply.body
    );
    assert_eq!(
        reply.json()["body"].as_str().map(str::len),
        Some(large.len()),
        "the body arrived truncated"
    );
}

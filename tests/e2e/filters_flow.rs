//! The standard flow-control filters (embedded plugins) through the real binary:
//! AssignmentFilter, ConditionEnforcementFilter and SwitchFilter, with IG-style route JSON.

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

use crate::{client, get, send};

fn chain(path: &str, filters: Value, handler: Value) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "handler": {"type": "Chain", "config": {"filters": filters, "handler": handler}}
    })
}

fn serve(routes: &[(&str, Value)], heap: Value) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &json!({"heap": heap, "handler": {"name": "_router", "type": "Router"}}).to_string(),
    );
    for (name, route) in routes {
        config.write_route(&format!("{name}.json"), route);
    }
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

fn echoed(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("not an echo ({error}): {body}"))
}

#[test]
fn assignment_filter_sets_attributes_headers_and_session_per_phase() {
    let upstream = Upstream::echo();
    let routes = [(
        "assign",
        json!({
            "condition": "${request.uri.path == '/assign'}",
            "baseURI": upstream.base_uri(),
            "handler": {"type": "Chain", "config": {
                "filters": [
                    {"type": "AssignmentFilter", "config": {"onRequest": [
                        {"target": "${attributes.user}", "value": "${request.headers['X-User'][0]}"},
                        {"condition": "${attributes.user == 'admin'}", "target": "${attributes.role}", "value": "administrator"},
                        {"target": "${request.headers['X-Role']}", "value": "${attributes.role}"},
                        {"target": "${attributes.cleared}"}
                    ]}},
                    {"type": "HeaderFilter", "config": {"messageType": "RESPONSE", "add": {"X-After": ["${attributes.after}"]}}},
                    {"type": "AssignmentFilter", "config": {"onResponse": [
                        {"target": "${attributes.after}", "value": "${attributes.user}-done"}
                    ]}}
                ],
                "handler": "ReverseProxyHandler"
            }}
        }),
    )];
    let (_config, gateway) = serve(&routes, json!([]));

    let admin = send(
        client()
            .get(gateway.url("/assign"))
            .header("x-user", "admin"),
    );
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(echoed(&admin.body)["headers"]["x-role"], "administrator");
    assert_eq!(admin.header("x-after"), Some("admin-done"));

    // The condition is false: no role, and assigning null to a header removes nothing.
    let guest = send(
        client()
            .get(gateway.url("/assign"))
            .header("x-user", "guest"),
    );
    assert_eq!(guest.status, 200, "{}", guest.body);
    assert!(echoed(&guest.body)["headers"].get("x-role").is_none());
    assert_eq!(guest.header("x-after"), Some("guest-done"));
}

#[test]
fn condition_enforcement_filter_lets_through_or_answers_with_the_failure_handler() {
    let ok = json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "in"}});
    let routes = [
        (
            "forbidden",
            chain(
                "/default",
                json!([{"type": "ConditionEnforcementFilter", "config": {"condition": "${request.headers['X-Ok'][0] == 'yes'}"}}]),
                ok.clone(),
            ),
        ),
        (
            "custom",
            chain(
                "/custom",
                json!([{"type": "ConditionEnforcementFilter", "config": {
                    "condition": "${not empty request.headers['Authorization']}",
                    "failureHandler": "Unauthorized"
                }}]),
                ok.clone(),
            ),
        ),
    ];
    let heap = json!([{"name": "Unauthorized", "type": "StaticResponseHandler", "config": {
        "status": 401, "headers": {"WWW-Authenticate": ["Basic realm=\"test\""]}, "entity": "who are you?"
    }}]);
    let (_config, gateway) = serve(&routes, heap);

    let refused = get(&gateway, "/default");
    assert_eq!((refused.status, refused.body.as_str()), (403, ""));
    let allowed = send(client().get(gateway.url("/default")).header("x-ok", "yes"));
    assert_eq!((allowed.status, allowed.body.as_str()), (200, "in"));

    let refused = get(&gateway, "/custom");
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (401, "who are you?")
    );
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Basic realm=\"test\"")
    );
    let allowed = send(
        client()
            .get(gateway.url("/custom"))
            .header("authorization", "Bearer x"),
    );
    assert_eq!(allowed.status, 200);
}

#[test]
fn switch_filter_diverts_requests_and_replaces_responses() {
    let routes = [(
        "switch",
        chain(
            "/switch",
            json!([{"type": "SwitchFilter", "config": {
                "onRequest": [
                    {"condition": "${request.headers['X-Go'][0] == 'login'}", "handler": "Login"},
                    {"condition": "${request.headers['X-Go'][0] == 'inline'}", "handler": {
                        "type": "StaticResponseHandler", "config": {"status": 202, "entity": "inline"}
                    }}
                ],
                "onResponse": [
                    {"condition": "${request.headers['X-Go'][0] == 'replace'}", "handler": "Replaced"}
                ]
            }}]),
            json!({"type": "StaticResponseHandler", "config": {"status": 200, "headers": {"X-Original": ["1"]}, "entity": "original"}}),
        ),
    )];
    let heap = json!([
        {"name": "Login", "type": "StaticResponseHandler", "config": {"status": 302, "headers": {"Location": ["/login"]}}},
        {"name": "Replaced", "type": "StaticResponseHandler", "config": {"status": 503, "headers": {"X-Replaced": ["yes"]}, "entity": "replaced"}}
    ]);
    let (_config, gateway) = serve(&routes, heap);
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let plain = get(&gateway, "/switch");
    assert_eq!((plain.status, plain.body.as_str()), (200, "original"));

    let login = send(
        no_redirects
            .get(gateway.url("/switch"))
            .header("x-go", "login"),
    );
    assert_eq!(login.status, 302);
    assert_eq!(login.header("location"), Some("/login"));

    let inline = send(
        client()
            .get(gateway.url("/switch"))
            .header("x-go", "inline"),
    );
    assert_eq!((inline.status, inline.body.as_str()), (202, "inline"));

    let replaced = send(
        client()
            .get(gateway.url("/switch"))
            .header("x-go", "replace"),
    );
    assert_eq!((replaced.status, replaced.body.as_str()), (503, "replaced"));
    assert_eq!(replaced.header("x-replaced"), Some("yes"));
    assert!(replaced.header("x-original").is_none());
}

#[test]
fn conditional_filter_runs_its_delegate_only_when_the_condition_holds() {
    let upstream = Upstream::echo();
    let routes = [(
        "conditional",
        json!({
            "condition": "${find(request.uri.path, '^/conditional')}",
            "baseURI": upstream.base_uri(),
            "handler": {"type": "Chain", "config": {
                "filters": [
                    {"type": "ConditionalFilter", "config": {
                        "condition": "${find(request.uri.path, '/admin$')}",
                        "delegate": {"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {"X-Admin": ["true"]}}}
                    }},
                    {"type": "ConditionalFilter", "config": {
                        "condition": "${request.headers['X-Lock'][0] == 'on'}",
                        "delegate": "Locked"
                    }}
                ],
                "handler": "ReverseProxyHandler"
            }}
        }),
    )];
    let heap = json!([{"name": "Locked", "type": "ConditionEnforcementFilter", "config": {"condition": "${false}"}}]);
    let (_config, gateway) = serve(&routes, heap);

    let admin = get(&gateway, "/conditional/admin");
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(echoed(&admin.body)["headers"]["x-admin"], "true");

    let other = get(&gateway, "/conditional/other");
    assert_eq!(other.status, 200);
    assert!(echoed(&other.body)["headers"].get("x-admin").is_none());

    // A delegate that answers by itself ends the chain there.
    let locked = send(
        client()
            .get(gateway.url("/conditional/admin"))
            .header("x-lock", "on"),
    );
    assert_eq!(locked.status, 403);
    assert!(locked.header("x-upstream").is_none());
}

#[test]
fn flow_filters_reject_bad_configuration_at_load() {
    let ok = json!({"type": "StaticResponseHandler", "config": {"status": 200}});
    let routes = [
        (
            "no-condition",
            chain(
                "/a",
                json!([{"type": "ConditionEnforcementFilter", "config": {}}]),
                ok.clone(),
            ),
        ),
        (
            "bad-target",
            chain(
                "/b",
                json!([{"type": "AssignmentFilter", "config": {"onRequest": [{"target": "${attributes.x", "value": "1"}]}}]),
                ok.clone(),
            ),
        ),
        (
            "not-a-filter",
            chain(
                "/d",
                json!([{"type": "ConditionalFilter", "config": {"condition": "${true}", "delegate": {"type": "StaticResponseHandler", "config": {"status": 200}}}}]),
                ok.clone(),
            ),
        ),
        (
            "unknown-handler",
            chain(
                "/c",
                json!([{"type": "SwitchFilter", "config": {"onRequest": [{"handler": "Nowhere"}]}}]),
                ok.clone(),
            ),
        ),
    ];
    let config = ConfigDir::new();
    for (name, route) in &routes {
        config.write_route(&format!("{name}.json"), route);
    }
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("no-condition.json"), "{stderr}");
    assert!(stderr.contains("missing field `condition`"), "{stderr}");
    assert!(stderr.contains("bad-target.json"), "{stderr}");
    assert!(stderr.contains("unknown-handler.json"), "{stderr}");
    assert!(stderr.contains("Nowhere"), "{stderr}");
    assert!(stderr.contains("not-a-filter.json"), "{stderr}");
}

#[test]
fn http_basic_auth_filter_logs_in_with_a_secret_and_handles_refusals() {
    let upstream = Upstream::echo();
    let filter = json!({"type": "HttpBasicAuthFilter", "config": {
        "username": "${request.headers['X-User'][0]}",
        "passwordSecretId": "app.password",
        "secretsProvider": "AppSecrets",
        "failureHandler": "LoginFailed"
    }});
    let routes = [
        (
            "app",
            json!({
                "condition": "${request.uri.path == '/app'}",
                "baseURI": upstream.base_uri(),
                "handler": {"type": "Chain", "config": {"filters": [filter.clone()], "handler": "ReverseProxyHandler"}}
            }),
        ),
        (
            "refusing",
            chain(
                "/refusing",
                json!([filter]),
                json!({"type": "StaticResponseHandler", "config": {"status": 401, "headers": {"WWW-Authenticate": ["Basic realm=\"app\""]}}}),
            ),
        ),
    ];
    let heap = json!([
        {"name": "AppSecrets", "type": "Base64EncodedSecretStore", "config": {"secrets": {"app.password": "czNjcmV0"}}},
        {"name": "LoginFailed", "type": "StaticResponseHandler", "config": {"status": 403, "entity": "login failed"}}
    ]);
    let (_config, mut gateway) = serve(&routes, heap);

    let reply = send(client().get(gateway.url("/app")).header("x-user", "alice"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    // alice:s3cret
    assert_eq!(
        echoed(&reply.body)["headers"]["authorization"],
        "Basic YWxpY2U6czNjcmV0"
    );

    let refused = send(
        client()
            .get(gateway.url("/refusing"))
            .header("x-user", "alice"),
    );
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (403, "login failed")
    );
    assert!(refused.header("www-authenticate").is_none());
    assert!(
        gateway
            .stop_and_read_all_logs()
            .iter()
            .all(|line| !line.contains("s3cret")),
        "the password never reaches the logs"
    );

    // A missing secret is a load error naming the id.
    let config = ConfigDir::new();
    config.write_route(
        "app.json",
        &chain(
            "/app",
            json!([{"type": "HttpBasicAuthFilter", "config": {
                "username": "u", "passwordSecretId": "no.such.secret", "failureHandler": "LoginFailed"
            }}]),
            json!({"type": "StaticResponseHandler", "config": {"status": 200}}),
        ),
    );
    config.write(
        "config.json",
        &json!({"heap": [{"name": "LoginFailed", "type": "StaticResponseHandler", "config": {"status": 403}}],
                "handler": {"name": "_router", "type": "Router"}})
        .to_string(),
    );
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("app.json"), "{stderr}");
    assert!(stderr.contains("no.such.secret"), "{stderr}");
}

#[test]
fn http_basic_auth_filter_keeps_the_accepted_header_in_the_session_unless_told_not_to() {
    let upstream = Upstream::echo();
    let app = |path: &str, cache_header: Option<bool>| {
        let mut config = json!({
            "username": "${request.headers['X-User'][0]}",
            "passwordSecretId": "app.password",
            "secretsProvider": "AppSecrets",
            "failureHandler": "LoginFailed"
        });
        if let Some(cache_header) = cache_header {
            config["cacheHeader"] = json!(cache_header);
        }
        json!({
            "condition": format!("${{request.uri.path == '{path}'}}"),
            "baseURI": upstream.base_uri(),
            "handler": {"type": "Chain", "config": {
                "filters": [{"type": "HttpBasicAuthFilter", "config": config}],
                "handler": "ReverseProxyHandler"
            }}
        })
    };
    let routes = [
        ("cached", app("/cached", None)),
        ("fresh", app("/fresh", Some(false))),
    ];
    let heap = json!([
        {"name": "AppSecrets", "type": "Base64EncodedSecretStore", "config": {"secrets": {"app.password": "czNjcmV0"}}},
        {"name": "LoginFailed", "type": "StaticResponseHandler", "config": {"status": 403}}
    ]);
    let (_config, gateway) = serve(&routes, heap);
    let as_user = |path: &str, user: &str, session: Option<&str>| {
        let mut request = client().get(gateway.url(path)).header("x-user", user);
        if let Some(session) = session {
            request = request.header("cookie", session);
        }
        let reply = send(request);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply
    };
    let authorization = |reply: &crate::Reply| {
        echoed(&reply.body)["headers"]["authorization"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // IG's default: the header the application accepted is replayed for the session.
    let first = as_user("/cached", "alice", None);
    assert_eq!(authorization(&first), "Basic YWxpY2U6czNjcmV0");
    let session = first
        .header("set-cookie")
        .and_then(|cookie| cookie.split(';').next())
        .expect("the cached header lives in a session")
        .to_owned();
    let again = as_user("/cached", "bob", Some(&session));
    assert_eq!(authorization(&again), "Basic YWxpY2U6czNjcmV0");

    // cacheHeader false: computed for every request, and nothing kept in a session.
    let fresh = as_user("/fresh", "bob", Some(&session));
    assert_eq!(authorization(&fresh), "Basic Ym9iOnMzY3JldA==");
    let fresh = as_user("/fresh", "carol", None);
    assert!(fresh.header("set-cookie").is_none(), "{:?}", fresh.headers);
}

#[test]
fn a_delegate_with_a_configuration_time_expression_is_found_and_resolved() {
    let upstream = Upstream::echo();
    let routes = [(
        "home",
        json!({
            "baseURI": upstream.base_uri(),
            "handler": {"type": "Chain", "config": {
                "filters": [{"type": "ConditionalFilter", "config": {
                    "condition": "${true}",
                    "delegate": {"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {
                        "X-Home": ["${env['HOME']}"]
                    }}}
                }}],
                "handler": "ReverseProxyHandler"
            }}
        }),
    )];
    let (_config, gateway) = serve(&routes, json!([]));
    let reply = get(&gateway, "/anything");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let home = std::env::var("HOME").unwrap();
    assert_eq!(echoed(&reply.body)["headers"]["x-home"], home.as_str());
}

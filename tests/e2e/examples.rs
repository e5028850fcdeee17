//! The configurations in examples/ served by the real binary, so they stay correct.

use std::path::Path;
use std::time::Duration;

use ferrogate_e2e::Gateway;
use ferrogate_e2e::upstream::Upstream;
use serde_json::Value;

use crate::filters_oauth2::introspection_endpoint;
use crate::{client, get, send};

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

#[test]
fn the_api_gateway_example_protects_the_api_and_logs_in_to_the_legacy_app() {
    let orders = Upstream::echo();
    let legacy = Upstream::echo();
    let introspection = introspection_endpoint();
    let env = [
        ("ORDERS_URL", orders.base_uri()),
        ("LEGACY_URL", legacy.base_uri()),
        ("FRONTEND_ORIGIN", "https://shop.example.com".to_owned()),
        ("INTROSPECTION_URL", introspection.url.clone()),
        ("INTROSPECTION_CLIENT_ID", "gateway".to_owned()),
        ("INTROSPECTION_CLIENT_SECRET", "introspect-me".to_owned()),
        ("LEGACY_APP_USER", "gateway".to_owned()),
        ("LEGACY_APP_PASSWORD", "legacy-pass".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gateway = Gateway::start_with(&example("api-gateway"), &[], &env);

    // The API: a token with the scope gets through, as the user, without the token.
    let reply = send(
        client()
            .get(gateway.url("/api/orders/7"))
            .header("authorization", "Bearer reader"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let echo = reply.json();
    assert_eq!(echo["headers"]["x-user"], "alice");
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");
    assert!(echo["headers"].get("x-request-id").is_some(), "{echo}");
    // gateway:introspect-me
    assert!(
        introspection.authorizations.lock().unwrap()[0]
            .ends_with("Basic Z2F0ZXdheTppbnRyb3NwZWN0LW1l"),
        "{:?}",
        introspection.authorizations.lock().unwrap()
    );
    assert_eq!(get(&gateway, "/api/orders").status, 401);
    let preflight = send(
        client()
            .request(reqwest::Method::OPTIONS, gateway.url("/api/orders"))
            .header("origin", "https://shop.example.com")
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "authorization"),
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://shop.example.com")
    );

    // The legacy application: the gateway logs in for the user.
    let reply = get(&gateway, "/legacy/home");
    assert_eq!(reply.status, 200, "{}", reply.body);
    // gateway:legacy-pass
    assert_eq!(
        reply.json()["headers"]["authorization"],
        "Basic Z2F0ZXdheTpsZWdhY3ktcGFzcw=="
    );

    let unknown = get(&gateway, "/nowhere");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body, "{\"code\": 404, \"reason\": \"Not Found\"}");
}

#[test]
fn the_reverse_proxy_example_serves() {
    let app = Upstream::echo();
    let uri = app.base_uri();
    let gateway = Gateway::start_with(&example("reverse-proxy"), &[], &[("APP_URL", uri.as_str())]);
    assert_eq!(get(&gateway, "/health").status, 200);
    let reply = get(&gateway, "/app/page");
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// The repository's own `routes/`, served as `scripts/run` serves them: the quick start.
#[test]
fn the_quick_start_routes_serve_a_protected_api_without_other_servers() {
    let gateway = Gateway::start(Path::new(env!("CARGO_MANIFEST_DIR")));
    let welcome = get(&gateway, "/");
    assert_eq!(welcome.status, 200);
    assert!(
        welcome.body.contains("Ferrogate is running"),
        "{}",
        welcome.body
    );
    let hello = get(&gateway, "/hello?name=IG");
    assert_eq!(hello.body, "Hello, IG!\n");
    assert_eq!(hello.header("x-served-by"), Some("ferrogate"));

    // The API of routes/20-api.json: a preflight from the accepted origin is answered by
    // CorsFilter (and not counted by ThrottlingFilter, which comes after it)...
    let api = gateway.url("/api/whoami");
    let preflight = |origin: &str| {
        send(
            client()
                .request(reqwest::Method::OPTIONS, &api)
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization"),
        )
    };
    let accepted = preflight("http://localhost:3000");
    assert_eq!(accepted.status, 200);
    assert_eq!(
        accepted.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(preflight("https://elsewhere.example").status, 403);

    // ... a bearer token is introspected by the in-heap stand-in for an authorization server
    // (a POSTed form read by a StaticResponseHandler template)...
    let with_token = |token: Option<&str>| {
        let request = client().get(&api);
        send(match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    };
    let missing = with_token(None);
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"quick-start\"")
    );
    let wrong = with_token(Some("not-a-token"));
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .header("www-authenticate")
            .is_some_and(|challenge| challenge.contains("error=\"invalid_token\"")),
        "{:?}",
        wrong.headers
    );
    let admitted = with_token(Some("demo-token"));
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    let body: Value = serde_json::from_str(&admitted.body).expect("JSON");
    assert_eq!(body["user"], "demo-user");
    assert_eq!(body["scopes"], "api:read");
    assert!(admitted.header("x-request-id").is_some());

    // ... and the client's sixth request in 10 seconds is throttled.
    assert_eq!(with_token(Some("demo-token")).status, 200);
    assert_eq!(with_token(Some("demo-token")).status, 200);
    let throttled = with_token(Some("demo-token"));
    assert_eq!(throttled.status, 429);
    let retry_after: u64 = throttled
        .header("retry-after")
        .and_then(|seconds| seconds.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(
        (1..=10).contains(&retry_after),
        "Retry-After: {retry_after}"
    );

    // capture and timer decorate the API's chain; their records leave through the log's queue.
    for needle in ["capture REQUEST", "timer: handler finished in"] {
        gateway.expect_log(&[needle], Duration::from_secs(5));
    }
}

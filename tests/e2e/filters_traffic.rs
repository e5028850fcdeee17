//! CorsFilter and ThrottlingFilter (embedded plugins) through the real binary.

use std::time::{Duration, Instant};

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

use crate::{client, get, send};

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

fn behind(path: &str, filter: Value) -> Value {
    json!({
        "condition": format!("${{find(request.uri.path, '^{path}')}}"),
        "handler": {"type": "Chain", "config": {
            "filters": [filter],
            "handler": {"type": "StaticResponseHandler", "config": {
                "status": 200, "headers": {"X-Request-Id": ["r-1"]}, "entity": "data"
            }}
        }}
    })
}

fn cors_route() -> Value {
    behind(
        "/api",
        json!({"type": "CorsFilter", "config": {
            "policies": [
                {
                    "acceptedOrigins": ["https://app.example.com"],
                    "acceptedMethods": ["GET", "PUT"],
                    "acceptedHeaders": ["Authorization", "Content-Type"],
                    "exposedHeaders": ["X-Request-Id"],
                    "maxAge": "10 minutes",
                    "allowCredentials": true
                },
                {"acceptedOrigins": ["*"], "acceptedMethods": ["GET"]}
            ],
            "failureHandler": "CorsRefused"
        }}),
    )
}

fn preflight(gateway: &Gateway, origin: &str, method: &str, headers: &str) -> crate::Reply {
    let mut request = client()
        .request(reqwest::Method::OPTIONS, gateway.url("/api/items"))
        .header("origin", origin)
        .header("access-control-request-method", method);
    if !headers.is_empty() {
        request = request.header("access-control-request-headers", headers);
    }
    send(request)
}

#[test]
fn cors_filter_answers_preflights_and_decorates_accepted_requests() {
    let heap = json!([{"name": "CorsRefused", "type": "StaticResponseHandler", "config": {"status": 403, "entity": "CORS refused"}}]);
    let (_config, gateway) = serve(&[("api", cors_route())], heap);

    // An accepted preflight is answered by the filter.
    let ok = preflight(
        &gateway,
        "https://app.example.com",
        "PUT",
        "authorization, content-type",
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(ok.header("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("Authorization, Content-Type")
    );
    assert_eq!(ok.header("access-control-max-age"), Some("600"));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(ok.header("vary"), Some("Origin"));
    assert_ne!(ok.body, "data");

    // Refused preflights: a method, a header, an origin no policy accepts.
    for (origin, method, headers) in [
        ("https://app.example.com", "DELETE", ""),
        ("https://app.example.com", "GET", "x-secret"),
        ("https://other.example.com", "PUT", ""),
    ] {
        let refused = preflight(&gateway, origin, method, headers);
        assert_eq!(
            (refused.status, refused.body.as_str()),
            (403, "CORS refused"),
            "{origin} {method} {headers}"
        );
        assert!(refused.header("access-control-allow-origin").is_none());
    }

    // The wildcard policy: any origin, without credentials, "*" sent back.
    let any = preflight(&gateway, "https://other.example.com", "GET", "");
    assert_eq!(any.status, 200);
    assert_eq!(any.header("access-control-allow-origin"), Some("*"));
    assert!(any.header("access-control-allow-credentials").is_none());

    // Actual requests: decorated for an accepted origin, untouched without Origin.
    let actual = send(
        client()
            .get(gateway.url("/api/items"))
            .header("origin", "https://app.example.com"),
    );
    assert_eq!((actual.status, actual.body.as_str()), (200, "data"));
    assert_eq!(
        actual.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        actual.header("access-control-expose-headers"),
        Some("X-Request-Id")
    );
    let same_origin = get(&gateway, "/api/items");
    assert_eq!(same_origin.body, "data");
    assert!(same_origin.header("access-control-allow-origin").is_none());
}

#[test]
fn cors_filter_takes_stars_default_ports_and_the_older_origins_key() {
    let routes = [
        (
            "star-lists",
            behind(
                "/api",
                json!({"type": "CorsFilter", "config": {"policies": [{
                    "origins": ["https://App.Example.com"],
                    "acceptedMethods": "*",
                    "acceptedHeaders": "*",
                    "allowCredentials": true
                }]}}),
            ),
        ),
        (
            "star-origins",
            behind(
                "/public",
                json!({"type": "CorsFilter", "config": {"policies": [{
                    "acceptedOrigins": "*", "acceptedMethods": ["GET"]
                }]}}),
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes, json!([]));

    // The default port and the case of the host make no difference; "*" lists allow what
    // the preflight asks for.
    let ok = preflight(
        &gateway,
        "https://app.example.com:443",
        "DELETE",
        "x-custom, authorization",
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com:443")
    );
    assert_eq!(ok.header("access-control-allow-methods"), Some("DELETE"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("x-custom, authorization")
    );
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));

    // Another port is another origin.
    let refused = preflight(&gateway, "https://app.example.com:8443", "GET", "");
    assert_eq!(refused.status, 403);

    let any = send(
        client()
            .request(reqwest::Method::OPTIONS, gateway.url("/public/items"))
            .header("origin", "https://anyone.example.net")
            .header("access-control-request-method", "GET"),
    );
    assert_eq!(any.status, 200);
    assert_eq!(any.header("access-control-allow-origin"), Some("*"));
    assert_eq!(any.header("access-control-allow-methods"), Some("GET"));
}

#[test]
fn throttling_filter_limits_each_group_and_says_when_to_retry() {
    let routes = [(
        "limited",
        behind(
            "/limited",
            json!({"type": "ThrottlingFilter", "config": {
                "requestGroupingPolicy": "${request.headers['X-Client'][0]}",
                "rate": {"numberOfRequests": 3, "duration": "2 seconds"}
            }}),
        ),
    )];
    let (_config, gateway) = serve(&routes, json!([]));
    let from = |who: &str| {
        send(
            client()
                .get(gateway.url("/limited"))
                .header("x-client", who),
        )
    };
    let started = Instant::now();
    let statuses: Vec<u16> = (0..5).map(|_| from("alice").status).collect();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "too slow to test a 2 s window"
    );
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let throttled = from("alice");
    assert_eq!(throttled.status, 429);
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    // Another group has its own allowance.
    assert_eq!(from("bob").status, 200);

    // After the window (and the previous one's weight) has passed, requests go through again.
    let recovered =
        ferrogate_e2e::eventually(Duration::from_secs(6), || from("alice").status == 200);
    assert!(recovered.is_some(), "alice stayed throttled");

    let metrics = get(&gateway, "/openig/metrics/prometheus").body;
    assert!(
        metrics.contains("ferrogate_plugin_throttled_total{type=\"ThrottlingFilter\""),
        "{metrics}"
    );
}

#[test]
fn throttling_is_shared_by_concurrent_connections() {
    let routes = [(
        "shared",
        behind(
            "/shared",
            json!({"type": "ThrottlingFilter", "config": {"rate": {"numberOfRequests": 20, "duration": "1 minute"}}}),
        ),
    )];
    let (_config, gateway) = serve(&routes, json!([]));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let url = gateway.url("/shared");
            std::thread::spawn(move || {
                let client = client();
                (0..15)
                    .filter(|_| client.get(&url).send().unwrap().status() == 200)
                    .count()
            })
        })
        .collect();
    let passed: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(
        passed, 20,
        "exactly the rate passes, whatever the instance or worker"
    );
}

#[test]
fn traffic_filters_reject_bad_configuration_at_load() {
    let config = ConfigDir::new();
    config.write_route(
        "no-policies.json",
        &behind(
            "/a",
            json!({"type": "CorsFilter", "config": {"policies": []}}),
        ),
    );
    config.write_route(
        "bad-rate.json",
        &behind(
            "/b",
            json!({"type": "ThrottlingFilter", "config": {"rate": {"numberOfRequests": 5, "duration": "often"}}}),
        ),
    );
    let bad = |file: &str, filter: Value| config.write_route(file, &behind("/c", filter));
    bad(
        "both-origins.json",
        json!({"type": "CorsFilter", "config": {"policies": [
            {"acceptedOrigins": "*", "origins": ["https://a.example.com"]}
        ]}}),
    );
    bad(
        "not-a-list.json",
        json!({"type": "CorsFilter", "config": {"policies": [
            {"acceptedOrigins": ["https://a.example.com"], "acceptedMethods": "GET, PUT"}
        ]}}),
    );
    bad(
        "rate-policy.json",
        json!({"type": "ThrottlingFilter", "config": {"throttlingRatePolicy": {
            "type": "MappedThrottlingPolicy", "config": {}
        }}}),
    );
    bad(
        "executor.json",
        json!({"type": "ThrottlingFilter", "config": {
            "rate": {"numberOfRequests": 5, "duration": "1 s"}, "executor": "ScheduledExecutorService"
        }}),
    );
    bad(
        "cleaning.json",
        json!({"type": "ThrottlingFilter", "config": {
            "rate": {"numberOfRequests": 5, "duration": "1 s"}, "cleaningInterval": "2 days"
        }}),
    );
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    for (file, message) in [
        ("no-policies.json", "\"policies\" is empty"),
        ("bad-rate.json", "\"rate\".\"duration\""),
        (
            "both-origins.json",
            "use \"acceptedOrigins\" or its deprecated name \"origins\"",
        ),
        (
            "not-a-list.json",
            "\"acceptedMethods\": \"GET, PUT\" is neither a list",
        ),
        (
            "rate-policy.json",
            "\"throttlingRatePolicy\" is not supported",
        ),
        ("executor.json", "\"executor\" is not supported"),
        ("cleaning.json", "at most one day"),
    ] {
        let line = stderr
            .lines()
            .find(|line| line.contains(file))
            .unwrap_or_else(|| panic!("no error for {file}: {stderr}"));
        assert!(line.contains(message), "{line}");
    }

    // cleaningInterval within IG's bounds is accepted: the gateway drops old counts itself.
    let config = ConfigDir::new();
    config.write_route(
        "cleaning.json",
        &behind(
            "/d",
            json!({"type": "ThrottlingFilter", "config": {
                "rate": {"numberOfRequests": 5, "duration": "1 s"}, "cleaningInterval": "30 seconds"
            }}),
        ),
    );
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(ok, "{stderr}");
}

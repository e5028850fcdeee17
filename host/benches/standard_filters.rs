//! What the standard plugin filters cost a request, through the whole gateway in one run: a
//! route with HeaderFilter + CorsFilter + ThrottlingFilter (instances reused, the default),
//! and the load test's chain of ten response HeaderFilters (target 2b of docs/PERFORMANCE.md,
//! without the network; literal values, which the gateway applies with no plugin call), the
//! same chain with expression values (ten plugin objects in one run), against the same route
//! with no filters.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "support/request.rs"]
mod request;

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrogate::gateway::Gateway;
use ferrogate::heap::{BuildMode, TypeRegistry};
use serde_json::json;

fn configuration() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let routes = dir.path().join("routes");
    std::fs::create_dir(&routes).expect("routes directory");
    let answer =
        json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "ok"}});
    let plain = json!({"condition": "${request.uri.path == '/plain'}", "handler": answer});
    let filtered = json!({
        "condition": "${request.uri.path == '/filtered'}",
        "handler": {"type": "Chain", "config": {
            "filters": [
                {"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {"X-Gateway": ["ferrogate"]}}},
                {"type": "CorsFilter", "config": {"policies": [{
                    "acceptedOrigins": ["https://app.example.com"],
                    "acceptedMethods": ["GET"],
                    "exposedHeaders": ["X-Request-Id"]
                }]}},
                {"type": "ThrottlingFilter", "config": {
                    "requestGroupingPolicy": "${contexts.client.remoteAddress}",
                    "rate": {"numberOfRequests": 1_000_000_000_u64, "duration": "1 second"}
                }}
            ],
            "handler": answer
        }}
    });
    // Literal values, which the gateway applies itself; and the same chain with each value an
    // expression, which makes the plugin calls (one run of ten objects).
    let chain_of = |path: &str, value: &dyn Fn(usize) -> String| {
        let headers: Vec<_> = (1..=10)
            .map(|i| {
                json!({"type": "HeaderFilter", "config": {
                    "messageType": "RESPONSE", "add": {format!("X-Perf-{i}"): [value(i)]}
                }})
            })
            .collect();
        json!({
            "condition": format!("${{request.uri.path == '{path}'}}"),
            "handler": {"type": "Chain", "config": {"filters": headers, "handler": answer}}
        })
    };
    let chain = chain_of("/chain", &|i| i.to_string());
    let templated = chain_of("/templated", &|i| format!("${{'{i}'}}"));
    for (name, route) in [
        ("plain", plain),
        ("filtered", filtered),
        ("chain", chain),
        ("templated", templated),
    ] {
        std::fs::write(routes.join(format!("{name}.json")), route.to_string()).expect("route");
    }
    dir
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = configuration();
    let gateway = Gateway::load(
        dir.path(),
        BuildMode::Check,
        Arc::new(TypeRegistry::standard()),
    )
    .unwrap_or_else(|errors| panic!("bench configuration invalid: {errors}"));
    let mut group = c.benchmark_group("route");
    for (name, path) in [
        ("no_filters", "/plain"),
        ("header_cors_throttling", "/filtered"),
        ("ten_response_header_filters", "/chain"),
        ("ten_response_header_filters_with_templates", "/templated"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut exchange = request::get(path, &[("origin", "https://app.example.com")]);
                let response = runtime
                    .block_on(gateway.handle(&mut exchange))
                    .expect("a response");
                assert_eq!(response.status(), 200);
                response
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

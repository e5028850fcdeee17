//! Router dispatch cost with 10, 1,000 and 10,000 routes whose conditions test the path; the
//! request matches the last route, the worst case for IG's one-by-one evaluation.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ferrogate::exchange::{ClientInfo, Exchange};
use ferrogate::gateway::Gateway;
use ferrogate::heap::{BuildMode, TypeRegistry};
use futures_util::FutureExt;

fn config_with_routes(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let routes = dir.path().join("routes");
    std::fs::create_dir(&routes).expect("routes directory");
    for index in 0..count {
        let route = serde_json::json!({
            "name": format!("route-{index:05}"),
            "condition": format!("${{find(request.uri.path, '^/api/r{index}/')}}"),
            "handler": {"type": "StaticResponseHandler", "config": {"status": 200, "entity": "ok"}}
        });
        std::fs::write(
            routes.join(format!("route-{index:05}.json")),
            route.to_string(),
        )
        .expect("route file");
    }
    dir
}

fn exchange(path: &str) -> Exchange {
    let request = http::Request::builder()
        .method("GET")
        .uri(format!("http://gateway.example.com{path}"))
        .body(ferrogate::http::empty_body())
        .expect("request");
    let client = ClientInfo {
        remote: "127.0.0.1:40000".parse().expect("address"),
        local: "127.0.0.1:8080".parse().expect("address"),
        secure: false,
    };
    Exchange::new(request, client, Arc::from("bench"))
}

fn dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("router_dispatch");
    for count in [10usize, 1_000, 10_000] {
        let dir = config_with_routes(count);
        let gateway = Gateway::load(
            dir.path(),
            BuildMode::Check,
            Arc::new(TypeRegistry::standard()),
        )
        .unwrap_or_else(|errors| panic!("bench configuration invalid: {errors}"));
        let path = format!("/api/r{}/items", count - 1);
        group.bench_with_input(
            BenchmarkId::new("last_route_matches", count),
            &count,
            |b, _| {
                b.iter(|| {
                    let mut exchange = exchange(&path);
                    let response = gateway
                        .handle(&mut exchange)
                        .now_or_never()
                        .expect("static routes answer without waiting")
                        .expect("a response");
                    assert_eq!(response.status(), 200);
                    response
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);

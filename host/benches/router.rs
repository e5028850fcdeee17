//! Router dispatch cost with 10, 1,000 and 10,000 routes; the request matches the last route,
//! the worst case for IG's one-by-one evaluation.
//!
//! - `last_route_matches`: conditions test a path prefix (`find(request.uri.path, '^/api/rN/')`),
//!   which the route index narrows to the one route that can match.
//! - `linear_reference`: the same routes, every condition evaluated in turn as IG does (and as
//!   Ferrogate did before the index), to compare in the same run.
//! - `unindexed_condition`: conditions the index cannot read (an unanchored `find`), which
//!   every request must still evaluate one by one.
//! - `router_select/indexed`: choosing the route alone, without building the request or
//!   running the handler.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "support/request.rs"]
mod request;

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ferrogate::gateway::Gateway;
use ferrogate::heap::{BuildMode, TypeRegistry};
use ferrogate::router::Snapshot;
use futures_util::FutureExt;

fn config_with_routes(count: usize, condition: impl Fn(usize) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let routes = dir.path().join("routes");
    std::fs::create_dir(&routes).expect("routes directory");
    for index in 0..count {
        let route = serde_json::json!({
            "name": format!("route-{index:05}"),
            "condition": condition(index),
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

fn prefix_condition(index: usize) -> String {
    format!("${{find(request.uri.path, '^/api/r{index}/')}}")
}

fn unanchored_condition(index: usize) -> String {
    format!("${{find(request.uri.path, '/r{index}/')}}")
}

fn load(dir: &tempfile::TempDir) -> Gateway {
    Gateway::load(
        dir.path(),
        BuildMode::Check,
        Arc::new(TypeRegistry::standard()),
    )
    .unwrap_or_else(|errors| panic!("bench configuration invalid: {errors}"))
}

/// The main router's current routes.
fn snapshot(gateway: &Gateway) -> Arc<Snapshot> {
    let routers = gateway.environment.routers.lock().expect("routers");
    routers
        .iter()
        .find_map(std::sync::Weak::upgrade)
        .expect("a router")
        .snapshot()
}

/// Dispatches the request through the gateway, as a server would.
fn serve(gateway: &Gateway, path: &str) -> ferrogate::http::Response {
    let mut exchange = request::get(path, &[]);
    let response = gateway
        .handle(&mut exchange)
        .now_or_never()
        .expect("static routes answer without waiting")
        .expect("a response");
    assert_eq!(response.status(), 200);
    response
}

const COUNTS: [usize; 3] = [10, 1_000, 10_000];

fn dispatch(c: &mut Criterion) {
    // Every configuration is loaded before anything is measured, so that all cases run with
    // the same process heap: comparing 10 with 10,000 routes should compare the routers, not
    // how the allocator behaves beside 10,000 loaded routes.
    let dirs: Vec<_> = COUNTS
        .iter()
        .map(|&count| {
            (
                count,
                config_with_routes(count, prefix_condition),
                config_with_routes(count, unanchored_condition),
            )
        })
        .collect();
    let gateways: Vec<_> = dirs
        .iter()
        .map(|(count, indexed, unindexed)| (*count, load(indexed), load(unindexed)))
        .collect();

    let mut group = c.benchmark_group("router_dispatch");
    for (count, gateway, unindexed) in &gateways {
        let path = format!("/api/r{}/items", count - 1);
        group.bench_with_input(
            BenchmarkId::new("last_route_matches", count),
            count,
            |b, _| b.iter(|| serve(gateway, &path)),
        );
        let routes = snapshot(gateway);
        group.bench_with_input(
            BenchmarkId::new("linear_reference", count),
            count,
            |b, _| {
                b.iter(|| {
                    let mut exchange = request::get(&path, &[]);
                    let route = routes.select_linear(&exchange).expect("a route matches");
                    let response = route
                        .handle(&mut exchange)
                        .now_or_never()
                        .expect("static routes answer without waiting")
                        .expect("a response");
                    assert_eq!(response.status(), 200);
                    response
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("unindexed_condition", count),
            count,
            |b, _| b.iter(|| serve(unindexed, &path)),
        );
    }
    group.finish();

    // Route selection alone (index lookup and the candidates' conditions), without building the
    // request or running the handler.
    let mut group = c.benchmark_group("router_select");
    for (count, gateway, _) in &gateways {
        let routes = snapshot(gateway);
        let exchange = request::get(&format!("/api/r{}/items", count - 1), &[]);
        group.bench_with_input(BenchmarkId::new("indexed", count), count, |b, _| {
            b.iter(|| routes.select(&exchange).map(|route| route.name.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);

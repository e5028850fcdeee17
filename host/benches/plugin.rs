//! One header-adding filter call: a plugin with a reused instance, a plugin with a fresh
//! instance per request, and the same logic as a native filter. The plugin is the host's test
//! component `tests/fixtures/plugin-filters`, built here for wasm32-wasip2 when missing.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use criterion::{Criterion, criterion_group, criterion_main};
use ferrogate::exchange::{ClientInfo, Exchange};
use ferrogate::handler::{Filter, FnHandler, Handler, HandlerFuture, Next};
use ferrogate::plugin::object::{PluginFilter, PluginObject};
use ferrogate::plugin::state::ObjectInfo;
use ferrogate::plugin::{InstanceMode, Limits, engine, loader};

fn component() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/wasm-fixtures");
    let wasm = target.join("wasm32-wasip2/release/plugin_filters.wasm");
    if !wasm.exists() {
        let status =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(root.join("tests/fixtures/plugin-filters"))
                .args(["build", "--release", "--target", "wasm32-wasip2"])
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .expect("cargo runs");
        assert!(
            status.success(),
            "building the test plugin failed (rustup target add wasm32-wasip2?)"
        );
    }
    wasm
}

fn exchange() -> Exchange {
    let request = http::Request::builder()
        .method("GET")
        .uri("http://gateway.example.com/api")
        .body(ferrogate::http::empty_body())
        .expect("request");
    let client = ClientInfo {
        remote: "127.0.0.1:40000".parse().expect("address"),
        local: "127.0.0.1:8080".parse().expect("address"),
        secure: false,
    };
    Exchange::new(request, client, Arc::from("bench"))
}

fn plugin(file: &Arc<loader::PluginFile>, instances: InstanceMode) -> Arc<dyn Filter> {
    let info = Arc::new(ObjectInfo {
        type_name: "TestHeaderFilter".into(),
        object_name: "bench".into(),
        route: None,
        file: file.path.display().to_string(),
        config: r#"{"value":"v1"}"#.into(),
        secrets: Vec::new(),
        client: None,
        secrets_provider: None,
        handlers: OnceLock::from(Vec::new()),
    });
    let limits = Limits {
        instances,
        ..Limits::default()
    };
    Arc::new(PluginFilter(Arc::new(PluginObject::new(
        info,
        file.clone(),
        limits,
    ))))
}

struct NativeHeaderFilter;

impl Filter for NativeHeaderFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        let headers = exchange.request.headers_mut();
        headers.insert("x-plugin", http::HeaderValue::from_static("v1"));
        headers.insert("x-count", http::HeaderValue::from_static("1"));
        Box::pin(async move {
            let mut response = next.handle(exchange).await?;
            response
                .headers_mut()
                .insert("x-plugin-response", http::HeaderValue::from_static("v1"));
            Ok(response)
        })
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = engine::runtime(64 << 20).expect("engine");
    let file = loader::open(engine, &component()).expect("component");
    let handler: Arc<dyn Handler> = Arc::new(FnHandler(|_: &mut Exchange| {
        Ok(http::Response::new(ferrogate::http::empty_body()))
    }));
    let filters: [(&str, Arc<dyn Filter>); 3] = [
        ("plugin_reused_instance", plugin(&file, InstanceMode::Reuse)),
        ("plugin_fresh_instance", plugin(&file, InstanceMode::Fresh)),
        ("native_filter", Arc::new(NativeHeaderFilter)),
    ];
    let mut group = c.benchmark_group("header_filter");
    for (name, filter) in &filters {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut exchange = exchange();
                let response = runtime
                    .block_on(filter.filter(&mut exchange, Next::new(&[], &*handler)))
                    .expect("response");
                assert!(response.headers().contains_key("x-plugin-response"));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

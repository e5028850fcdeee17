//! One header-adding filter call, in one run: the embedded HeaderFilter plugin with a reused
//! instance, the same plugin with a fresh instance per request, and the same logic as a
//! native Rust filter. The numbers chose the default instance strategy
//! (docs/plugin-runtime.md). The plugin's value is an expression (`${'v1'}`), so that it is
//! called; beside it, the same filter with the literal value, whose edit the plugin declares
//! at init and the host makes with no call. A second group does the same in the response
//! phase, where the chain's response crosses into the store and back.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "support/request.rs"]
mod request;

use std::sync::{Arc, OnceLock};

use criterion::{Criterion, criterion_group, criterion_main};
use ferrogate::exchange::Exchange;
use ferrogate::handler::{Filter, FnHandler, Handler, HandlerFuture, Next};
use ferrogate::plugin::embedded::EMBEDDED;
use ferrogate::plugin::object::{PluginFilter, PluginObject};
use ferrogate::plugin::state::ObjectInfo;
use ferrogate::plugin::{InstanceMode, Limits, engine, loader};

fn header_filter_plugin(
    file: &Arc<loader::PluginFile>,
    instances: InstanceMode,
    message_type: &str,
    value: &str,
) -> Arc<dyn Filter> {
    let info = Arc::new(ObjectInfo {
        type_name: "HeaderFilter".into(),
        object_name: "bench".into(),
        route: None,
        file: file.origin.clone(),
        config: serde_json::json!({"messageType": message_type, "add": {"X-Plugin": [value]}})
            .to_string(),
        declaration: "{}".into(),
        secrets: Vec::new(),
        client: None,
        secrets_provider: None,
        handlers: OnceLock::from(Vec::new()),
        filters: OnceLock::from(Vec::new()),
        decoration_point: None,
        log_budget: None,
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

struct NativeResponseHeaderFilter;

impl Filter for NativeResponseHeaderFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let mut response = next.handle(exchange).await?;
            response
                .headers_mut()
                .append("x-plugin", http::HeaderValue::from_static("v1"));
            Ok(response)
        })
    }
}

impl Filter for NativeHeaderFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        exchange
            .request
            .headers_mut()
            .append("x-plugin", http::HeaderValue::from_static("v1"));
        next.handle(exchange)
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = engine::runtime(engine::Sizing::default()).expect("engine");
    let embedded = EMBEDDED
        .iter()
        .find(|plugin| plugin.name == "header-filter")
        .expect("HeaderFilter is embedded");
    let file = loader::open_embedded(engine, embedded.name, embedded.wasm).expect("component");
    let handler: Arc<dyn Handler> = Arc::new(FnHandler(|exchange: &mut Exchange| {
        assert!(exchange.request.headers().contains_key("x-plugin"));
        Ok(http::Response::new(ferrogate::http::empty_body()))
    }));
    let called = "${'v1'}";
    let filters: [(&str, Arc<dyn Filter>); 4] = [
        ("native_filter", Arc::new(NativeHeaderFilter)),
        (
            "plugin_reused_instance",
            header_filter_plugin(&file, InstanceMode::Reuse, "REQUEST", called),
        ),
        (
            "plugin_fresh_instance",
            header_filter_plugin(&file, InstanceMode::Fresh, "REQUEST", called),
        ),
        (
            "plugin_declared_edit",
            header_filter_plugin(&file, InstanceMode::Reuse, "REQUEST", "v1"),
        ),
    ];
    let mut group = c.benchmark_group("header_filter");
    for (name, filter) in &filters {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut exchange = request::get("/api", &[]);
                runtime
                    .block_on(filter.filter(&mut exchange, Next::new(&[], &*handler)))
                    .expect("response")
            })
        });
    }
    group.finish();

    let answering: Arc<dyn Handler> = Arc::new(FnHandler(|_: &mut Exchange| {
        Ok(http::Response::new(ferrogate::http::empty_body()))
    }));
    let filters: [(&str, Arc<dyn Filter>); 3] = [
        ("native_filter", Arc::new(NativeResponseHeaderFilter)),
        (
            "plugin_reused_instance",
            header_filter_plugin(&file, InstanceMode::Reuse, "RESPONSE", called),
        ),
        (
            "plugin_declared_edit",
            header_filter_plugin(&file, InstanceMode::Reuse, "RESPONSE", "v1"),
        ),
    ];
    let mut group = c.benchmark_group("response_header_filter");
    for (name, filter) in &filters {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut exchange = request::get("/api", &[]);
                let response = runtime
                    .block_on(filter.filter(&mut exchange, Next::new(&[], &*answering)))
                    .expect("response");
                assert!(response.headers().contains_key("x-plugin"));
                response
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

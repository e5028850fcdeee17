//! Plugins called without a fiber (the embedded standard library, when a component can wait
//! on nothing): they still fail closed. The test plugins of tests/plugins are compiled the way
//! the embedded ones are, so that a panicking or spinning component takes that path.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ferrogate::exchange::{ClientInfo, Exchange, TransactionId};
use ferrogate::handler::{Filter, FnHandler, Handler, HandlerError, Next};
use ferrogate::plugin::loader::{self, PluginFile, Source};
use ferrogate::plugin::object::{PluginFilter, PluginObject};
use ferrogate::plugin::state::ObjectInfo;
use ferrogate::plugin::{Limits, engine};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the test plugins once (as the end-to-end tests do, into the same target folder).
fn component(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let release = BUILT.get_or_init(|| {
        let script = workspace().join("tests/plugins/build.sh");
        let output = Command::new(script)
            .args([
                "-p",
                "panic",
                "-p",
                "infinite-loop",
                "-p",
                "add-request-header",
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        workspace().join("target/wasm-plugins/wasm32-wasip2/release")
    });
    std::fs::read(release.join(format!("{}.wasm", name.replace('-', "_")))).unwrap()
}

/// Loads a test plugin as the standard library is loaded, or from a plugins folder.
fn load(name: &str, source: Source) -> Arc<PluginFile> {
    let runtime = engine::runtime(engine::Sizing::default()).unwrap();
    let wasm = component(name);
    match source {
        Source::Embedded => loader::open_embedded(runtime, name, &wasm).unwrap(),
        Source::Folder => {
            let folder = tempfile::tempdir().unwrap();
            let path = folder.path().join(format!("{name}.wasm"));
            std::fs::write(&path, wasm).unwrap();
            loader::open(runtime, &path).unwrap()
        }
    }
}

fn filter(file: &Arc<PluginFile>, type_name: &str, config: &str) -> PluginFilter {
    let mut info = ObjectInfo::probe(&file.origin);
    info.type_name = type_name.into();
    info.object_name = format!("test-{type_name}");
    info.config = config.into();
    info.declaration = config.into();
    let limits = Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    };
    PluginFilter(Arc::new(PluginObject::new(
        Arc::new(info),
        file.clone(),
        limits,
    )))
}

fn exchange() -> Exchange {
    let request = http::Request::builder()
        .uri("http://gateway.example.com/api")
        .body(ferrogate::http::empty_body())
        .unwrap();
    let client = ClientInfo::new(
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:8080".parse().unwrap(),
        false,
    );
    Exchange::new(request, client.into(), TransactionId::named("test"))
}

/// Runs `filter` in front of a handler that answers 200 with the request's `x-a` header.
fn run(filter: &PluginFilter) -> Result<String, HandlerError> {
    let handler = FnHandler(|exchange: &mut Exchange| {
        let value = exchange
            .request
            .headers()
            .get("x-a")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Ok(http::Response::new(ferrogate::http::full_body(value)))
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut exchange = exchange();
    let handler: &dyn Handler = &handler;
    runtime.block_on(async {
        let response = filter
            .filter(&mut exchange, Next::new(&[], handler))
            .await?;
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        Ok(String::from_utf8(body.to_vec()).unwrap())
    })
}

#[test]
fn a_component_that_waits_on_nothing_is_called_directly_only_when_embedded() {
    assert!(
        load("add-request-header", Source::Embedded)
            .current()
            .immediate
    );
    assert!(
        !load("add-request-header", Source::Folder)
            .current()
            .immediate
    );
    let file = load("add-request-header", Source::Embedded);
    let header = filter(&file, "AddRequestHeader", r#"{"name":"X-A","value":"1"}"#);
    assert_eq!(run(&header).unwrap(), "1");
    assert_eq!(run(&header).unwrap(), "1", "a reused instance answers too");
}

/// The panic message goes to stderr through the blocking stream writes the immediate linker
/// defines as plain calls: the call still ends in a trap, a 500, not a host panic.
#[test]
fn a_panic_in_a_direct_call_fails_the_request() {
    let file = load("panic", Source::Embedded);
    assert!(file.current().immediate);
    let panic = filter(&file, "Panic", "{}");
    for _ in 0..3 {
        assert!(matches!(run(&panic), Err(HandlerError::Plugin { .. })));
    }
}

/// Off a fiber there is no yielding at each epoch tick, but the deadline still ends the call.
#[test]
fn a_direct_call_that_spins_ends_at_its_deadline() {
    let file = load("infinite-loop", Source::Embedded);
    assert!(file.current().immediate);
    let spinning = filter(&file, "InfiniteLoop", "{}");
    let started = Instant::now();
    assert!(matches!(run(&spinning), Err(HandlerError::Plugin { .. })));
    let took = started.elapsed();
    // The deadline counts 5 ms epoch ticks, and the first one comes anywhere within a tick
    // of the call's start.
    let earliest = Duration::from_millis(100) - engine::EPOCH_TICK;
    assert!(
        took >= earliest && took < Duration::from_secs(2),
        "stopped after {took:?}"
    );
}

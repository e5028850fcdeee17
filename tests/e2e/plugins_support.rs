//! Builds the test and example plugins of tests/plugins from source once per test run (as
//! tests/plugins/build.sh does), and sets up gateways whose config.json loads them from a
//! plugins directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the tests/plugins workspace (or one package with features) into `target_dir`.
fn build(target_dir: &Path, package_and_features: Option<(&str, &str)>) {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(workspace().join("tests/plugins"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .env("CARGO_TARGET_DIR", target_dir);
    if let Some((package, features)) = package_and_features {
        command.args(["-p", package, "--features", features]);
    }
    let output = command.output().expect("cargo runs");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2") && stderr.contains("target") {
            "\nthe wasm target is missing: run `scripts/setup` (rustup target add wasm32-wasip2)"
        } else {
            ""
        };
        panic!("building the test plugins failed:{hint}\n{stderr}");
    }
}

struct Built {
    release: PathBuf,
    hello_v2: PathBuf,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = workspace().join("target/wasm-plugins");
        build(&target, None);
        let v2 = workspace().join("target/wasm-plugins-v2");
        build(&v2, Some(("hello-handler", "v2")));
        Built {
            release: target.join("wasm32-wasip2/release"),
            hello_v2: v2.join("wasm32-wasip2/release/hello_handler.wasm"),
        }
    })
}

/// The component of the test plugin crate `name` (e.g. `require-token`).
pub fn component(name: &str) -> PathBuf {
    built()
        .release
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// The second version of `hello-handler` (answers `X-Plugin-Version: 2`).
pub fn hello_v2() -> PathBuf {
    built().hello_v2.clone()
}

/// Copies a component into the configuration's plugins directory the way a careful deploy
/// does: written beside, then renamed, so the gateway never reads a half-written file.
pub fn install(config: &ConfigDir, from: &Path, file_name: &str) {
    let directory = config.path().join("plugins");
    std::fs::create_dir_all(&directory).unwrap();
    let temporary = directory.join(format!(".{file_name}.tmp"));
    std::fs::copy(from, &temporary).unwrap();
    std::fs::rename(&temporary, directory.join(file_name)).unwrap();
}

/// Every test plugin crate.
pub const ALL: &[&str] = &[
    "add-request-header",
    "add-response-header",
    "require-token",
    "body-echo",
    "hello-handler",
    "timing-decorator",
    "expressions-filter",
    "failure-handler-filter",
    "outbound-filter",
    "window-limit",
    "object-tag",
    "fixed-rebase",
    "fixed-headers",
    "infinite-loop",
    "memory-bomb",
    "trap",
    "panic",
    "stderr-writer",
    "log-writer",
];

/// A configuration directory with the given test plugins installed, config.json's
/// `"plugins"` settings merged over a short deadline and a small memory cap, and routes.
pub fn configure(
    plugins: &[&str],
    settings: Value,
    heap: Value,
    routes: &[(&str, Value)],
) -> ConfigDir {
    let config = ConfigDir::new();
    for name in plugins {
        install(&config, &component(name), &format!("{name}.wasm"));
    }
    let mut merged = json!({"directories": ["plugins"], "deadline": "200 ms", "memory": "32 MiB"});
    if let (Some(merged), Value::Object(extra)) = (merged.as_object_mut(), settings) {
        merged.extend(extra);
    }
    config.write(
        "config.json",
        &json!({
            "plugins": merged,
            "heap": heap,
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    config.write_routes(routes);
    config
}

/// [`configure`] with every test plugin, and a gateway serving it.
pub fn start(routes: &[(&str, Value)], heap: Value, settings: Value) -> (ConfigDir, Gateway) {
    let config = configure(ALL, settings, heap, routes);
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

/// The gateway's JSON log records whose message `matches`.
fn records_where(gateway: &Gateway, matches: impl Fn(&str) -> bool) -> Vec<Value> {
    gateway
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["message"].as_str().is_some_and(&matches))
        .collect()
}

/// The gateway's JSON log records whose message is `message`.
pub fn records(gateway: &Gateway, message: &str) -> Vec<Value> {
    records_where(gateway, |logged| logged == message)
}

/// The records whose message is `message`, once there are `count` (or 5 s have passed).
pub fn wait_for_records(gateway: &Gateway, message: &str, count: usize) -> Vec<Value> {
    let found = wait_for_records_where(gateway, |logged| logged == message, count);
    assert!(!found.is_empty(), "no {message:?} in {:#?}", gateway.logs());
    found
}

/// The records whose message `matches`, once there are `count` (or 5 s have passed).
pub fn wait_for_records_where(
    gateway: &Gateway,
    matches: impl Fn(&str) -> bool,
    count: usize,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let found = records_where(gateway, &matches);
        if found.len() >= count || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

//! Builds the host's test components from source once per test run, and sets up gateways
//! whose config.json loads them from a plugins directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

pub struct Fixtures {
    pub filters: PathBuf,
    pub handler: PathBuf,
    pub handler_v2: PathBuf,
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build(crate_dir: &str, target_dir: &str, features: &[&str]) -> PathBuf {
    let root = workspace();
    let target = root.join("target").join(target_dir);
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(root.join("tests/fixtures").join(crate_dir))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target);
    for feature in features {
        command.args(["--features", feature]);
    }
    let output = command.output().unwrap();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2") && stderr.contains("target") {
            "\nthe wasm target is missing: run `rustup target add wasm32-wasip2`"
        } else {
            ""
        };
        panic!("building the test plugin {crate_dir} failed:{hint}\n{stderr}");
    }
    target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", crate_dir.replace('-', "_")))
}

pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| Fixtures {
        filters: build("plugin-filters", "wasm-fixtures", &[]),
        handler: build("plugin-handler", "wasm-fixtures", &[]),
        handler_v2: build("plugin-handler", "wasm-fixtures-v2", &["v2"]),
    })
}

pub fn copy_plugin(config: &ConfigDir, from: &Path, name: &str) {
    let directory = config.path().join("plugins");
    std::fs::create_dir_all(&directory).unwrap();
    // Write beside, then rename: the gateway never sees a half-written file.
    let temporary = directory.join(format!(".{name}.tmp"));
    std::fs::copy(from, &temporary).unwrap();
    std::fs::rename(&temporary, directory.join(name)).unwrap();
}

/// A configuration directory with both test components and the given routes, and a gateway
/// serving it.
pub fn start(routes: &[(&str, Value)], heap: Value, plugins: Value) -> (ConfigDir, Gateway) {
    let fixtures = fixtures();
    let config = ConfigDir::new();
    copy_plugin(&config, &fixtures.filters, "filters.wasm");
    copy_plugin(&config, &fixtures.handler, "hello.wasm");
    let mut settings =
        json!({"directories": ["plugins"], "deadline": "200 ms", "memory": "32 MiB"});
    if let (Some(settings), Value::Object(extra)) = (settings.as_object_mut(), plugins) {
        settings.extend(extra);
    }
    config.write(
        "config.json",
        &json!({
            "plugins": settings,
            "heap": heap,
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    for (name, route) in routes {
        config.write_route(&format!("{name}.json"), route);
    }
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

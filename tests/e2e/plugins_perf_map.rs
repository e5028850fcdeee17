//! `FERROGATE_PERF_MAP`: the plugins' compiled code named for perf in `/tmp/perf-PID.map`,
//! the file perf reads for just-in-time compiled code.

use std::path::PathBuf;
use std::time::Duration;

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::json;

use crate::get;

/// A route whose response header is an expression, so that HeaderFilter's plugin is loaded,
/// instantiated and called by the request.
fn called_plugin_route() -> serde_json::Value {
    json!({
        "handler": {"type": "Chain", "config": {
            "filters": [{"type": "HeaderFilter", "config": {
                "messageType": "RESPONSE",
                "add": {"X-Method": ["${request.method}"]}
            }}],
            "handler": {"type": "StaticResponseHandler", "config": {"status": 200, "entity": "a"}}
        }}
    })
}

fn start(env: &[(&str, &str)]) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        r#"{"handler": {"name": "_router", "type": "Router"}}"#,
    );
    config.write_routes(&[("called", called_plugin_route())]);
    let gateway = Gateway::start_with(config.path(), &[], env);
    let reply = get(&gateway, "/");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("x-method"),
        Some("GET"),
        "the plugin was not called"
    );
    (config, gateway)
}

/// The map outlives its gateway by design (perf reads it after the run); the test removes it,
/// passed or failed.
struct PerfMap(PathBuf);

impl PerfMap {
    fn of(gateway: &Gateway) -> Self {
        Self(PathBuf::from(format!("/tmp/perf-{}.map", gateway.pid())))
    }
}

impl Drop for PerfMap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// perf's format: the start address (hex with 0x), the size (hex) and the name.
fn parse_line(line: &str) -> Option<(u64, u64, &str)> {
    let mut fields = line.splitn(3, ' ');
    let start = u64::from_str_radix(fields.next()?.strip_prefix("0x")?, 16).ok()?;
    let size = u64::from_str_radix(fields.next()?, 16).ok()?;
    let name = fields.next().filter(|name| !name.is_empty())?;
    Some((start, size, name))
}

#[test]
fn with_ferrogate_perf_map_the_plugins_compiled_functions_are_listed_for_perf() {
    let (_config, gateway) = start(&[("FERROGATE_PERF_MAP", "1")]);
    let map = PerfMap::of(&gateway);
    let path = map.0.display().to_string();
    assert!(
        gateway
            .wait_for_log(&["FERROGATE_PERF_MAP", &path], Duration::from_secs(5))
            .is_some(),
        "the gateway does not say where the map is: {:#?}",
        gateway.logs()
    );

    let text = std::fs::read_to_string(&map.0).unwrap();
    let mut functions = 0;
    let mut header_filters = 0;
    for line in text.lines() {
        let (start, size, name) =
            parse_line(line).unwrap_or_else(|| panic!("not a perf map line: {line:?}"));
        assert!(start > 0 && size > 0, "{line}");
        functions += 1;
        if name.starts_with("header_filter::") {
            header_filters += 1;
        }
    }
    // The standard plugins alone compile to thousands of functions.
    assert!(
        functions > 100,
        "{functions} functions in {path}:\n{}",
        &text[..text.len().min(2000)]
    );
    // They keep their `name` section: HeaderFilter's own code reads as its Rust paths, not
    // as `wasm[M]::function[N]`.
    assert!(
        header_filters > 0,
        "no header_filter:: function in {path}:\n{}",
        &text[..text.len().min(2000)]
    );
}

#[test]
fn without_it_no_perf_map_is_written() {
    let (_config, gateway) = start(&[]);
    let map = PerfMap::of(&gateway);
    assert!(!map.0.exists(), "{} was written", map.0.display());
}

#[test]
fn perf_map_lines_are_read_as_perf_writes_them() {
    assert_eq!(
        parse_line("0x7f8e3c122100 c70 wasm[0]::function[31]"),
        Some((0x7f8e_3c12_2100, 0xc70, "wasm[0]::function[31]"))
    );
    assert_eq!(parse_line("7f8e3c122100 c70 f"), None);
    assert_eq!(parse_line("0x7f8e3c122100 c70"), None);
}

//! The objects IG puts in every top-level heap, so that a route can say
//! `"handler": "ReverseProxyHandler"` or `"capture": "all"` without declaring anything.

use std::sync::LazyLock;

use super::Declaration;
use crate::config::{Located, SourceDoc};

const BUILTIN_HEAP: &str = r#"[
  {"name": "ClientHandler", "type": "ClientHandler"},
  {"name": "ReverseProxyHandler", "type": "ReverseProxyHandler"},
  {"name": "ProxyOptions", "type": "NoProxyOptions"},
  {"name": "capture", "type": "CaptureDecorator"},
  {"name": "timer", "type": "TimerDecorator"},
  {"name": "baseURI", "type": "BaseUriDecorator"},
  {"name": "SystemAndEnvSecretStore", "type": "SystemAndEnvSecretStore"}
]"#;

static BUILTINS: LazyLock<Option<(SourceDoc, serde_json::Value)>> = LazyLock::new(|| {
    SourceDoc::parse(
        Some(std::path::Path::new("<built-in heap>").into()),
        BUILTIN_HEAP,
    )
    .ok()
});

/// Declarations of the always-present objects; an explicit declaration of the same name in
/// config.json replaces one.
pub fn builtin_declarations() -> Vec<Declaration<'static>> {
    let Some((doc, value)) = BUILTINS.as_ref() else {
        return Vec::new();
    };
    let heap = Located {
        doc,
        pointer: String::new(),
        value,
    };
    let count = value.as_array().map_or(0, Vec::len);
    (0..count)
        .filter_map(|index| heap.index(index))
        .filter_map(|entry| Declaration::parse(entry, None).ok())
        .collect()
}

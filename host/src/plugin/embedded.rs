//! The standard plugins built from `plugins/` by host/build.rs and compiled into the binary.

/// One component embedded in the binary.
pub struct EmbeddedPlugin {
    /// The guest crate's name, e.g. `header-filter`.
    pub name: &'static str,
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded_plugins.rs"));

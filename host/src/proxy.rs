//! Reaching upstreams: proxy settings (and, with the upstream client, connection pooling,
//! TLS and tunnels).

pub mod options;

pub use options::{ProxyCredentials, ProxyOptions, ProxyServer};

pub(crate) fn register_types(registry: &mut crate::heap::TypeRegistry) {
    options::register_types(registry);
}

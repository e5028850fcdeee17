//! Reaching upstreams: proxy settings, the pooled upstream client, its connector (TCP, forward
//! proxies, CONNECT tunnels), client TLS settings and WebSocket tunnels.

pub mod client;
pub mod connector;
mod h1;
pub mod options;
pub mod outgoing;
pub mod tls;
pub mod websocket;

pub use client::UpstreamClient;
pub use options::{ProxyCredentials, ProxyOptions, ProxyServer};
pub use outgoing::Outgoing;
pub use tls::ClientTlsOptions;

pub(crate) fn register_types(registry: &mut crate::heap::TypeRegistry) {
    options::register_types(registry);
    tls::register_types(registry);
}

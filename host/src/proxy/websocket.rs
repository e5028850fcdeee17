//! WebSocket (and any HTTP/1.1 Upgrade) tunnels: once the upstream answers 101, the client's
//! and the upstream's upgraded connections are spliced and bytes copied both ways.

use serde::Deserialize;

use crate::http::upgrade::OnUpgrade;

/// IG's ReverseProxyHandler `websocket` settings.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebSocketConfig {
    /// Proxy Upgrade requests as WebSocket tunnels (IG default: false; an Upgrade request is
    /// then forwarded as a plain HTTP request without its Upgrade header).
    #[serde(default)]
    pub enabled: bool,
    /// How long to wait to connect to the upstream (default: the handler's).
    #[serde(default)]
    pub connection_timeout: Option<serde_json::Value>,
    /// How long to wait for the upstream's 101 answer (default: the handler's).
    #[serde(default)]
    pub so_timeout: Option<serde_json::Value>,
    /// IG's Vert.x selector thread count: accepted and ignored.
    #[serde(default)]
    pub number_of_selectors: Option<serde_json::Value>,
    /// ClientTlsOptions for wss upstreams (default: the handler's `tls`).
    #[serde(default)]
    pub tls: Option<serde_json::Value>,
    /// IG's Vert.x options: accepted and ignored.
    #[serde(default)]
    pub vertx: Option<serde_json::Value>,
}

/// Whether the request asks to switch protocols (`Connection: upgrade` and `Upgrade`).
pub fn is_upgrade_request(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::UPGRADE) && crate::h1::connection_has(headers, "upgrade")
}

/// Copies bytes both ways between the two upgraded connections until either side closes.
pub fn splice(client: OnUpgrade, upstream: OnUpgrade, target: String) {
    tokio::spawn(async move {
        let (client, upstream) = tokio::join!(client, upstream);
        let (client, upstream) = match (client, upstream) {
            (Ok(client), Ok(upstream)) => (client, upstream),
            (Err(error), _) => {
                tracing::warn!(upstream = %target, %error, "the client's connection could not be upgraded");
                return;
            }
            (_, Err(error)) => {
                tracing::warn!(upstream = %target, %error, "the upstream connection could not be upgraded");
                return;
            }
        };
        let (mut client, mut upstream) = (client, upstream);
        match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            Ok((sent, received)) => {
                tracing::debug!(upstream = %target, sent, received, "websocket tunnel closed")
            }
            Err(error) => {
                tracing::debug!(upstream = %target, %error, "websocket tunnel ended with an error")
            }
        }
    });
}

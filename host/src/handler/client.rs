//! ClientHandler and ReverseProxyHandler: send the request to the server its URI names.
//!
//! The request URI is the one the client addressed to the gateway unless a `baseURI`
//! decorator, a DispatchHandler binding or a filter rebased it, exactly as in IG.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use serde::Deserialize;

use super::{Handler, HandlerError, HandlerFuture};
use crate::config::{ConfigError, Located, duration::IgDuration};
use crate::exchange::Exchange;
use crate::heap::{Declaration, HeapBuilder, HeapObject};
use crate::http::{ClientBodyError, Response, upgrade};
use crate::proxy::client::{Failure, Http2, Retries, Settings};
use crate::proxy::outgoing::{HOP_BY_HOP, names_in_connection};
use crate::proxy::websocket::{WebSocketConfig, is_upgrade_request, splice};
use crate::proxy::{ClientTlsOptions, Outgoing, ProxyOptions, UpstreamClient};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    /// IG's ClientHandler: the request goes out as the gateway received it.
    Client,
    /// IG's ReverseProxyHandler: adds `X-Forwarded-*` and answers 502/504 on failure.
    ReverseProxy,
}

/// IG's default `connections`.
pub const DEFAULT_CONNECTIONS: usize = 64;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientHandlerConfig {
    /// Most requests in flight (and so connections) per upstream, and most idle connections
    /// kept per upstream (default 64). Further requests wait, within soTimeout.
    #[serde(default)]
    pub connections: Option<usize>,
    /// How long to wait to connect, including a proxy tunnel and the TLS handshake (IG
    /// duration, default 10 seconds).
    #[serde(default)]
    pub connection_timeout: Option<serde_json::Value>,
    /// How long to wait for the response head once the request is sent (default 10 seconds).
    #[serde(default)]
    pub so_timeout: Option<serde_json::Value>,
    /// "HTTP/1.1" (default) or "HTTP/2" (negotiated by ALPN on https; see
    /// http2PriorKnowledge for cleartext).
    #[serde(default)]
    pub protocol_version: Option<String>,
    /// Speak HTTP/2 without negotiation, also on cleartext (h2c). Default false.
    #[serde(default)]
    pub http2_prior_knowledge: Option<bool>,
    /// ClientTlsOptions (name or inline); default: system roots, strict host names.
    #[serde(default)]
    pub tls: Option<serde_json::Value>,
    /// Proxy settings; defaults to the heap object named `ProxyOptions`.
    #[serde(default)]
    pub proxy_options: Option<serde_json::Value>,
    /// Retries of idempotent, bodiless requests whose connection failed.
    #[serde(default)]
    pub retries: Option<RetriesConfig>,
    /// WebSocket proxying (ReverseProxyHandler).
    #[serde(default)]
    pub websocket: Option<WebSocketConfig>,
    /// IG's worker thread count: accepted and ignored (tokio schedules the work).
    #[serde(default)]
    pub number_of_workers: Option<serde_json::Value>,
    /// IG's buffer for entities: accepted and ignored (bodies are streamed, never buffered).
    #[serde(default)]
    pub temporary_storage: Option<serde_json::Value>,
    /// IG's streaming switch: accepted and ignored (bodies always stream).
    #[serde(default)]
    pub async_behavior: Option<serde_json::Value>,
}

/// IG 7's `retries`: `{"enabled": true, "count": 5, "delay": "10 seconds"}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetriesConfig {
    /// Default true when `retries` is present.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Extra attempts after the first (default 5).
    #[serde(default)]
    pub count: Option<u32>,
    /// Wait between attempts (default 10 seconds).
    #[serde(default)]
    pub delay: Option<serde_json::Value>,
    /// IG's scheduler: accepted and ignored.
    #[serde(default)]
    pub executor: Option<serde_json::Value>,
}

pub struct ClientHandler {
    mode: ClientMode,
    client: UpstreamClient,
    /// Present when WebSocket proxying is enabled.
    websocket: Option<UpstreamClient>,
}

fn duration_setting(
    at: Option<Located<'_>>,
    default: Duration,
) -> Result<Option<Duration>, ConfigError> {
    let Some(at) = at else {
        return Ok(Some(default));
    };
    match crate::config::duration::duration_from_json(at.value, Duration::from_secs(1)) {
        Ok(IgDuration::Finite(duration)) => Ok(Some(duration)),
        Ok(_) => Ok(None),
        Err(reason) => Err(at.error(reason)),
    }
}

fn resolve_tls<'d>(
    builder: &mut HeapBuilder<'d>,
    at: Option<Located<'d>>,
) -> Result<Arc<ClientTlsOptions>, ConfigError> {
    match at {
        Some(reference) => {
            builder.resolve_service::<ClientTlsOptions>(&reference, "a ClientTlsOptions object")
        }
        None => ClientTlsOptions::system_default()
            .map(Arc::new)
            .map_err(ConfigError::new),
    }
}

impl ClientHandler {
    pub fn factory(
        mode: ClientMode,
    ) -> impl for<'d> Fn(&mut HeapBuilder<'d>, &Declaration<'d>) -> Result<HeapObject, ConfigError>
    + Send
    + Sync
    + 'static {
        move |builder: &mut HeapBuilder<'_>, declaration: &Declaration<'_>| {
            let at = &declaration.config;
            let config: ClientHandlerConfig = builder.decode(at)?;
            for ignored in ["numberOfWorkers", "temporaryStorage", "asyncBehavior"] {
                if at.get(ignored).is_some() {
                    tracing::debug!(object = %declaration.name, setting = ignored, "IG setting accepted and ignored: it has no meaning here");
                }
            }
            let proxy = match at.get("proxyOptions") {
                Some(reference) => builder.resolve_service::<ProxyOptions>(&reference, "a proxy options object (NoProxyOptions, SystemProxyOptions, CustomProxyOptions)")?,
                None => builder
                    .lookup("ProxyOptions", at)?
                    .and_then(|object| object.service::<ProxyOptions>())
                    .unwrap_or_else(|| Arc::new(ProxyOptions::None)),
            };
            let http2 = match config.protocol_version.as_deref() {
                None => Http2::Never,
                Some(version) if version.eq_ignore_ascii_case("HTTP/1.1") => Http2::Never,
                Some(version)
                    if version.eq_ignore_ascii_case("HTTP/2")
                        || version.eq_ignore_ascii_case("HTTP/2.0") =>
                {
                    Http2::Alpn
                }
                Some(version) => {
                    return Err(at
                        .get("protocolVersion")
                        .unwrap_or_else(|| at.clone())
                        .error(format!(
                            "protocolVersion \"{version}\" is not supported; use \"HTTP/1.1\" or \"HTTP/2\""
                        )));
                }
            };
            let http2 = if config.http2_prior_knowledge == Some(true) {
                Http2::PriorKnowledge
            } else {
                http2
            };
            let connect_timeout =
                duration_setting(at.get("connectionTimeout"), Duration::from_secs(10))?;
            let so_timeout = duration_setting(at.get("soTimeout"), Duration::from_secs(10))?;
            let connections = config.connections.unwrap_or(DEFAULT_CONNECTIONS);
            if connections == 0 {
                return Err(at
                    .get("connections")
                    .unwrap_or_else(|| at.clone())
                    .error("connections must be at least 1"));
            }
            let retries = match (&config.retries, at.get("retries")) {
                (Some(retries), Some(retries_at)) if retries.enabled != Some(false) => {
                    let delay = duration_setting(retries_at.get("delay"), Duration::from_secs(10))?
                        .unwrap_or_default();
                    Some(Retries {
                        count: retries.count.unwrap_or(5),
                        delay,
                    })
                }
                _ => None,
            };
            let tls = resolve_tls(builder, at.get("tls"))?;
            let client = UpstreamClient::new(
                Settings {
                    connections,
                    connect_timeout,
                    so_timeout,
                    http2,
                    retries,
                },
                &tls,
                proxy.clone(),
            )
            .map_err(|message| at.error(message))?;
            let websocket = match (&config.websocket, at.get("websocket")) {
                (Some(websocket), Some(ws_at)) if websocket.enabled => {
                    for ignored in ["numberOfSelectors", "vertx"] {
                        if ws_at.get(ignored).is_some() {
                            tracing::debug!(object = %declaration.name, setting = ignored, "IG websocket setting accepted and ignored");
                        }
                    }
                    let ws_tls = match ws_at.get("tls") {
                        Some(reference) => resolve_tls(builder, Some(reference))?,
                        None => tls.clone(),
                    };
                    let settings = Settings {
                        connections,
                        connect_timeout: match ws_at.get("connectionTimeout") {
                            Some(value) => duration_setting(Some(value), Duration::from_secs(10))?,
                            None => connect_timeout,
                        },
                        so_timeout: match ws_at.get("soTimeout") {
                            Some(value) => duration_setting(Some(value), Duration::from_secs(10))?,
                            None => so_timeout,
                        },
                        http2: Http2::Never,
                        retries,
                    };
                    Some(
                        UpstreamClient::new(settings, &ws_tls, proxy)
                            .map_err(|message| ws_at.error(message))?,
                    )
                }
                _ => None,
            };
            Ok(HeapObject::Handler(Arc::new(ClientHandler {
                mode,
                client,
                websocket,
            })))
        }
    }
}

/// The upstream's failure, logged (see [`HandlerError`]): the failed request's one record,
/// which the edge does not repeat.
fn failed(exchange: &Exchange, target: String, reason: String) -> HandlerError {
    tracing::warn!(upstream = %target, %reason, transaction = %exchange.transaction_id, status = http::StatusCode::BAD_GATEWAY.as_u16(), "upstream request failed");
    HandlerError::Upstream { target, reason }
}

/// The upstream's timeout, logged as [`failed`] logs a failure.
fn timed_out(exchange: &Exchange, target: String, reason: &str, after: Duration) -> HandlerError {
    tracing::warn!(upstream = %target, %reason, transaction = %exchange.transaction_id, status = http::StatusCode::GATEWAY_TIMEOUT.as_u16(), "upstream did not answer in time");
    HandlerError::UpstreamTimeout { target, after }
}

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    // One scan of the message's few names finds which of the hop-by-hop fields it has (most
    // have none, or only `Connection: keep-alive`), and only those are removed: a removal
    // hashes, and nine of them per response cost more than the scan.
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(at) = HOP_BY_HOP.iter().position(|hop| hop == name) {
            present |= 1 << at;
        }
    }
    if present == 0 {
        return;
    }
    let named_by_connection = names_in_connection(headers);
    for name in &named_by_connection {
        headers.remove(name);
    }
    for (at, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << at) != 0 {
            headers.remove(name);
        }
    }
}

impl Handler for ClientHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        // Allocated first and then written: boxing a finished future would copy all of its
        // two kilobytes from the stack, where only its captures are set yet.
        let slot = Box::new_uninit();
        let future = Box::write(slot, async move {
            let upgrade =
                self.websocket.is_some() && is_upgrade_request(exchange.request.headers());
            let body = std::mem::replace(exchange.request.body_mut(), crate::http::empty_body());
            let sent = {
                // Read in place: the request keeps its URI, and a copy would cost reference
                // counts on its shared bytes for nothing.
                let request = &exchange.request;
                let target = http_scheme(request.uri());
                let Some(authority) = target.authority() else {
                    return Err(HandlerError::Internal(format!(
                        "the request URI {} names no server; set a baseURI on the route or handler",
                        *target
                    )));
                };
                let mut outgoing = Outgoing::new(request.method(), &target, request.headers());
                if let Ok(host) = HeaderValue::try_from(authority.as_str()) {
                    outgoing.set(header::HOST, host);
                }
                if upgrade && let Some(protocol) = outgoing.received(&header::UPGRADE) {
                    outgoing.set(header::CONNECTION, HeaderValue::from_static("upgrade"));
                    outgoing.set(header::UPGRADE, protocol.clone());
                }
                if self.mode == ClientMode::ReverseProxy {
                    add_forwarded_headers(exchange, &mut outgoing);
                }
                let client = match (&self.websocket, upgrade) {
                    (Some(websocket), true) => websocket,
                    _ => &self.client,
                };
                client.send(&mut outgoing, body).await
            };
            // The upstream, as messages name it.
            let authority = || {
                exchange
                    .request
                    .uri()
                    .authority()
                    .map_or_else(String::new, ToString::to_string)
            };
            let mut response = match sent {
                Ok(response) => response,
                Err(Failure::Timeout { reason, after }) => {
                    return Err(timed_out(exchange, authority(), &reason, after));
                }
                Err(Failure::Failed(reason)) => {
                    return Err(failed(exchange, authority(), reason));
                }
                Err(Failure::Client(error)) => {
                    let status = ClientBodyError::find(error.as_ref())
                        .map_or(http::StatusCode::BAD_REQUEST, ClientBodyError::status);
                    return Err(HandlerError::ClientBody {
                        status,
                        reason: format!(
                            "the request to upstream {} stopped: {}",
                            authority(),
                            crate::proxy::client::describe(error.as_ref())
                        ),
                    });
                }
            };
            if upgrade && response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                let target = authority();
                match (
                    upgrade::on(&mut exchange.request),
                    upgrade::on_response(&mut response),
                ) {
                    (Some(client_side), Some(upstream_side)) => {
                        splice(client_side, upstream_side, target);
                    }
                    _ => {
                        return Err(failed(
                            exchange,
                            target,
                            "the upstream switched protocols on a connection that cannot be upgraded".to_owned(),
                        ));
                    }
                }
                let (parts, _) = response.into_parts();
                return Ok(http::Response::from_parts(parts, crate::http::empty_body()));
            }
            strip_hop_by_hop(response.headers_mut());
            Ok::<Response, HandlerError>(response)
        });
        Box::into_pin(future)
    }
}

/// `ws://` and `wss://` URIs (IG accepts them as baseURI) are requested as http and https.
fn http_scheme(uri: &http::Uri) -> std::borrow::Cow<'_, http::Uri> {
    let scheme = match uri.scheme_str() {
        Some("ws") => http::uri::Scheme::HTTP,
        Some("wss") => http::uri::Scheme::HTTPS,
        _ => return std::borrow::Cow::Borrowed(uri),
    };
    let mut parts = uri.clone().into_parts();
    parts.scheme = Some(scheme);
    std::borrow::Cow::Owned(http::Uri::from_parts(parts).unwrap_or_default())
}

fn add_forwarded_headers(exchange: &Exchange, outgoing: &mut Outgoing<'_>) {
    let x_forwarded_for = HeaderName::from_static("x-forwarded-for");
    let forwarded_for = forwarded_for(
        outgoing
            .received(&x_forwarded_for)
            .and_then(|value| value.to_str().ok())
            .map(str::as_bytes),
        exchange.client.remote_ip(),
    );
    if let Ok(value) = forwarded_for {
        outgoing.set(x_forwarded_for, value);
    }
    let proto = if exchange.client.secure {
        "https"
    } else {
        "http"
    };
    outgoing.set(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(proto),
    );
    if let Some(host) = forwarded_host(exchange, outgoing) {
        outgoing.set(HeaderName::from_static("x-forwarded-host"), host);
    }
}

/// The client's address after what earlier proxies recorded. Written in place, with room
/// for a short chain and an IPv6 address: the header value is the one allocation.
fn forwarded_for(
    previous: Option<&[u8]>,
    client_ip: std::net::IpAddr,
) -> Result<HeaderValue, header::InvalidHeaderValue> {
    use std::io::Write as _;
    let mut value = smallvec::SmallVec::<[u8; 128]>::new();
    if let Some(previous) = previous {
        value.extend_from_slice(previous);
        value.extend_from_slice(b", ");
    }
    match client_ip {
        std::net::IpAddr::V4(ip) => push_ipv4(&mut value, ip),
        // Writing to a SmallVec cannot fail: it grows onto the heap when it must.
        std::net::IpAddr::V6(ip) => {
            let _ = write!(value, "{ip}");
        }
    }
    HeaderValue::from_bytes(&value)
}

/// Dotted decimal, as `Ipv4Addr`'s `Display` writes it, without the formatting machinery
/// (width and padding support) that cost as much as the rest of this header per request.
fn push_ipv4(out: &mut smallvec::SmallVec<[u8; 128]>, ip: std::net::Ipv4Addr) {
    for (at, octet) in ip.octets().into_iter().enumerate() {
        if at > 0 {
            out.push(b'.');
        }
        if octet >= 100 {
            out.push(b'0' + octet / 100);
        }
        if octet >= 10 {
            out.push(b'0' + octet / 10 % 10);
        }
        out.push(b'0' + octet % 10);
    }
}

/// The authority the client addressed. Most requests carry it as their `Host` field, whose
/// value is then shared rather than copied; HTTP/2 requests carry it as `:authority`.
fn forwarded_host(exchange: &Exchange, outgoing: &Outgoing<'_>) -> Option<HeaderValue> {
    let host = exchange.routing.original_uri.authority()?;
    match outgoing.received(&header::HOST) {
        Some(received) if received.as_bytes() == host.as_str().as_bytes() => Some(received.clone()),
        _ => HeaderValue::try_from(host.as_str()).ok(),
    }
}

#[cfg(test)]
mod tests;

//! ClientHandler and ReverseProxyHandler: send the request to the server its URI names.
//!
//! The request URI is the one the client addressed to the gateway unless a `baseURI`
//! decorator, a DispatchHandler binding or a filter rebased it, exactly as in IG.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::{Handler, HandlerError, HandlerFuture};
use crate::config::{ConfigError, duration::IgDuration};
use crate::exchange::Exchange;
use crate::heap::{Declaration, HeapBuilder, HeapObject};
use crate::http::{Body, BoxError, Response};
use crate::proxy::ProxyOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    /// IG's ClientHandler: the request goes out as the gateway received it.
    Client,
    /// IG's ReverseProxyHandler: adds `X-Forwarded-*` and answers 502/504 on failure.
    ReverseProxy,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientHandlerConfig {
    /// Most connections kept per upstream.
    #[serde(default)]
    pub connections: Option<usize>,
    /// How long to wait to connect (IG duration, default 10 seconds).
    #[serde(default)]
    pub connection_timeout: Option<serde_json::Value>,
    /// How long to wait for the response once the request is sent (IG's soTimeout, default
    /// 10 seconds).
    #[serde(default)]
    pub so_timeout: Option<serde_json::Value>,
    /// Proxy settings; defaults to the heap object named `ProxyOptions`.
    #[serde(default)]
    pub proxy_options: Option<serde_json::Value>,
    /// Kept for IG compatibility: "HTTP/1.1" is what this version sends.
    #[serde(default)]
    pub protocol_version: Option<String>,
}

pub struct ClientHandler {
    mode: ClientMode,
    client: Client<HttpConnector, Body>,
    response_timeout: Option<Duration>,
}

fn duration_setting(
    at: Option<crate::config::Located<'_>>,
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
            let proxy = match at.get("proxyOptions") {
                Some(reference) => Some(builder.resolve_service::<ProxyOptions>(&reference, "a proxy options object (NoProxyOptions, SystemProxyOptions, CustomProxyOptions)")?),
                None => builder
                    .lookup("ProxyOptions", at)?
                    .and_then(|object| object.service::<ProxyOptions>()),
            };
            if let Some(proxy) = proxy.as_deref()
                && !matches!(proxy, ProxyOptions::None)
            {
                return Err(at
                    .error(
                        "forward proxies are not available in this version: only NoProxyOptions is",
                    )
                    .with_hint("remove proxyOptions or the heap object named ProxyOptions"));
            }
            if let Some(version) = &config.protocol_version
                && !version.eq_ignore_ascii_case("HTTP/1.1")
            {
                return Err(at
                    .get("protocolVersion")
                    .unwrap_or_else(|| at.clone())
                    .error(format!(
                        "protocolVersion \"{version}\" is not supported; use \"HTTP/1.1\""
                    )));
            }
            let connect_timeout =
                duration_setting(at.get("connectionTimeout"), Duration::from_secs(10))?;
            let response_timeout = duration_setting(at.get("soTimeout"), Duration::from_secs(10))?;
            let mut connector = HttpConnector::new();
            connector.set_connect_timeout(connect_timeout);
            connector.set_nodelay(true);
            let mut client = Client::builder(TokioExecutor::new());
            client.pool_idle_timeout(Duration::from_secs(90));
            if let Some(connections) = config.connections {
                client.pool_max_idle_per_host(connections);
            }
            Ok(HeapObject::Handler(Arc::new(ClientHandler {
                mode,
                client: client.build(connector),
                response_timeout,
            })))
        }
    }
}

/// Headers that describe one connection, not the message, and must not be forwarded.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    let named_by_connection: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named_by_connection.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

impl Handler for ClientHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        Box::pin(async move {
            let body = std::mem::replace(exchange.request.body_mut(), crate::http::empty_body());
            let mut outgoing = http::Request::new(body);
            *outgoing.method_mut() = exchange.request.method().clone();
            *outgoing.uri_mut() = exchange.request.uri().clone();
            *outgoing.headers_mut() = exchange.request.headers().clone();
            let target = outgoing.uri().clone();
            let Some(authority) = target.authority().cloned() else {
                return Err(HandlerError::Internal(format!(
                    "the request URI {target} names no server; set a baseURI on the route or handler"
                )));
            };
            strip_hop_by_hop(outgoing.headers_mut());
            if let Ok(host) = HeaderValue::try_from(authority.as_str()) {
                outgoing.headers_mut().insert(header::HOST, host);
            }
            if self.mode == ClientMode::ReverseProxy {
                add_forwarded_headers(exchange, outgoing.headers_mut());
            }
            let sent = self.client.request(outgoing);
            let result = match self.response_timeout {
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(upstream = %authority, timeout = ?limit, "upstream did not answer in time");
                        return Err(HandlerError::UpstreamTimeout {
                            target: authority.to_string(),
                            after: limit,
                        });
                    }
                },
                None => sent.await,
            };
            match result {
                Ok(response) => {
                    let (mut parts, body) = response.into_parts();
                    strip_hop_by_hop(&mut parts.headers);
                    let body: Body = http_body_util::BodyExt::boxed(
                        http_body_util::BodyExt::map_err(body, |error| -> BoxError {
                            Box::new(error)
                        }),
                    );
                    Ok::<Response, HandlerError>(http::Response::from_parts(parts, body))
                }
                Err(error) => {
                    let reason = describe_client_error(&error);
                    tracing::warn!(upstream = %authority, %reason, "upstream request failed");
                    Err(HandlerError::Upstream {
                        target: authority.to_string(),
                        reason,
                    })
                }
            }
        })
    }
}

fn describe_client_error(error: &hyper_util::client::legacy::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

fn add_forwarded_headers(exchange: &Exchange, headers: &mut http::HeaderMap) {
    let client_ip = exchange.client.remote.ip().to_string();
    let forwarded_for = match headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
    {
        Some(previous) => format!("{previous}, {client_ip}"),
        None => client_ip,
    };
    if let Ok(value) = HeaderValue::try_from(forwarded_for) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
    let proto = if exchange.client.secure {
        "https"
    } else {
        "http"
    };
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(proto),
    );
    if let Some(host) = exchange
        .routing
        .original_uri
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().cloned())
        && let Ok(value) = HeaderValue::try_from(host.as_str())
    {
        headers.insert(HeaderName::from_static("x-forwarded-host"), value);
    }
}

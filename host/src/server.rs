//! Listeners and the hyper service: each request becomes an [`Exchange`], admin paths go to
//! the admin surface, everything else to the top-level handler.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::Instrument;

pub mod tls;

use crate::admin::Admin;
use crate::config::ConnectorSettings;
use crate::exchange::{ClientInfo, Exchange};
use crate::gateway::Gateway;
use crate::http::{BoxError, Response};

/// Bounds on what a client may send before the gateway refuses it, so one client cannot
/// exhaust memory with headers.
const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

/// How long a client has to complete the TLS handshake, so that idle or half-open connections
/// cannot pile up.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

struct Shared {
    gateway: Arc<Gateway>,
    admin: Admin,
    admin_prefix: String,
}

pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<Listener>,
}

struct Listener {
    socket: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Server {
    /// Binds every connector first, so that a port in use fails the start rather than leaving
    /// a half-listening gateway.
    pub async fn bind(
        gateway: Arc<Gateway>,
        connectors: &[ConnectorSettings],
    ) -> std::io::Result<Server> {
        let mut listeners = Vec::with_capacity(connectors.len());
        for connector in connectors {
            listeners.push(Listener {
                socket: bind(connector.address).await?,
                tls: connector.tls.as_ref().map(|tls| tls.acceptor()),
            });
        }
        let admin_prefix = format!("/{}", gateway.admin.prefix);
        Ok(Server {
            shared: Arc::new(Shared {
                admin: Admin::new(gateway.clone()),
                gateway,
                admin_prefix,
            }),
            listeners,
        })
    }

    /// The bound addresses with their scheme, "http" or "https".
    pub fn local_addresses(&self) -> Vec<(SocketAddr, &'static str)> {
        self.listeners
            .iter()
            .filter_map(|listener| {
                let scheme = if listener.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                Some((listener.socket.local_addr().ok()?, scheme))
            })
            .collect()
    }

    /// Serves until `shutdown` completes, then stops accepting and gives in-flight requests
    /// up to `drain` to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>, drain: Duration) {
        let graceful = Arc::new(GracefulShutdown::new());
        let (stop_accepting, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut accept_loops = Vec::new();
        for listener in self.listeners {
            let shared = self.shared.clone();
            let graceful = graceful.clone();
            let mut stop = stop_accepting.subscribe();
            accept_loops.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.recv() => return,
                        accepted = listener.socket.accept() => match accepted {
                            Ok((stream, remote)) => serve_connection(&shared, &graceful, listener.tls.clone(), stream, remote),
                            Err(error) => {
                                // Out of file descriptors and the like: back off instead of spinning.
                                tracing::warn!(%error, "accept failed");
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                }
            }));
        }
        shutdown.await;
        tracing::info!(drain_timeout = ?drain, "shutting down: no new connections, draining requests in flight");
        let _ = stop_accepting.send(());
        for accept_loop in accept_loops {
            let _ = accept_loop.await;
        }
        let Ok(graceful) = Arc::try_unwrap(graceful) else {
            tracing::warn!("connections still registered; not waiting for them");
            return;
        };
        match tokio::time::timeout(drain, graceful.shutdown()).await {
            Ok(()) => tracing::info!("all connections closed"),
            Err(_) => {
                tracing::warn!(drain_timeout = ?drain, "requests still in flight after the drain timeout; closing")
            }
        }
    }
}

/// Binds one address. "All interfaces" is `[::]` (dual stack); where IPv6 is disabled that
/// fails, and `0.0.0.0` serves the same purpose.
async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let unspecified_v6 = address.ip() == std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
    match TcpListener::bind(address).await {
        Ok(listener) => Ok(listener),
        Err(error) if unspecified_v6 && error.kind() != std::io::ErrorKind::AddrInUse => {
            let fallback = SocketAddr::from(([0, 0, 0, 0], address.port()));
            tracing::info!(%error, %fallback, "IPv6 is unavailable; listening on IPv4 only");
            TcpListener::bind(fallback).await.map_err(|error| {
                std::io::Error::new(
                    error.kind(),
                    format!("cannot listen on {fallback}: {error}"),
                )
            })
        }
        Err(error) => Err(std::io::Error::new(
            error.kind(),
            format!("cannot listen on {address}: {error}"),
        )),
    }
}

/// Serves one accepted connection in its own task; on a TLS listener the handshake runs there
/// too (with a timeout), so a slow or silent client never holds up the accept loop.
fn serve_connection(
    shared: &Arc<Shared>,
    graceful: &GracefulShutdown,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(remote);
    let shared = shared.clone();
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        let Some(tls) = tls else {
            let client = ClientInfo {
                remote,
                local,
                secure: false,
            };
            let connection = watcher.watch(connection(shared, client, None, TokioIo::new(stream)));
            if let Err(error) = connection.await {
                tracing::debug!(%remote, %error, "connection ended with an error");
            }
            return;
        };
        let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%remote, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, timeout = ?TLS_HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                return;
            }
        };
        let client = ClientInfo {
            remote,
            local,
            secure: true,
        };
        let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let connection = watcher.watch(connection(shared, client, alpn, TokioIo::new(stream)));
        if let Err(error) = connection.await {
            tracing::debug!(%remote, %error, "connection ended with an error");
        }
    });
}

/// HTTP/1.1 or HTTP/2 over `io`: the protocol negotiated by ALPN when there is one, else
/// detected from the client's preface (h2c with prior knowledge on plain listeners).
fn connection<I>(
    shared: Arc<Shared>,
    client: ClientInfo,
    alpn: Option<Vec<u8>>,
    io: TokioIo<I>,
) -> auto::UpgradeableConnection<
    'static,
    TokioIo<I>,
    impl hyper::service::Service<
        http::Request<Incoming>,
        Response = Response,
        Error = Infallible,
        Future = impl Future<Output = Result<Response, Infallible>> + Send,
    > + Send,
    TokioExecutor,
>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = shared.clone();
        let client = client.clone();
        async move { Ok::<_, Infallible>(shared.handle(request, client).await) }
    });
    let mut builder = match alpn.as_deref() {
        Some(b"h2") => auto::Builder::new(TokioExecutor::new()).http2_only(),
        Some(b"http/1.1") => auto::Builder::new(TokioExecutor::new()).http1_only(),
        _ => auto::Builder::new(TokioExecutor::new()),
    };
    builder
        .http1()
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder
        .http2()
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    builder
        .serve_connection_with_upgrades(io, service)
        .into_owned()
}

impl Shared {
    async fn handle(&self, request: http::Request<Incoming>, client: ClientInfo) -> Response {
        let (mut parts, body) = request.into_parts();
        absolutize(&mut parts, &client);
        let body = body
            .map_err(|error| -> BoxError { Box::new(error) })
            .boxed();
        let request = http::Request::from_parts(parts, body);
        let mut text = uuid::Uuid::encode_buffer();
        let transaction_id: Arc<str> =
            Arc::from(&*uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text));
        let span = tracing::debug_span!("request", transaction = %transaction_id, method = %request.method(), path = request.uri().path());
        let path = request.uri().path();
        let is_admin = path == self.admin_prefix
            || path
                .strip_prefix(self.admin_prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        let mut exchange = Exchange::new(request, client, transaction_id);
        async move {
            if is_admin {
                return self.admin.handle(&mut exchange, &self.admin_prefix).await;
            }
            match self.gateway.handle(&mut exchange).await {
                Ok(response) => response,
                Err(error) => {
                    tracing::warn!(transaction = %exchange.transaction_id, %error, status = error.status().as_u16(), "request failed");
                    error.into_response()
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// Gives the request IG's absolute URI: the scheme of the listener and the authority the
/// client addressed (Host header or HTTP/2 `:authority`), so `request.uri.host` and baseURI
/// rebasing work as in IG.
fn absolutize(parts: &mut http::request::Parts, client: &ClientInfo) {
    if parts.uri.scheme().is_some() && parts.uri.authority().is_some() {
        return;
    }
    let authority = parts
        .headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host.parse::<http::uri::Authority>().ok())
        .or_else(|| client.local.to_string().parse().ok());
    let mut uri_parts = std::mem::take(&mut parts.uri).into_parts();
    uri_parts.scheme = Some(if client.secure {
        http::uri::Scheme::HTTPS
    } else {
        http::uri::Scheme::HTTP
    });
    uri_parts.authority = authority;
    if uri_parts.path_and_query.is_none() {
        uri_parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    parts.uri = http::Uri::from_parts(uri_parts).unwrap_or_default();
}

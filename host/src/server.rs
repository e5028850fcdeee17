//! Listeners: each accepted connection gets its own task, HTTP/1.1 served by [`h1`] and
//! HTTP/2 (by ALPN on TLS, by its preface on plain listeners: h2c with prior knowledge) by
//! hyper, over a transport that gathers the writes of a scheduler round ([`coalesce`]).
//! Either way a request becomes an [`Exchange`]: admin paths go to the admin surface,
//! everything else to the top-level handler.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

mod coalesce;
mod h1;
mod idle;
pub mod tls;

use self::coalesce::CoalescedWrites;
use crate::admin::Admin;
use crate::config::ConnectorSettings;
use crate::exchange::{ClientInfo, Exchange};
use crate::gateway::Gateway;
use crate::h1::Reader;
use crate::http::stall::StallLimited;
use crate::http::{Body, BoxError, ClientBodyError, Response};

/// The most header bytes an HTTP/2 client may send in one request.
const MAX_HEADER_BYTES: usize = h1::MAX_HEAD_BYTES;

/// How long a client has to complete the TLS handshake, so that idle or half-open connections
/// cannot pile up.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What an HTTP/2 client with prior knowledge sends first (RFC 9113 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

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

/// What every connection task holds: the shutdown signal (HTTP/2 connections wait on it;
/// HTTP/1.1 ones are in `http1`), and its share of the count of connections still open,
/// which ends when the last task drops its sender.
#[derive(Clone)]
struct Drain {
    closing: watch::Receiver<bool>,
    http1: idle::Connections,
    open: mpsc::Sender<()>,
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
    /// up to `drain` to finish: idle connections close at once, busy ones after their
    /// response, HTTP/2 ones once their streams are done.
    pub async fn run(self, shutdown: impl Future<Output = ()>, drain: Duration) {
        let (closing_sender, closing) = watch::channel(false);
        let (open, mut all_closed) = mpsc::channel::<()>(1);
        let http1 = idle::Connections::new(h1::HEAD_TIMEOUT);
        let connections = Drain {
            closing,
            http1: http1.clone(),
            open,
        };
        let sweeper = {
            let http1 = http1.clone();
            tokio::spawn(async move {
                let mut every_second = tokio::time::interval(Duration::from_secs(1));
                every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                every_second.tick().await;
                loop {
                    every_second.tick().await;
                    http1.sweep();
                }
            })
        };
        let mut accept_loops = Vec::new();
        for listener in self.listeners {
            let shared = self.shared.clone();
            let connections = connections.clone();
            let mut stop = connections.closing.clone();
            accept_loops.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => return,
                        accepted = listener.socket.accept() => match accepted {
                            Ok((stream, remote)) => serve_connection(&shared, &connections, listener.tls.clone(), stream, remote),
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
        let _ = closing_sender.send(true);
        http1.close_all();
        for accept_loop in accept_loops {
            let _ = accept_loop.await;
        }
        drop(connections);
        match tokio::time::timeout(drain, all_closed.recv()).await {
            Ok(_) => tracing::info!("all connections closed"),
            Err(_) => {
                tracing::warn!(drain_timeout = ?drain, "requests still in flight after the drain timeout; closing")
            }
        }
        sweeper.abort();
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
    connections: &Drain,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stream: TcpStream,
    remote: SocketAddr,
) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(remote);
    let shared = shared.clone();
    let drain = connections.clone();
    tokio::spawn(async move {
        let Some(tls) = tls else {
            let client = Arc::new(ClientInfo::new(remote, local, false));
            serve_plain(shared, client, stream, drain).await;
            return;
        };
        // Boxed, as HTTP/2 is below: the task of every plain connection stays the size of
        // what a plain HTTP/1.1 connection needs, which is what idle connections cost.
        Box::pin(serve_tls(shared, tls, stream, remote, local, drain)).await;
    });
}

/// A TLS connection: the handshake, then the protocol ALPN chose (HTTP/1.1 without ALPN).
async fn serve_tls(
    shared: Arc<Shared>,
    tls: tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    remote: SocketAddr,
    local: SocketAddr,
    drain: Drain,
) {
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
    let client = Arc::new(ClientInfo::new(remote, local, true));
    // Only the protocol ALPN chose is served; without ALPN, HTTP/1.1.
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        serve_h2(shared, client, stream, drain).await;
    } else {
        let (read, write) = tokio::io::split(stream);
        let registration = drain.http1.register();
        h1::serve(
            shared,
            client,
            Reader::new(read),
            write,
            registration,
            drain.open,
        )
        .await;
    }
}

/// A plain connection: HTTP/2 when it starts with the HTTP/2 preface (h2c with prior
/// knowledge), HTTP/1.1 otherwise.
async fn serve_plain(
    shared: Arc<Shared>,
    client: Arc<ClientInfo>,
    stream: TcpStream,
    drain: Drain,
) {
    let mut reader = Reader::new(stream);
    let first_bytes = async {
        // Wait for the first bytes before taking a buffer: connections opened ahead of use
        // cost no memory.
        reader.io.readable().await?;
        loop {
            if poll_fn(|cx| reader.poll_fill(cx, 4096)).await? == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
            let seen = reader.buf.len().min(H2_PREFACE.len());
            if reader.buf[..seen] != H2_PREFACE[..seen] || reader.buf.len() >= H2_PREFACE.len() {
                return Ok(true);
            }
        }
    };
    let mut closing = drain.closing.clone();
    tokio::select! {
        read = tokio::time::timeout(h1::HEAD_TIMEOUT, first_bytes) => {
            if !matches!(read, Ok(Ok(true))) {
                return;
            }
        }
        // A connection that has sent nothing yet has nothing the gateway owes an answer to.
        _ = async { let _ = closing.wait_for(|closing| *closing).await; } => return,
    }
    if reader.buf.starts_with(H2_PREFACE) {
        // The bytes read so far are replayed to hyper through the reader.
        Box::pin(serve_h2(shared, client, reader, drain)).await;
        return;
    }
    let Reader { io, buf } = reader;
    let (read, write) = io.into_split();
    let reader = Reader { io: read, buf };
    // The connection continues in a task of its own, sized for HTTP/1.1 alone: what an idle
    // keep-alive connection costs is that task, not this one's detection state as well.
    let registration = drain.http1.register();
    tokio::spawn(h1::serve(
        shared,
        client,
        reader,
        write,
        registration,
        drain.open,
    ));
}

/// An HTTP/2 connection, served by hyper; at shutdown it stops taking new streams and ends
/// once those in flight are answered.
async fn serve_h2<I>(shared: Arc<Shared>, client: Arc<ClientInfo>, io: I, drain: Drain)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let remote = client.remote();
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = shared.clone();
        let client = client.clone();
        // Boxed: hyper spawns every stream as a task, and the gateway's request future is
        // large; unboxed it was copied several times on its way into the task (a memmove
        // that was 4.5 % of the proxy's CPU on the h2c load test).
        Box::pin(async move {
            // A stream the client reset, broke or left without data for as long as an
            // HTTP/1.1 body may be is the client's failure.
            let request = request.map(|body| {
                let body = body.map_err(|error| -> BoxError {
                    Box::new(ClientBodyError::new(Box::new(error), false))
                });
                StallLimited::new(body, h1::BODY_STALL_TIMEOUT, h1::client_body_stalled).boxed()
            });
            Ok::<_, Infallible>(shared.handle(request, client).await)
        })
    });
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let connection = builder.serve_connection(TokioIo::new(CoalescedWrites::new(io)), service);
    tokio::pin!(connection);
    let mut closing = drain.closing.clone();
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = async { let _ = closing.wait_for(|closing| *closing).await; } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "HTTP/2 connection ended with an error");
    }
}

impl Shared {
    /// The request's exchange is made before the future: an `async fn` would hold the
    /// request in its future as received (a quarter of a kilobyte) for as long as it runs.
    fn handle(
        &self,
        mut request: http::Request<Body>,
        client: Arc<ClientInfo>,
    ) -> impl Future<Output = Response> + Send + '_ {
        absolutize(&mut request, &client);
        let transaction_id = crate::exchange::TransactionId::random();
        let span = tracing::debug_span!("request", transaction = %transaction_id, method = %request.method(), path = request.uri().path());
        let path = request.uri().path();
        let is_admin = path == self.admin_prefix
            || path
                .strip_prefix(self.admin_prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        let mut exchange = Exchange::new(request, client, transaction_id);
        let work = async move {
            if is_admin {
                return self.admin.handle(&mut exchange, &self.admin_prefix).await;
            }
            match self.gateway.handle(&mut exchange).await {
                Ok(response) => response,
                Err(error) => {
                    if error.is_clients() {
                        tracing::debug!(transaction = %exchange.transaction_id, %error, status = error.status().as_u16(), "the client made the request fail");
                    } else if !error.is_logged() {
                        tracing::warn!(transaction = %exchange.transaction_id, %error, status = error.status().as_u16(), "request failed");
                    }
                    error.into_response()
                }
            }
        };
        // The request span is a debug-level one: without a subscriber for it, entering and
        // leaving it at every poll is work for nothing. One future either way, so that the
        // request's future has room for one.
        if span.is_disabled() {
            futures_util::future::Either::Left(work)
        } else {
            futures_util::future::Either::Right(work.instrument(span))
        }
    }
}

/// Gives the request IG's absolute URI: the scheme of the listener and the authority the
/// client addressed (Host header or HTTP/2 `:authority`), so `request.uri.host` and baseURI
/// rebasing work as in IG.
fn absolutize(request: &mut http::Request<Body>, client: &ClientInfo) {
    if request.uri().scheme().is_some() && request.uri().authority().is_some() {
        return;
    }
    let authority = request
        .headers()
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host.parse::<http::uri::Authority>().ok())
        .or_else(|| client.local().to_string().parse().ok());
    let mut uri_parts = std::mem::take(request.uri_mut()).into_parts();
    uri_parts.scheme = Some(if client.secure {
        http::uri::Scheme::HTTPS
    } else {
        http::uri::Scheme::HTTP
    });
    uri_parts.authority = authority;
    if uri_parts.path_and_query.is_none() {
        uri_parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    *request.uri_mut() = http::Uri::from_parts(uri_parts).unwrap_or_default();
}

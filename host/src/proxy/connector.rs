//! The connector of the upstream client: TCP (with a timeout and TCP_NODELAY), through a
//! forward proxy when the proxy options say so (absolute form for http, a CONNECT tunnel for
//! https), then TLS for https upstreams.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{ProxyOptions, ProxyServer};

/// Why a connection could not be made; the message names the upstream or proxy, never a
/// password.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    pub timed_out: bool,
}

impl ConnectError {
    fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            timed_out: false,
        }
    }
}

#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    connect_timeout: Option<Duration>,
    tls: TlsConnector,
    proxy: Arc<ProxyOptions>,
    insecure: bool,
    warned: Mutex<HashSet<String>>,
}

impl Connector {
    pub fn new(
        connect_timeout: Option<Duration>,
        tls: Arc<rustls::ClientConfig>,
        insecure: bool,
        proxy: Arc<ProxyOptions>,
    ) -> Self {
        Connector {
            inner: Arc::new(Inner {
                connect_timeout,
                tls: TlsConnector::from(tls),
                proxy,
                insecure,
                warned: Mutex::new(HashSet::new()),
            }),
        }
    }
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = Stream;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: http::Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move { connector.connect(&target).await })
    }
}

impl Connector {
    /// A connection to the server `target` names (through the proxy the options name for
    /// it), within connectionTimeout.
    pub async fn connect(&self, target: &http::Uri) -> Result<Stream, ConnectError> {
        match self.inner.connect_timeout {
            Some(limit) => match tokio::time::timeout(limit, self.inner.connect(target)).await {
                Ok(result) => result,
                Err(_) => Err(ConnectError {
                    message: format!(
                        "connecting to {} took more than connectionTimeout {limit:?}",
                        describe_target(target)
                    ),
                    timed_out: true,
                }),
            },
            None => self.inner.connect(target).await,
        }
    }
}

fn describe_target(target: &http::Uri) -> String {
    format!(
        "{}:{}",
        target.host().unwrap_or(""),
        port_of(target).unwrap_or(0)
    )
}

pub(super) fn is_tls(uri: &http::Uri) -> bool {
    matches!(uri.scheme_str(), Some("https" | "wss"))
}

fn port_of(uri: &http::Uri) -> Option<u16> {
    uri.port_u16()
        .or(if is_tls(uri) { Some(443) } else { Some(80) })
}

/// `host:port` of a proxy, as named in logs (never with credentials).
pub fn proxy_label(proxy: &ProxyServer) -> String {
    format!(
        "{}:{}",
        proxy.uri.host().unwrap_or(""),
        proxy.uri.port_u16().unwrap_or(80)
    )
}

async fn tcp_connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = None;
    for address in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address")
    }))
}

impl Inner {
    async fn connect(&self, target: &http::Uri) -> Result<Stream, ConnectError> {
        let host = target
            .host()
            .ok_or_else(|| ConnectError::new(format!("{target} names no host")))?
            .to_owned();
        let port = port_of(target).unwrap_or(80);
        let tls = is_tls(target);
        let proxy = self.proxy.proxy_for(target);
        let (mut tcp, proxied) = match proxy {
            None => {
                let tcp = tcp_connect(&host, port).await.map_err(|error| {
                    ConnectError::new(format!("cannot connect to {host}:{port}: {error}"))
                })?;
                (tcp, false)
            }
            Some(proxy) => {
                let label = proxy_label(proxy);
                let tcp = tcp_connect(
                    proxy.uri.host().unwrap_or(""),
                    proxy.uri.port_u16().unwrap_or(80),
                )
                .await
                .map_err(|error| {
                    ConnectError::new(format!("proxy {label} is unreachable: {error}"))
                })?;
                (tcp, !tls)
            }
        };
        if tls {
            if let Some(proxy) = proxy {
                tunnel(&mut tcp, proxy, &host, port).await?;
            }
            if self.insecure {
                let key = format!("{host}:{port}");
                let first = self
                    .warned
                    .lock()
                    .map(|mut warned| warned.insert(key.clone()))
                    .unwrap_or(false);
                if first {
                    tracing::warn!(upstream = %key, "INSECURE: connecting to {key} without verifying its certificate (insecureSkipVerification)");
                }
            }
            let name = ServerName::try_from(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            )
            .map_err(|error| {
                ConnectError::new(format!("{host} is not a valid TLS server name: {error}"))
            })?;
            let stream = self.tls.connect(name, tcp).await.map_err(|error| {
                ConnectError::new(format!("TLS handshake with {host}:{port} failed: {error}"))
            })?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            Ok(Stream {
                io: TokioIo::new(Io::Tls(Box::new(stream))),
                proxied: false,
                h2,
            })
        } else {
            Ok(Stream {
                io: TokioIo::new(Io::Plain(tcp)),
                proxied,
                h2: false,
            })
        }
    }
}

/// Asks the proxy for a tunnel to `host:port` and reads its answer.
async fn tunnel(
    tcp: &mut TcpStream,
    proxy: &ProxyServer,
    host: &str,
    port: u16,
) -> Result<(), ConnectError> {
    let label = proxy_label(proxy);
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(credentials) = &proxy.credentials {
        let value = credentials.authorization();
        request.push_str("Proxy-Authorization: ");
        request.push_str(value.to_str().unwrap_or(""));
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.map_err(|error| {
        ConnectError::new(format!(
            "proxy {label} failed during CONNECT {host}:{port}: {error}"
        ))
    })?;
    drop(request);
    // Read the answer head byte by byte so nothing of the tunnelled stream is consumed.
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(ConnectError::new(format!(
                "proxy {label} sent an oversized answer to CONNECT {host}:{port}"
            )));
        }
        match tcp.read(&mut byte).await {
            Ok(0) => {
                return Err(ConnectError::new(format!(
                    "proxy {label} closed the connection during CONNECT {host}:{port}"
                )));
            }
            Ok(_) => head.push(byte[0]),
            Err(error) => {
                return Err(ConnectError::new(format!(
                    "proxy {label} failed during CONNECT {host}:{port}: {error}"
                )));
            }
        }
    }
    let status_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(code) if (200..300).contains(&code) => Ok(()),
        _ => {
            let answer = status_line
                .split_once(' ')
                .map(|(_, rest)| rest)
                .unwrap_or(&status_line);
            Err(ConnectError::new(format!(
                "proxy {label} answered {answer} to CONNECT {host}:{port}"
            )))
        }
    }
}

pub enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Io {
    /// Whether an idle connection has something to read, which for a connection between
    /// requests means the server closed it (or broke the protocol): either way, unusable.
    /// Reads the readiness tokio already knows of; no system call.
    pub fn readable_while_idle(&self) -> bool {
        let tcp = match self {
            Io::Plain(tcp) => tcp,
            Io::Tls(tls) => tls.get_ref().0,
        };
        let mut context = Context::from_waker(std::task::Waker::noop());
        tcp.poll_read_ready(&mut context).is_ready()
    }
}

impl crate::h1::Transport for Io {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Io::Plain(tcp) => tcp.poll_read_ready(cx),
            // rustls may hold decrypted bytes already: the read itself tells.
            Io::Tls(_) => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Io::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Io::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Tls(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(stream) => stream.is_write_vectored(),
            Io::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Io::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}

/// One upstream connection, as hyper sees it.
pub struct Stream {
    io: TokioIo<Io>,
    proxied: bool,
    h2: bool,
}

impl Stream {
    /// The connection, and whether it goes through a forward proxy that takes absolute-form
    /// requests (plain http through a proxy; https tunnels are end to end).
    pub fn into_parts(self) -> (Io, bool) {
        (self.io.into_inner(), self.proxied)
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        let connected = Connected::new().proxy(self.proxied);
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.io)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

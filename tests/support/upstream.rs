//! Real upstream servers on 127.0.0.1 for the gateway to proxy to: [`Server`], the thread and
//! runtime every test upstream runs on, and [`Upstream`], an HTTP echo server built on it that
//! answers with a JSON echo of what it received, so tests can see what the gateway forwarded.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// A server on its own thread and runtime; stops when dropped. One implementation of the
/// accept loop, the start-up handshake and the shutdown for [`Upstream`] and for the TLS, h2,
/// WebSocket and misbehaving upstreams of the `upstream_*` tests.
pub struct Server {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Server {
    /// Accepts on `bind` (127.0.0.1:0 when None) after `delay`, giving each connection to
    /// `serve`, on a runtime of two worker threads. With a delay, returns at once (the address
    /// is `bind`).
    pub fn spawn<F, Fut>(bind: Option<SocketAddr>, delay: Duration, serve: F) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::spawn_on(multi_thread, bind, delay, serve)
    }

    /// [`Server::spawn`] on the runtime `runtime` builds (in the server's thread).
    fn spawn_on<F, Fut>(
        runtime: fn() -> Runtime,
        bind: Option<SocketAddr>,
        delay: Duration,
        serve: F,
    ) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let serve = Arc::new(serve);
                let run = async {
                    tokio::time::sleep(delay).await;
                    let listener =
                        TcpListener::bind(bind.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))))
                            .await
                            .unwrap();
                    let _ = address_tx.send(listener.local_addr().unwrap());
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let serve = serve.clone();
                        tokio::spawn(async move { serve(stream).await });
                    }
                };
                tokio::select! {
                    _ = run => {}
                    _ = stop_rx => {}
                }
            });
        });
        let address = match bind {
            Some(address) if !delay.is_zero() => address,
            _ => address_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("server started"),
        };
        Server {
            address,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.address)
    }
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The echo upstream most tests proxy to (HTTP/1.1, or h2c by prior knowledge); stops when
/// dropped.
pub struct Upstream {
    pub address: SocketAddr,
    _server: Server,
}

impl Upstream {
    /// An echo server; a request with header `x-delay-ms` is answered after that delay.
    pub fn echo() -> Upstream {
        let server = Server::spawn_on(current_thread, None, Duration::ZERO, |stream| async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(echo))
                .await;
        });
        Upstream {
            address: server.address,
            _server: server,
        }
    }

    pub fn base_uri(&self) -> String {
        format!("http://{}", self.address)
    }
}

async fn echo(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    delay_as_asked(&request).await;
    let echo = echo_json(request, false).await;
    Ok(hyper::Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", "echo")
        .body(Full::new(Bytes::from(echo.to_string())))
        .unwrap())
}

/// Waits as long as the request's `x-delay-ms` header asks, if it has one: how tests make an
/// echo upstream slow for one request.
pub async fn delay_as_asked(request: &hyper::Request<Incoming>) {
    let delay = request
        .headers()
        .get("x-delay-ms")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(delay) = delay {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
}

/// What the echo upstreams answer: the request's method, URI, headers and body (read whole)
/// as JSON, preceded by its HTTP version when `with_version` (the `upstream_*` tests' servers,
/// which check what was negotiated, say it; [`Upstream`] does not).
pub async fn echo_json(request: hyper::Request<Incoming>, with_version: bool) -> serde_json::Value {
    let mut echo = serde_json::Map::new();
    if with_version {
        echo.insert(
            "version".to_owned(),
            format!("{:?}", request.version()).into(),
        );
    }
    echo.insert("method".to_owned(), request.method().to_string().into());
    echo.insert("uri".to_owned(), request.uri().to_string().into());
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                serde_json::Value::from(value.to_str().unwrap_or("")),
            )
        })
        .collect();
    echo.insert("headers".to_owned(), headers.into());
    let body = request
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    echo.insert(
        "body".to_owned(),
        String::from_utf8_lossy(&body).into_owned().into(),
    );
    echo.into()
}

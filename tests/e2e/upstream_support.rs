//! Real components for the upstream tests: a test CA (rcgen), TLS / h2 / h2c / WebSocket /
//! streaming upstreams (tokio-rustls, hyper-util auto, tokio-tungstenite) and a real forward
//! proxy (tinyproxy).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrogate_e2e::upstream::{delay_as_asked, echo_json};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The thread and runtime the upstreams below run on; the tests also spawn misbehaving
/// servers (silent, refusing) on it directly.
pub use ferrogate_e2e::upstream::Server;

/// A CA that signs server and client certificates for 127.0.0.1 / localhost.
pub struct TestCa {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as PEM.
pub struct Issued {
    pub certificate: String,
    pub key: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Ferrogate test CA");
        let certificate = params.self_signed(&key).unwrap();
        TestCa { certificate, key }
    }

    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    pub fn issue(&self, names: &[&str], client: bool) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("client"),
        );
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        Issued {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A rustls server configuration for 127.0.0.1 with `alpn`, optionally requiring a client
    /// certificate signed by this CA.
    pub fn server_config(&self, alpn: &[&[u8]], require_client: bool) -> rustls::ServerConfig {
        self.server_config_for(&["127.0.0.1", "localhost"], alpn, require_client)
    }

    /// The same for a certificate naming `names`.
    pub fn server_config_for(
        &self,
        names: &[&str],
        alpn: &[&[u8]],
        require_client: bool,
    ) -> rustls::ServerConfig {
        let issued = self.issue(names, false);
        let chain = vec![CertificateDer::from_pem_slice(issued.certificate.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(issued.key.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(self.pem().as_bytes()).unwrap())
                .unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }
}

/// An HTTP server (HTTP/1.1 and h2c by prior knowledge) answering with [`echo`], or over
/// TLS when `tls` is given (ALPN as the configuration says).
pub fn http_server(tls: Option<rustls::ServerConfig>) -> Server {
    http_server_at(None, Duration::ZERO, tls)
}

/// [`http_server`] on `bind` (127.0.0.1:0 when None), listening only after `delay`.
pub fn http_server_at(
    bind: Option<SocketAddr>,
    delay: Duration,
    tls: Option<rustls::ServerConfig>,
) -> Server {
    let acceptor = tls.map(|config| tokio_rustls::TlsAcceptor::from(Arc::new(config)));
    Server::spawn(bind, delay, move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                }
            }
        }
    })
}

/// A WebSocket echo server (over TLS when `tls` is given).
pub fn websocket_server(tls: Option<rustls::ServerConfig>) -> Server {
    let acceptor = tls.map(|config| tokio_rustls::TlsAcceptor::from(Arc::new(config)));
    Server::spawn(None, Duration::ZERO, move |stream| {
        let acceptor = acceptor.clone();
        async move {
            match acceptor {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        ws_echo(stream).await;
                    }
                }
                None => ws_echo(stream).await,
            }
        }
    })
}

async fn ws_echo<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(message)) = socket.next().await {
        if message.is_text() || message.is_binary() {
            if socket.send(message).await.is_err() {
                return;
            }
        } else if message.is_close() {
            return;
        }
    }
}

type EchoBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// `GET /download/<n>` streams n bytes; `POST /upload` counts what it receives; anything else
/// is answered with a JSON echo including the HTTP version; `x-delay-ms` delays the answer.
pub async fn echo(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<EchoBody>, Infallible> {
    delay_as_asked(&request).await;
    let path = request.uri().path().to_owned();
    if let Some(size) = path
        .strip_prefix("/download/")
        .and_then(|n| n.parse::<u64>().ok())
    {
        return Ok(hyper::Response::new(BodyExt::boxed(generated(size))));
    }
    if path == "/upload" {
        let mut body = request.into_body();
        let mut total = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                total += data.len() as u64;
            }
        }
        return Ok(hyper::Response::new(
            Full::new(Bytes::from(total.to_string())).boxed(),
        ));
    }
    let echo = echo_json(request, true).await;
    Ok(hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(echo.to_string())).boxed())
        .unwrap())
}

/// `size` bytes generated on the fly, 64 KiB at a time.
pub fn generated(
    size: u64,
) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + Sync> {
    const CHUNK: u64 = 64 * 1024;
    let chunk = Bytes::from(vec![b'x'; CHUNK as usize]);
    let stream = futures_util::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            if sent >= size {
                return None;
            }
            let n = CHUNK.min(size - sent);
            Some((Ok(Frame::data(chunk.slice(0..n as usize))), sent + n))
        }
    });
    StreamBody::new(stream)
}

/// A real tinyproxy on 127.0.0.1 with Basic authentication `user:password`; killed on drop.
pub struct TinyProxy {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

pub const PROXY_USER: &str = "gatewayuser";
pub const PROXY_PASSWORD: &str = "Pr0xyPassw0rd-e2e";

impl TinyProxy {
    pub fn start(connect_ports: &[u16]) -> TinyProxy {
        let binary = which("tinyproxy").expect(
            "tinyproxy is not installed: run scripts/setup (Debian: apt-get install tinyproxy)",
        );
        for _ in 0..10 {
            let port = {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.local_addr().unwrap().port()
            };
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("tinyproxy.log");
            let mut conf = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Info\nMaxClients 100\nAllow 127.0.0.1\nBasicAuth {PROXY_USER} {PROXY_PASSWORD}\nDisableViaHeader Yes\n",
                log.display()
            );
            for connect in connect_ports {
                conf.push_str(&format!("ConnectPort {connect}\n"));
            }
            let conf_path = dir.path().join("tinyproxy.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let mut child = Command::new(&binary)
                .arg("-d")
                .arg("-c")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start tinyproxy");
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut up = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    up = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if up {
                return TinyProxy {
                    child,
                    port,
                    _dir: dir,
                    log,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("tinyproxy did not start");
    }

    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the proxy's log has a line containing every needle.
    pub fn logged(&self, needles: &[&str]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self
                .log()
                .lines()
                .any(|line| needles.iter().all(|needle| line.contains(needle)))
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// Writes `content` to `dir/name`, returning the path.
pub fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

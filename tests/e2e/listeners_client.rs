//! Helpers for the listener tests: a test CA and server certificate (rcgen), and clients
//! speaking HTTPS (HTTP/1.1 or HTTP/2 by ALPN) and h2c with prior knowledge, built on
//! tokio-rustls and hyper so the test controls ALPN and sees the protocol version.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Version;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};

/// A CA and a server certificate for "localhost" and 127.0.0.1, PEM.
pub struct Pki {
    pub ca_der: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    pub fn new() -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Ferrogate test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        Pki {
            ca_der: ca.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Another key, which does not match the certificate.
    pub fn other_key_pem() -> String {
        rcgen::KeyPair::generate().unwrap().serialize_pem()
    }

    /// Writes `tls/cert.pem` and `tls/key.pem` into the configuration directory.
    pub fn write_files(&self, config: &ferrogate_e2e::ConfigDir) {
        config.write("tls/cert.pem", &self.cert_pem);
        config.write("tls/key.pem", &self.key_pem);
    }

    fn client_config(&self, alpn: &[&str]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }
}

/// What a test client saw.
#[derive(Debug)]
pub struct Answer {
    pub version: Version,
    pub status: u16,
    pub body: String,
    /// The ALPN protocol the server chose, for TLS connections.
    pub alpn: Option<String>,
}

/// A runtime for one client's requests, on the test's thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `GET path` over TLS to `address` (verified as "localhost" against the test CA), offering
/// `alpn`; HTTP/2 when the server picks "h2", else HTTP/1.1.
pub fn https_get(pki: &Pki, address: SocketAddr, alpn: &[&str], path: &str) -> Answer {
    let config = pki.client_config(alpn);
    runtime().block_on(async move {
        tokio::time::timeout(Duration::from_secs(10), async move {
            let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
            let connector = tokio_rustls::TlsConnector::from(config);
            let tls = connector
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .expect("TLS handshake");
            let alpn = tls
                .get_ref()
                .1
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            let uri = format!("https://localhost:{}{path}", address.port());
            let mut answer = if alpn.as_deref() == Some("h2") {
                request_h2(TokioIo::new(tls), &uri).await
            } else {
                request_h1(TokioIo::new(tls), &uri, address).await
            };
            answer.alpn = alpn;
            answer
        })
        .await
        .expect("HTTPS request timed out")
    })
}

/// `GET path` with HTTP/2 prior knowledge (h2c) on a plain listener.
pub fn h2c_get(address: SocketAddr, path: &str) -> Answer {
    runtime().block_on(async move {
        tokio::time::timeout(Duration::from_secs(10), async move {
            let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
            request_h2(TokioIo::new(tcp), &format!("http://{address}{path}")).await
        })
        .await
        .expect("h2c request timed out")
    })
}

async fn request_h2<I>(io: TokioIo<I>, uri: &str) -> Answer
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = hyper::Request::get(uri)
        .version(Version::HTTP_2)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.expect("HTTP/2 request");
    read(response).await
}

async fn request_h1<I>(io: TokioIo<I>, uri: &str, address: SocketAddr) -> Answer
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let uri: hyper::Uri = uri.parse().unwrap();
    let request = hyper::Request::get(uri.path_and_query().unwrap().as_str())
        .header("host", format!("localhost:{}", address.port()))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .expect("HTTP/1.1 request");
    read(response).await
}

async fn read(response: hyper::Response<hyper::body::Incoming>) -> Answer {
    let version = response.version();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        version,
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        alpn: None,
    }
}

/// A route answering "<scheme> <isSecure>" on every request whose scheme is https, and one
/// answering "plain" otherwise (a lower priority by name).
pub fn write_scheme_routes(config: &ferrogate_e2e::ConfigDir) {
    config.write_route(
        "secure.json",
        &serde_json::json!({
            "name": "a-secure",
            "condition": "${request.uri.scheme == 'https'}",
            "handler": {
                "type": "StaticResponseHandler",
                "config": {
                    "status": 200,
                    "entity": "${request.uri.scheme} ${contexts.client.isSecure}"
                }
            }
        }),
    );
    config.write_route(
        "plain.json",
        &serde_json::json!({
            "name": "b-plain",
            "handler": {
                "type": "StaticResponseHandler",
                "config": {
                    "status": 200,
                    "entity": "plain ${request.uri.scheme} ${contexts.client.isSecure}"
                }
            }
        }),
    );
}

/// A loopback port free right now (bound then released), for admin.json's fixed ports.
pub fn free_port() -> u16 {
    super::closed_port()
}

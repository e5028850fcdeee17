//! Many streams at once on one HTTP/2 connection: the gateway gathers the frames of streams
//! that answer in the same round into one write (host/src/server/coalesce.rs), so every
//! stream must still get its own response, whole, whatever the sizes around it.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Empty};
use hyper::Version;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;

use ferrogate_e2e::{ConfigDir, Gateway};

use crate::listeners_client::runtime;
use crate::upstream_support::http_server;

/// Bodies from empty to past the coalescing buffer (64 KiB) and the stream window (64 KiB).
const DOWNLOAD_SIZES: [usize; 7] = [0, 1, 1000, 1024, 16_384, 100_000, 1 << 20];

#[test]
fn concurrent_streams_of_every_size_each_get_their_own_response() {
    let upstream = http_server(None);
    let config = ConfigDir::new();
    config.write_route(
        "all.json",
        &json!({"baseURI": upstream.url("http"), "handler": "ReverseProxyHandler"}),
    );
    let gateway = Gateway::start(config.path());
    let address = gateway.address;

    runtime().block_on(async move {
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .expect("HTTP/2 handshake");
        tokio::spawn(connection);
        let requests = (0..8).flat_map(|round| {
            let downloads = DOWNLOAD_SIZES.map(|size| format!("/download/{size}"));
            let echoes = (0..4).map(move |echo| format!("/echo/{round}/{echo}"));
            downloads.into_iter().chain(echoes)
        });
        let answers = requests.map(|path| {
            let mut sender = sender.clone();
            async move {
                let request = hyper::Request::get(format!("http://{address}{path}"))
                    .version(Version::HTTP_2)
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let response = sender.send_request(request).await.expect("HTTP/2 request");
                assert_eq!(response.status(), 200, "{path}");
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (path, body)
            }
        });
        let answers = tokio::time::timeout(Duration::from_secs(60), join_all(answers))
            .await
            .expect("the streams did not all finish within 60 s");
        assert_eq!(answers.len(), 8 * (DOWNLOAD_SIZES.len() + 4));
        for (path, body) in answers {
            if let Some(size) = path.strip_prefix("/download/") {
                assert_eq!(body.len(), size.parse::<usize>().unwrap(), "{path}");
                assert!(
                    body.iter().all(|&byte| byte == b'x'),
                    "{path}: foreign bytes"
                );
            } else {
                let echo: serde_json::Value = serde_json::from_slice(&body)
                    .unwrap_or_else(|error| panic!("{path}: not the echo's JSON: {error}"));
                assert_eq!(echo["uri"], path, "{path} got another stream's answer");
            }
        }
    });
}

/// An HTTP/2 client that stops sending its request body midway gets 408 after the body
/// timeout, as an HTTP/1.1 one does, rather than holding its stream (and the upstream
/// connection its request is being sent on) for ever: soTimeout, the upstream's limit, does
/// not count waits for the client.
#[test]
fn a_stream_whose_body_stalls_gets_408_after_the_body_timeout() {
    let upstream = http_server(None);
    let config = ConfigDir::new();
    config.write_route(
        "all.json",
        &json!({"baseURI": upstream.url("http"), "handler": {
            "type": "ReverseProxyHandler", "config": {"soTimeout": "300 ms"}}}),
    );
    let gateway = Gateway::start(config.path());
    let address = gateway.address;

    runtime().block_on(async move {
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .expect("HTTP/2 handshake");
        tokio::spawn(connection);
        let (frames, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
        let body = http_body_util::StreamBody::new(
            futures_util::stream::unfold(receiver, |mut receiver| async move {
                let bytes = receiver.recv().await?;
                Some((
                    Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(bytes)),
                    receiver,
                ))
            })
            .boxed(),
        );
        let request = hyper::Request::post(format!("http://{address}/upload"))
            .version(Version::HTTP_2)
            .header("content-length", "100")
            .body(body)
            .unwrap();
        frames.send(Bytes::from_static(b"abc")).await.unwrap();
        let started = std::time::Instant::now();
        let response = tokio::time::timeout(Duration::from_secs(45), sender.send_request(request))
            .await
            .expect("no answer within 45 s")
            .expect("HTTP/2 request");
        let took = started.elapsed();
        assert_eq!(response.status(), 408);
        assert!(
            took >= Duration::from_secs(29) && took < Duration::from_secs(40),
            "answered after {took:?}"
        );
        // The sender stays open to the end: the client stalled, it did not go away.
        drop(frames);
    });
}

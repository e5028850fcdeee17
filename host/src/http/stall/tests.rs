//! The stall limit on bodies other than the HTTP/1.1 reader's (that one's own tests are in
//! h1/tests.rs): a body whose peer stops fails once, a body that keeps giving does not.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::sync::mpsc;

use super::StallLimited;
use crate::http::BoxError;

/// A body fed by the test through the returned sender.
fn fed() -> (mpsc::Sender<&'static [u8]>, crate::http::Body) {
    let (sender, receiver) = mpsc::channel(4);
    (sender, StreamBody::new(Frames(receiver)).boxed())
}

/// The receiving end of a channel as a stream of data frames.
struct Frames(mpsc::Receiver<&'static [u8]>);

impl futures_util::Stream for Frames {
    type Item = Result<Frame<Bytes>, BoxError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0
            .poll_recv(cx)
            .map(|bytes| bytes.map(|bytes| Ok(Frame::data(Bytes::from_static(bytes)))))
    }
}

fn stalled(limit: Duration) -> BoxError {
    format!("stalled for {limit:?}").into()
}

#[tokio::test]
async fn a_wrapped_body_whose_peer_stops_fails_once_after_the_limit() {
    let (sender, body) = fed();
    let mut body = StallLimited::new(body, Duration::from_millis(150), stalled);
    sender.send(b"abc").await.unwrap();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"abc");
    let started = tokio::time::Instant::now();
    let error = tokio::time::timeout(Duration::from_secs(2), body.frame())
        .await
        .expect("the stalled body never failed")
        .unwrap()
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(error.to_string(), "stalled for 150ms");
    // Failed once, the body is over: nobody reads a stalled peer's late bytes as its body.
    sender.send(b"late").await.unwrap();
    assert!(body.frame().await.is_none());
    drop(sender);
}

#[tokio::test]
async fn a_wrapped_body_that_keeps_giving_is_never_stalled() {
    let (sender, body) = fed();
    let body = StallLimited::new(body, Duration::from_millis(250), stalled);
    tokio::spawn(async move {
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sender.send(b"x").await.unwrap();
        }
    });
    let collected = body.collect().await.unwrap().to_bytes();
    assert_eq!(&collected[..], b"xxxxxx");
}

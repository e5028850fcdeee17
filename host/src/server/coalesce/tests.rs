//! The coalescing transport: what a round's flush holds back, when it leaves, and that every
//! byte leaves once, in order.

#![allow(clippy::unwrap_used)]

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{BUFFER_LIMIT, CoalescedWrites};

/// What the transport under test was asked to do.
#[derive(Default)]
struct Record {
    writes: Vec<Vec<u8>>,
    flushes: usize,
    shut_down: bool,
}

/// A transport that records each write; it takes at most `accept` bytes per write.
struct Recorder {
    record: Arc<Mutex<Record>>,
    accept: usize,
}

impl Recorder {
    fn new(accept: usize) -> (Self, Arc<Mutex<Record>>) {
        let record = Arc::new(Mutex::new(Record::default()));
        let recorder = Recorder {
            record: record.clone(),
            accept,
        };
        (recorder, record)
    }
}

impl AsyncRead for Recorder {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        buf.put_slice(b"request");
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let taken = buf.len().min(self.accept);
        self.record
            .lock()
            .unwrap()
            .writes
            .push(buf[..taken].to_vec());
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.record.lock().unwrap().flushes += 1;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.record.lock().unwrap().shut_down = true;
        Poll::Ready(Ok(()))
    }
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Ends a round as a connection's task does: the first flush defers, the next one sends.
async fn send_round(transport: &mut CoalescedWrites<Recorder>) {
    transport.flush().await.unwrap();
    transport.flush().await.unwrap();
}

fn written(record: &Mutex<Record>) -> Vec<Vec<u8>> {
    record.lock().unwrap().writes.clone()
}

#[tokio::test]
async fn the_first_flush_of_a_round_sends_nothing_and_has_the_task_woken_after_the_round() {
    let (recorder, record) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);

    assert!(matches!(
        Pin::new(&mut transport).poll_write(&mut cx, b"first response"),
        Poll::Ready(Ok(14))
    ));
    assert!(matches!(
        Pin::new(&mut transport).poll_flush(&mut cx),
        Poll::Ready(Ok(()))
    ));
    assert!(written(&record).is_empty());
    assert_eq!(record.lock().unwrap().flushes, 0);
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        0,
        "woken before the round ended"
    );

    // The runtime runs the other ready tasks, polls its driver, then wakes deferred tasks.
    tokio::task::yield_now().await;
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);

    assert!(matches!(
        Pin::new(&mut transport).poll_write(&mut cx, b", second response"),
        Poll::Ready(Ok(17))
    ));
    assert!(matches!(
        Pin::new(&mut transport).poll_flush(&mut cx),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(
        written(&record),
        [b"first response, second response".to_vec()]
    );
    assert_eq!(record.lock().unwrap().flushes, 1);
}

#[tokio::test]
async fn every_round_defers_anew_and_an_empty_flush_goes_straight_through() {
    let (recorder, record) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    for round in 0..3u8 {
        transport.write_all(&[round; 3]).await.unwrap();
        transport.flush().await.unwrap();
        assert_eq!(written(&record).len(), usize::from(round), "round {round}");
        transport.flush().await.unwrap();
        assert_eq!(written(&record)[usize::from(round)], [round; 3]);
    }
    let flushes = record.lock().unwrap().flushes;
    transport.flush().await.unwrap();
    assert_eq!(record.lock().unwrap().flushes, flushes + 1);
    assert_eq!(written(&record).len(), 3);
}

#[tokio::test]
async fn vectored_writes_are_taken_whole_in_order() {
    let (recorder, record) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    assert!(transport.is_write_vectored());
    let taken = std::future::poll_fn(|cx| {
        Pin::new(&mut transport).poll_write_vectored(
            cx,
            &[
                IoSlice::new(b"HEADERS"),
                IoSlice::new(b""),
                IoSlice::new(b"DATA"),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(taken, 11);
    send_round(&mut transport).await;
    assert_eq!(written(&record), [b"HEADERSDATA".to_vec()]);
}

#[tokio::test]
async fn a_transport_taking_part_of_a_write_gets_the_rest_in_order() {
    let (recorder, record) = Recorder::new(5);
    let mut transport = CoalescedWrites::new(recorder);
    transport.write_all(b"0123456789abc").await.unwrap();
    send_round(&mut transport).await;
    assert_eq!(
        written(&record),
        [b"01234".to_vec(), b"56789".to_vec(), b"abc".to_vec()]
    );
}

#[tokio::test]
async fn a_full_buffer_is_sent_before_more_is_taken() {
    let (recorder, record) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    let body: Vec<u8> = (0..BUFFER_LIMIT + 100).map(|i| (i % 251) as u8).collect();
    transport.write_all(&body).await.unwrap();
    let writes = written(&record);
    assert_eq!(
        writes.len(),
        1,
        "the first {BUFFER_LIMIT} bytes leave at once"
    );
    assert_eq!(writes[0], body[..BUFFER_LIMIT]);
    send_round(&mut transport).await;
    assert_eq!(written(&record).concat(), body);
}

#[tokio::test]
async fn shutdown_sends_what_is_buffered_first() {
    let (recorder, record) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    transport.write_all(b"GOAWAY").await.unwrap();
    transport.flush().await.unwrap();
    assert!(written(&record).is_empty());
    transport.shutdown().await.unwrap();
    assert_eq!(written(&record), [b"GOAWAY".to_vec()]);
    assert!(record.lock().unwrap().shut_down);
}

#[tokio::test]
async fn a_transport_that_takes_nothing_is_an_error() {
    let (recorder, _) = Recorder::new(0);
    let mut transport = CoalescedWrites::new(recorder);
    transport.write_all(b"frame").await.unwrap();
    transport.flush().await.unwrap();
    let error = transport.flush().await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::WriteZero);
}

#[tokio::test]
async fn reads_go_straight_to_the_transport() {
    let (recorder, record) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    transport.write_all(b"unsent").await.unwrap();
    let mut read = [0u8; 7];
    transport.read_exact(&mut read).await.unwrap();
    assert_eq!(&read, b"request");
    assert!(written(&record).is_empty());
}

#[test]
fn outside_a_runtime_the_task_is_woken_at_once() {
    let (recorder, record) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(
        Pin::new(&mut transport)
            .poll_write(&mut cx, b"frame")
            .is_ready()
    );
    assert!(Pin::new(&mut transport).poll_flush(&mut cx).is_ready());
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert!(Pin::new(&mut transport).poll_flush(&mut cx).is_ready());
    assert_eq!(written(&record), [b"frame".to_vec()]);
}

#[tokio::test]
async fn an_idle_connection_holds_no_buffer() {
    let (recorder, _) = Recorder::new(usize::MAX);
    let mut transport = CoalescedWrites::new(recorder);
    assert_eq!(transport.buffer.capacity(), 0);
    transport.write_all(&[7; 10_000]).await.unwrap();
    assert!(transport.buffer.capacity() >= 10_000);
    send_round(&mut transport).await;
    assert_eq!(transport.buffer.capacity(), 0);
}

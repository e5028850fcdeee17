//! Protocol switches (WebSocket): a request that asks to upgrade carries an [`OnUpgrade`] in
//! its extensions, resolved with the client's connection once the gateway has answered it
//! `101 Switching Protocols`; a `101` from an upstream carries the upstream's connection the
//! same way. The two are then spliced.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// What [`Upgraded`] wraps: any duplex byte stream.
pub trait Duplex: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Duplex for T {}

/// A connection after its protocol switch, with any bytes that arrived early read first.
pub struct Upgraded(Box<dyn Duplex>);

impl Upgraded {
    pub fn new(io: impl Duplex) -> Self {
        Upgraded(Box::new(io))
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_shutdown(cx)
    }
}

/// Resolves with the upgraded connection, or fails when the switch did not happen. Clones
/// share the one connection (message extensions must be cloneable); the first to poll it
/// to completion gets it.
#[derive(Clone)]
pub struct OnUpgrade(Arc<Mutex<Option<oneshot::Receiver<Upgraded>>>>);

/// The side that completes an [`OnUpgrade`].
pub struct Pending(oneshot::Sender<Upgraded>);

#[derive(Debug, thiserror::Error)]
#[error("the connection was not upgraded")]
pub struct NotUpgraded;

pub fn pending() -> (Pending, OnUpgrade) {
    let (sender, receiver) = oneshot::channel();
    (
        Pending(sender),
        OnUpgrade(Arc::new(Mutex::new(Some(receiver)))),
    )
}

impl Pending {
    pub fn fulfil(self, upgraded: Upgraded) {
        let _ = self.0.send(upgraded);
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, NotUpgraded>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(mut slot) = self.0.lock() else {
            return Poll::Ready(Err(NotUpgraded));
        };
        let Some(receiver) = slot.as_mut() else {
            return Poll::Ready(Err(NotUpgraded));
        };
        let result = std::task::ready!(Pin::new(receiver).poll(cx));
        *slot = None;
        Poll::Ready(result.map_err(|_| NotUpgraded))
    }
}

/// Takes the pending upgrade out of a message's extensions.
pub fn on<T>(message: &mut http::Request<T>) -> Option<OnUpgrade> {
    message.extensions_mut().remove::<OnUpgrade>()
}

/// The same for responses.
pub fn on_response<T>(message: &mut http::Response<T>) -> Option<OnUpgrade> {
    message.extensions_mut().remove::<OnUpgrade>()
}

//! Buffered reading off a connection, and writing several buffers with one system call.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// What the HTTP/1.1 code reads from: a socket, a TLS stream, or one half of either.
pub trait Transport: AsyncRead + Unpin + Send + 'static {
    /// Ready once a read would not block. An idle connection waits here without a read
    /// buffer; transports that cannot tell (TLS keeps decrypted bytes of its own) are always
    /// ready, and the wait happens in the read itself.
    fn poll_read_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Transport for tokio::net::tcp::OwnedReadHalf {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.as_ref().poll_read_ready(cx)
    }
}

impl Transport for tokio::net::TcpStream {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::net::TcpStream::poll_read_ready(self, cx)
    }
}

impl<T: AsyncRead + Send + 'static> Transport for tokio::io::ReadHalf<T> {}

/// A transport and the bytes read from it that nothing has consumed yet.
pub struct Reader<R> {
    pub io: R,
    pub buf: BytesMut,
}

impl<R: Transport> Reader<R> {
    pub fn new(io: R) -> Self {
        Reader {
            io,
            buf: BytesMut::new(),
        }
    }

    /// Reads as a plain stream would: the bytes still buffered first, then the transport's.
    fn poll_read_through(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.buf.is_empty() {
            let take = self.buf.len().min(out.remaining());
            out.put_slice(&self.buf.split_to(take));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, out)
    }

    /// Reads what is available into the buffer, making room for `room` bytes first; 0 at the
    /// end of the stream.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>, room: usize) -> Poll<io::Result<usize>> {
        self.poll_fill_least(cx, room, room)
    }

    /// [`poll_fill`](Self::poll_fill) into what the buffer has left while that is at least
    /// `least` bytes, making room for `room` only below it: a reader that keeps taking small
    /// messages out of its buffer then fills the same memory several times.
    pub fn poll_fill_least(
        &mut self,
        cx: &mut Context<'_>,
        least: usize,
        room: usize,
    ) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < least {
            self.make_room(room);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }

    /// Room for `room` more bytes: in the buffer's own memory when nothing read out of it is
    /// still in use, else in a spare buffer of this thread, else in a new one.
    fn make_room(&mut self, room: usize) {
        if self.buf.try_reclaim(room) {
            return;
        }
        match spare::take(self.buf.len() + room) {
            Some(mut spare) => {
                spare.extend_from_slice(&self.buf);
                self.buf = spare;
            }
            None => self.buf.reserve(room),
        }
    }

    /// Gives the buffer back when it holds nothing, so that an idle connection holds no
    /// buffer: to the spare ones of this thread, for the next read that asks `room` bytes,
    /// when it has that much and nothing else holds any of it (the bytes of a request still
    /// in use).
    pub fn release_if_empty(&mut self, room: usize) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            spare::give(std::mem::take(&mut self.buf), room);
        }
    }
}

/// Read buffers that keep-alive connections gave back between requests, for the next read on
/// the same thread. A buffer of a few KiB is beyond the allocator's fast path (1 KiB with
/// mimalloc): taking a new one for every request and freeing it cost a proxied request
/// about 650 instructions (docs/development.md, "Counting instructions").
mod spare {
    use std::cell::RefCell;

    use bytes::BytesMut;

    /// At most this many per thread (a few hundred KiB): enough for the connections that go
    /// idle and come back at once; the rest are freed.
    const KEPT: usize = 64;

    thread_local! {
        static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    }

    /// A spare buffer with room for `room` bytes, if this thread has one.
    pub fn take(room: usize) -> Option<BytesMut> {
        SPARE
            .try_with(|spare| {
                let mut spare = spare.try_borrow_mut().ok()?;
                let at = spare.iter().rposition(|buf| buf.capacity() >= room)?;
                Some(spare.swap_remove(at))
            })
            .ok()
            .flatten()
    }

    /// Keeps `buf` (empty) for a later [`take`] when it has `room` bytes that no bytes
    /// taken out of it still use, without allocating.
    pub fn give(mut buf: BytesMut, room: usize) {
        debug_assert!(buf.is_empty());
        if !buf.try_reclaim(room) {
            return;
        }
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut()
                && spare.len() < KEPT
            {
                spare.push(buf);
            }
        });
    }

    /// How many this thread keeps.
    #[cfg(test)]
    pub fn count() -> usize {
        SPARE.with_borrow(Vec::len)
    }

    #[cfg(test)]
    pub const KEPT_AT_MOST: usize = KEPT;
}

#[cfg(test)]
pub(crate) use spare::{KEPT_AT_MOST as SPARE_KEPT_AT_MOST, count as spare_count};

/// Writes every byte of `slices`, vectored: a head and a small body leave in one `writev`.
pub async fn write_all_vectored<W: AsyncWrite + Unpin>(
    writer: &mut W,
    slices: &mut [IoSlice<'_>],
) -> io::Result<()> {
    let mut slices = without_empty_ends(slices);
    while !slices.is_empty() {
        let written = writer.write_vectored(slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, written);
    }
    Ok(())
}

/// `slices` without the empty slices at either end, where callers leave a head already sent
/// or a tail that framing did not need: each would be an iovec the kernel walks for nothing.
fn without_empty_ends<'s, 'b>(slices: &'s mut [IoSlice<'b>]) -> &'s mut [IoSlice<'b>] {
    let end = slices
        .iter()
        .rposition(|slice| !slice.is_empty())
        .map_or(0, |last| last + 1);
    let start = slices[..end]
        .iter()
        .position(|slice| !slice.is_empty())
        .unwrap_or(end);
    &mut slices[start..end]
}

/// A reader and a writer as one stream, for connections handed over after a protocol switch
/// (WebSocket): buffered bytes are read first.
pub struct Joined<R, W> {
    pub reader: Reader<R>,
    pub writer: W,
}

impl<R: Transport, W: AsyncWrite + Unpin> AsyncRead for Joined<R, W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().reader.poll_read_through(cx, out)
    }
}

impl<R: Unpin, W: AsyncWrite + Unpin> AsyncWrite for Joined<R, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.writer.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_shutdown(cx)
    }
}

/// A whole connection read through its buffer: what an upstream connection becomes after a
/// protocol switch.
impl<T: Transport + AsyncWrite> AsyncRead for Reader<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_read_through(cx, out)
    }
}

impl<T: Transport + AsyncWrite> AsyncWrite for Reader<T> {
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
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

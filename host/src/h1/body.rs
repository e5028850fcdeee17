//! Bodies on an HTTP/1.1 connection: decoding one as it is read (Content-Length, chunked,
//! until close) into a streaming [`http_body::Body`], and writing one with the framing its
//! head announced.

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body as _, Frame, SizeHint};
use tokio::io::AsyncWrite;

use super::head::Framing;
use super::io::{Reader, Transport, write_all_vectored};
use crate::http::stall::StallLimit;
use crate::http::{Body, BoxError};

/// The longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// The most trailer bytes accepted after a chunked body (they are read and dropped).
const MAX_TRAILERS: usize = 16 * 1024;
/// How much a body read asks for at first, and at most once the body proves large.
const FIRST_READ: usize = 8 * 1024;
const LARGE_READ: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("malformed chunked body: {0}")]
    Chunked(&'static str),
    #[error("the connection closed before the end of the body")]
    Incomplete,
    #[error("reading the body failed: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent nothing for this long while the body's reader waited for it.
    #[error("no byte of the body arrived for {} s", .0.as_secs_f64())]
    Stalled(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers(usize),
    UntilClose,
    Done,
}

/// One step of decoding what the buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Data(Bytes),
    /// More bytes are needed.
    More,
    Done,
}

/// Takes a body's bytes out of a read buffer, leaving whatever follows it (the next message).
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
}

fn line_end(buf: &[u8]) -> Option<usize> {
    let newline = buf.iter().position(|&byte| byte == b'\n')?;
    Some(newline)
}

fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let digits = line
        .iter()
        .position(|byte| !byte.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if digits == 0 {
        return Err(BodyError::Chunked(
            "a chunk size must start with a hex digit",
        ));
    }
    if digits > 15 {
        return Err(BodyError::Chunked("chunk size too large"));
    }
    // What follows the digits may only be whitespace and extensions, which are ignored.
    match line.get(digits) {
        None | Some(b';' | b' ' | b'\t') => {}
        Some(_) => return Err(BodyError::Chunked("invalid character after the chunk size")),
    }
    let text = std::str::from_utf8(&line[..digits])
        .map_err(|_| BodyError::Chunked("invalid chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| BodyError::Chunked("invalid chunk size"))
}

impl Decoder {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(length) => State::Length(length),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        Decoder { state }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The bytes still to come, when the framing says.
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(length) => Some(length),
            State::Done => Some(0),
            _ => None,
        }
    }

    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, BodyError> {
        loop {
            match self.state {
                State::Done => return Ok(Step::Done),
                State::Length(remaining) | State::ChunkData(remaining) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = remaining.min(buf.len() as u64);
                    let data = buf.split_to(take as usize).freeze();
                    let left = remaining - take;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), left) => State::Length(left),
                        (_, 0) => State::ChunkEnd,
                        (_, left) => State::ChunkData(left),
                    };
                    return Ok(Step::Data(data));
                }
                State::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    return Ok(Step::Data(buf.split().freeze()));
                }
                State::ChunkSize => {
                    let Some(newline) = line_end(buf) else {
                        return if buf.len() > MAX_CHUNK_LINE {
                            Err(BodyError::Chunked("chunk-size line too long"))
                        } else {
                            Ok(Step::More)
                        };
                    };
                    if newline == 0 || buf[newline - 1] != b'\r' {
                        return Err(BodyError::Chunked("a chunk-size line must end with CRLF"));
                    }
                    if newline > MAX_CHUNK_LINE {
                        return Err(BodyError::Chunked("chunk-size line too long"));
                    }
                    let size = chunk_size(&buf[..newline - 1])?;
                    buf.advance(newline + 1);
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(BodyError::Chunked("chunk data must end with CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::ChunkSize;
                }
                State::Trailers(seen) => {
                    let Some(newline) = line_end(buf) else {
                        return if seen + buf.len() > MAX_TRAILERS {
                            Err(BodyError::Chunked("trailer section too large"))
                        } else {
                            Ok(Step::More)
                        };
                    };
                    if newline == 0 || buf[newline - 1] != b'\r' {
                        return Err(BodyError::Chunked("a trailer line must end with CRLF"));
                    }
                    buf.advance(newline + 1);
                    self.state = if newline == 1 {
                        State::Done
                    } else if seen + newline > MAX_TRAILERS {
                        return Err(BodyError::Chunked("trailer section too large"));
                    } else {
                        State::Trailers(seen + newline + 1)
                    };
                }
            }
        }
    }

    /// The stream ended: the end of a close-delimited body, an error for any other.
    pub fn end_of_stream(&mut self) -> Result<(), BodyError> {
        match self.state {
            State::UntilClose | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(BodyError::Incomplete),
        }
    }
}

/// How a body left its connection.
#[derive(Debug)]
pub enum Ending {
    /// Read to its end: what follows in the buffer is the next message.
    Complete,
    /// Dropped before its end: the rest can still be read past (the decoder knows where the
    /// body ends) before the connection carries another message.
    Unread(Decoder),
    /// Failed midway (a framing error, the peer closing): the connection is done.
    Broken,
}

/// Where the reader goes once a body no longer needs it.
pub trait BodyEnd<R>: Send + Sync + Unpin + 'static {
    fn end(self, reader: Reader<R>, ending: Ending);

    /// The error a failed read becomes: where the body came from is worth saying.
    fn describe(&self, error: BodyError) -> BoxError {
        Box::new(error)
    }
}

/// A body streamed off a connection as the consumer polls it.
pub struct IncomingBody<R: Transport, E: BodyEnd<R>> {
    reader: Option<Reader<R>>,
    decoder: Decoder,
    end: Option<E>,
    room: usize,
    stall: Option<StallLimit>,
}

impl<R: Transport + Sync, E: BodyEnd<R>> IncomingBody<R, E> {
    pub fn new(reader: Reader<R>, framing: Framing, end: E) -> Self {
        let mut body = IncomingBody {
            reader: Some(reader),
            decoder: Decoder::new(framing),
            end: Some(end),
            room: FIRST_READ,
            stall: None,
        };
        if body.decoder.is_done() {
            body.finish(Ending::Complete);
        }
        body
    }

    /// Fails the body when its peer leaves the consumer waiting `limit` for the next bytes
    /// (`BodyError::Stalled`).
    pub fn with_stall_limit(mut self, limit: Duration) -> Self {
        self.stall = Some(StallLimit::new(limit));
        self
    }

    fn finish(&mut self, ending: Ending) {
        if let (Some(reader), Some(end)) = (self.reader.take(), self.end.take()) {
            end.end(reader, ending);
        }
    }

    /// Ends the body with a failure.
    fn fail(&mut self, error: BodyError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let error = match &self.end {
            Some(end) => end.describe(error),
            None => Box::new(error),
        };
        self.finish(Ending::Broken);
        Poll::Ready(Some(Err(error)))
    }
}

impl<R: Transport + Sync, E: BodyEnd<R>> http_body::Body for IncomingBody<R, E> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(reader) = this.reader.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.decode(&mut reader.buf) {
                Ok(Step::Data(data)) => {
                    if this.decoder.is_done() {
                        this.finish(Ending::Complete);
                    } else if let Some(stall) = &mut this.stall {
                        stall.progressed();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::Done) => {
                    this.finish(Ending::Complete);
                    return Poll::Ready(None);
                }
                Ok(Step::More) => {}
                Err(error) => return this.fail(error),
            }
            match reader.poll_fill(cx, this.room) {
                Poll::Pending => {
                    if let Some(stall) = &mut this.stall
                        && stall.expired(cx)
                    {
                        let limit = stall.limit();
                        return this.fail(BodyError::Stalled(limit));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => {
                    return match this.decoder.end_of_stream() {
                        Ok(()) => {
                            // A close-delimited body ends the connection with it.
                            this.finish(Ending::Broken);
                            Poll::Ready(None)
                        }
                        Err(error) => this.fail(error),
                    };
                }
                Poll::Ready(Ok(read)) => {
                    if read >= this.room {
                        this.room = LARGE_READ;
                    }
                    if let Some(stall) = &mut this.stall {
                        stall.progressed();
                    }
                }
                Poll::Ready(Err(error)) => return this.fail(BodyError::Io(error)),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.reader.is_none() || self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(remaining) => SizeHint::with_exact(remaining),
            None => SizeHint::default(),
        }
    }
}

impl<R: Transport, E: BodyEnd<R>> Drop for IncomingBody<R, E> {
    fn drop(&mut self) {
        if let (Some(reader), Some(end)) = (self.reader.take(), self.end.take()) {
            end.end(reader, Ending::Unread(self.decoder.clone()));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The peer went away (or the write failed otherwise).
    #[error("writing to the connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The body being sent failed (an upstream that broke off, a filter's error).
    #[error("the body failed: {0}")]
    Body(BoxError),
    #[error("the body is {actual} bytes where its Content-Length said {declared}")]
    Length { declared: u64, actual: u64 },
}

/// The framing a body should be sent with, from what it says of its size.
pub fn framing_for(body: &Body, chunked_allowed: bool) -> Framing {
    if body.is_end_stream() {
        return Framing::Empty;
    }
    match body.size_hint().exact() {
        Some(length) => Framing::Length(length),
        None if chunked_allowed => Framing::Chunked,
        None => Framing::UntilClose,
    }
}

/// Polls the body once: a frame ready now can leave with the head.
async fn frame_now(body: &mut Body) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx))).await
}

async fn next_frame(body: &mut Body) -> Option<Result<Frame<Bytes>, BoxError>> {
    poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
}

/// Sends `head`, then the body with `framing`. The head goes with the body's first bytes
/// when those are ready at once (a whole small response in one `writev`), alone otherwise,
/// so that a slow body never holds its head back.
pub async fn write_message<W: AsyncWrite + Unpin>(
    writer: &mut W,
    head: &[u8],
    body: &mut Body,
    framing: Framing,
) -> Result<(), WriteError> {
    let mut pending_head = Some(head);
    let mut sent: u64 = 0;
    let mut first = true;
    loop {
        if framing == Framing::Empty {
            break;
        }
        let polled = if first {
            first = false;
            frame_now(body).await
        } else {
            Poll::Ready(next_frame(body).await)
        };
        let frame = match polled {
            Poll::Pending => {
                if let Some(head) = pending_head.take() {
                    write_all_vectored(writer, &mut [IoSlice::new(head)]).await?;
                }
                continue;
            }
            Poll::Ready(None) => break,
            Poll::Ready(Some(Err(error))) => return Err(WriteError::Body(error)),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        // Trailers have no place in what this writer sends; they end the body.
        let Ok(data) = frame.into_data() else {
            break;
        };
        if data.is_empty() {
            continue;
        }
        sent += data.len() as u64;
        if let Framing::Length(declared) = framing
            && sent > declared
        {
            return Err(WriteError::Length {
                declared,
                actual: sent,
            });
        }
        let last = body.is_end_stream();
        let head = pending_head.take().unwrap_or_default();
        if framing == Framing::Chunked {
            let mut size = [0u8; 18];
            let size = chunk_size_line(&mut size, data.len());
            let end: &[u8] = if last { b"\r\n0\r\n\r\n" } else { b"\r\n" };
            write_all_vectored(
                writer,
                &mut [
                    IoSlice::new(head),
                    IoSlice::new(size),
                    IoSlice::new(&data),
                    IoSlice::new(end),
                ],
            )
            .await?;
            if last {
                return Ok(());
            }
        } else {
            write_all_vectored(writer, &mut [IoSlice::new(head), IoSlice::new(&data)]).await?;
        }
        if last {
            break;
        }
    }
    let mut tail: &[u8] = &[];
    if framing == Framing::Chunked {
        tail = b"0\r\n\r\n";
    }
    if let Framing::Length(declared) = framing
        && sent != declared
    {
        if let Some(head) = pending_head.take() {
            write_all_vectored(writer, &mut [IoSlice::new(head)]).await?;
        }
        return Err(WriteError::Length {
            declared,
            actual: sent,
        });
    }
    let head = pending_head.take().unwrap_or_default();
    if !head.is_empty() || !tail.is_empty() {
        write_all_vectored(writer, &mut [IoSlice::new(head), IoSlice::new(tail)]).await?;
    }
    Ok(())
}

/// `{size in hex}\r\n` in `out`.
fn chunk_size_line(out: &mut [u8; 18], size: usize) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut count = 0;
    let mut rest = size;
    loop {
        digits[count] = HEX[rest & 0xf];
        count += 1;
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    for (slot, digit) in out.iter_mut().zip(digits[..count].iter().rev()) {
        *slot = *digit;
    }
    out[count] = b'\r';
    out[count + 1] = b'\n';
    &out[..count + 2]
}

/// Reads past the rest of a body nobody consumed, discarding at most `limit` bytes; true when
/// the connection is then at the start of the next message.
pub async fn skip_body<R: Transport>(
    reader: &mut Reader<R>,
    decoder: &mut Decoder,
    limit: u64,
) -> bool {
    let mut skipped: u64 = 0;
    loop {
        match decoder.decode(&mut reader.buf) {
            Ok(Step::Done) => return true,
            Ok(Step::Data(data)) => {
                skipped += data.len() as u64;
                if skipped > limit {
                    return false;
                }
            }
            Ok(Step::More) => match poll_fn(|cx| reader.poll_fill(cx, FIRST_READ)).await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            },
            Err(_) => return false,
        }
    }
}

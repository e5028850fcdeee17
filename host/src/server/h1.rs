//! One HTTP/1.1 client connection: read a request head, hand the request to the gateway,
//! write the response, and again, in the connection's own task.
//!
//! A request body is read by whoever consumes it (a filter, the upstream client) straight off
//! the connection: the body takes the read side and gives it back at its end, so the next
//! request can be read. Between requests the connection holds no buffer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::Either;
use http_body_util::BodyExt;
use std::task::Poll;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::Shared;
use super::idle::Registration;
use crate::exchange::ClientInfo;
use crate::h1::{
    self, BodyEnd, ConnectionHeader, Ending, Framing, HeadError, IncomingBody, Joined, Reader,
    RequestHead, Transport,
};
use crate::http::upgrade;
use crate::http::{Body, BoxError, ClientBodyError, Response};

/// Bounds on what a client may send before the gateway refuses it, so that one client cannot
/// exhaust memory with headers.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a client has to send a request head: from the connection's start, or from the
/// end of the previous response (the keep-alive timeout). Counted in whole seconds.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What a read of the next head asks room for: most heads fit at once.
const HEAD_READ: usize = 4 * 1024;

/// How long a client may leave whoever reads its request body waiting for the next bytes
/// (nginx's `client_body_timeout` is 60 s): the head timeout's limit again, so that a client
/// that stops midway holds its connection and its request no longer than a silent one. The
/// HTTP/2 front holds its streams' bodies to it too.
pub const BODY_STALL_TIMEOUT: Duration = HEAD_TIMEOUT;

/// How much of a request body nobody read the gateway reads past to keep the connection,
/// and for how long, before it closes the connection instead.
const SKIP_LIMIT: u64 = 64 * 1024;
const SKIP_TIMEOUT: Duration = Duration::from_secs(1);

/// Where a request body leaves the read side when it ends or is dropped.
type Returned<R> = Arc<Mutex<Option<(Reader<R>, Ending)>>>;

struct ReturnToConnection<R>(Returned<R>);

impl<R: Transport> BodyEnd<R> for ReturnToConnection<R> {
    fn end(self, reader: Reader<R>, ending: Ending) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((reader, ending));
        }
    }

    fn describe(&self, error: h1::BodyError) -> BoxError {
        let stalled = matches!(error, h1::BodyError::Stalled(_));
        Box::new(ClientBodyError::new(Box::new(error), stalled))
    }
}

/// The error of a client's request body that stalled for `limit`, on either protocol.
pub fn client_body_stalled(limit: Duration) -> BoxError {
    Box::new(ClientBodyError::new(
        Box::new(h1::BodyError::Stalled(limit)),
        true,
    ))
}

#[expect(
    clippy::large_enum_variant,
    reason = "returned once per request and matched at once; boxing the head would cost an allocation per request"
)]
enum NextHead {
    Head(RequestHead),
    /// The client closed, stayed silent too long, or the gateway is shutting down.
    Closed,
    Refused(HeadError),
}

/// Waits for and parses the next request head. Only this wait is subject to the head timeout
/// and to shutdown: a request being handled always gets its response.
///
/// A future of its own rather than an `async fn`: it is what the task of an idle connection
/// holds, and as a struct it holds its two references and two flags, no more.
struct NextHeadWait<'a, R> {
    reader: &'a mut Reader<R>,
    registration: &'a Registration,
    secure: bool,
    /// Whether the head timeout already runs: from the first wait for this head, however the
    /// head then arrives.
    waiting: bool,
}

fn next_head<'a, R: Transport>(
    reader: &'a mut Reader<R>,
    secure: bool,
    registration: &'a Registration,
) -> NextHeadWait<'a, R> {
    NextHeadWait {
        reader,
        registration,
        secure,
        waiting: false,
    }
}

impl<R: Transport> std::future::Future for NextHeadWait<'_, R> {
    type Output = NextHead;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<NextHead> {
        let this = self.get_mut();
        loop {
            if !this.reader.buf.is_empty() {
                let scheme = if this.secure {
                    http::uri::Scheme::HTTPS
                } else {
                    http::uri::Scheme::HTTP
                };
                match h1::parse_request(&mut this.reader.buf, MAX_HEAD_BYTES, Some(&scheme)) {
                    Ok(Some(head)) => {
                        this.registration.busy();
                        return Poll::Ready(NextHead::Head(head));
                    }
                    Ok(None) => {}
                    Err(error) => return Poll::Ready(NextHead::Refused(error)),
                }
            }
            // At shutdown an idle connection closes, and so does one still sending its head:
            // neither has a request the gateway owes an answer to.
            if this.registration.closing() {
                return Poll::Ready(NextHead::Closed);
            }
            if !this.waiting {
                this.waiting = true;
                this.registration.idle();
            }
            this.reader.release_if_empty(HEAD_READ);
            if this.registration.poll_stop(cx).is_ready() {
                return Poll::Ready(NextHead::Closed);
            }
            // Wait for bytes before taking a buffer: an idle connection holds none.
            if this.reader.buf.is_empty() {
                match std::task::ready!(this.reader.io.poll_read_ready(cx)) {
                    Ok(()) => {}
                    Err(_) => return Poll::Ready(NextHead::Closed),
                }
            }
            match std::task::ready!(this.reader.poll_fill(cx, HEAD_READ)) {
                Ok(0) | Err(_) => return Poll::Ready(NextHead::Closed),
                Ok(_) => {}
            }
        }
    }
}

/// A short answer to a head the gateway refuses, after which the connection closes.
async fn refuse<W: AsyncWrite + Unpin>(writer: &mut W, error: &HeadError) {
    let status = error.status();
    let text = error.to_string();
    let mut head = Vec::with_capacity(160 + text.len());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h1::encode_response_head(
        &mut head,
        status,
        &headers,
        Framing::Length(text.len() as u64),
        ConnectionHeader::Close,
        false,
    );
    head.extend_from_slice(text.as_bytes());
    let _ = writer.write_all(&head).await;
    let _ = writer.shutdown().await;
}

/// Serves requests on one connection until either side closes it. `open` is held as long as
/// the connection is (shutdown waits for every connection's to drop).
///
/// Not an `async fn`: an async fn moves its parameters from the future's captures into the
/// body's locals, and rustc does not lay the two out over each other, so each parameter would
/// be stored twice in the connection's task for as long as it lives. This future is what an
/// idle keep-alive connection costs; the block below uses its captures in place.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store every parameter twice in each connection's task"
)]
pub fn serve<R, W>(
    shared: Arc<Shared>,
    client: Arc<ClientInfo>,
    mut reader: Reader<R>,
    mut writer: W,
    registration: Registration,
    open: tokio::sync::mpsc::Sender<()>,
) -> impl std::future::Future<Output = ()>
where
    R: Transport + Sync,
    W: AsyncWrite + Unpin + Send + Sync + 'static,
{
    async move {
        loop {
            // Everything after the head is a boxed future built inside this block, so that the
            // task's own state, what an idle connection costs, is only the wait for a head.
            let step = {
                let next = next_head(&mut reader, client.secure, &registration).await;
                // Allocated first and then written, so that the future is made in its place
                // rather than copied there.
                let slot = Box::new_uninit();
                Box::into_pin(Box::write(
                    slot,
                    respond(&shared, &client, next, reader, &mut writer, &registration),
                ))
            };
            match step.await {
                Outcome::Next(next) => reader = next,
                Outcome::Close => break,
                Outcome::Upgrade(next, pending) => {
                    pending.fulfil(upgrade::Upgraded::new(Joined {
                        reader: next,
                        writer,
                    }));
                    break;
                }
            }
        }
        // Named here so that the block captures it and holds it, in place, as long as the
        // connection lives; moved into a local it would be stored twice.
        drop(open);
    }
}

/// Answers what the wait for a head brought.
///
/// Not an `async fn`: the request is built from its head, and its handling begun, before the
/// future is made, so that the future holds the handling alone rather than the head, the
/// request and the handling together. It is allocated once per request, and at this size
/// it stays on the allocator's fast path.
fn respond<'a, R, W>(
    shared: &'a Shared,
    client: &'a Arc<ClientInfo>,
    next: NextHead,
    reader: Reader<R>,
    writer: &'a mut W,
    registration: &'a Registration,
) -> impl std::future::Future<Output = Outcome<R>> + 'a
where
    R: Transport + Sync,
    W: AsyncWrite + Unpin + Send + Sync + 'static,
{
    let start = match next {
        NextHead::Head(head) => match h1::request_framing(&head) {
            Ok(framing) => Start::Request(prepare(
                shared,
                client,
                head,
                reader,
                framing,
                registration.closing(),
            )),
            Err(error) => Start::Refuse(error),
        },
        NextHead::Closed => Start::Close,
        NextHead::Refused(error) => {
            tracing::debug!(remote = %client.remote(), %error, "refused a request head");
            Start::Refuse(error)
        }
    };
    // One future of the three, not a future holding the start and then its answer as well.
    match start {
        Start::Request(prepared) => Either::Left(answer(prepared, client, writer)),
        Start::Refuse(error) => Either::Right(Either::Left(async move {
            refuse(writer, &error).await;
            Outcome::Close
        })),
        Start::Close => Either::Right(Either::Right(std::future::ready(Outcome::Close))),
    }
}

enum Outcome<R> {
    /// Keep the connection: the next request starts in this reader's buffer.
    Next(Reader<R>),
    Close,
    /// The protocol switched: the connection now belongs to the upgrade.
    Upgrade(Reader<R>, upgrade::Pending),
}

enum Start<R, F> {
    Request(Prepared<R, F>),
    /// The head is refused (malformed, or framed in a way a proxy must not guess at).
    Refuse(HeadError),
    Close,
}

/// A request built from its head, its handling begun but not yet polled.
struct Prepared<R, F> {
    /// The gateway's handling of the request.
    handling: F,
    /// `Expect: 100-continue` on a request with a body: the gateway answers it before the
    /// handler reads the body, and upstreams get the body outright.
    continue_first: bool,
    /// The read side, when the request has no body; else the body holds it and gives it back
    /// here when it ends.
    kept: Option<Reader<R>>,
    returned: Option<Returned<R>>,
    upgrade: Option<upgrade::Pending>,
    keep_alive: bool,
    version: http::Version,
    is_head: bool,
}

fn prepare<'a, R>(
    shared: &'a Shared,
    client: &Arc<ClientInfo>,
    head: RequestHead,
    reader: Reader<R>,
    framing: Framing,
    closing: bool,
) -> Prepared<R, impl std::future::Future<Output = Response> + Send + 'a>
where
    R: Transport + Sync,
{
    let keep_alive = h1::wants_keep_alive(head.version, head.facts.connection) && !closing;
    let version = head.version;
    let is_head = head.method == http::Method::HEAD;
    let continue_first = framing != Framing::Empty
        && version == http::Version::HTTP_11
        && head.facts.expect
        && head
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));

    // The body takes the read side; a bodiless request leaves it here.
    let (body, kept, returned): (Body, Option<Reader<R>>, Option<Returned<R>>) =
        if framing == Framing::Empty {
            (crate::http::empty_body(), Some(reader), None)
        } else {
            let slot: Returned<R> = Arc::new(Mutex::new(None));
            let body = IncomingBody::new(reader, framing, ReturnToConnection(slot.clone()))
                .with_stall_limit(BODY_STALL_TIMEOUT);
            (body.boxed(), None, Some(slot))
        };

    let mut request = http::Request::new(body);
    *request.method_mut() = head.method;
    *request.uri_mut() = head.uri;
    *request.version_mut() = head.version;
    let mut headers = head.headers;
    // The gateway answers the expectation itself; upstreams get the body outright.
    if head.facts.expect {
        headers.remove(http::header::EXPECT);
    }
    let upgrade = if head.facts.upgrade && head.facts.connection.upgrade {
        let (pending, on_upgrade) = upgrade::pending();
        request.extensions_mut().insert(on_upgrade);
        Some(pending)
    } else {
        None
    };
    *request.headers_mut() = headers;
    Prepared {
        handling: shared.handle(request, client.clone()),
        continue_first,
        kept,
        returned,
        upgrade,
        keep_alive,
        version,
        is_head,
    }
}

/// Handles one prepared request and writes its response; shuts the writing side down when
/// the connection is not to carry another.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store the prepared request twice in the request's future"
)]
fn answer<'a, R, W, F>(
    prepared: Prepared<R, F>,
    client: &'a Arc<ClientInfo>,
    writer: &'a mut W,
) -> impl std::future::Future<Output = Outcome<R>> + 'a
where
    R: Transport + Sync,
    W: AsyncWrite + Unpin + Send + Sync + 'static,
    F: std::future::Future<Output = Response> + 'a,
{
    async move {
        let Prepared {
            handling,
            continue_first,
            kept,
            returned,
            upgrade,
            keep_alive,
            version,
            is_head,
        } = prepared;
        let outcome = 'answer: {
            if continue_first
                && writer
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .is_err()
            {
                break 'answer Outcome::Close;
            }
            let response: Response = handling.await;
            let (parts, mut body) = response.into_parts();
            let status = parts.status;

            let switching = status == http::StatusCode::SWITCHING_PROTOCOLS && upgrade.is_some();
            let bodiless = is_head
                || status.is_informational()
                || status == http::StatusCode::NO_CONTENT
                || status == http::StatusCode::NOT_MODIFIED;
            let out_framing = if bodiless {
                Framing::Empty
            } else {
                h1::framing_for(&body, version == http::Version::HTTP_11)
            };
            // The read side, if the request body gave it back already (an unread rest is skipped
            // once the response is out).
            let mut back = kept.map(|reader| (reader, Ending::Complete));
            if back.is_none() {
                back = returned.as_ref().and_then(|slot| slot.lock().ok()?.take());
            }
            let reusable = match &back {
                Some((_, Ending::Complete)) => true,
                // Too much left to read past: say now that the connection will close.
                Some((_, Ending::Unread(decoder))) => {
                    decoder.remaining().is_none_or(|left| left <= SKIP_LIMIT)
                }
                _ => false,
            };
            // A request body still being read elsewhere, or broken, ends the connection after this.
            let close = !switching
                && (!keep_alive
                    || !reusable
                    || out_framing == Framing::UntilClose
                    || h1::connection_has(&parts.headers, "close"));
            let connection = if close {
                ConnectionHeader::Close
            } else if version == http::Version::HTTP_10 && !switching {
                ConnectionHeader::KeepAlive
            } else {
                ConnectionHeader::Default
            };
            let mut out = Vec::with_capacity(256 + 32 * parts.headers.len());
            h1::encode_response_head(
                &mut out,
                status,
                &parts.headers,
                out_framing,
                connection,
                is_head || status == http::StatusCode::NOT_MODIFIED,
            );
            if let Err(error) = h1::write_message(writer, &out, &mut body, out_framing).await {
                match error {
                    // The client went away: nothing to tell anyone.
                    h1::WriteError::Io(error) => {
                        tracing::debug!(remote = %client.remote(), %error, "the response could not be sent whole; closing the connection");
                    }
                    // The body itself broke (an upstream that stopped midway): the client gets a
                    // truncated response, which the closed connection makes detectable.
                    error => {
                        tracing::warn!(remote = %client.remote(), %error, "the response body failed midway; aborting the response to the client");
                    }
                }
                break 'answer Outcome::Close;
            }
            drop(body);
            let reader = match back {
                Some((reader, Ending::Complete)) => Some(reader),
                Some((mut reader, Ending::Unread(mut decoder))) if !close => {
                    let skipped = tokio::time::timeout(
                        SKIP_TIMEOUT,
                        h1::skip_body(&mut reader, &mut decoder, SKIP_LIMIT),
                    )
                    .await;
                    matches!(skipped, Ok(true)).then_some(reader)
                }
                _ => None,
            };
            match (reader, upgrade) {
                (Some(reader), Some(pending)) if switching => Outcome::Upgrade(reader, pending),
                (Some(reader), _) if !close => Outcome::Next(reader),
                _ => Outcome::Close,
            }
        };
        if matches!(outcome, Outcome::Close) {
            let _ = writer.shutdown().await;
        }
        outcome
    }
}

#[cfg(test)]
mod tests;

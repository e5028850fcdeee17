//! HTTP/1.1 to upstreams: idle connections pooled per upstream, each request written and its
//! response read by the task that sends it (no task or channel per connection), the response
//! body streamed off the connection, which goes back to the pool when the body ends.

use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::time::Instant;

use http_body_util::BodyExt;

use super::client::Slot;
use super::connector::{ConnectError, Connector, Io};
use super::outgoing::Outgoing;
use crate::h1::{self, BodyEnd, Ending, Framing, IncomingBody, Reader};
use crate::http::upgrade;
use crate::http::{Body, BoxError, ClientBodyError};

/// The largest response head accepted from an upstream (applications send big cookies).
const MAX_RESPONSE_HEAD: usize = 256 * 1024;
/// What a connection's buffer is made room for when it has too little left.
const HEAD_READ: usize = 8 * 1024;
/// Too little: a response's head is read into what the buffer has left when it is at least
/// this much. Making room means a new buffer whenever the last response's bytes are still in
/// use (their client is being answered), and a kept-alive connection is taken again at once;
/// with 8 KiB a connection reads several small responses before it needs another.
const LEAST_HEAD_READ: usize = 2 * 1024;

mod limits;

use limits::{Watched, within, writing};

type Conn = Reader<Io>;

/// A connection's timer for soTimeout, kept with it across requests: arming a new timer per
/// request cost about 0.7 µs of CPU, re-arming this one happens only when it fires early.
type Timer = Pin<Box<tokio::time::Sleep>>;

/// Why a request got no response.
#[derive(Debug)]
pub enum SendError {
    Connect(ConnectError),
    /// A pooled connection turned out closed before any of the response arrived: the
    /// upstream closed it while idle. A request that can be replayed is sent again.
    Stale(String),
    /// No response head within soTimeout.
    Timeout,
    /// The upstream left the request's bytes unread for soTimeout.
    Unread,
    /// The client's request body failed (a [`ClientBodyError`] among the error's sources):
    /// the client's failure, not the upstream's.
    Client(BoxError),
    Failed(String),
}

struct Idle {
    conn: Conn,
    timer: Timer,
    scratch: Box<Scratch>,
    proxied: bool,
    /// When the request it last served started (close enough to when it became idle, for a
    /// 90 second idle limit, and it saves reading the clock).
    since: Instant,
}

/// What a connection keeps between requests: the buffer its request heads are encoded in,
/// so that sending one allocates nothing (one that grew for an unusually large head is not
/// kept), and the field names of its last response, so that the next one's are not made
/// anew. Boxed where it is kept: the connection's records move by value between the pool,
/// a request and its response body, and a pointer moves without a call to memcpy.
struct Scratch {
    head: Vec<u8>,
    names: h1::RecentNames,
}

impl Scratch {
    const INITIAL: usize = 512;
    const KEPT: usize = 4 * 1024;

    fn new() -> Box<Self> {
        Box::new(Scratch {
            head: Vec::with_capacity(Self::INITIAL),
            names: h1::RecentNames::default(),
        })
    }

    fn recycled(mut self: Box<Self>) -> Box<Self> {
        if self.head.capacity() > Self::KEPT {
            self.head = Vec::with_capacity(Self::INITIAL);
        }
        self.head.clear();
        self
    }
}

/// One upstream's idle connections, the most recently used last.
#[derive(Default)]
pub struct IdlePool(Mutex<Vec<Idle>>);

impl IdlePool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used connection still fit for a request: idle for less than
    /// `limit`, and not closed (nor sent anything) by the upstream meanwhile.
    fn take(&self, now: Instant, limit: Duration) -> Option<Idle> {
        let mut idle = self.lock();
        while let Some(entry) = idle.pop() {
            if entry.fresh(now, limit) && !entry.conn.io.readable_while_idle() {
                return Some(entry);
            }
        }
        None
    }

    fn put(&self, entry: Idle, max_idle: usize) {
        let mut idle = self.lock();
        if idle.len() < max_idle {
            idle.push(entry);
        }
    }

    /// Closes the connections idle for `limit` or longer; says whether any is left.
    pub fn prune(&self, now: Instant, limit: Duration) -> bool {
        let mut idle = self.lock();
        idle.retain(|entry| entry.fresh(now, limit));
        !idle.is_empty()
    }
}

impl Idle {
    fn fresh(&self, now: Instant, limit: Duration) -> bool {
        now.saturating_duration_since(self.since) < limit
    }
}

pub struct H1Client {
    connector: Connector,
    max_idle: usize,
    idle_timeout: Duration,
    so_timeout: Option<Duration>,
}

/// Takes a response body's connection back to its upstream's pool when the body has been
/// read whole, then gives the connection slot back.
struct BackToPool {
    /// The upstream's connection slot, held until the body ends.
    slot: Slot,
    max_idle: usize,
    proxied: bool,
    reusable: bool,
    timer: Timer,
    scratch: Box<Scratch>,
    started: Instant,
}

impl BodyEnd<Io> for BackToPool {
    fn end(self, conn: Conn, ending: Ending) {
        // Bytes after the body would be a response nobody asked for.
        if self.reusable && matches!(ending, Ending::Complete) && conn.buf.is_empty() {
            // The read buffer stays with the pooled connection, unlike a client connection's:
            // an upstream keeps at most `max_idle` idle connections, and the next response
            // read into it then costs neither a new buffer nor a new shared header for its
            // split-off head and body (two allocations per proxied request).
            let entry = Idle {
                conn,
                timer: self.timer,
                scratch: self.scratch.recycled(),
                proxied: self.proxied,
                since: self.started,
            };
            self.slot.upstream().idle().put(entry, self.max_idle);
        }
    }

    fn describe(&self, error: h1::BodyError) -> BoxError {
        format!(
            "upstream {} response body failed: {error}",
            self.slot.upstream().authority()
        )
        .into()
    }
}

impl H1Client {
    pub fn new(
        connector: Connector,
        max_idle: usize,
        idle_timeout: Duration,
        so_timeout: Option<Duration>,
    ) -> Self {
        H1Client {
            connector,
            max_idle,
            idle_timeout,
            so_timeout,
        }
    }

    /// Sends the request and reads the response head; the body follows as it is read.
    /// The request's connection `slot` (which names its upstream) is taken into the response
    /// body, which gives it back when it ends.
    pub async fn send(
        &self,
        request: &Outgoing<'_>,
        body: Body,
        slot: &mut Option<Slot>,
    ) -> Result<http::Response<Body>, SendError> {
        let uri = request.uri;
        if uri.authority().is_none() {
            return Err(SendError::Failed(format!("{uri} names no server")));
        }
        let started = Instant::now();
        let pooled = slot
            .as_ref()
            .and_then(|slot| slot.upstream().idle().take(started, self.idle_timeout));
        let (conn, timer, scratch, proxied, reused) = match pooled {
            Some(idle) => (idle.conn, idle.timer, idle.scratch, idle.proxied, true),
            None => {
                // Boxed: connecting (a proxy tunnel, a TLS handshake) takes a future as large
                // as the rest of a request's together, and most requests reuse a connection.
                let (io, proxied) = Box::pin(self.connector.connect(uri))
                    .await
                    .map_err(SendError::Connect)?
                    .into_parts();
                let timer = Box::pin(tokio::time::sleep_until(
                    started + self.so_timeout.unwrap_or(self.idle_timeout),
                ));
                (Reader::new(io), timer, Scratch::new(), proxied, false)
            }
        };
        let attempt = Attempt {
            max_idle: self.max_idle,
            proxied,
            reused,
            started,
            so_timeout: self.so_timeout,
        };
        attempt.run(conn, timer, scratch, request, body, slot).await
    }
}

/// The request-target: origin form, or the absolute URI for a forward proxy.
fn target(uri: &http::Uri, proxied: bool) -> std::borrow::Cow<'_, str> {
    if proxied {
        return std::borrow::Cow::Owned(uri.to_string());
    }
    std::borrow::Cow::Borrowed(uri.path_and_query().map_or("/", |path| path.as_str()))
}

async fn read_head(
    conn: &mut Conn,
    names: &mut h1::RecentNames,
    method: &http::Method,
) -> Result<Option<h1::ResponseHead>, String> {
    loop {
        if !conn.buf.is_empty() {
            match h1::parse_response(&mut conn.buf, MAX_RESPONSE_HEAD, names) {
                // Interim answers (100 Continue, 103 Early Hints) are not passed on.
                Ok(Some(head))
                    if head.status.is_informational()
                        && head.status != http::StatusCode::SWITCHING_PROTOCOLS =>
                {
                    continue;
                }
                Ok(Some(head)) => return Ok(Some(head)),
                Ok(None) => {}
                Err(error) => {
                    return Err(format!("the upstream sent an invalid response: {error}"));
                }
            }
        }
        match std::future::poll_fn(|cx| conn.poll_fill_least(cx, LEAST_HEAD_READ, HEAD_READ)).await
        {
            Ok(0) if conn.buf.is_empty() => return Ok(None),
            Ok(0) => {
                return Err(format!(
                    "the upstream closed the connection in the middle of the response head to {method}"
                ));
            }
            Ok(_) => {}
            Err(error) => return Err(format!("reading the response failed: {error}")),
        }
    }
}

/// One request on one connection.
struct Attempt {
    max_idle: usize,
    proxied: bool,
    /// Whether the connection came from the pool (then a failure before any of the answer is
    /// a stale connection, not the upstream's fault).
    reused: bool,
    started: Instant,
    so_timeout: Option<Duration>,
}

impl Attempt {
    fn stale(&self, reason: String) -> SendError {
        if self.reused {
            SendError::Stale(reason)
        } else {
            SendError::Failed(reason)
        }
    }

    async fn run(
        self,
        mut conn: Conn,
        mut timer: Timer,
        mut scratch: Box<Scratch>,
        request: &Outgoing<'_>,
        mut body: Body,
        slot: &mut Option<Slot>,
    ) -> Result<http::Response<Body>, SendError> {
        let framing = h1::framing_for(&body, true);
        h1::encode_request_head(
            &mut scratch.head,
            request.method,
            &target(request.uri, self.proxied),
            request.fields(),
            framing,
        );
        let blocked = AtomicBool::new(false);
        let (sent, waited) = writing(
            &mut timer,
            self.so_timeout,
            &blocked,
            h1::write_message(
                &mut Watched {
                    conn: &mut conn,
                    blocked: &blocked,
                },
                &scratch.head,
                &mut body,
                framing,
            ),
        )
        .await?;
        // soTimeout counts from when the request is sent; a request written at once saves
        // reading the clock again.
        let deadline = self.so_timeout.map(|limit| {
            let sent_at = if waited { Instant::now() } else { self.started };
            sent_at + limit
        });
        match sent {
            Ok(()) => {}
            Err(h1::WriteError::Io(error)) => {
                // An upstream may answer (413, 401) and close without reading the whole
                // body: its answer is still worth reading.
                if framing == Framing::Empty {
                    return Err(self.stale(format!("sending the request failed: {error}")));
                }
                tracing::debug!(%error, "the upstream stopped reading the request body; reading its answer");
            }
            Err(h1::WriteError::Body(error)) => {
                if ClientBodyError::find(error.as_ref()).is_some() {
                    return Err(SendError::Client(error));
                }
                return Err(SendError::Failed(format!(
                    "the request body failed: {error}"
                )));
            }
            Err(error @ h1::WriteError::Length { .. }) => {
                return Err(SendError::Failed(error.to_string()));
            }
        }
        drop(body);
        let response_head = match within(
            &mut timer,
            deadline,
            read_head(&mut conn, &mut scratch.names, request.method),
        )
        .await?
        {
            Ok(Some(head)) => head,
            Ok(None) => {
                return Err(
                    self.stale("the upstream closed the connection without answering".to_owned())
                );
            }
            Err(reason) => return Err(SendError::Failed(reason)),
        };
        let response_framing = h1::response_framing(request.method, &response_head)
            .map_err(|error| SendError::Failed(format!("the upstream's response: {error}")))?;
        let reusable = h1::wants_keep_alive(response_head.version, response_head.facts.connection)
            && !request.connection_has("close")
            && response_framing != Framing::UntilClose;

        let mut response = http::Response::new(crate::http::empty_body());
        *response.status_mut() = response_head.status;
        *response.version_mut() = response_head.version;
        *response.headers_mut() = response_head.headers;

        if response_head.status == http::StatusCode::SWITCHING_PROTOCOLS {
            // The connection now belongs to the protocol the upstream switched to.
            let (pending, on_upgrade) = upgrade::pending();
            pending.fulfil(upgrade::Upgraded::new(conn));
            response.extensions_mut().insert(on_upgrade);
            drop(slot.take());
            return Ok(response);
        }
        let Some(slot) = slot.take() else {
            return Err(SendError::Failed(
                "a request was sent without a connection slot".to_owned(),
            ));
        };
        let end = BackToPool {
            slot,
            max_idle: self.max_idle,
            proxied: self.proxied,
            reusable,
            timer,
            scratch,
            started: self.started,
        };
        if response_framing == Framing::Empty {
            end.end(conn, Ending::Complete);
            return Ok(response);
        }
        // soTimeout is IG's socket timeout: it bounds each wait for the body's bytes too, so
        // that an upstream stalling midway does not hold the client's connection forever.
        let mut incoming = IncomingBody::new(conn, response_framing, end);
        if let Some(limit) = self.so_timeout {
            incoming = incoming.with_stall_limit(limit);
        }
        *response.body_mut() = incoming.boxed();
        Ok(response)
    }
}

//! The upstream client: HTTP/1.1 through our own pool ([`super::h1`]), HTTP/2 through a
//! pooled hyper-util client, both on [`Connector`]; a real limit on concurrent requests per
//! upstream, a time limit to the response head, and retries of idempotent, bodiless
//! requests whose connection could not be made.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use smallvec::SmallVec;
use tokio::sync::Semaphore;

use super::connector::{ConnectError, Connector};
use super::h1::{H1Client, IdlePool, SendError};
use super::outgoing::Outgoing;
use super::tls::ClientTlsOptions;
use super::{ProxyOptions, ProxyServer};
use crate::http::stall::StallLimited;
use crate::http::{Body, BoxError, ClientBodyError, find_source};

/// Beyond this many upstreams, those with no request in flight and no fresh idle connection
/// are forgotten (and tracked again on use).
const MAX_TRACKED_UPSTREAMS: usize = 1024;

/// How idle pooled connections wait for reuse before closing.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http2 {
    /// HTTP/1.1 only.
    Never,
    /// HTTP/2 when TLS negotiates it (ALPN), HTTP/1.1 otherwise.
    Alpn,
    /// HTTP/2 without asking, cleartext too (h2c, `http2PriorKnowledge`).
    PriorKnowledge,
}

#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub count: u32,
    pub delay: Duration,
}

pub struct Settings {
    pub connections: usize,
    pub connect_timeout: Option<Duration>,
    pub so_timeout: Option<Duration>,
    pub http2: Http2,
    pub retries: Option<Retries>,
}

/// Why an upstream exchange failed.
#[derive(Debug)]
pub enum Failure {
    Timeout {
        reason: String,
        after: Duration,
    },
    Failed(String),
    /// The client's request body failed while it was being sent: a [`ClientBodyError`] is
    /// among the error's sources.
    Client(BoxError),
}

/// An upstream, as the client tells them apart.
#[derive(Clone, PartialEq, Eq)]
struct UpstreamId {
    tls: bool,
    authority: Option<http::uri::Authority>,
}

impl UpstreamId {
    fn of(target: &http::Uri) -> UpstreamId {
        UpstreamId {
            tls: super::connector::is_tls(target),
            authority: target.authority().cloned(),
        }
    }

    /// Whether `target` names this upstream byte for byte: a cheaper test than equality
    /// (which ignores letter case) that says no to some equal ones.
    fn is_exactly_of(&self, target: &http::Uri) -> bool {
        self.tls == super::connector::is_tls(target)
            && self.authority.as_ref().map(http::uri::Authority::as_str)
                == target.authority().map(http::uri::Authority::as_str)
    }
}

impl Hash for UpstreamId {
    /// The authority's bytes in one piece: `Authority`'s own hash feeds the hasher a byte at a
    /// time, which cost a proxied request about 400 instructions. Its equality ignores letter
    /// case, so an authority with capitals (hosts are rarely written so) is hashed in lower
    /// case, as the equal ones are.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.tls.hash(state);
        let Some(authority) = &self.authority else {
            state.write_u8(0);
            return;
        };
        let bytes = authority.as_str().as_bytes();
        if bytes.iter().any(u8::is_ascii_uppercase) {
            let lower: SmallVec<[u8; 64]> = bytes.iter().map(u8::to_ascii_lowercase).collect();
            state.write(&lower);
        } else {
            state.write(bytes);
        }
    }
}

/// What the client keeps of one upstream: its connection slots (the `connections` limit)
/// and its idle HTTP/1.1 connections. One record, looked up once per request: the
/// request's [`Slot`] holds it until the response body ends, and gives the connection back
/// to it without a second lookup.
pub struct Upstream {
    id: UpstreamId,
    permits: Semaphore,
    idle: IdlePool,
}

impl Upstream {
    /// The upstream's `host:port`, as messages name it.
    pub fn authority(&self) -> &str {
        self.id
            .authority
            .as_ref()
            .map_or("", |authority| authority.as_str())
    }

    pub fn idle(&self) -> &IdlePool {
        &self.idle
    }
}

/// One of an upstream's connection slots, held by a request until its response body ends
/// or the attempt fails.
pub struct Slot(Arc<Upstream>);

impl Slot {
    fn try_take(upstream: &Arc<Upstream>) -> Option<Slot> {
        upstream.permits.try_acquire().ok()?.forget();
        Some(Slot(upstream.clone()))
    }

    async fn take(upstream: &Arc<Upstream>) -> Result<Slot, Failure> {
        upstream
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::Failed("the client is closing".to_owned()))?
            .forget();
        Ok(Slot(upstream.clone()))
    }

    pub fn upstream(&self) -> &Upstream {
        &self.0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.permits.add_permits(1);
    }
}

/// How requests travel: HTTP/1.1 unless the settings ask for HTTP/2.
enum Transport {
    Http1(H1Client),
    Hyper(Box<Client<Connector, Body>>),
}

pub struct UpstreamClient {
    transport: Transport,
    proxy: Arc<ProxyOptions>,
    settings: Settings,
    /// foldhash: keys are looked up on every request, and the map is bounded.
    upstreams: Mutex<HashMap<UpstreamId, Arc<Upstream>, foldhash::fast::RandomState>>,
    /// The upstream of the last request. A reverse proxy sends every request to the same one,
    /// and comparing an authority's bytes costs far less than hashing them and taking the
    /// map's lock. Only a lookup in the map forgets records, and it replaces this one with
    /// what it found.
    last: ArcSwapOption<Upstream>,
}

impl UpstreamClient {
    pub fn new(
        settings: Settings,
        tls: &ClientTlsOptions,
        proxy: Arc<ProxyOptions>,
    ) -> Result<Self, String> {
        let alpn: &[&[u8]] = match settings.http2 {
            Http2::Never => &[b"http/1.1"],
            Http2::Alpn | Http2::PriorKnowledge => &[b"h2", b"http/1.1"],
        };
        let connector = Connector::new(
            settings.connect_timeout,
            tls.client_config(alpn)?,
            tls.insecure,
            proxy.clone(),
        );
        let transport = if settings.http2 == Http2::Never {
            Transport::Http1(H1Client::new(
                connector,
                settings.connections,
                IDLE_TIMEOUT,
                settings.so_timeout,
            ))
        } else {
            let mut builder = Client::builder(TokioExecutor::new());
            builder
                .pool_idle_timeout(IDLE_TIMEOUT)
                .pool_timer(TokioTimer::new())
                .pool_max_idle_per_host(settings.connections)
                .timer(TokioTimer::new())
                // The per-upstream semaphore already limits; retries are ours.
                .retry_canceled_requests(true)
                .set_host(false);
            if settings.http2 == Http2::PriorKnowledge {
                builder.http2_only(true);
            }
            Transport::Hyper(Box::new(builder.build(connector)))
        };
        Ok(UpstreamClient {
            transport,
            proxy,
            settings,
            upstreams: Mutex::new(HashMap::default()),
            last: ArcSwapOption::empty(),
        })
    }

    fn upstream(&self, target: &http::Uri) -> Arc<Upstream> {
        if let Some(last) = self.last.load().as_ref()
            && last.id.is_exactly_of(target)
        {
            return last.clone();
        }
        let upstream = self.upstream_in_map(UpstreamId::of(target));
        self.last.store(Some(upstream.clone()));
        upstream
    }

    fn upstream_in_map(&self, id: UpstreamId) -> Arc<Upstream> {
        let mut upstreams = self.upstreams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(upstream) = upstreams.get(&id) {
            return upstream.clone();
        }
        // Upstreams named by clients (a ClientHandler without baseURI) must not grow the map
        // without bound: forget the unused ones now and then.
        if upstreams.len() >= MAX_TRACKED_UPSTREAMS {
            let all = self.settings.connections.max(1);
            let now = tokio::time::Instant::now();
            upstreams.retain(|_, upstream| {
                upstream.permits.available_permits() < all || upstream.idle.prune(now, IDLE_TIMEOUT)
            });
        }
        upstreams
            .entry(id)
            .or_insert_with_key(|id| {
                Arc::new(Upstream {
                    id: id.clone(),
                    permits: Semaphore::new(self.settings.connections.max(1)),
                    idle: IdlePool::default(),
                })
            })
            .clone()
    }

    /// The forward proxy a request to `target` goes through, if any.
    pub fn proxy_for(&self, target: &http::Uri) -> Option<&ProxyServer> {
        self.proxy.proxy_for(target)
    }

    /// Waits for a connection slot, within soTimeout.
    async fn wait_for_slot(
        upstream: &Arc<Upstream>,
        key: &str,
        settings: &Settings,
    ) -> Result<Slot, Failure> {
        let wait = Slot::take(upstream);
        match settings.so_timeout {
            Some(limit) => {
                tokio::time::timeout(limit, wait)
                    .await
                    .map_err(|_| Failure::Timeout {
                        reason: format!(
                            "all {} connections to {key} stayed busy for soTimeout {limit:?}",
                            settings.connections
                        ),
                        after: limit,
                    })?
            }
            None => wait.await,
        }
    }

    /// Sends the request. The response body holds this upstream's connection slot until it
    /// ends (or is dropped). The request is borrowed, not taken: every proxied request's
    /// future would otherwise hold it twice, as its caller's and as this one's.
    pub async fn send(
        &self,
        request: &mut Outgoing<'_>,
        body: Body,
    ) -> Result<http::Response<Body>, Failure> {
        let target = request.uri;
        // Plain http through a proxy: the request itself carries the proxy's credentials.
        if target.scheme_str() != Some("https")
            && let Some(credentials) = self
                .proxy
                .proxy_for(target)
                .and_then(|proxy| proxy.credentials.as_ref())
        {
            request.set(
                http::header::PROXY_AUTHORIZATION,
                credentials.authorization(),
            );
        }
        let key = UpstreamKey(target);
        let upstream = self.upstream(target);
        // A free connection slot is the usual case: no soTimeout timer to arm and cancel.
        let slot = match Slot::try_take(&upstream) {
            Some(slot) => slot,
            None => Self::wait_for_slot(&upstream, &key.to_string(), &self.settings).await?,
        };
        let mut slot = Some(slot);

        // Only an idempotent request without a body can be sent again.
        let replayable = request.method.is_idempotent() && body.is_end_stream();
        let retries = self.settings.retries.map(|r| r.count).unwrap_or(0);
        let mut attempt = 0u32;
        let mut stale_retried = false;
        let mut body = Some(body);
        loop {
            let body = body.take().unwrap_or_else(crate::http::empty_body);
            // HTTP/1.1 keeps soTimeout on the connection's own timer. Each branch makes its
            // own attempt: a future made first and then moved into the timeout would take
            // room twice.
            let result = match (self.settings.so_timeout, &self.transport) {
                (Some(limit), Transport::Hyper(_)) => {
                    let sent = self.send_once(request, body, &mut slot);
                    match tokio::time::timeout(limit, sent).await {
                        Ok(result) => result,
                        Err(_) => Err(SendError::Timeout),
                    }
                }
                _ => self.send_once(request, body, &mut slot).await,
            };
            let error = match result {
                Ok(response) => {
                    if response.status() == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED
                        && target.scheme_str() != Some("https")
                        && let Some(proxy) = self.proxy.proxy_for(target)
                    {
                        return Err(Failure::Failed(format!(
                            "proxy {} answered 407 Proxy Authentication Required to {} {target}",
                            super::connector::proxy_label(proxy),
                            request.method
                        )));
                    }
                    return Ok(response);
                }
                Err(error) => error,
            };
            if slot.is_none() {
                // The attempt took the slot with it; a retry needs one again.
                slot = Some(Slot::take(&upstream).await?);
            }
            match error {
                SendError::Stale(reason) if replayable && !stale_retried => {
                    // A kept-alive connection the upstream had closed: a new one, at once.
                    stale_retried = true;
                    tracing::debug!(upstream = %key, %reason, "pooled connection was closed by the upstream; sending again");
                }
                SendError::Connect(connect) if replayable && attempt < retries => {
                    attempt += 1;
                    let delay = self.settings.retries.map(|r| r.delay).unwrap_or_default();
                    tracing::info!(upstream = %key, attempt, of = retries, ?delay, reason = %connect.message, "connection failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                SendError::Connect(connect) if connect.timed_out => {
                    return Err(Failure::Timeout {
                        reason: connect.message,
                        after: self.settings.connect_timeout.unwrap_or_default(),
                    });
                }
                SendError::Connect(connect) => return Err(Failure::Failed(connect.message)),
                SendError::Timeout => {
                    let limit = self.settings.so_timeout.unwrap_or_default();
                    return Err(Failure::Timeout {
                        reason: format!("{key} did not answer within soTimeout {limit:?}"),
                        after: limit,
                    });
                }
                SendError::Unread => {
                    let limit = self.settings.so_timeout.unwrap_or_default();
                    return Err(Failure::Timeout {
                        reason: format!(
                            "{key} read none of the request for soTimeout {limit:?} while it was being sent"
                        ),
                        after: limit,
                    });
                }
                SendError::Client(error) => return Err(Failure::Client(error)),
                SendError::Stale(reason) | SendError::Failed(reason) => {
                    return Err(Failure::Failed(format!("{key}: {reason}")));
                }
            }
        }
    }

    /// One attempt; takes the slot into the response body when it succeeds.
    async fn send_once(
        &self,
        request: &Outgoing<'_>,
        body: Body,
        slot: &mut Option<Slot>,
    ) -> Result<http::Response<Body>, SendError> {
        match &self.transport {
            Transport::Http1(client) => client.send(request, body, slot).await,
            Transport::Hyper(client) => {
                let mut owned = http::Request::new(body);
                *owned.method_mut() = request.method.clone();
                *owned.uri_mut() = request.uri.clone();
                *owned.headers_mut() = request.header_map();
                match client.request(owned).await {
                    Ok(response) => {
                        let held = slot.take();
                        let body = response.map(move |body| {
                            body.map_err(move |error| -> BoxError {
                                // The slot is freed when the body ends or is dropped.
                                let _ = &held;
                                Box::new(error)
                            })
                        });
                        // soTimeout bounds each wait for the body's bytes, as on HTTP/1.1.
                        Ok(match self.settings.so_timeout {
                            Some(limit) => {
                                // Named only if it stalls: a clone of the URI shares its bytes.
                                let target = request.uri.clone();
                                body.map(|body| {
                                    StallLimited::new(body, limit, move |limit: Duration| {
                                        BoxError::from(format!(
                                            "upstream {} response body failed: {}",
                                            UpstreamKey(&target),
                                            crate::h1::BodyError::Stalled(limit)
                                        ))
                                    })
                                    .boxed()
                                })
                            }
                            None => body.map(BodyExt::boxed),
                        })
                    }
                    Err(error) if ClientBodyError::find(&error).is_some() => {
                        Err(SendError::Client(Box::new(error)))
                    }
                    Err(error) => Err(match find_source::<ConnectError>(&error) {
                        Some(connect) if error.is_connect() => SendError::Connect(connect.clone()),
                        Some(connect) => SendError::Failed(connect.message.clone()),
                        None => SendError::Failed(describe(&error)),
                    }),
                }
            }
        }
    }
}

/// `scheme://authority` of a target, as logs and the per-upstream limits name it.
struct UpstreamKey<'a>(&'a http::Uri);

impl std::fmt::Display for UpstreamKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}",
            self.0.scheme_str().unwrap_or("http"),
            self.0.authority().map_or("", |a| a.as_str())
        )
    }
}

/// An error and its causes on one line.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    reason
}

#[cfg(test)]
mod tests;

//! The upstream client: a pooled hyper-util client on [`Connector`], with a real limit on
//! concurrent requests per upstream, a time limit to the response head, and retries of
//! idempotent, bodiless requests whose connection could not be made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connector::{ConnectError, Connector};
use super::tls::ClientTlsOptions;
use super::{ProxyOptions, ProxyServer};
use crate::http::Body;

/// Beyond this many upstreams, idle per-upstream limits are dropped (and recreated on use).
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
    Timeout { reason: String, after: Duration },
    Failed(String),
}

pub struct UpstreamClient {
    client: Client<Connector, Body>,
    proxy: Arc<ProxyOptions>,
    settings: Settings,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
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
        Ok(UpstreamClient {
            client: builder.build(connector),
            proxy,
            settings,
            limits: Mutex::new(HashMap::new()),
        })
    }

    fn semaphore(&self, key: &str) -> Arc<Semaphore> {
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        // Upstreams named by clients (a ClientHandler without baseURI) must not grow the map
        // without bound: forget the idle ones now and then.
        if limits.len() >= MAX_TRACKED_UPSTREAMS && !limits.contains_key(key) {
            let all = self.settings.connections.max(1);
            limits.retain(|_, semaphore| semaphore.available_permits() < all);
        }
        limits
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.connections.max(1))))
            .clone()
    }

    /// The forward proxy a request to `target` goes through, if any.
    pub fn proxy_for(&self, target: &http::Uri) -> Option<&ProxyServer> {
        self.proxy.proxy_for(target)
    }

    /// Waits for a connection slot, within soTimeout.
    async fn acquire(
        semaphore: Arc<Semaphore>,
        key: &str,
        settings: &Settings,
    ) -> Result<OwnedSemaphorePermit, Failure> {
        let wait = semaphore.acquire_owned();
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
        .map_err(|_| Failure::Failed("the client is closing".to_owned()))
    }

    /// Sends the request; the returned permit must live as long as the response body.
    pub async fn send(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<(http::Response<Incoming>, OwnedSemaphorePermit), Failure> {
        let target = request.uri().clone();
        let key = format!(
            "{}://{}",
            target.scheme_str().unwrap_or("http"),
            target.authority().map(|a| a.as_str()).unwrap_or("")
        );
        // Plain http through a proxy: the request itself carries the proxy's credentials.
        if target.scheme_str() != Some("https")
            && let Some(credentials) = self
                .proxy
                .proxy_for(&target)
                .and_then(|proxy| proxy.credentials.as_ref())
        {
            request.headers_mut().insert(
                http::header::PROXY_AUTHORIZATION,
                credentials.authorization(),
            );
        }
        let method = request.method().clone();
        let semaphore = self.semaphore(&key);
        // A free connection slot is the usual case: no soTimeout timer to arm and cancel.
        let permit = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => Self::acquire(semaphore, &key, &self.settings).await,
        }?;

        let replayable = self.settings.retries.is_some()
            && request.method().is_idempotent()
            && request.body().is_end_stream();
        let template = replayable.then(|| {
            (
                request.method().clone(),
                request.uri().clone(),
                request.version(),
                request.headers().clone(),
            )
        });
        let retries = self.settings.retries.map(|r| r.count).unwrap_or(0);
        let mut attempt = 0u32;
        let mut next = Some(request);
        loop {
            let request = match next.take() {
                Some(request) => request,
                None => {
                    let Some((method, uri, version, headers)) = &template else {
                        return Err(Failure::Failed(
                            "internal error: nothing to retry".to_owned(),
                        ));
                    };
                    let mut request = http::Request::new(crate::http::empty_body());
                    *request.method_mut() = method.clone();
                    *request.uri_mut() = uri.clone();
                    *request.version_mut() = *version;
                    *request.headers_mut() = headers.clone();
                    request
                }
            };
            let sent = self.client.request(request);
            let result = match self.settings.so_timeout {
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(result) => result,
                    Err(_) => {
                        return Err(Failure::Timeout {
                            reason: format!("{key} did not answer within soTimeout {limit:?}"),
                            after: limit,
                        });
                    }
                },
                None => sent.await,
            };
            match result {
                Ok(response) => {
                    if response.status() == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED
                        && target.scheme_str() != Some("https")
                        && let Some(proxy) = self.proxy.proxy_for(&target)
                    {
                        return Err(Failure::Failed(format!(
                            "proxy {} answered 407 Proxy Authentication Required to {method} {target}",
                            super::connector::proxy_label(proxy)
                        )));
                    }
                    return Ok((response, permit));
                }
                Err(error) => {
                    let connect = find_connect_error(&error);
                    if error.is_connect() && template.is_some() && attempt < retries {
                        attempt += 1;
                        let delay = self.settings.retries.map(|r| r.delay).unwrap_or_default();
                        tracing::info!(upstream = %key, attempt, of = retries, ?delay, reason = %describe(&error), "connection failed; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(match connect {
                        Some(connect) if connect.timed_out => Failure::Timeout {
                            reason: connect.message.clone(),
                            after: self.settings.connect_timeout.unwrap_or_default(),
                        },
                        Some(connect) => Failure::Failed(connect.message.clone()),
                        None => Failure::Failed(format!("{key}: {}", describe(&error))),
                    });
                }
            }
        }
    }
}

fn find_connect_error<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e ConnectError> {
    let mut source: Option<&'e (dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(connect) = cause.downcast_ref::<ConnectError>() {
            return Some(connect);
        }
        source = cause.source();
    }
    None
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

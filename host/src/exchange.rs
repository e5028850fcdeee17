//! The state of one request as it travels through handlers and filters: IG's context chain
//! (client, router, transaction, attributes, session) flattened into one owned struct.

pub(crate) mod scope;
#[cfg(test)]
mod tests;
mod transaction;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use indexmap::IndexMap;
use smallvec::SmallVec;

use crate::expr::Value;
use crate::heap::Properties;
use crate::http::{Buffered, CollectError, Request, buffer_up_to, full_body};

pub use scope::{ExchangeScope, ExchangeScopeMut, REQUEST_TIME_ROOTS};
pub use transaction::TransactionId;

/// How much of a request body the gateway buffers when a condition or filter reads
/// `request.entity`; larger bodies make the expression evaluate to null rather than growing
/// memory without bound.
pub const DEFAULT_ENTITY_LIMIT: usize = 1 << 20;

/// Where the request came from (IG's `contexts.client`).
///
/// Every connection holds one for as long as it is open, idle or not, so the addresses are kept
/// as address and port alone: what IG exposes of them (`remoteAddress`, `localPort` ...).
/// A `SocketAddr` would also carry the IPv6 flow label and scope, which nothing reads, and
/// make each connection's copy 96 bytes on the heap instead of 56.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    remote_ip: IpAddr,
    local_ip: IpAddr,
    remote_port: u16,
    local_port: u16,
    /// True when the connection arrived over TLS.
    pub secure: bool,
}

impl ClientInfo {
    pub fn new(remote: SocketAddr, local: SocketAddr, secure: bool) -> Self {
        ClientInfo {
            remote_ip: remote.ip(),
            local_ip: local.ip(),
            remote_port: remote.port(),
            local_port: local.port(),
            secure,
        }
    }

    pub fn remote_ip(&self) -> IpAddr {
        self.remote_ip
    }

    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    pub fn local_ip(&self) -> IpAddr {
        self.local_ip
    }

    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// The client's end of the connection.
    pub fn remote(&self) -> SocketAddr {
        SocketAddr::new(self.remote_ip, self.remote_port)
    }

    /// The gateway's end of the connection: the listener's address, or with a listener on
    /// the unspecified address, the one the client connected to.
    pub fn local(&self) -> SocketAddr {
        SocketAddr::new(self.local_ip, self.local_port)
    }
}

/// What routing has done to the request so far (IG's `contexts.router`).
#[derive(Debug, Clone, Default)]
pub struct RoutingInfo {
    /// The URI as the client sent it, before any baseURI rebasing or filter rewrote it. Kept
    /// as a URI (its clone shares the request's bytes) and rendered only when asked for.
    pub original_uri: http::Uri,
    /// Names of the routes this request passed through, outermost first. Inline for the
    /// usual one or two routers deep: every routed request records its route.
    pub route_names: SmallVec<[Arc<str>; 2]>,
}

impl RoutingInfo {
    /// IG's `contexts.router.remainingUri`: routers here consume no prefix of the path, so
    /// it is the whole original path.
    pub fn remaining_uri(&self) -> &str {
        self.original_uri.path()
    }

    /// IG's `contexts.router.matchedUri`: the prefix routers consumed, none here.
    pub fn matched_uri(&self) -> &str {
        ""
    }
}

/// Session attributes. Persistence (JWT cookie sessions) wraps this map; until a session
/// manager is configured the session lives as long as the request.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub values: IndexMap<String, Value>,
    pub changed: bool,
}

/// The state of one request. It lives on the heap ([`Exchange`] is a pointer to it) because
/// it moves often, in and out of plugin stores and boxed futures, and is about 700 bytes.
pub struct ExchangeState {
    pub request: Request,
    /// The buffered request body, present once something asked to read the entity.
    pub request_entity: Option<Bytes>,
    pub attributes: IndexMap<String, Value>,
    /// Contexts published by filters (`contexts.oauth2` ...), beside the built-in ones.
    pub contexts: IndexMap<String, Value>,
    pub session: Session,
    /// Shared with the connection, which holds it for every request it carries.
    pub client: Arc<ClientInfo>,
    pub routing: RoutingInfo,
    pub transaction_id: TransactionId,
    /// Properties of the route being executed, visible to request-time expressions by name.
    pub properties: Option<Arc<Properties>>,
    pub started: Instant,
}

/// One request's state, as every handler and filter receives it.
pub struct Exchange(Box<ExchangeState>);

impl std::ops::Deref for Exchange {
    type Target = ExchangeState;

    fn deref(&self) -> &ExchangeState {
        &self.0
    }
}

impl std::ops::DerefMut for Exchange {
    fn deref_mut(&mut self) -> &mut ExchangeState {
        &mut self.0
    }
}

impl Exchange {
    pub fn new(request: Request, client: Arc<ClientInfo>, transaction_id: TransactionId) -> Self {
        let original_uri = request.uri().clone();
        Exchange(Box::new(ExchangeState {
            request,
            request_entity: None,
            attributes: IndexMap::new(),
            contexts: IndexMap::new(),
            session: Session::default(),
            client,
            routing: RoutingInfo {
                original_uri,
                route_names: SmallVec::new(),
            },
            transaction_id,
            properties: None,
            started: Instant::now(),
        }))
    }

    /// An empty exchange that holds a place while the real one is lent elsewhere (a plugin
    /// store holds one between calls).
    pub fn stand_in() -> Exchange {
        static NOWHERE: std::sync::LazyLock<Arc<ClientInfo>> = std::sync::LazyLock::new(|| {
            let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
            Arc::new(ClientInfo::new(nowhere, nowhere, false))
        });
        Exchange::new(
            http::Request::new(crate::http::empty_body()),
            NOWHERE.clone(),
            TransactionId::named(""),
        )
    }

    /// Buffers the request body so expressions can read `request.entity`, leaving an
    /// equivalent body in place for whoever handles the request next. A body over `limit`
    /// stays unbuffered (expressions see a null entity) but is forwarded whole.
    pub async fn buffer_request_entity(&mut self, limit: usize) -> Result<&Bytes, CollectError> {
        if self.request_entity.is_none() {
            let body = std::mem::replace(self.request.body_mut(), crate::http::empty_body());
            match buffer_up_to(body, limit)
                .await
                .map_err(CollectError::Read)?
            {
                Buffered::Complete(bytes) => {
                    *self.request.body_mut() = full_body(bytes.clone());
                    self.request_entity = Some(bytes);
                }
                Buffered::TooLarge(body) => {
                    *self.request.body_mut() = body;
                    return Err(CollectError::TooLarge { limit });
                }
            }
        }
        Ok(self.request_entity.get_or_insert_with(Bytes::new))
    }

    /// Replaces the request body with `bytes`, keeping the buffered copy in step.
    pub fn set_request_entity(&mut self, bytes: Bytes) {
        if let Ok(length) = http::HeaderValue::try_from(bytes.len().to_string()) {
            self.request
                .headers_mut()
                .insert(http::header::CONTENT_LENGTH, length);
        }
        self.request
            .headers_mut()
            .remove(http::header::TRANSFER_ENCODING);
        *self.request.body_mut() = full_body(bytes.clone());
        self.request_entity = Some(bytes);
    }

    pub fn scope(&self) -> ExchangeScope<'_> {
        ExchangeScope::new(self, None)
    }

    pub fn scope_mut(&mut self) -> ExchangeScopeMut<'_> {
        ExchangeScopeMut::new(self)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn exchange(method: &str, uri: &str) -> Exchange {
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(crate::http::empty_body())
            .unwrap_or_else(|error| panic!("bad test request {uri}: {error}"));
        exchange_of(request)
    }

    /// The exchange of a request from a loopback client.
    pub fn exchange_of(request: crate::http::Request) -> Exchange {
        let client = ClientInfo::new(
            SocketAddr::from(([127, 0, 0, 1], 40000)),
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            false,
        );
        Exchange::new(
            request,
            Arc::new(client),
            TransactionId::named("test-transaction"),
        )
    }
}

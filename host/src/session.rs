//! Sessions: IG's `session` binding kept between requests of one user agent.
//!
//! A session manager loads the session a request carries (from a cookie) before the handler it
//! guards runs and persists the changed session into the response afterwards. config.json's
//! `session` (or a heap object named `Session`) guards the whole gateway; a route's `session`
//! (or a `Session` object in the route's own heap) replaces it for the requests that route
//! handles and the outer session is restored when the route is done. Without any
//! configuration the gateway keeps sessions in memory behind an `IG_SESSIONID` cookie, like
//! IG's container sessions.

mod cookie;
mod jwt;
mod memory;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::exchange::{Exchange, Session};
use crate::handler::{Handler, HandlerError};
use crate::heap::{HeapBuilder, HeapObject, ObjectKind, TypeRegistry};
use crate::http::{Request, Response};

pub use cookie::CookieSettings;
pub use jwt::JwtSessionManager;
pub use memory::InMemorySessionManager;

/// The name of a heap object that becomes the session manager of its heap's scope.
pub const DEFAULT_SESSION_OBJECT: &str = "Session";

/// What a manager learnt while loading a session that it needs again to save it.
#[derive(Debug, Default, Clone)]
pub struct Ticket {
    /// The request carried a valid, unexpired session.
    pub present: bool,
    /// Server-side key of a stored session.
    pub id: Option<Arc<str>>,
    /// When the session the request carried expires, in seconds since the epoch.
    pub expires_at: Option<u64>,
}

pub trait SessionManager: Send + Sync + 'static {
    /// The session the request carries; an empty one when it has none, or an expired, forged
    /// or unreadable one (logged, never an error for the client).
    fn load(&self, request: &Request) -> (Session, Ticket);

    /// Persists `session` into `response` when it changed, or renews it when it is close to
    /// expiring. `route` names where the session was used, for the logs.
    fn save(&self, session: &Session, ticket: Ticket, response: &mut Response, route: &str);
}

/// Runs `handler` with the session `manager` loads for this request in place of the
/// exchange's current one, then saves it into the response and puts the outer session back.
pub async fn handle_in_session(
    manager: &dyn SessionManager,
    handler: &dyn Handler,
    exchange: &mut Exchange,
    route: &str,
) -> Result<Response, HandlerError> {
    let (session, ticket) = manager.load(&exchange.request);
    let outer = std::mem::replace(&mut exchange.session, session);
    let result = handler.handle(exchange).await;
    let inner = std::mem::replace(&mut exchange.session, outer);
    let mut response = result?;
    manager.save(&inner, ticket, &mut response, route);
    Ok(response)
}

/// A handler guarded by a session manager: what config.json's `session` turns the top-level
/// handler into.
pub struct SessionHandler {
    pub manager: Arc<dyn SessionManager>,
    pub handler: Arc<dyn Handler>,
    pub scope: Arc<str>,
}

impl Handler for SessionHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> crate::handler::HandlerFuture<'a> {
        Box::pin(handle_in_session(
            self.manager.as_ref(),
            self.handler.as_ref(),
            exchange,
            &self.scope,
        ))
    }
}

/// The heap object wrapping a manager, so `session` references resolve like any other.
pub struct SessionObject(pub Arc<dyn SessionManager>);

/// Resolves the `session` key of config.json or a route, else a `Session` object of the heap
/// being built (looked up in parents only when `inherit`).
pub fn resolve_manager<'d>(
    builder: &mut HeapBuilder<'d>,
    session_at: Option<&crate::config::Located<'d>>,
    scope_at: &crate::config::Located<'d>,
    inherit: bool,
) -> Result<Option<Arc<dyn SessionManager>>, crate::config::ConfigError> {
    if let Some(at) = session_at {
        let object = builder
            .resolve_service::<SessionObject>(at, "a session manager (such as a JwtSession)")?;
        return Ok(Some(object.0.clone()));
    }
    let found = if inherit {
        builder.lookup(DEFAULT_SESSION_OBJECT, scope_at)?
    } else {
        builder.lookup_local(DEFAULT_SESSION_OBJECT, scope_at)?
    };
    match found {
        Some(object) => match object.service::<SessionObject>() {
            Some(object) => Ok(Some(object.0.clone())),
            None => Err(scope_at.error(format!(
                "the heap object named \"{DEFAULT_SESSION_OBJECT}\" must be a session manager (such as a JwtSession): that name makes it the default session"
            ))),
        },
        None => Ok(None),
    }
}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["JwtSession", "AuthenticatedEncryptedJwtSessionManager"],
        ObjectKind::Service,
        |builder, declaration| {
            let manager = JwtSessionManager::from_config(builder, declaration)?;
            Ok(HeapObject::Service(Arc::new(SessionObject(Arc::new(
                manager,
            )))))
        },
    );
    registry.register_native(
        &["InMemorySession"],
        ObjectKind::Service,
        |builder, declaration| {
            let manager = InMemorySessionManager::from_config(builder, declaration)?;
            Ok(HeapObject::Service(Arc::new(SessionObject(Arc::new(
                manager,
            )))))
        },
    );
}

//! The two shapes every processing step takes, as in IG: a [`Handler`] turns a request into a
//! response, a [`Filter`] wraps the rest of a chain. Native types implement them here; the
//! plugin runtime implements them for WebAssembly components.

mod chain;
mod client;
mod dispatch;
mod sequence;
mod static_response;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::exchange::Exchange;
use crate::http::{ClientBodyError, Response, text_response};

pub use chain::{Chain, ChainOfFilters};
pub use client::{ClientHandler, ClientHandlerConfig, ClientMode};
pub use dispatch::{DispatchBinding, DispatchHandler};
pub use sequence::{SequenceBinding, SequenceHandler};
pub use static_response::StaticResponseHandler;

pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response, HandlerError>> + Send + 'a>>;

pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a>;
}

pub trait Filter: Send + Sync + 'static {
    /// Processes the request, usually calling `next` to produce the response, which the filter
    /// may then change; a filter that answers by itself does not call `next`.
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a>;

    /// The plugin object behind a plugin filter: a chain runs adjacent ones of the same
    /// component in one call (`plugin::run`).
    fn plugin_object(&self) -> Option<&Arc<crate::plugin::object::PluginObject>> {
        None
    }
}

/// The remainder of a chain, handed to each filter.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    filters: &'a [Arc<dyn Filter>],
    tail: Tail<'a>,
}

/// What follows the filters: the chain's handler, or (inside a ChainOfFilters) the rest of
/// the enclosing chain.
#[derive(Clone, Copy)]
enum Tail<'a> {
    Handler(&'a dyn Handler),
    Outer(&'a Next<'a>),
}

impl<'a> Next<'a> {
    pub fn new(filters: &'a [Arc<dyn Filter>], handler: &'a dyn Handler) -> Self {
        Next {
            filters,
            tail: Tail::Handler(handler),
        }
    }

    /// `filters` first, then this remainder: how a ChainOfFilters splices itself in.
    pub fn prepend<'b>(&'b self, filters: &'b [Arc<dyn Filter>]) -> Next<'b>
    where
        'a: 'b,
    {
        Next {
            filters,
            tail: Tail::Outer(self),
        }
    }

    pub fn handle<'b>(self, exchange: &'b mut Exchange) -> HandlerFuture<'b>
    where
        'a: 'b,
    {
        match self.filters.split_first() {
            Some((filter, rest)) => filter.filter(
                exchange,
                Next {
                    filters: rest,
                    tail: self.tail,
                },
            ),
            None => match self.tail {
                Tail::Handler(handler) => handler.handle(exchange),
                Tail::Outer(outer) => outer.handle(exchange),
            },
        }
    }
}

/// Why a handler produced no response. The gateway turns it into an error response at the
/// edge; routes count these separately from error statuses.
///
/// Some failures are logged where they happen, with the transaction, and the gateway's edge
/// logs only the others ([`HandlerError::is_logged`]), so that a failed request is one
/// record. The upstream failures are logged by the client handler that meets them: a filter
/// may recover from them, and nothing else would say why the upstream failed. A plugin's
/// failure is logged by the plugin runtime within the plugin's log budget: a plugin failing
/// on every request must not log a record per request through the edge. Whoever returns
/// one of these must have logged it that way.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("upstream {target} failed: {reason}")]
    Upstream { target: String, reason: String },
    #[error("upstream {target} did not answer within {after:?}")]
    UpstreamTimeout {
        target: String,
        after: std::time::Duration,
    },
    #[error("plugin {object} failed")]
    Plugin { object: String },
    #[error("{0}")]
    BadRequest(String),
    /// The client's request body failed ([`ClientBodyError`]): its status is 400, or 408 for
    /// a client that stalled.
    #[error("{reason}")]
    ClientBody {
        status: http::StatusCode,
        reason: String,
    },
    #[error("{0}")]
    Internal(String),
}

impl HandlerError {
    pub fn status(&self) -> http::StatusCode {
        match self {
            HandlerError::Upstream { .. } => http::StatusCode::BAD_GATEWAY,
            HandlerError::UpstreamTimeout { .. } => http::StatusCode::GATEWAY_TIMEOUT,
            HandlerError::Plugin { .. } => http::StatusCode::INTERNAL_SERVER_ERROR,
            HandlerError::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            HandlerError::ClientBody { status, .. } => *status,
            HandlerError::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the failure was logged where it happened, so that the edge does not log it a
    /// second time.
    pub fn is_logged(&self) -> bool {
        matches!(
            self,
            HandlerError::Upstream { .. }
                | HandlerError::UpstreamTimeout { .. }
                | HandlerError::Plugin { .. }
        )
    }

    /// Reading the request body failed with `error`: the client's failure when the body
    /// says so, else a bad request as before.
    pub fn reading_request_body(error: &crate::http::CollectError) -> HandlerError {
        if let crate::http::CollectError::Read(source) = error
            && let Some(client) = ClientBodyError::find(source.as_ref())
        {
            return HandlerError::ClientBody {
                status: client.status(),
                reason: error.to_string(),
            };
        }
        HandlerError::BadRequest(error.to_string())
    }

    /// Whether the client, not the gateway or an upstream, made the request fail: logged at
    /// debug level only, since any client could otherwise add a record per request.
    pub fn is_clients(&self) -> bool {
        matches!(self, HandlerError::ClientBody { .. })
    }

    /// The short body sent to the client: the reason phrase, never internal detail.
    pub fn into_response(&self) -> Response {
        let status = self.status();
        text_response(status, status.canonical_reason().unwrap_or("Error"))
    }
}

/// Adapts a closure to [`Handler`], for tests and small native handlers.
pub struct FnHandler<F>(pub F);

impl<F> Handler for FnHandler<F>
where
    F: Fn(&mut Exchange) -> Result<Response, HandlerError> + Send + Sync + 'static,
{
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        let result = (self.0)(exchange);
        Box::pin(std::future::ready(result))
    }
}

pub(crate) fn register_types(registry: &mut crate::heap::TypeRegistry) {
    use crate::heap::ObjectKind;
    registry.register_native(
        &["StaticResponseHandler"],
        ObjectKind::Handler,
        StaticResponseHandler::from_declaration,
    );
    registry.register_native(&["Chain"], ObjectKind::Handler, Chain::from_declaration);
    registry.register_native(
        &["ChainOfFilters"],
        ObjectKind::Filter,
        ChainOfFilters::from_declaration,
    );
    registry.register_native(
        &["DispatchHandler"],
        ObjectKind::Handler,
        DispatchHandler::from_declaration,
    );
    registry.register_native(
        &["SequenceHandler"],
        ObjectKind::Handler,
        SequenceHandler::from_declaration,
    );
    registry.register_native(
        &["ClientHandler"],
        ObjectKind::Handler,
        ClientHandler::factory(ClientMode::Client),
    );
    registry.register_native(
        &["ReverseProxyHandler"],
        ObjectKind::Handler,
        ClientHandler::factory(ClientMode::ReverseProxy),
    );
}

#[cfg(test)]
mod tests;

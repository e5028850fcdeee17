//! `"baseURI": "http://app:8080"` rebases the request URI's scheme, host and port (and
//! prefixes the base path) before the decorated handler or filter sees it.

use std::sync::Arc;

use crate::exchange::Exchange;
use crate::handler::{Filter, Handler, HandlerError, HandlerFuture, Next, parse_base_uri};
use crate::heap::{DecorationContext, Decorator, HeapObject, ObjectKind};

pub struct BaseUriDecorator;

impl Decorator for BaseUriDecorator {
    fn accepts(&self, kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Handler | ObjectKind::Filter)
    }

    fn decorate(
        &self,
        object: HeapObject,
        decoration: &serde_json::Value,
        _context: &DecorationContext<'_>,
    ) -> Result<HeapObject, String> {
        let serde_json::Value::String(text) = decoration else {
            return Err(
                "\"baseURI\" takes an absolute URI such as \"http://app.example.com:8080\""
                    .to_owned(),
            );
        };
        let base = parse_base_uri(text)?;
        Ok(match object {
            HeapObject::Handler(inner) => {
                HeapObject::Handler(Arc::new(RebasedHandler { inner, base }))
            }
            HeapObject::Filter(inner) => {
                HeapObject::Filter(Arc::new(RebasedFilter { inner, base }))
            }
            other => other,
        })
    }
}

/// `base`'s scheme and authority, `base`'s path followed by the request's path, and the
/// request's query.
pub fn rebase_uri(uri: &http::Uri, base: &http::Uri) -> Result<http::Uri, http::Error> {
    let base_path = base.path().trim_end_matches('/');
    let path_and_query = match uri.query() {
        Some(query) => format!("{base_path}{}?{query}", uri.path()),
        None => format!("{base_path}{}", uri.path()),
    };
    let mut builder = http::Uri::builder().path_and_query(path_and_query);
    if let Some(scheme) = base.scheme() {
        builder = builder.scheme(scheme.clone());
    }
    if let Some(authority) = base.authority() {
        builder = builder.authority(authority.clone());
    }
    builder.build()
}

fn rebase(exchange: &mut Exchange, base: &http::Uri) -> Result<(), HandlerError> {
    let rebased = rebase_uri(exchange.request.uri(), base)
        .map_err(|error| HandlerError::Internal(format!("baseURI rebasing failed: {error}")))?;
    *exchange.request.uri_mut() = rebased;
    Ok(())
}

struct RebasedHandler {
    inner: Arc<dyn Handler>,
    base: http::Uri,
}

impl Handler for RebasedHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        if let Err(error) = rebase(exchange, &self.base) {
            return Box::pin(std::future::ready(Err(error)));
        }
        self.inner.handle(exchange)
    }
}

struct RebasedFilter {
    inner: Arc<dyn Filter>,
    base: http::Uri,
}

impl Filter for RebasedFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        if let Err(error) = rebase(exchange, &self.base) {
            return Box::pin(std::future::ready(Err(error)));
        }
        self.inner.filter(exchange, next)
    }
}

//! `"timer": true` logs how long the decorated handler or filter took.

use std::sync::Arc;
use std::time::Instant;

use crate::exchange::Exchange;
use crate::handler::{Filter, Handler, HandlerFuture, Next};
use crate::heap::{DecorationContext, Decorator, HeapObject, ObjectKind};

pub struct TimerDecorator;

impl Decorator for TimerDecorator {
    fn accepts(&self, kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Handler | ObjectKind::Filter)
    }

    fn decorate(
        &self,
        object: HeapObject,
        decoration: &serde_json::Value,
        context: &DecorationContext<'_>,
    ) -> Result<HeapObject, String> {
        let enabled = match decoration {
            serde_json::Value::Bool(enabled) => *enabled,
            serde_json::Value::String(text) => text.eq_ignore_ascii_case("true"),
            _ => return Err("\"timer\" takes true or false".to_owned()),
        };
        if !enabled {
            return Ok(object);
        }
        let name: Arc<str> = Arc::from(context.object_name);
        Ok(match object {
            HeapObject::Handler(inner) => {
                HeapObject::Handler(Arc::new(TimedHandler { inner, name }))
            }
            HeapObject::Filter(inner) => HeapObject::Filter(Arc::new(TimedFilter { inner, name })),
            other => other,
        })
    }
}

struct TimedHandler {
    inner: Arc<dyn Handler>,
    name: Arc<str>,
}

impl Handler for TimedHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.handle(exchange).await;
            tracing::info!(object = %self.name, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "timer: handler finished");
            result
        })
    }
}

struct TimedFilter {
    inner: Arc<dyn Filter>,
    name: Arc<str>,
}

impl Filter for TimedFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.filter(exchange, next).await;
            tracing::info!(object = %self.name, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "timer: filter finished (including what it called)");
            result
        })
    }
}

//! `"capture": "all"` (or a list of REQUEST, RESPONSE, FILTERED_REQUEST, FILTERED_RESPONSE)
//! logs the messages passing through the decorated object: request line, status and headers.

use std::sync::Arc;

use crate::exchange::Exchange;
use crate::handler::{Filter, Handler, HandlerFuture, Next};
use crate::heap::{DecorationContext, Decorator, HeapObject, ObjectKind};

pub struct CaptureDecorator;

#[derive(Clone, Copy, Default)]
struct Points {
    request: bool,
    response: bool,
    filtered_request: bool,
    filtered_response: bool,
}

fn parse_points(decoration: &serde_json::Value) -> Result<Points, String> {
    let mut points = Points::default();
    let mut add = |name: &str| -> Result<(), String> {
        match name.to_ascii_uppercase().as_str() {
            "ALL" => {
                points = Points {
                    request: true,
                    response: true,
                    filtered_request: true,
                    filtered_response: true,
                }
            }
            "REQUEST" => points.request = true,
            "RESPONSE" => points.response = true,
            "FILTERED_REQUEST" => points.filtered_request = true,
            "FILTERED_RESPONSE" => points.filtered_response = true,
            other => {
                return Err(format!(
                    "unknown capture point \"{other}\"; use all, REQUEST, RESPONSE, FILTERED_REQUEST or FILTERED_RESPONSE"
                ));
            }
        }
        Ok(())
    };
    match decoration {
        serde_json::Value::String(name) => add(name)?,
        serde_json::Value::Array(names) => {
            for name in names {
                let name = name
                    .as_str()
                    .ok_or("capture points are strings such as \"REQUEST\"")?;
                add(name)?;
            }
        }
        serde_json::Value::Bool(false) => {}
        _ => return Err("\"capture\" takes \"all\" or a list of capture points".to_owned()),
    }
    Ok(points)
}

impl Decorator for CaptureDecorator {
    fn accepts(&self, kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Handler | ObjectKind::Filter)
    }

    fn decorate(
        &self,
        object: HeapObject,
        decoration: &serde_json::Value,
        context: &DecorationContext<'_>,
    ) -> Result<HeapObject, String> {
        let points = parse_points(decoration)?;
        let name: Arc<str> = Arc::from(context.object_name);
        Ok(match object {
            HeapObject::Handler(inner) => HeapObject::Handler(Arc::new(CapturedHandler {
                inner,
                name,
                points,
            })),
            HeapObject::Filter(inner) => HeapObject::Filter(Arc::new(CapturedFilter {
                inner,
                name,
                points,
            })),
            other => other,
        })
    }
}

fn log_request(name: &str, point: &str, exchange: &Exchange) {
    let request = &exchange.request;
    tracing::info!(
        object = name,
        point,
        transaction = %exchange.transaction_id,
        method = %request.method(),
        uri = %request.uri(),
        headers = ?request.headers(),
        "capture"
    );
}

fn log_response(name: &str, point: &str, exchange: &Exchange, response: &crate::http::Response) {
    tracing::info!(
        object = name,
        point,
        transaction = %exchange.transaction_id,
        status = response.status().as_u16(),
        headers = ?response.headers(),
        "capture"
    );
}

struct CapturedHandler {
    inner: Arc<dyn Handler>,
    name: Arc<str>,
    points: Points,
}

impl Handler for CapturedHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        Box::pin(async move {
            if self.points.request {
                log_request(&self.name, "REQUEST", exchange);
            }
            let result = self.inner.handle(exchange).await;
            if self.points.response
                && let Ok(response) = &result
            {
                log_response(&self.name, "RESPONSE", exchange, response);
            }
            result
        })
    }
}

struct CapturedFilter {
    inner: Arc<dyn Filter>,
    name: Arc<str>,
    points: Points,
}

impl Filter for CapturedFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            if self.points.request {
                log_request(&self.name, "REQUEST", exchange);
            }
            let result = self.inner.filter(exchange, next).await;
            if self.points.filtered_response
                && let Ok(response) = &result
            {
                log_response(&self.name, "FILTERED_RESPONSE", exchange, response);
            }
            result
        })
    }
}

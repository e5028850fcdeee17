//! StaticResponseHandler: answers with a configured status, headers and entity, each of
//! which may hold request-time expressions.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use super::{Handler, HandlerError, HandlerFuture};
use crate::config::{ConfigError, Located, pointer_push};
use crate::exchange::{DEFAULT_ENTITY_LIMIT, Exchange};
use crate::expr::{Expression, Value};
use crate::heap::{Declaration, HeapBuilder, HeapObject};
use crate::http::{CollectError, Response, full_body};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StaticResponseConfig {
    /// HTTP status code of the response.
    status: u16,
    /// Reason phrase; IG accepts it, HTTP/2 has none, so it is informational.
    #[serde(default)]
    #[allow(dead_code)]
    reason: Option<String>,
    /// HTTP version label (IG accepts "HTTP/1.1"); the connection decides the real one.
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<String>,
    /// Header name to a list of values (or a single value); values may hold expressions.
    #[serde(default)]
    headers: serde_json::Map<String, serde_json::Value>,
    /// Trailers are accepted for IG compatibility and sent as headers are not: HTTP/1.1
    /// clients rarely read them.
    #[serde(default)]
    #[allow(dead_code)]
    trailers: serde_json::Map<String, serde_json::Value>,
    /// The response body: a string template, or JSON sent as application/json.
    #[serde(default)]
    entity: Option<serde_json::Value>,
}

enum Entity {
    None,
    Template(Expression),
    Json(Bytes),
}

pub struct StaticResponseHandler {
    status: http::StatusCode,
    headers: Vec<(http::HeaderName, Vec<Expression>)>,
    entity: Entity,
    /// Whether a template reads the request body (`request.entity`, `request.form`), which
    /// must then be buffered before the templates are evaluated, as IG reads it.
    reads_request_entity: bool,
}

impl StaticResponseHandler {
    pub fn from_declaration<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<HeapObject, ConfigError> {
        let at = &declaration.config;
        let config: StaticResponseConfig = builder.decode(at)?;
        let status = http::StatusCode::from_u16(config.status).map_err(|_| {
            at.get("status")
                .unwrap_or_else(|| at.clone())
                .error(format!(
                    "{} is not an HTTP status code (100-999)",
                    config.status
                ))
        })?;
        let mut headers = Vec::new();
        if let Some(headers_at) = at.get("headers") {
            for name in config.headers.keys() {
                let Some(values_at) = headers_at.get(name) else {
                    continue;
                };
                let header = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    values_at.key_error(format!("\"{name}\" is not a valid header name"))
                })?;
                headers.push((header, header_templates(builder, &values_at)?));
            }
        }
        let entity = match (&config.entity, at.get("entity")) {
            (Some(serde_json::Value::String(_)), Some(entity_at)) => {
                Entity::Template(builder.expression(&entity_at)?)
            }
            (Some(serde_json::Value::Null) | None, _) => Entity::None,
            (Some(json), _) => Entity::Json(Bytes::from(json.to_string())),
        };
        if matches!(entity, Entity::Json(_))
            && !headers
                .iter()
                .any(|(name, _)| name == http::header::CONTENT_TYPE)
        {
            headers.push((
                http::header::CONTENT_TYPE,
                vec![
                    Expression::parse("application/json")
                        .map_err(|error| ConfigError::new(error.message))?,
                ],
            ));
        }
        let reads = |template: &Expression| {
            template.reads_path("request", "entity") || template.reads_path("request", "form")
        };
        let reads_request_entity = headers
            .iter()
            .flat_map(|(_, templates)| templates)
            .any(reads)
            || matches!(&entity, Entity::Template(template) if reads(template));
        Ok(HeapObject::Handler(Arc::new(StaticResponseHandler {
            status,
            headers,
            entity,
            reads_request_entity,
        })))
    }
}

pub(crate) fn header_templates(
    builder: &HeapBuilder<'_>,
    values_at: &Located<'_>,
) -> Result<Vec<Expression>, ConfigError> {
    match values_at.value {
        serde_json::Value::Array(items) => (0..items.len())
            .filter_map(|index| values_at.index(index))
            .map(|value| builder.expression(&value))
            .collect(),
        serde_json::Value::String(_) => Ok(vec![builder.expression(values_at)?]),
        _ => Err(values_at.error(format!(
            "header values must be a list of strings, e.g. [\"value\"] (at {})",
            pointer_push(&values_at.pointer, "0")
        ))),
    }
}

impl Handler for StaticResponseHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        if !self.reads_request_entity {
            return Box::pin(std::future::ready(self.respond(exchange)));
        }
        Box::pin(async move {
            match exchange.buffer_request_entity(DEFAULT_ENTITY_LIMIT).await {
                // A body too large to buffer leaves the templates a null entity, as for
                // route conditions.
                Ok(_) | Err(CollectError::TooLarge { .. }) => {}
                Err(error @ CollectError::Read(_)) => {
                    return Err(HandlerError::reading_request_body(&error));
                }
            }
            self.respond(exchange)
        })
    }
}

impl StaticResponseHandler {
    fn respond(&self, exchange: &Exchange) -> Result<Response, HandlerError> {
        let scope = exchange.scope();
        let body = match &self.entity {
            Entity::None => crate::http::empty_body(),
            Entity::Json(bytes) => full_body(bytes.clone()),
            Entity::Template(template) => match template.eval(&scope) {
                Value::Null => crate::http::empty_body(),
                value => full_body(value.to_string()),
            },
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = self.status;
        for (name, templates) in &self.headers {
            for template in templates {
                let value = template.eval(&scope);
                if matches!(value, Value::Null) {
                    continue;
                }
                let text = value.to_string();
                match http::HeaderValue::try_from(text.as_str()) {
                    Ok(header) => {
                        response.headers_mut().append(name.clone(), header);
                    }
                    Err(_) => tracing::warn!(
                        header = %name,
                        "StaticResponseHandler left out a header whose value is not valid in HTTP"
                    ),
                }
            }
        }
        Ok(response)
    }
}

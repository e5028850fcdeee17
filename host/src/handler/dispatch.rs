//! DispatchHandler: the first binding whose condition holds handles the request, after an
//! optional baseURI rebasing.

use std::sync::Arc;

use serde::Deserialize;

use super::{Handler, HandlerError, HandlerFuture};
use crate::config::ConfigError;
use crate::exchange::Exchange;
use crate::expr::Expression;
use crate::heap::{Declaration, HeapBuilder, HeapObject};
use crate::http::text_response;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct DispatchConfig {
    bindings: Vec<BindingConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct BindingConfig {
    /// Absent means the binding always matches.
    #[serde(default)]
    condition: Option<serde_json::Value>,
    handler: serde_json::Value,
    #[serde(default, rename = "baseURI")]
    base_uri: Option<String>,
}

pub struct DispatchBinding {
    pub condition: Option<Expression>,
    pub handler: Arc<dyn Handler>,
    pub base_uri: Option<http::Uri>,
}

pub struct DispatchHandler {
    bindings: Vec<DispatchBinding>,
}

impl DispatchHandler {
    pub fn from_declaration<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<HeapObject, ConfigError> {
        let at = &declaration.config;
        let config: DispatchConfig = builder.decode(at)?;
        let bindings_at = at
            .get("bindings")
            .ok_or_else(|| at.error("a DispatchHandler needs \"bindings\""))?;
        let mut bindings = Vec::with_capacity(config.bindings.len());
        for index in 0..config.bindings.len() {
            let Some(binding_at) = bindings_at.index(index) else {
                continue;
            };
            let condition = match binding_at.get("condition") {
                Some(condition) => Some(builder.expression(&condition)?),
                None => None,
            };
            let handler_at = binding_at
                .get("handler")
                .ok_or_else(|| binding_at.error("a binding needs a \"handler\""))?;
            let handler = builder.resolve_handler(&handler_at)?;
            let base_uri = match binding_at.get("baseURI") {
                Some(base_at) => Some(
                    crate::http::uri::parse_base(&builder.config_string(&base_at)?)
                        .map_err(|reason| base_at.error(reason))?,
                ),
                None => None,
            };
            bindings.push(DispatchBinding {
                condition,
                handler,
                base_uri,
            });
        }
        Ok(HeapObject::Handler(Arc::new(DispatchHandler { bindings })))
    }
}

impl Handler for DispatchHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        Box::pin(async move {
            let chosen = self.bindings.iter().find(|binding| {
                binding
                    .condition
                    .as_ref()
                    .is_none_or(|condition| condition.eval_condition(&exchange.scope()))
            });
            let Some(binding) = chosen else {
                return Ok(text_response(http::StatusCode::NOT_FOUND, "Not Found"));
            };
            if let Some(base) = &binding.base_uri {
                crate::http::uri::rebase_in_place(exchange.request.uri_mut(), base).map_err(
                    |error| HandlerError::Internal(format!("baseURI rebasing failed: {error}")),
                )?;
            }
            binding.handler.handle(exchange).await
        })
    }
}

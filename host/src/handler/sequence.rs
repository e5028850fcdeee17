//! SequenceHandler: calls handlers in turn; after each but the last, a postcondition on its
//! response decides whether to go on.

use std::sync::Arc;

use serde::Deserialize;

use super::{Handler, HandlerError, HandlerFuture};
use crate::config::ConfigError;
use crate::exchange::{DEFAULT_ENTITY_LIMIT, Exchange, ExchangeScope};
use crate::expr::Expression;
use crate::heap::{Declaration, HeapBuilder, HeapObject};
use crate::http::RequestExt;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SequenceConfig {
    bindings: Vec<BindingConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct BindingConfig {
    handler: serde_json::Value,
    #[serde(default)]
    postcondition: Option<serde_json::Value>,
}

pub struct SequenceBinding {
    pub handler: Arc<dyn Handler>,
    pub postcondition: Option<Expression>,
}

pub struct SequenceHandler {
    bindings: Vec<SequenceBinding>,
}

impl SequenceHandler {
    pub fn from_declaration<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<HeapObject, ConfigError> {
        let at = &declaration.config;
        let config: SequenceConfig = builder.decode(at)?;
        let bindings_at = at
            .get("bindings")
            .ok_or_else(|| at.error("a SequenceHandler needs \"bindings\""))?;
        if config.bindings.is_empty() {
            return Err(bindings_at.error("a SequenceHandler needs at least one binding"));
        }
        let mut bindings = Vec::with_capacity(config.bindings.len());
        for index in 0..config.bindings.len() {
            let Some(binding_at) = bindings_at.index(index) else {
                continue;
            };
            let handler_at = binding_at
                .get("handler")
                .ok_or_else(|| binding_at.error("a binding needs a \"handler\""))?;
            let handler = builder.resolve_handler(&handler_at)?;
            let postcondition = match binding_at.get("postcondition") {
                Some(condition) => Some(builder.expression(&condition)?),
                None => None,
            };
            bindings.push(SequenceBinding {
                handler,
                postcondition,
            });
        }
        Ok(HeapObject::Handler(Arc::new(SequenceHandler { bindings })))
    }
}

impl Handler for SequenceHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        Box::pin(async move {
            // Every handler gets the same request, so its body must be replayable.
            if self.bindings.len() > 1 {
                exchange
                    .buffer_request_entity(DEFAULT_ENTITY_LIMIT)
                    .await
                    .map_err(|error| HandlerError::reading_request_body(&error))?;
            }
            let original = exchange.request.clone_without_body();
            let entity = exchange.request_entity.clone();
            let last = self.bindings.len() - 1;
            for (index, binding) in self.bindings.iter().enumerate() {
                if index > 0 {
                    exchange.request = original.clone_without_body();
                    if let Some(entity) = entity.clone() {
                        exchange.set_request_entity(entity);
                    }
                }
                let response = binding.handler.handle(exchange).await?;
                if index == last {
                    return Ok(response);
                }
                let proceed = binding.postcondition.as_ref().is_none_or(|condition| {
                    condition.eval_condition(&ExchangeScope::new(exchange, Some(&response)))
                });
                if !proceed {
                    return Ok(response);
                }
            }
            Err(HandlerError::Internal(
                "a SequenceHandler has no bindings".to_owned(),
            ))
        })
    }
}

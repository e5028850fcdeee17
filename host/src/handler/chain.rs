//! Chain (filters then a handler) and ChainOfFilters (filters composed into one filter).

use std::sync::Arc;

use serde::Deserialize;

use super::{Filter, Handler, HandlerFuture, Next};
use crate::config::{ConfigError, Located};
use crate::exchange::Exchange;
use crate::heap::{Declaration, HeapBuilder, HeapObject};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ChainConfig {
    /// Filters applied in order to the request, and in reverse to the response.
    #[serde(default)]
    filters: Vec<serde_json::Value>,
    /// The handler at the end of the chain.
    handler: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ChainOfFiltersConfig {
    #[serde(default)]
    filters: Vec<serde_json::Value>,
}

pub struct Chain {
    filters: Vec<Arc<dyn Filter>>,
    handler: Arc<dyn Handler>,
}

impl Chain {
    pub fn new(filters: Vec<Arc<dyn Filter>>, handler: Arc<dyn Handler>) -> Self {
        Chain { filters, handler }
    }

    pub fn from_declaration<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<HeapObject, ConfigError> {
        let at = &declaration.config;
        builder.decode::<ChainConfig>(at)?;
        let filters = resolve_filters(builder, at)?;
        let handler_at = at
            .get("handler")
            .ok_or_else(|| at.error("a Chain needs a \"handler\""))?;
        let handler = builder.resolve_handler(&handler_at)?;
        Ok(HeapObject::Handler(Arc::new(Chain { filters, handler })))
    }
}

pub(crate) fn resolve_filters<'d>(
    builder: &mut HeapBuilder<'d>,
    at: &Located<'d>,
) -> Result<Vec<Arc<dyn Filter>>, ConfigError> {
    let Some(filters_at) = at.get("filters") else {
        return Ok(Vec::new());
    };
    let count = filters_at.value.as_array().map_or(0, Vec::len);
    let filters = (0..count)
        .filter_map(|index| filters_at.index(index))
        .map(|filter| builder.resolve_filter(&filter))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::plugin::run::fuse(filters))
}

impl Handler for Chain {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        Next::new(&self.filters, self.handler.as_ref()).handle(exchange)
    }
}

pub struct ChainOfFilters {
    filters: Vec<Arc<dyn Filter>>,
}

impl ChainOfFilters {
    pub fn new(filters: Vec<Arc<dyn Filter>>) -> Self {
        ChainOfFilters { filters }
    }

    pub fn from_declaration<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<HeapObject, ConfigError> {
        let at = &declaration.config;
        builder.decode::<ChainOfFiltersConfig>(at)?;
        let filters = resolve_filters(builder, at)?;
        Ok(HeapObject::Filter(Arc::new(ChainOfFilters { filters })))
    }
}

impl Filter for ChainOfFilters {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move { next.prepend(&self.filters).handle(exchange).await })
    }
}

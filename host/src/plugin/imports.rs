//! The host side of every import of the WIT contract.

use bytes::Bytes;
use wasmtime::component::Resource;

use super::bindings::imports::{
    client, config, counters, exchange, expressions, heap, http as messages, log, metrics,
};
use super::bindings::{ExpressionRes, HandlerRefRes, RequestRes, ResponseRes};
use super::state::{HostRequest, Phases, StoreState};
use crate::expr::{Expression, Value};
use crate::http::header_edits::HeaderEdits;
use crate::http::{Buffered, buffer_up_to, full_body};

type R<T> = wasmtime::Result<T>;

fn no_exchange() -> wasmtime::Error {
    wasmtime::format_err!("a message handle was used outside the call that handed it over")
}

impl StoreState {
    fn exchange_mut(&mut self) -> R<&mut crate::exchange::Exchange> {
        self.current_mut().ok_or_else(no_exchange)
    }
    fn response_mut(&mut self, handle: &Resource<ResponseRes>) -> R<&mut crate::http::Response> {
        Ok(&mut self.table.get_mut(handle)?.0)
    }
}

fn header_values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect()
}

fn header_names(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .collect()
}

// Values arrive as strings lifted out of the guest's memory; a header value made from the
// string keeps its allocation rather than copying it.
fn set_header(
    headers: &mut http::HeaderMap,
    name: &str,
    values: Vec<String>,
) -> Result<(), String> {
    let name = http::HeaderName::try_from(name).map_err(|error| error.to_string())?;
    let values = values
        .into_iter()
        .map(|value| http::HeaderValue::try_from(value).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    headers.remove(&name);
    for value in values {
        headers.append(name.clone(), value);
    }
    Ok(())
}

fn append_header(headers: &mut http::HeaderMap, name: &str, value: String) -> Result<(), String> {
    let name = http::HeaderName::try_from(name).map_err(|error| error.to_string())?;
    let value = http::HeaderValue::try_from(value).map_err(|error| error.to_string())?;
    headers.append(name, value);
    Ok(())
}

/// The host's own cap on bodies a plugin reads.
const BODY_CAP: u64 = 16 << 20;

impl messages::Host for StoreState {}

impl messages::HostRequest for StoreState {
    fn method(&mut self, _: Resource<RequestRes>) -> R<String> {
        Ok(self.exchange_mut()?.request.method().as_str().to_owned())
    }
    fn set_method(&mut self, _: Resource<RequestRes>, method: String) -> R<Result<(), String>> {
        let exchange = self.exchange_mut()?;
        Ok(match http::Method::from_bytes(method.as_bytes()) {
            Ok(method) => {
                *exchange.request.method_mut() = method;
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        })
    }
    fn uri(&mut self, _: Resource<RequestRes>) -> R<String> {
        Ok(self.exchange_mut()?.request.uri().to_string())
    }
    fn set_uri(&mut self, _: Resource<RequestRes>, uri: String) -> R<Result<(), String>> {
        let exchange = self.exchange_mut()?;
        Ok(match http::Uri::try_from(uri) {
            Ok(uri) => {
                *exchange.request.uri_mut() = uri;
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        })
    }
    fn rebase(&mut self, _: Resource<RequestRes>, base: String) -> R<Result<(), String>> {
        let request = &mut self.exchange_mut()?.request;
        Ok(crate::http::uri::parse_base(&base)
            .and_then(|base| crate::http::uri::rebase_in_place(request.uri_mut(), &base)))
    }
    fn header(&mut self, _: Resource<RequestRes>, name: String) -> R<Vec<String>> {
        Ok(header_values(self.exchange_mut()?.request.headers(), &name))
    }
    fn header_names(&mut self, _: Resource<RequestRes>) -> R<Vec<String>> {
        Ok(header_names(self.exchange_mut()?.request.headers()))
    }
    fn set_header(
        &mut self,
        _: Resource<RequestRes>,
        name: String,
        values: Vec<String>,
    ) -> R<Result<(), String>> {
        Ok(set_header(
            self.exchange_mut()?.request.headers_mut(),
            &name,
            values,
        ))
    }
    fn append_header(
        &mut self,
        _: Resource<RequestRes>,
        name: String,
        value: String,
    ) -> R<Result<(), String>> {
        Ok(append_header(
            self.exchange_mut()?.request.headers_mut(),
            &name,
            value,
        ))
    }
    fn remove_header(&mut self, _: Resource<RequestRes>, name: String) -> R<()> {
        self.exchange_mut()?
            .request
            .headers_mut()
            .remove(name.as_str());
        Ok(())
    }
    async fn body(&mut self, _: Resource<RequestRes>, limit: u64) -> R<Result<Vec<u8>, String>> {
        let limit = limit.min(BODY_CAP) as usize;
        let body = match self.exchange_mut()?.buffer_request_entity(limit).await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(error) => Err(error.to_string()),
        };
        Ok(body)
    }
    fn set_body(&mut self, _: Resource<RequestRes>, body: Vec<u8>) -> R<()> {
        self.exchange_mut()?.set_request_entity(Bytes::from(body));
        Ok(())
    }
    fn drop(&mut self, handle: Resource<RequestRes>) -> R<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl messages::HostResponse for StoreState {
    fn new(&mut self, status: u16) -> R<Resource<ResponseRes>> {
        let mut response = http::Response::new(crate::http::empty_body());
        *response.status_mut() =
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        Ok(self.table.push(ResponseRes(response))?)
    }
    fn status(&mut self, handle: Resource<ResponseRes>) -> R<u16> {
        Ok(self.response_mut(&handle)?.status().as_u16())
    }
    fn set_status(&mut self, handle: Resource<ResponseRes>, status: u16) -> R<Result<(), String>> {
        let response = self.response_mut(&handle)?;
        Ok(match http::StatusCode::from_u16(status) {
            Ok(status) => {
                *response.status_mut() = status;
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        })
    }
    fn header(&mut self, handle: Resource<ResponseRes>, name: String) -> R<Vec<String>> {
        Ok(header_values(self.response_mut(&handle)?.headers(), &name))
    }
    fn header_names(&mut self, handle: Resource<ResponseRes>) -> R<Vec<String>> {
        Ok(header_names(self.response_mut(&handle)?.headers()))
    }
    fn set_header(
        &mut self,
        handle: Resource<ResponseRes>,
        name: String,
        values: Vec<String>,
    ) -> R<Result<(), String>> {
        Ok(set_header(
            self.response_mut(&handle)?.headers_mut(),
            &name,
            values,
        ))
    }
    fn append_header(
        &mut self,
        handle: Resource<ResponseRes>,
        name: String,
        value: String,
    ) -> R<Result<(), String>> {
        Ok(append_header(
            self.response_mut(&handle)?.headers_mut(),
            &name,
            value,
        ))
    }
    fn remove_header(&mut self, handle: Resource<ResponseRes>, name: String) -> R<()> {
        self.response_mut(&handle)?
            .headers_mut()
            .remove(name.as_str());
        Ok(())
    }
    async fn body(
        &mut self,
        handle: Resource<ResponseRes>,
        limit: u64,
    ) -> R<Result<Vec<u8>, String>> {
        let limit = limit.min(BODY_CAP) as usize;
        let response = self.response_mut(&handle)?;
        let body = std::mem::replace(response.body_mut(), crate::http::empty_body());
        let buffered = buffer_up_to(body, limit).await;
        let response = self.response_mut(&handle)?;
        Ok(match buffered {
            Ok(Buffered::Complete(bytes)) => {
                *response.body_mut() = full_body(bytes.clone());
                Ok(bytes.to_vec())
            }
            Ok(Buffered::TooLarge(body)) => {
                *response.body_mut() = body;
                Err(format!("the body is larger than {limit} bytes"))
            }
            Err(error) => Err(error.to_string()),
        })
    }
    fn set_body(&mut self, handle: Resource<ResponseRes>, body: Vec<u8>) -> R<()> {
        let response = self.response_mut(&handle)?;
        response.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from(body.len()),
        );
        response
            .headers_mut()
            .remove(http::header::TRANSFER_ENCODING);
        *response.body_mut() = full_body(body);
        Ok(())
    }
    fn drop(&mut self, handle: Resource<ResponseRes>) -> R<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl log::Host for StoreState {
    fn log(&mut self, level: log::Level, message: String) -> R<()> {
        // A record the level filter drops costs the plugin none of its budget.
        if !self.enabled(level)? || !super::log_budget::admit(&self.object) {
            return Ok(());
        }
        let object = &self.object;
        let route = object.route.as_deref().unwrap_or("");
        let transaction = self
            .current()
            .map(|exchange| exchange.transaction_id.as_str().to_owned())
            .unwrap_or_default();
        let (message, left_out) = super::log_budget::bounded(object, &message);
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(plugin_type = %object.type_name, object = %object.object_name, route, transaction, left_out, "{message}")
            };
        }
        match level {
            log::Level::Trace => emit!(trace),
            log::Level::Debug => emit!(debug),
            log::Level::Info => emit!(info),
            log::Level::Warn => emit!(warn),
            log::Level::Error => emit!(error),
        }
        Ok(())
    }
    fn enabled(&mut self, level: log::Level) -> R<bool> {
        Ok(match level {
            log::Level::Trace => tracing::enabled!(tracing::Level::TRACE),
            log::Level::Debug => tracing::enabled!(tracing::Level::DEBUG),
            log::Level::Info => tracing::enabled!(tracing::Level::INFO),
            log::Level::Warn => tracing::enabled!(tracing::Level::WARN),
            log::Level::Error => tracing::enabled!(tracing::Level::ERROR),
        })
    }
}

impl config::Host for StoreState {
    fn phases(&mut self, request: bool, response: bool) -> R<()> {
        self.declared.phases = Some(Phases { request, response });
        Ok(())
    }

    fn rebase_requests(&mut self, base: String) -> R<Result<(), String>> {
        if self.in_call {
            return Ok(Err(
                "config.rebase-requests is a declaration: call it during init".to_owned(),
            ));
        }
        if let Some(HostRequest::EditHeaders(_)) = self.declared.request {
            return Ok(Err(
                "config.rebase-requests: the request phase is already declared \
                 a header edit (config.edit-headers), and it can be only one of the two"
                    .to_owned(),
            ));
        }
        Ok(crate::http::uri::parse_base(&base)
            .map(|base| self.declared.request = Some(HostRequest::Rebase(base))))
    }

    fn edit_headers(
        &mut self,
        message: config::MessageType,
        edits: config::HeaderEdits,
    ) -> R<Result<(), String>> {
        if self.in_call {
            return Ok(Err(
                "config.edit-headers is a declaration: call it during init".to_owned(),
            ));
        }
        let edits = match HeaderEdits::parse(edits.remove, edits.append) {
            Ok(edits) => edits,
            Err(error) => return Ok(Err(format!("config.edit-headers: {error}"))),
        };
        match message {
            config::MessageType::Request => {
                if let Some(HostRequest::Rebase(_)) = self.declared.request {
                    return Ok(Err("config.edit-headers: the request phase is already \
                         declared a rebase (config.rebase-requests), and it can be only one \
                         of the two"
                        .to_owned()));
                }
                self.declared.request = Some(HostRequest::EditHeaders(edits));
            }
            config::MessageType::Response => self.declared.response = Some(edits),
        }
        Ok(Ok(()))
    }

    fn enter(&mut self, object: u32) -> R<()> {
        if self.act_for(object) {
            return Ok(());
        }
        // A broken contract, not a request error: the instance's state is unknown.
        Err(wasmtime::format_err!(
            "config.enter({object}): this instance serves {} object(s)",
            self.objects.len().max(1)
        ))
    }

    fn decorated_at(&mut self) -> R<Option<config::DecorationPoint>> {
        Ok(self.object.decoration_point)
    }

    fn parse_duration(&mut self, text: String) -> R<Result<Option<u64>, String>> {
        Ok(duration_millis(&text))
    }
    fn type_name(&mut self) -> R<String> {
        Ok(self.object.type_name.clone())
    }
    fn object_name(&mut self) -> R<String> {
        Ok(self.object.object_name.clone())
    }
    fn get(&mut self) -> R<String> {
        Ok(self.object.config.clone())
    }
    fn declaration(&mut self) -> R<String> {
        Ok(self.object.declaration.clone())
    }
    fn secret(&mut self, id: String) -> R<Result<Vec<u8>, String>> {
        if !self.object.secrets.contains(&id) {
            return Ok(Err(format!(
                "secret \"{id}\" is not granted: name it as the value of a key \"secretId\" or ending in \"SecretId\" in the object's config"
            )));
        }
        let Some(provider) = &self.object.secrets_provider else {
            return Ok(Err("no secretsProvider is available to this object".into()));
        };
        Ok(match provider.get(&id) {
            Ok(Some(secret)) => Ok(secret.expose().to_vec()),
            Ok(None) => Err(format!("secret \"{id}\" was not found")),
            Err(error) => Err(error.to_string()),
        })
    }
}

fn duration_millis(text: &str) -> Result<Option<u64>, String> {
    use crate::config::duration::IgDuration;
    Ok(match text.parse::<IgDuration>()? {
        IgDuration::Finite(duration) => {
            Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
        }
        IgDuration::Unlimited => None,
        IgDuration::Disabled => Some(0),
    })
}

fn parse_json(json: &str) -> Result<Value, String> {
    serde_json::from_str::<serde_json::Value>(json)
        .map(|value| Value::from_json(&value))
        .map_err(|error| format!("invalid JSON: {error}"))
}

impl exchange::Host for StoreState {
    fn attribute(&mut self, name: String) -> R<Option<String>> {
        Ok(self
            .exchange_mut()?
            .attributes
            .get(&name)
            .map(|value| value.to_json().to_string()))
    }
    fn set_attribute(&mut self, name: String, json: String) -> R<Result<(), String>> {
        let exchange = self.exchange_mut()?;
        Ok(parse_json(&json).map(|value| {
            exchange.attributes.insert(name, value);
        }))
    }
    fn session_value(&mut self, name: String) -> R<Option<String>> {
        Ok(self
            .exchange_mut()?
            .session
            .values
            .get(&name)
            .map(|value| value.to_json().to_string()))
    }
    fn set_session_value(&mut self, name: String, json: String) -> R<Result<(), String>> {
        let exchange = self.exchange_mut()?;
        Ok(parse_json(&json).map(|value| {
            exchange.session.values.insert(name, value);
            exchange.session.changed = true;
        }))
    }
    fn client_address(&mut self) -> R<String> {
        Ok(self.exchange_mut()?.client.remote_ip().to_string())
    }
    fn transaction_id(&mut self) -> R<String> {
        Ok(self.exchange_mut()?.transaction_id.as_str().to_owned())
    }
    fn set_context(&mut self, name: String, json: String) -> R<Result<(), String>> {
        if BUILT_IN_CONTEXTS.contains(&name.as_str()) {
            return Ok(Err(format!(
                "contexts.{name} is built in and cannot be replaced"
            )));
        }
        let exchange = self.exchange_mut()?;
        Ok(parse_json(&json).map(|value| {
            exchange.contexts.insert(name, value);
        }))
    }

    /// During a request: the innermost route it passed; during `init`: the route that
    /// declares the object (none for config.json's heap).
    fn route_name(&mut self) -> R<Option<String>> {
        let routed = self
            .current()
            .and_then(|exchange| exchange.routing.route_names.last())
            .map(|name| name.to_string());
        Ok(routed.or_else(|| self.object.route.clone()))
    }
}

/// Contexts the gateway itself provides: a plugin cannot replace them.
const BUILT_IN_CONTEXTS: &[&str] = &["client", "router", "transactionId", "attributes"];

impl expressions::Host for StoreState {
    fn compile(&mut self, source: String) -> R<Result<Resource<ExpressionRes>, String>> {
        match Expression::parse(&source) {
            Ok(expression) => Ok(Ok(self.table.push(ExpressionRes(expression))?)),
            Err(error) => Ok(Err(format!("column {}: {}", error.column(), error.message))),
        }
    }
}

impl expressions::HostExpression for StoreState {
    fn evaluate(&mut self, handle: Resource<ExpressionRes>) -> R<String> {
        let expression = &self.table.get(&handle)?.0;
        let exchange = self.current().ok_or_else(no_exchange)?;
        Ok(expression.eval(&exchange.scope()).to_json().to_string())
    }
    fn evaluate_condition(&mut self, handle: Resource<ExpressionRes>) -> R<bool> {
        let expression = &self.table.get(&handle)?.0;
        let exchange = self.current().ok_or_else(no_exchange)?;
        Ok(expression.eval_condition(&exchange.scope()))
    }
    fn evaluate_string(&mut self, handle: Resource<ExpressionRes>) -> R<Option<String>> {
        let expression = &self.table.get(&handle)?.0;
        let exchange = self.current().ok_or_else(no_exchange)?;
        let value = expression.eval(&exchange.scope());
        Ok((!value.is_null()).then(|| value.to_el_string().into_owned()))
    }
    fn assign(&mut self, handle: Resource<ExpressionRes>, json: String) -> R<Result<(), String>> {
        let value = match parse_json(&json) {
            Ok(value) => value,
            Err(error) => return Ok(Err(error)),
        };
        let expression = &self.table.get(&handle)?.0;
        if !self.in_call {
            return Err(no_exchange());
        }
        Ok(expression
            .assign(&mut self.exchange.scope_mut(), value)
            .map_err(|error| error.to_string()))
    }
    fn drop(&mut self, handle: Resource<ExpressionRes>) -> R<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl heap::Host for StoreState {
    fn resolve_filter(&mut self, reference: String) -> R<Result<u32, String>> {
        Ok(self.resolve_filter_ref(reference))
    }

    fn resolve_handler(&mut self, reference: String) -> R<Result<Resource<HandlerRefRes>, String>> {
        if self.in_call {
            return Ok(Err(
                "heap.resolve-handler is only available during init".into()
            ));
        }
        let index = self.refs_asked;
        self.refs_asked += 1;
        if let Some(pending) = &mut self.pending_refs {
            pending.handlers.push(reference);
        } else if self
            .object
            .handlers
            .get()
            .is_none_or(|handlers| index >= handlers.len())
        {
            return Ok(Err(format!(
                "handler reference {reference} was not asked for when the object was built"
            )));
        }
        Ok(Ok(self.table.push(HandlerRefRes(index))?))
    }
}

impl StoreState {
    fn resolve_filter_ref(&mut self, reference: String) -> Result<u32, String> {
        if self.in_call {
            return Err("heap.resolve-filter is only available during init".into());
        }
        let index = self.filter_refs_asked;
        self.filter_refs_asked += 1;
        if let Some(pending) = &mut self.pending_refs {
            pending.filters.push(reference);
        } else if self
            .object
            .filters
            .get()
            .is_none_or(|filters| index >= filters.len())
        {
            return Err(format!(
                "filter reference {reference} was not asked for when the object was built"
            ));
        }
        u32::try_from(index).map_err(|_| "too many filter references".to_owned())
    }
}

impl heap::HostHandlerRef for StoreState {
    async fn call(
        &mut self,
        handle: Resource<HandlerRefRes>,
    ) -> R<Result<Resource<ResponseRes>, String>> {
        let index = self.table.get(&handle)?.0;
        let Some(handler) = self
            .object
            .handlers
            .get()
            .and_then(|handlers| handlers.get(index))
            .cloned()
        else {
            return Ok(Err("the handler reference is not resolved".into()));
        };
        let exchange = self.current_mut().ok_or_else(no_exchange)?;
        let handled = handler.handle(exchange).await;
        match handled {
            Ok(response) => Ok(Ok(self.table.push(ResponseRes(response))?)),
            Err(error) => Ok(Err(error.to_string())),
        }
    }
    fn drop(&mut self, handle: Resource<HandlerRefRes>) -> R<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl client::Host for StoreState {
    async fn send_through(
        &mut self,
        handle: Resource<HandlerRefRes>,
        request: messages::OutgoingRequest,
    ) -> R<Result<Resource<ResponseRes>, String>> {
        let index = self.table.get(&handle)?.0;
        let handler = self
            .object
            .handlers
            .get()
            .and_then(|handlers| handlers.get(index))
            .cloned();
        if handler.is_none() {
            return Ok(Err("the handler reference is not resolved".into()));
        }
        let current = self
            .current()
            .map(|exchange| (exchange.client.clone(), exchange.transaction_id.clone()));
        let sent = super::shared::send(handler, current, request).await;
        match sent {
            Ok(response) => Ok(Ok(self.table.push(ResponseRes(response))?)),
            Err(error) => Ok(Err(error)),
        }
    }

    async fn send(
        &mut self,
        request: messages::OutgoingRequest,
    ) -> R<Result<Resource<ResponseRes>, String>> {
        let current = self
            .current()
            .map(|exchange| (exchange.client.clone(), exchange.transaction_id.clone()));
        let sent = super::shared::send(self.object.client.clone(), current, request).await;
        match sent {
            Ok(response) => Ok(Ok(self.table.push(ResponseRes(response))?)),
            Err(error) => Ok(Err(error)),
        }
    }
}

impl counters::Host for StoreState {
    fn increment(&mut self, key: String, delta: u64, window_ms: u64) -> R<counters::WindowCount> {
        let (value, remaining_ms) = super::shared::increment(&key, delta, window_ms);
        Ok(counters::WindowCount {
            value,
            remaining_ms,
        })
    }

    fn try_increment(
        &mut self,
        key: String,
        delta: u64,
        limit: u64,
        window_ms: u64,
    ) -> R<Result<counters::WindowCount, counters::WindowCount>> {
        let count = |(value, remaining_ms)| counters::WindowCount {
            value,
            remaining_ms,
        };
        Ok(super::shared::try_increment(&key, delta, limit, window_ms)
            .map(count)
            .map_err(count))
    }
}

impl metrics::Host for StoreState {
    fn counter_add(&mut self, name: String, value: u64) -> R<()> {
        if let Err(refused) = super::shared::plugin_counter_add(&name, &self.object, value)
            && super::log_budget::admit(&self.object)
        {
            super::state::object_event!(warn, &self.object, "plugin metric refused: {refused}");
        }
        Ok(())
    }
}

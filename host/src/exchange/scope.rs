//! The expression bindings of a request: `request`, `response`, `attributes`, `session`,
//! `contexts`, `env`, `system`, `now`, and the route's properties by name.
//!
//! Lookups resolve as deep into the path as the live message allows and materialise only the
//! value reached, so a condition such as `${request.uri.path == '/x'}` copies one string, not
//! the whole request.

use std::sync::Arc;

use indexmap::IndexMap;
use percent_encoding::percent_decode_str;

use super::Exchange;
use crate::expr::{EvalError, Scope, Value};
use crate::heap::Properties;
use crate::http::Response;

/// Read-only bindings; `response` is present in response-phase evaluation.
pub struct ExchangeScope<'a> {
    exchange: &'a Exchange,
    response: Option<&'a Response>,
    properties: Option<&'a Properties>,
}

impl<'a> ExchangeScope<'a> {
    pub fn new(exchange: &'a Exchange, response: Option<&'a Response>) -> Self {
        ExchangeScope {
            exchange,
            response,
            properties: exchange.properties.as_deref(),
        }
    }

    /// Bindings that see `properties` by name: a route's condition is evaluated before the
    /// route has taken the request, so the exchange does not carry them yet.
    pub fn with_properties(
        exchange: &'a Exchange,
        response: Option<&'a Response>,
        properties: &'a Properties,
    ) -> Self {
        ExchangeScope {
            exchange,
            response,
            properties: Some(properties),
        }
    }
}

impl Scope for ExchangeScope<'_> {
    fn lookup(&self, root: &str, path: &[Value]) -> Option<(Value, usize)> {
        lookup(self.exchange, self.response, self.properties, root, path)
    }

    fn assign(&mut self, root: &str, _path: &[Value], _value: Value) -> Result<(), EvalError> {
        Err(not_assignable(format!(
            "`{root}` cannot be written in a read-only evaluation"
        )))
    }
}

/// Bindings that write through left-values such as `${attributes.user}` or
/// `${request.headers['X-Forwarded-User']}`.
pub struct ExchangeScopeMut<'a> {
    exchange: &'a mut Exchange,
}

impl<'a> ExchangeScopeMut<'a> {
    pub fn new(exchange: &'a mut Exchange) -> Self {
        ExchangeScopeMut { exchange }
    }
}

impl Scope for ExchangeScopeMut<'_> {
    fn lookup(&self, root: &str, path: &[Value]) -> Option<(Value, usize)> {
        let properties = self.exchange.properties.as_deref();
        lookup(self.exchange, None, properties, root, path)
    }

    fn assign(&mut self, root: &str, path: &[Value], value: Value) -> Result<(), EvalError> {
        assign(self.exchange, root, path, value)
    }
}

pub(crate) fn not_assignable(message: String) -> EvalError {
    EvalError::NotAssignable(message)
}

fn key(path: &[Value], index: usize) -> Option<std::borrow::Cow<'_, str>> {
    match path.get(index)? {
        Value::Str(text) => Some(std::borrow::Cow::Borrowed(text)),
        other => Some(std::borrow::Cow::Owned(other.to_string())),
    }
}

/// The roots an expression reads the exchange through: an expression naming one can only be
/// evaluated per request. (`now` can be read at either time, so it is not one of them.)
pub const REQUEST_TIME_ROOTS: &[&str] =
    &["request", "response", "attributes", "session", "contexts"];

fn lookup(
    exchange: &Exchange,
    response: Option<&Response>,
    properties: Option<&Properties>,
    root: &str,
    path: &[Value],
) -> Option<(Value, usize)> {
    match root {
        "request" => Some(request_lookup(exchange, path)),
        "response" => Some(match response {
            Some(response) => response_lookup(response, path),
            None => (Value::Null, path.len()),
        }),
        "attributes" => Some(map_lookup(&exchange.attributes, path)),
        "session" => Some(map_lookup(&exchange.session.values, path)),
        "contexts" => Some(contexts_lookup(exchange, path)),
        "env" => Some(env_lookup(path)),
        "system" => Some(system_lookup(path)),
        "now" => Some((now_value(), 0)),
        _ => properties
            .and_then(|properties| properties.get(root))
            .map(|value| (value.clone(), 0)),
    }
}

fn map_lookup(map: &IndexMap<String, Value>, path: &[Value]) -> (Value, usize) {
    match key(path, 0) {
        Some(name) => (map.get(name.as_ref()).cloned().unwrap_or(Value::Null), 1),
        None => (Value::Map(Arc::new(map.clone())), 0),
    }
}

fn request_lookup(exchange: &Exchange, path: &[Value]) -> (Value, usize) {
    let request = &exchange.request;
    let Some(first) = key(path, 0) else {
        return (request_summary(exchange), 0);
    };
    match first.as_ref() {
        "method" => (Value::from(request.method().as_str()), 1),
        "version" => (Value::from(format!("{:?}", request.version())), 1),
        "uri" => uri_lookup(request.uri(), &path[1..], 1),
        "headers" => headers_lookup(request.headers(), &path[1..], 1),
        "cookies" => cookies_lookup(request.headers(), &path[1..], 1),
        "form" => form_lookup(exchange, &path[1..], 1),
        "entity" => entity_lookup(
            exchange.request_entity.as_deref(),
            request.headers(),
            &path[1..],
            1,
        ),
        _ => (Value::Null, path.len()),
    }
}

fn response_lookup(response: &Response, path: &[Value]) -> (Value, usize) {
    let Some(first) = key(path, 0) else {
        return (
            Value::Map(Arc::new(IndexMap::from([(
                "status".to_owned(),
                status_value(response.status()),
            )]))),
            0,
        );
    };
    match first.as_ref() {
        "status" => (status_value(response.status()), 1),
        "headers" => headers_lookup(response.headers(), &path[1..], 1),
        "version" => (Value::from(format!("{:?}", response.version())), 1),
        "entity" => {
            let buffered = response.extensions().get::<BufferedEntity>();
            entity_lookup(
                buffered.map(|entity| entity.0.as_ref()),
                response.headers(),
                &path[1..],
                1,
            )
        }
        _ => (Value::Null, path.len()),
    }
}

/// Marks a response whose body has been buffered, so response-phase expressions can read
/// `response.entity`.
#[derive(Clone)]
pub struct BufferedEntity(pub bytes::Bytes);

fn status_value(status: http::StatusCode) -> Value {
    Value::Map(Arc::new(IndexMap::from([
        ("code".to_owned(), Value::Int(i64::from(status.as_u16()))),
        (
            "reasonPhrase".to_owned(),
            Value::from(status.canonical_reason().unwrap_or("")),
        ),
        (
            "family".to_owned(),
            Value::from(crate::http::status_family(status)),
        ),
    ])))
}

fn uri_lookup(uri: &http::Uri, rest: &[Value], consumed: usize) -> (Value, usize) {
    let Some(part) = key(rest, 0) else {
        return (Value::from(uri.to_string()), consumed);
    };
    let value = match part.as_ref() {
        "scheme" => uri.scheme_str().map(Value::from).unwrap_or(Value::Null),
        "host" => uri.host().map(Value::from).unwrap_or(Value::Null),
        "port" => Value::Int(i64::from(uri.port_u16().unwrap_or_else(|| {
            if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
                443
            } else {
                80
            }
        }))),
        "authority" | "rawAuthority" => uri
            .authority()
            .map(|authority| Value::from(authority.as_str()))
            .unwrap_or(Value::Null),
        "path" => Value::from(decode_percent(uri.path())),
        "rawPath" => Value::from(uri.path()),
        "query" => uri
            .query()
            .map(|query| Value::from(decode_percent(query)))
            .unwrap_or(Value::Null),
        "rawQuery" => uri.query().map(Value::from).unwrap_or(Value::Null),
        "pathAndQuery" => uri
            .path_and_query()
            .map(|pq| Value::from(pq.as_str()))
            .unwrap_or(Value::Null),
        "userInfo" | "rawUserInfo" | "fragment" | "rawFragment" => Value::Null,
        _ => return (Value::Null, consumed + rest.len()),
    };
    (value, consumed + 1)
}

fn decode_percent(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn headers_lookup(headers: &http::HeaderMap, rest: &[Value], consumed: usize) -> (Value, usize) {
    let Some(name) = key(rest, 0) else {
        let mut map = IndexMap::new();
        for name in headers.keys() {
            map.insert(
                canonical_header_name(name.as_str()),
                header_values(headers, name.as_str()),
            );
        }
        return (Value::Map(Arc::new(map)), consumed);
    };
    (header_values(headers, &name), consumed + 1)
}

/// IG exposes headers as lists of values; a missing header reads as null so that
/// `${empty request.headers['X']}` is true.
fn header_values(headers: &http::HeaderMap, name: &str) -> Value {
    let values: Vec<Value> = headers
        .get_all(name)
        .iter()
        .map(|value| Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    if values.is_empty() {
        Value::Null
    } else {
        Value::List(Arc::new(values))
    }
}

/// `x-forwarded-for` reads back as `X-Forwarded-For`, the way IG prints header names.
fn canonical_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for character in name.chars() {
        if upper {
            out.extend(character.to_uppercase());
        } else {
            out.push(character);
        }
        upper = character == '-';
    }
    out
}

fn cookies_lookup(headers: &http::HeaderMap, rest: &[Value], consumed: usize) -> (Value, usize) {
    let mut cookies: IndexMap<String, Vec<Value>> = IndexMap::new();
    for header in headers.get_all(http::header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let cookie = Value::Map(Arc::new(IndexMap::from([
                ("name".to_owned(), Value::from(name.trim())),
                (
                    "value".to_owned(),
                    Value::from(value.trim().trim_matches('"')),
                ),
            ])));
            cookies
                .entry(name.trim().to_owned())
                .or_default()
                .push(cookie);
        }
    }
    match key(rest, 0) {
        Some(name) => (
            cookies
                .swap_remove(name.as_ref())
                .map(|list| Value::List(Arc::new(list)))
                .unwrap_or(Value::Null),
            consumed + 1,
        ),
        None => (
            Value::Map(Arc::new(
                cookies
                    .into_iter()
                    .map(|(name, list)| (name, Value::List(Arc::new(list))))
                    .collect(),
            )),
            consumed,
        ),
    }
}

/// IG's `request.form`: query parameters, plus the body when it is a buffered
/// `application/x-www-form-urlencoded` entity.
fn form_lookup(exchange: &Exchange, rest: &[Value], consumed: usize) -> (Value, usize) {
    let mut form: IndexMap<String, Vec<Value>> = IndexMap::new();
    let mut add_pairs = |text: &str| {
        for pair in text.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            form.entry(decode_form(name))
                .or_default()
                .push(Value::from(decode_form(value)));
        }
    };
    if let Some(query) = exchange.request.uri().query() {
        add_pairs(query);
    }
    let is_form = exchange
        .request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if is_form && let Some(entity) = &exchange.request_entity {
        add_pairs(&String::from_utf8_lossy(entity));
    }
    match key(rest, 0) {
        Some(name) => (
            form.swap_remove(name.as_ref())
                .map(|list| Value::List(Arc::new(list)))
                .unwrap_or(Value::Null),
            consumed + 1,
        ),
        None => (
            Value::Map(Arc::new(
                form.into_iter()
                    .map(|(name, list)| (name, Value::List(Arc::new(list))))
                    .collect(),
            )),
            consumed,
        ),
    }
}

fn decode_form(text: &str) -> String {
    decode_percent(&text.replace('+', " "))
}

fn entity_lookup(
    entity: Option<&[u8]>,
    headers: &http::HeaderMap,
    rest: &[Value],
    consumed: usize,
) -> (Value, usize) {
    let Some(bytes) = entity else {
        return (Value::Null, consumed + rest.len().min(1));
    };
    let text = || String::from_utf8_lossy(bytes).into_owned();
    match key(rest, 0).as_deref() {
        None | Some("string") => (Value::from(text()), consumed + rest.len().min(1)),
        Some("json") => (
            serde_json::from_slice::<serde_json::Value>(bytes)
                .map(|json| Value::from_json(&json))
                .unwrap_or(Value::Null),
            consumed + 1,
        ),
        Some("bytes") => (
            Value::List(Arc::new(
                bytes.iter().map(|b| Value::Int(i64::from(*b))).collect(),
            )),
            consumed + 1,
        ),
        Some("length") => (Value::Int(bytes.len() as i64), consumed + 1),
        Some("contentType") => (
            headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(Value::from)
                .unwrap_or(Value::Null),
            consumed + 1,
        ),
        Some(_) => (Value::Null, consumed + rest.len()),
    }
}

fn contexts_lookup(exchange: &Exchange, path: &[Value]) -> (Value, usize) {
    let Some(context) = key(path, 0) else {
        // `${contexts}`: every context, as IG's captureContext shows them.
        let mut all = IndexMap::new();
        for name in BUILT_IN_CONTEXTS {
            all.insert((*name).to_owned(), built_in_context(exchange, name));
        }
        for (name, value) in &exchange.contexts {
            all.entry(name.clone()).or_insert_with(|| value.clone());
        }
        return (Value::Map(Arc::new(all)), 0);
    };
    match context.as_ref() {
        "attributes" => {
            let (value, consumed) = map_lookup(&exchange.attributes, &path[1..]);
            (value, consumed + 1)
        }
        // IG spells the id `contexts.transactionId.transactionId.value`; the shorter
        // `contexts.transactionId` and `contexts.transactionId.transactionId` work too.
        "transactionId" => {
            let id = Value::Str(exchange.transaction_id.shared());
            match (key(path, 1).as_deref(), key(path, 2).as_deref()) {
                (Some("transactionId"), Some("value")) => (id, 3),
                (Some("transactionId"), _) => (id, 2),
                (None, _) => (id, 1),
                (Some(_), _) => (Value::Null, path.len()),
            }
        }
        name if BUILT_IN_CONTEXTS.contains(&name) => {
            let field = key(path, 1);
            let value = match field.as_deref() {
                Some(field) => built_in_field(exchange, name, field),
                None => built_in_context(exchange, name),
            };
            (value, if field.is_some() { 2 } else { 1 })
        }
        _ => map_lookup(&exchange.contexts, path),
    }
}

/// The contexts the gateway itself provides; filters publish others (`contexts.oauth2`).
const BUILT_IN_CONTEXTS: &[&str] = &["client", "router", "transactionId", "attributes"];

const CLIENT_FIELDS: &[&str] = &[
    "remoteAddress",
    "remotePort",
    "localAddress",
    "localPort",
    "isSecure",
    "userAgent",
];
const ROUTER_FIELDS: &[&str] = &["originalUri", "remainingUri", "matchedUri"];

/// A built-in context as a whole (`${contexts.client}`), as a map of its fields.
fn built_in_context(exchange: &Exchange, name: &str) -> Value {
    let fields = match name {
        "client" => CLIENT_FIELDS,
        "router" => ROUTER_FIELDS,
        "transactionId" => return Value::Str(exchange.transaction_id.shared()),
        "attributes" => return Value::Map(Arc::new(exchange.attributes.clone())),
        _ => return Value::Null,
    };
    let map = fields
        .iter()
        .map(|field| ((*field).to_owned(), built_in_field(exchange, name, field)))
        .collect();
    Value::Map(Arc::new(map))
}

fn built_in_field(exchange: &Exchange, context: &str, field: &str) -> Value {
    let client = &exchange.client;
    let routing = &exchange.routing;
    match (context, field) {
        ("client", "remoteAddress") => Value::from(client.remote_ip().to_string()),
        ("client", "remotePort") => Value::Int(i64::from(client.remote_port())),
        ("client", "localAddress") => Value::from(client.local_ip().to_string()),
        ("client", "localPort") => Value::Int(i64::from(client.local_port())),
        ("client", "isSecure") => Value::Bool(client.secure),
        ("client", "userAgent") => exchange
            .request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(Value::from)
            .unwrap_or(Value::Null),
        ("router", "originalUri") => Value::from(routing.original_uri.to_string()),
        ("router", "remainingUri") => Value::from(routing.remaining_uri()),
        ("router", "matchedUri") => Value::from(routing.matched_uri()),
        _ => Value::Null,
    }
}

/// `env['NAME']`: the process environment, read when evaluated.
pub(crate) fn env_lookup(path: &[Value]) -> (Value, usize) {
    match key(path, 0) {
        Some(name) => (
            std::env::var(name.as_ref())
                .map(Value::from)
                .unwrap_or(Value::Null),
            1,
        ),
        None => (env_map(), 0),
    }
}

/// `system['name']`: Java system properties in IG; here the ones with a meaning on this host.
pub(crate) fn system_lookup(path: &[Value]) -> (Value, usize) {
    match key(path, 0) {
        Some(name) => (system_property(&name), 1),
        None => (system_map(), 0),
    }
}

fn env_map() -> Value {
    Value::Map(Arc::new(
        std::env::vars()
            .map(|(name, value)| (name, Value::from(value)))
            .collect(),
    ))
}

/// The handful of Java system properties IG configurations use, with their natural meaning
/// on this host.
fn system_property(name: &str) -> Value {
    match name {
        "user.home" => std::env::var("HOME")
            .map(Value::from)
            .unwrap_or(Value::Null),
        "user.dir" => std::env::current_dir()
            .map(|dir| Value::from(dir.display().to_string()))
            .unwrap_or(Value::Null),
        "user.name" => std::env::var("USER")
            .map(Value::from)
            .unwrap_or(Value::Null),
        "os.name" => Value::from(std::env::consts::OS),
        "os.arch" => Value::from(std::env::consts::ARCH),
        "file.separator" => Value::from(std::path::MAIN_SEPARATOR_STR),
        "line.separator" => Value::from("\n"),
        "java.io.tmpdir" => Value::from(std::env::temp_dir().display().to_string()),
        _ => Value::Null,
    }
}

fn system_map() -> Value {
    let names = [
        "user.home",
        "user.dir",
        "user.name",
        "os.name",
        "os.arch",
        "file.separator",
        "line.separator",
        "java.io.tmpdir",
    ];
    Value::Map(Arc::new(
        names
            .iter()
            .map(|name| ((*name).to_owned(), system_property(name)))
            .collect(),
    ))
}

pub(crate) fn now_value() -> Value {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Value::Map(Arc::new(IndexMap::from([
        (
            "epochSeconds".to_owned(),
            Value::Int(since_epoch.as_secs() as i64),
        ),
        (
            "epochMillis".to_owned(),
            Value::Int(since_epoch.as_millis() as i64),
        ),
    ])))
}

fn request_summary(exchange: &Exchange) -> Value {
    Value::Map(Arc::new(IndexMap::from([
        (
            "method".to_owned(),
            Value::from(exchange.request.method().as_str()),
        ),
        (
            "uri".to_owned(),
            Value::from(exchange.request.uri().to_string()),
        ),
    ])))
}

fn assign(
    exchange: &mut Exchange,
    root: &str,
    path: &[Value],
    value: Value,
) -> Result<(), EvalError> {
    match root {
        "attributes" => assign_in_map(&mut exchange.attributes, root, path, value),
        "session" => {
            exchange.session.changed = true;
            assign_in_map(&mut exchange.session.values, root, path, value)
        }
        "contexts" if key(path, 0).as_deref() == Some("attributes") => {
            assign_in_map(&mut exchange.attributes, root, &path[1..], value)
        }
        "request" => assign_request(exchange, path, value),
        _ => Err(not_assignable(format!(
            "`{root}` is not writable; write to attributes, session or request"
        ))),
    }
}

fn assign_in_map(
    map: &mut IndexMap<String, Value>,
    root: &str,
    path: &[Value],
    value: Value,
) -> Result<(), EvalError> {
    let Some(first) = key(path, 0) else {
        let Value::Map(entries) = value else {
            return Err(not_assignable(format!(
                "`{root}` can only be replaced by a map"
            )));
        };
        *map = entries.as_ref().clone();
        return Ok(());
    };
    if path.len() == 1 {
        map.insert(first.into_owned(), value);
        return Ok(());
    }
    let slot = map.entry(first.into_owned()).or_insert(Value::Null);
    assign_nested(slot, &path[1..], value)
}

fn assign_nested(slot: &mut Value, path: &[Value], value: Value) -> Result<(), EvalError> {
    let Some(step) = path.first() else {
        *slot = value;
        return Ok(());
    };
    if matches!(slot, Value::Null) {
        *slot = Value::Map(Arc::new(IndexMap::new()));
    }
    match slot {
        Value::Map(map) => {
            let name = match step {
                Value::Str(text) => text.to_string(),
                other => other.to_string(),
            };
            let inner = Arc::make_mut(map).entry(name).or_insert(Value::Null);
            assign_nested(inner, &path[1..], value)
        }
        Value::List(list) => {
            let index = match step {
                Value::Int(index) => usize::try_from(*index).ok(),
                Value::Str(text) => text.parse().ok(),
                _ => None,
            };
            let list = Arc::make_mut(list);
            match index {
                Some(index) if index < list.len() => {
                    assign_nested(&mut list[index], &path[1..], value)
                }
                Some(index) if index == list.len() => {
                    list.push(Value::Null);
                    assign_nested(&mut list[index], &path[1..], value)
                }
                _ => Err(not_assignable(format!(
                    "list index {step} is out of range for assignment"
                ))),
            }
        }
        other => Err(not_assignable(format!(
            "cannot set a property on the value {other}"
        ))),
    }
}

fn assign_request(exchange: &mut Exchange, path: &[Value], value: Value) -> Result<(), EvalError> {
    let field = key(path, 0).map(|field| field.into_owned());
    match field.as_deref() {
        Some("method") => {
            let method = http::Method::from_bytes(value.to_string().as_bytes())
                .map_err(|error| not_assignable(format!("invalid method: {error}")))?;
            *exchange.request.method_mut() = method;
            Ok(())
        }
        Some("uri") if path.len() == 1 => {
            let uri: http::Uri = value
                .to_string()
                .parse()
                .map_err(|error| not_assignable(format!("invalid URI {value}: {error}")))?;
            *exchange.request.uri_mut() = uri;
            Ok(())
        }
        Some("uri") => assign_uri_part(exchange, &path[1..], value),
        Some("headers") => {
            let Some(name) = key(path, 1) else {
                return Err(not_assignable(
                    "assign a header by name: request.headers['Name']".to_owned(),
                ));
            };
            set_header(exchange.request.headers_mut(), &name, value)
        }
        Some("entity") => {
            let bytes = match &value {
                Value::Map(_) | Value::List(_) => value.to_json().to_string(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            exchange.set_request_entity(bytes.into());
            Ok(())
        }
        _ => Err(not_assignable(format!(
            "request.{} is not writable",
            field.unwrap_or_default()
        ))),
    }
}

/// Sets (or with null removes) every value of a header, as IG does for
/// `${request.headers['Name']}` targets.
pub fn set_header(
    headers: &mut http::HeaderMap,
    name: &str,
    value: Value,
) -> Result<(), EvalError> {
    let name = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|error| not_assignable(format!("invalid header name {name:?}: {error}")))?;
    headers.remove(&name);
    let values: Vec<Value> = match value {
        Value::Null => Vec::new(),
        Value::List(list) => list.as_ref().clone(),
        other => vec![other],
    };
    for value in values {
        let text = value.to_string();
        let header = http::HeaderValue::try_from(text.as_str())
            .map_err(|error| not_assignable(format!("invalid header value {text:?}: {error}")))?;
        headers.append(name.clone(), header);
    }
    Ok(())
}

fn assign_uri_part(exchange: &mut Exchange, path: &[Value], value: Value) -> Result<(), EvalError> {
    let part = key(path, 0).unwrap_or_default().into_owned();
    let mut parts = exchange.request.uri().clone().into_parts();
    let text = value.to_string();
    let current_query = parts
        .path_and_query
        .as_ref()
        .and_then(|pq| pq.query().map(str::to_owned));
    let current_path = parts
        .path_and_query
        .as_ref()
        .map(|pq| pq.path().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let invalid =
        |error: &dyn std::fmt::Display| not_assignable(format!("invalid URI {part}: {error}"));
    match part.as_str() {
        "path" | "rawPath" => {
            let path_and_query = match current_query {
                Some(query) => format!("{text}?{query}"),
                None => text,
            };
            parts.path_and_query = Some(path_and_query.parse().map_err(|e| invalid(&e))?);
        }
        "query" | "rawQuery" => {
            let path_and_query = if text.is_empty() {
                current_path
            } else {
                format!("{current_path}?{text}")
            };
            parts.path_and_query = Some(path_and_query.parse().map_err(|e| invalid(&e))?);
        }
        "scheme" => parts.scheme = Some(text.parse().map_err(|e| invalid(&e))?),
        "host" | "port" | "authority" => {
            let authority = parts.authority.as_ref();
            let host = authority.map(|a| a.host().to_owned()).unwrap_or_default();
            let port = authority.and_then(|a| a.port_u16());
            let new_authority = match part.as_str() {
                "host" => match port {
                    Some(port) => format!("{text}:{port}"),
                    None => text,
                },
                "port" => format!("{host}:{text}"),
                _ => text,
            };
            parts.authority = Some(new_authority.parse().map_err(|e| invalid(&e))?);
        }
        _ => {
            return Err(not_assignable(format!(
                "request.uri.{part} is not writable"
            )));
        }
    }
    *exchange.request.uri_mut() = http::Uri::from_parts(parts).map_err(|e| invalid(&e))?;
    Ok(())
}

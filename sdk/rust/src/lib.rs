//! Write [Ferrogate](https://example.invalid/ferrogate) filters, handlers and decorators in
//! Rust, compiled to WebAssembly components (`wasm32-wasip2`).
//!
//! The contract is the WIT package `ferrogate:plugin@0.1.0` in `sdk/wit/`: a component
//! exports the types it provides (`plugin.types`) and either the `filter` interface (world
//! `filter-plugin`, for filters and decorators) or the `handler` interface (world
//! `handler-plugin`). Requests and responses stay in the host: [`Request`] and [`Response`]
//! are handles whose methods read or write only what the plugin touches.
//!
//! # A filter
//!
//! ```no_run
//! use ferrogate_sdk::{Filter, Outcome, Request};
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     name: String,
//!     value: String,
//! }
//!
//! struct AddHeader(Config);
//!
//! impl Filter for AddHeader {
//!     fn new() -> Result<Self, String> {
//!         Ok(AddHeader(ferrogate_sdk::config()?))
//!     }
//!
//!     fn on_request(&self, req: &Request) -> Result<Outcome, String> {
//!         req.set_header(&self.0.name, std::slice::from_ref(&self.0.value))?;
//!         Ok(Outcome::Next)
//!     }
//! }
//!
//! ferrogate_sdk::export_filter!(AddHeader, "AddRequestHeader");
//! ```
//!
//! Build it with a `Cargo.toml` holding `crate-type = ["cdylib"]` and
//! `cargo build --release --target wasm32-wasip2`: the `.wasm` is a component the gateway
//! loads. A route then declares `{"type": "AddRequestHeader", "config": {"name": "X-A",
//! "value": "1"}}`.
//!
//! # Lifecycle
//!
//! The host calls `init` once per instance: the export macros construct the plugin there
//! ([`Filter::new`], [`Handler::new`]), which is where to read [`config`], compile
//! [`expressions`] and resolve heap handlers ([`resolve_handler`]). Errors from `new` are
//! load errors. The constructed value lives in the instance (a thread-local cell: a wasm
//! instance is single-threaded) and serves every later call. Handles ([`Request`],
//! [`Response`]) are valid only during the call that passed them.
//!
//! [`export_filter!`] and [`export_decorator!`] also export the contract's optional `objects`
//! interface: the gateway may then initialise several filters of a chain in one instance
//! (one [`Filter::new`] each, with [`config`] and the other imports answering for each in
//! turn) and run adjacent ones in one call. Nothing changes for the plugin's code: each value
//! still sees only its own configuration. What a plugin keeps in globals of its own, rather
//! than in its value, is shared by the objects of an instance.
//!
//! # Helpers
//!
//! What IG filters keep needing, so that plugins do not each write it again: [`Message`] (the
//! operations requests and responses share) and [`MessageType`] (IG's `messageType`),
//! [`Response::replace_with`], [`FailureHandler`] (IG's optional `failureHandler`),
//! [`encoding`] (base64, base64url, forms) and [`epoch_millis`].
//!
//! # What a plugin cannot do
//!
//! No file system, network, environment or clock beyond what the host imports offer; a
//! memory cap and a CPU deadline per call; a panic or trap fails the request closed (500) and
//! the instance is discarded.
//!
//! # Host builds
//!
//! The crate also compiles for the host target so `cargo doc`, clippy and unit tests of pure
//! logic work; calling a host import there panics (`unreachable`).

#![warn(missing_docs)]

extern crate self as ferrogate_sdk;

pub mod bindings;
pub mod encoding;
mod message;
#[cfg(test)]
mod tests;

use serde::Serialize;
use serde::de::DeserializeOwned;

use bindings::handler::ferrogate::plugin as imports;

pub use bindings::filter::exports::ferrogate::plugin::filter::RequestOutcome as Outcome;
pub use imports::config::DecorationPoint;
pub use imports::counters::WindowCount;
pub use imports::expressions::{self, Expression};
pub use imports::heap::HandlerRef;
pub use imports::http::{HeaderValues, OutgoingRequest, Request, Response};
pub use imports::log::Level;
pub use message::{Message, MessageType};

/// A filter (or, exported with [`export_decorator!`], a decorator): runs before the rest of
/// the chain, may answer itself, and sees the response on the way back.
pub trait Filter: Sized + 'static {
    /// Called once per instance at `init`: read [`config`], compile expressions, resolve
    /// handlers. An error is a load error.
    fn new() -> Result<Self, String>;

    /// The request phase; [`Outcome::Respond`] short-circuits the chain (and `on_response`).
    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let _ = req;
        Ok(Outcome::Next)
    }

    /// The response phase, with the response the rest of the chain produced.
    fn on_response(&self, req: &Request, resp: &Response) -> Result<(), String> {
        let _ = (req, resp);
        Ok(())
    }

    /// The phases this object does something in, asked once after [`Filter::new`]. The
    /// gateway skips a call to a phase left out, which saves a component call per request:
    /// a filter that only rewrites requests answers [`Phases::REQUEST`].
    fn phases(&self) -> Phases {
        Phases::BOTH
    }
}

/// Which of [`Filter::on_request`] and [`Filter::on_response`] the gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// Call `on_request`.
    pub request: bool,
    /// Call `on_response`.
    pub response: bool,
}

impl Phases {
    /// Both phases (the default).
    pub const BOTH: Phases = Phases {
        request: true,
        response: true,
    };
    /// Only `on_request`.
    pub const REQUEST: Phases = Phases {
        request: true,
        response: false,
    };
    /// Only `on_response`.
    pub const RESPONSE: Phases = Phases {
        request: false,
        response: true,
    };
}

/// A handler: answers a request with a response.
pub trait Handler: Sized + 'static {
    /// Called once per instance at `init`; an error is a load error.
    fn new() -> Result<Self, String>;

    /// Produces the response.
    fn handle(&self, req: &Request) -> Result<Response, String>;
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// The object's `config` deserialized (for a decorator: the decoration value).
///
/// An absent config is JSON `null`, so `Option<T>` or a type with `#[serde(default)]` accepts
/// it. The error says what is wrong; the gateway adds the file, the object and its type.
pub fn config<T: DeserializeOwned>() -> Result<T, String> {
    let text = imports::config::get();
    serde_json::from_str(&text).map_err(invalid_config)
}

/// The gateway's load error already names the route file, the position of the object in it,
/// the type and the object; what it needs from here is what is wrong. serde's own position
/// points into the config text handed to the plugin, not into the file, so it is left out.
fn invalid_config(error: serde_json::Error) -> String {
    let message = error.to_string();
    let message = match message.rsplit_once(" at line ") {
        Some((what, _)) if error.line() > 0 => what.to_owned(),
        _ => message,
    };
    format!("invalid config: {message}")
}

/// The object's `config` as JSON text.
pub fn config_json() -> String {
    imports::config::get()
}

/// The type name this instance serves (a component may provide several).
pub fn type_name() -> String {
    imports::config::type_name()
}

/// The heap object's name.
pub fn object_name() -> String {
    imports::config::object_name()
}

/// A secret granted to this object (an id named by a `secretId` or `...SecretId` key of its config).
pub fn secret(id: &str) -> Result<Vec<u8>, String> {
    imports::config::secret(id)
}

/// Where this decorator instance sits: around a handler, around a filter, or between a filter
/// and the rest of its chain (a decorated filter gets one instance of each of the last two);
/// `None` for filters and handlers, and for the instance that only checks the decorator's
/// declaration (see [`declaration`]).
pub fn decorated_at() -> Option<DecorationPoint> {
    imports::config::decorated_at()
}

/// Declares, in [`Filter::new`], that this object's request phase is only ever
/// `req.rebase(base)` with this fixed `base` (IG's `baseURI` with a literal URI): the gateway
/// parses the base once, rebases each request itself and no longer calls
/// [`Filter::on_request`], a component call saved per request. [`Filter::on_response`] is
/// still called as [`Filter::phases`] says. An error when `base` is not an absolute URI.
pub fn rebase_requests(base: &str) -> Result<(), String> {
    imports::config::rebase_requests(base)
}

/// Declares, in [`Filter::new`], that this object's phase for `message` only ever makes this
/// fixed edit: every header named in `remove` goes, then each `(name, value)` of `append` is
/// added, as IG's HeaderFilter does with literal values. The gateway checks the names and
/// values once, makes the edit itself on each message and no longer calls that phase
/// ([`Filter::on_request`] or [`Filter::on_response`]), a component call saved per request;
/// the other phase is still called as [`Filter::phases`] says.
///
/// An error when a name or a value is not valid in HTTP, when called outside
/// [`Filter::new`], and for the request of a filter that declared [`rebase_requests`].
///
/// ```no_run
/// # use ferrogate_sdk::MessageType;
/// // In `Filter::new`: the response always gets `X-Gateway: ferrogate`, and no `Server`.
/// ferrogate_sdk::edit_headers(MessageType::Response, &["Server"], &[("X-Gateway", "ferrogate")])?;
/// # Ok::<(), String>(())
/// ```
pub fn edit_headers(
    message: MessageType,
    remove: &[impl AsRef<str>],
    append: &[(impl AsRef<str>, impl AsRef<str>)],
) -> Result<(), String> {
    let message = match message {
        MessageType::Request => imports::config::MessageType::Request,
        MessageType::Response => imports::config::MessageType::Response,
    };
    let edits = imports::config::HeaderEdits {
        remove: remove.iter().map(|name| name.as_ref().to_owned()).collect(),
        append: append
            .iter()
            .map(|(name, value)| (name.as_ref().to_owned(), value.as_ref().to_owned()))
            .collect(),
    };
    imports::config::edit_headers(message, &edits)
}

/// A decorator's own settings: the `config` of its heap declaration, decoded into `T`
/// (`{"name": "capture", "type": "CaptureDecorator", "config": {"captureEntity": true}}`).
/// When the heap declares a decorator with a non-empty config, the gateway initialises one
/// instance with no decoration point and a null decoration to check it; a decorator should
/// then validate this and return. For filters and handlers this is the same as [`config`].
pub fn declaration<T: DeserializeOwned>() -> Result<T, String> {
    let text = imports::config::declaration();
    serde_json::from_str(&text).map_err(invalid_config)
}

/// An IG duration (`"10 seconds"`, `"1 minute, 30 s"`, `"500 ms"`) read the way the gateway
/// reads every duration; `None` for `"unlimited"`, zero for `"disabled"`.
pub fn duration(text: &str) -> Result<Option<std::time::Duration>, String> {
    imports::config::parse_duration(text)
        .map(|millis| millis.map(std::time::Duration::from_millis))
        .map_err(|e| format!("\"{text}\" is not a duration: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Logging

/// Logs at `level` (the host adds the type, object, route and transaction).
pub fn log(level: Level, message: &str) {
    imports::log::log(level, message)
}

/// Whether a message at `level` would be logged.
pub fn log_enabled(level: Level) -> bool {
    imports::log::enabled(level)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log {
    ($level:ident, $($arg:tt)+) => {
        if $crate::log_enabled($crate::Level::$level) {
            $crate::log($crate::Level::$level, &::std::format!($($arg)+));
        }
    };
}

/// Logs at trace level, `format!`-style; the message is built only when enabled.
#[macro_export]
macro_rules! trace { ($($arg:tt)+) => { $crate::__log!(Trace, $($arg)+) }; }
/// Logs at debug level, `format!`-style; the message is built only when enabled.
#[macro_export]
macro_rules! debug { ($($arg:tt)+) => { $crate::__log!(Debug, $($arg)+) }; }
/// Logs at info level, `format!`-style; the message is built only when enabled.
#[macro_export]
macro_rules! info { ($($arg:tt)+) => { $crate::__log!(Info, $($arg)+) }; }
/// Logs at warn level, `format!`-style; the message is built only when enabled.
#[macro_export]
macro_rules! warn { ($($arg:tt)+) => { $crate::__log!(Warn, $($arg)+) }; }
/// Logs at error level, `format!`-style; the message is built only when enabled.
#[macro_export]
macro_rules! error { ($($arg:tt)+) => { $crate::__log!(Error, $($arg)+) }; }

// ---------------------------------------------------------------------------------------------
// Exchange: attributes, session, request context

/// Request attributes, the session and facts about the current request.
pub mod exchange {
    use super::*;

    pub use super::imports::exchange::{client_address, route_name, transaction_id};

    /// The attribute `name` (`${attributes.name}`) deserialized; `None` when absent.
    pub fn attribute<T: DeserializeOwned>(name: &str) -> Result<Option<T>, String> {
        imports::exchange::attribute(name)
            .map(|json| serde_json::from_str(&json).map_err(|e| format!("attribute {name}: {e}")))
            .transpose()
    }

    /// Sets the attribute `name` to `value` (serialized to JSON).
    pub fn set_attribute<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<(), String> {
        let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
        imports::exchange::set_attribute(name, &json)
    }

    /// The session value `name` deserialized; `None` when absent.
    pub fn session_value<T: DeserializeOwned>(name: &str) -> Result<Option<T>, String> {
        imports::exchange::session_value(name)
            .map(|json| serde_json::from_str(&json).map_err(|e| format!("session {name}: {e}")))
            .transpose()
    }

    /// Publishes `contexts.<name>` (serialized to JSON) for the rest of the chain.
    pub fn set_context<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<(), String> {
        let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
        imports::exchange::set_context(name, &json)
    }

    /// Sets the session value `name` to `value` (serialized to JSON).
    pub fn set_session_value<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<(), String> {
        let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
        imports::exchange::set_session_value(name, &json)
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions, heap, client, counters, metrics

/// Compiles an IG `${...}` template (do it in `new`); evaluate it per request.
pub fn compile(source: &str) -> Result<Expression, String> {
    imports::expressions::compile(source)
}

/// Resolves a heap handler reference (a name or an inline declaration, as JSON text); only
/// during `new`. Call it per request with [`HandlerRef::call`].
pub fn resolve_handler(reference: &str) -> Result<HandlerRef, String> {
    imports::heap::resolve_handler(reference)
}

/// IG's optional `failureHandler` setting: the heap handler that answers a refused request,
/// or, when the configuration names none, an empty response with a fixed status (`403
/// Forbidden` for ConditionEnforcementFilter and CorsFilter).
///
/// ```no_run
/// use ferrogate_sdk::{FailureHandler, Filter, Outcome, Request};
///
/// #[derive(serde::Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Config {
///     #[serde(default)]
///     failure_handler: Option<serde_json::Value>,
/// }
///
/// struct OnlyGet(FailureHandler);
///
/// impl Filter for OnlyGet {
///     fn new() -> Result<Self, String> {
///         let config: Config = ferrogate_sdk::config()?;
///         Ok(OnlyGet(FailureHandler::resolve(config.failure_handler.as_ref(), 403)?))
///     }
///
///     fn on_request(&self, req: &Request) -> Result<Outcome, String> {
///         if req.method() == "GET" {
///             return Ok(Outcome::Next);
///         }
///         Ok(Outcome::Respond(self.0.respond()?))
///     }
/// }
/// ```
pub struct FailureHandler {
    handler: Option<HandlerRef>,
    default_status: u16,
}

impl FailureHandler {
    /// Resolves the `failureHandler` reference of the config (a heap name or an inline
    /// declaration), if there is one; only during `new`. Errors name the key.
    pub fn resolve(
        reference: Option<&serde_json::Value>,
        default_status: u16,
    ) -> Result<FailureHandler, String> {
        let handler = reference
            .map(|reference| resolve_handler(&reference.to_string()))
            .transpose()
            .map_err(|e| format!("\"failureHandler\": {e}"))?;
        Ok(FailureHandler {
            handler,
            default_status,
        })
    }

    /// The answer to a refused request: the handler's response, else the default status.
    pub fn respond(&self) -> Result<Response, String> {
        match &self.handler {
            Some(handler) => handler.call(),
            None => Ok(Response::new(self.default_status)),
        }
    }
}

/// A filter of the heap, resolved with [`resolve_filter`]: answer a request with
/// [`FilterRef::delegate`] to go on through it (it then calls the rest of the chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterRef(u32);

impl FilterRef {
    /// The outcome that sends the request on through this filter.
    pub fn delegate(&self) -> Outcome {
        Outcome::Delegate(self.0)
    }
}

/// Resolves a heap filter reference (a name or an inline declaration, as JSON text); only
/// during `new`.
pub fn resolve_filter(reference: &str) -> Result<FilterRef, String> {
    imports::heap::resolve_filter(reference).map(FilterRef)
}

/// Outbound HTTP through the host's client (pooling, proxy, TLS and tracing apply).
pub mod client {
    use super::*;

    /// Sends a request.
    pub fn send(request: &OutgoingRequest) -> Result<Response, String> {
        imports::client::send(request)
    }

    /// Sends a request through a heap handler resolved in `new` (IG's `providerHandler`).
    pub fn send_through(
        handler: &HandlerRef,
        request: &OutgoingRequest,
    ) -> Result<Response, String> {
        imports::client::send_through(handler, request)
    }

    /// Sends a `GET` without a body.
    pub fn get(uri: &str) -> Result<Response, String> {
        send(&OutgoingRequest {
            method: "GET".into(),
            uri: uri.into(),
            headers: Vec::new(),
            body: Vec::new(),
        })
    }
}

/// Counters shared by every instance and worker of the gateway.
pub mod counters {
    pub use super::imports::counters::{WindowCount, increment, try_increment};
}

/// Milliseconds since the Unix epoch by the host's wall clock (zero should the clock be set
/// before 1970): for expiry times, such as a token's `exp` or a cache entry's deadline.
pub fn epoch_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Adds to the counter `ferrogate_plugin_<name>_total{type, object, route}`. The names
/// `failures` and `log_records_dropped` are the gateway's own: adding to them is refused,
/// with a warning in the log. So is a name that would make a new series once all plugins
/// together have 10,000: names made from request data (a path, a user) use them up.
pub fn counter_add(name: &str, value: u64) {
    imports::metrics::counter_add(name, value)
}

// ---------------------------------------------------------------------------------------------
// Export machinery

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::filter::exports::ferrogate::plugin::filter::Guest as FilterGuest;
    pub use crate::bindings::filter::exports::ferrogate::plugin::objects::{
        Failure, Guest as ObjectsGuest, Stop,
    };
    pub use crate::bindings::filter::exports::ferrogate::plugin::plugin::{
        Guest as FilterPluginGuest, Kind as FilterKind, TypeInfo as FilterTypeInfo,
    };
    pub use crate::bindings::handler::exports::ferrogate::plugin::handler::Guest as HandlerGuest;
    pub use crate::bindings::handler::exports::ferrogate::plugin::plugin::{
        Guest as HandlerPluginGuest, Kind as HandlerKind, TypeInfo as HandlerTypeInfo,
    };

    use std::cell::{OnceCell, RefCell};
    use std::thread::LocalKey;

    use crate::{Filter, Outcome, Request, Response};

    /// The filters an instance serves, numbered as the host numbers them: one for an instance
    /// called through `filter`, several for one called through `objects`. Only `init` and
    /// `init-object` add to it, so every other call only reads.
    pub type Objects<T> = RefCell<Vec<T>>;

    /// Constructs the plugin into its cell (once per instance).
    pub fn init<T: 'static>(
        cell: &'static LocalKey<OnceCell<T>>,
        new: fn() -> Result<T, String>,
    ) -> Result<(), String> {
        cell.with(|c| {
            if c.get().is_some() {
                return Err("init called twice on the same instance".to_string());
            }
            let value = new()?;
            let _ = c.set(value);
            Ok(())
        })
    }

    /// Constructs the filter numbered `object` and tells the host which phases it uses.
    pub fn init_object<T: Filter>(
        objects: &'static LocalKey<Objects<T>>,
        object: u32,
    ) -> Result<(), String> {
        let expected = objects.with(|objects| objects.borrow().len());
        if usize::try_from(object).ok() != Some(expected) {
            return Err(format!(
                "init of object {object} out of order: {expected} objects are initialised"
            ));
        }
        // Constructed outside the borrow: `new` runs host imports, none of which call back in,
        // but nothing here needs to rely on that.
        let filter = T::new()?;
        let phases = filter.phases();
        super::imports::config::phases(phases.request, phases.response);
        objects.with(|objects| objects.borrow_mut().push(filter));
        Ok(())
    }

    /// `filter.init`: the instance serves one object, number 0.
    pub fn init_filter<T: Filter>(objects: &'static LocalKey<Objects<T>>) -> Result<(), String> {
        if objects.with(|objects| !objects.borrow().is_empty()) {
            return Err("init called twice on the same instance".to_string());
        }
        init_object(objects, 0)
    }

    /// Runs `f` with the filter of an instance serving one object.
    pub fn with_filter<T: Filter, R>(
        objects: &'static LocalKey<Objects<T>>,
        f: impl FnOnce(&T) -> Result<R, String>,
    ) -> Result<R, String> {
        objects.with(|objects| match objects.borrow().first() {
            Some(filter) => f(filter),
            None => Err("plugin called before init".to_string()),
        })
    }

    /// `objects.on-request-all`: each object in turn until one does not go on.
    pub fn on_request_all<T: Filter>(
        objects: &'static LocalKey<Objects<T>>,
        request: &Request,
    ) -> Result<Option<Stop>, Failure> {
        objects.with(|objects| {
            for (object, filter) in numbered(&objects.borrow()) {
                if object > 0 {
                    super::imports::config::enter(object);
                }
                match filter.on_request(request) {
                    Ok(Outcome::Next) => {}
                    Ok(outcome) => return Ok(Some(Stop { object, outcome })),
                    Err(message) => return Err(Failure { object, message }),
                }
            }
            Ok(None)
        })
    }

    /// `objects.on-response-all`: each object, the last one first.
    pub fn on_response_all<T: Filter>(
        objects: &'static LocalKey<Objects<T>>,
        request: &Request,
        response: &Response,
    ) -> Result<(), Failure> {
        objects.with(|objects| {
            let objects = objects.borrow();
            let last = objects.len().saturating_sub(1);
            for (object, filter) in numbered(&objects).rev() {
                if object as usize != last {
                    super::imports::config::enter(object);
                }
                filter
                    .on_response(request, response)
                    .map_err(|message| Failure { object, message })?;
            }
            Ok(())
        })
    }

    fn numbered<T>(objects: &[T]) -> impl DoubleEndedIterator<Item = (u32, &T)> {
        // The host numbers objects with u32; an instance never holds more.
        (0..u32::MAX).zip(objects)
    }

    /// Runs `f` with the constructed plugin.
    pub fn with<T: 'static, R>(
        cell: &'static LocalKey<OnceCell<T>>,
        f: impl FnOnce(&T) -> Result<R, String>,
    ) -> Result<R, String> {
        cell.with(|c| match c.get() {
            Some(value) => f(value),
            None => Err("plugin called before init".to_string()),
        })
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_filter_kind {
    ($ty:ty, $kind:ident, $($name:expr),+ $(,)?) => {
        const _: () = {
            struct __FerrogateExport;

            ::std::thread_local! {
                static __OBJECTS: $crate::__private::Objects<$ty> =
                    const { ::std::cell::RefCell::new(::std::vec::Vec::new()) };
            }

            impl $crate::__private::FilterPluginGuest for __FerrogateExport {
                fn types() -> ::std::vec::Vec<$crate::__private::FilterTypeInfo> {
                    ::std::vec![$($crate::__private::FilterTypeInfo {
                        name: ::std::string::String::from($name),
                        kind: $crate::__private::FilterKind::$kind,
                    }),+]
                }
            }

            impl $crate::__private::FilterGuest for __FerrogateExport {
                fn init() -> ::std::result::Result<(), ::std::string::String> {
                    $crate::__private::init_filter(&__OBJECTS)
                }
                fn on_request(
                    request: &$crate::Request,
                ) -> ::std::result::Result<$crate::Outcome, ::std::string::String> {
                    $crate::__private::with_filter(&__OBJECTS, |f| $crate::Filter::on_request(f, request))
                }
                fn on_response(
                    request: &$crate::Request,
                    response: &$crate::Response,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::__private::with_filter(&__OBJECTS, |f| {
                        $crate::Filter::on_response(f, request, response)
                    })
                }
            }

            impl $crate::__private::ObjectsGuest for __FerrogateExport {
                fn init_object(object: u32) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::__private::init_object(&__OBJECTS, object)
                }
                fn on_request_all(
                    request: &$crate::Request,
                ) -> ::std::result::Result<
                    ::std::option::Option<$crate::__private::Stop>,
                    $crate::__private::Failure,
                > {
                    $crate::__private::on_request_all(&__OBJECTS, request)
                }
                fn on_response_all(
                    request: &$crate::Request,
                    response: &$crate::Response,
                ) -> ::std::result::Result<(), $crate::__private::Failure> {
                    $crate::__private::on_response_all(&__OBJECTS, request, response)
                }
            }

            $crate::bindings::filter::export!(__FerrogateExport with_types_in $crate::bindings::filter);
        };
    };
}

/// Exports a [`Filter`] type under one or more type names (what routes write in `"type"`).
///
/// ```ignore
/// ferrogate_sdk::export_filter!(MyFilter, "MyFilter");
/// ferrogate_sdk::export_filter!(MyFilter, "MyFilter", "MyFilterAlias");
/// ```
///
/// One export macro per component: a component is either filters/decorators or handlers.
/// [`type_name`] tells which name an instance serves.
#[macro_export]
macro_rules! export_filter {
    ($ty:ty, $($name:expr),+ $(,)?) => { $crate::__export_filter_kind!($ty, Filter, $($name),+); };
}

/// Exports a [`Filter`] type as a decorator: `on_request` runs before the decorated object,
/// `on_response` after, and [`config`] is the decoration value.
///
/// ```ignore
/// ferrogate_sdk::export_decorator!(Timing, "timing");
/// ```
#[macro_export]
macro_rules! export_decorator {
    ($ty:ty, $($name:expr),+ $(,)?) => { $crate::__export_filter_kind!($ty, Decorator, $($name),+); };
}

/// Exports a [`Handler`] type under one or more type names.
///
/// ```ignore
/// ferrogate_sdk::export_handler!(Hello, "HelloHandler");
/// ```
#[macro_export]
macro_rules! export_handler {
    ($ty:ty, $($name:expr),+ $(,)?) => {
        const _: () = {
            struct __FerrogateExport;

            ::std::thread_local! {
                static __INSTANCE: ::std::cell::OnceCell<$ty> =
                    const { ::std::cell::OnceCell::new() };
            }

            impl $crate::__private::HandlerPluginGuest for __FerrogateExport {
                fn types() -> ::std::vec::Vec<$crate::__private::HandlerTypeInfo> {
                    ::std::vec![$($crate::__private::HandlerTypeInfo {
                        name: ::std::string::String::from($name),
                        kind: $crate::__private::HandlerKind::Handler,
                    }),+]
                }
            }

            impl $crate::__private::HandlerGuest for __FerrogateExport {
                fn init() -> ::std::result::Result<(), ::std::string::String> {
                    $crate::__private::init(&__INSTANCE, <$ty as $crate::Handler>::new)
                }
                fn handle(
                    request: &$crate::Request,
                ) -> ::std::result::Result<$crate::Response, ::std::string::String> {
                    $crate::__private::with(&__INSTANCE, |h| $crate::Handler::handle(h, request))
                }
            }

            $crate::bindings::handler::export!(__FerrogateExport with_types_in $crate::bindings::handler);
        };
    };
}

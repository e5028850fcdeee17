//! One route file: its id and name, condition, heap and handler.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::RouterShared;
use crate::config::{ConfigError, Located, SourceDoc, did_you_mean};
use crate::exchange::{Exchange, ExchangeScope};
use crate::expr::{Expression, Value};
use crate::handler::{Handler, HandlerError};
use crate::heap::{Heap, HeapBuilder, HeapObject, Properties};
use crate::http::Response;
use crate::session::{SessionManager, handle_in_session, resolve_manager};

/// The keys of a route with a fixed meaning; any other key names a decorator.
pub const ROUTE_KEYS: &[&str] = &[
    "_id",
    "name",
    "condition",
    "handler",
    "heap",
    "properties",
    "globalDecorators",
    "session",
    "auditService",
    "monitor",
    "secrets",
    "comment",
];

/// Route files larger than this are refused: a route is configuration, and reading an
/// arbitrarily large file on every change would let one bad file stall reloads.
pub const ROUTE_FILE_LIMIT: u64 = 8 << 20;

pub struct Route {
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub file: PathBuf,
    condition: Option<Expression>,
    handler: Arc<dyn Handler>,
    properties: Arc<Properties>,
    /// The route's own session manager, replacing the gateway's session while it handles.
    session: Option<Arc<dyn SessionManager>>,
    /// Keeps the route's heap objects (and any nested routers) alive while the route serves.
    _heap: Arc<Heap>,
}

impl Route {
    /// Whether this route takes the request: no condition, or a condition that is exactly
    /// true. An evaluation error counts as false and is logged.
    pub fn accepts(&self, exchange: &Exchange) -> bool {
        let Some(condition) = &self.condition else {
            return true;
        };
        let scope = ExchangeScope::with_properties(exchange, None, &self.properties);
        match condition.try_eval(&scope) {
            Ok(Value::Bool(accepted)) => accepted,
            Ok(Value::Str(text)) => text.eq_ignore_ascii_case("true"),
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(route = %self.name, condition = condition.source(), %error, "route condition failed to evaluate; treating it as false");
                false
            }
        }
    }

    /// The condition as loaded; `None` when the route takes every request.
    pub(crate) fn condition(&self) -> Option<&Expression> {
        self.condition.as_ref()
    }

    pub fn reads_request_entity(&self) -> bool {
        self.condition.as_ref().is_some_and(|condition| {
            condition.reads_path("request", "entity") || condition.reads_path("request", "form")
        })
    }

    pub async fn handle(&self, exchange: &mut Exchange) -> Result<Response, HandlerError> {
        exchange.properties = Some(self.properties.clone());
        exchange.routing.route_names.push(self.name.clone());
        match &self.session {
            Some(manager) => {
                handle_in_session(
                    manager.as_ref(),
                    self.handler.as_ref(),
                    exchange,
                    &self.name,
                )
                .await
            }
            None => self.handler.handle(exchange).await,
        }
    }

    /// Reads and builds a route file. `parent` is the heap of the router's owner.
    pub fn load(
        router: &RouterShared,
        parent: &Arc<Heap>,
        path: &Path,
        text: &str,
    ) -> Result<Route, ConfigError> {
        let file: Arc<Path> = Arc::from(path);
        let (doc, value) = SourceDoc::parse(Some(file.clone()), text)?;
        let root = Located {
            doc: &doc,
            pointer: String::new(),
            value: &value,
        };
        let serde_json::Value::Object(members) = &value else {
            return Err(
                root.error("a route file must hold a JSON object with at least a \"handler\"")
            );
        };
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = match root.get("_id") {
            Some(at) => match at.value {
                serde_json::Value::String(id) if !id.is_empty() => id.clone(),
                _ => return Err(at.error("\"_id\" must be a non-empty string")),
            },
            None => stem,
        };
        let name = match root.get("name") {
            Some(at) => match at.value {
                serde_json::Value::String(name) if !name.is_empty() => name.clone(),
                _ => return Err(at.error("\"name\" must be a non-empty string")),
            },
            None => id.clone(),
        };
        if id == "default" || name == "default" {
            let at = root
                .get("name")
                .or_else(|| root.get("_id"))
                .unwrap_or_else(|| root.clone());
            return Err(at
                .error("a route cannot be named or identified \"default\": the name is reserved for the router's default handler")
                .with_hint("rename the file (or its \"_id\"/\"name\"); to handle unmatched requests, set the Router's \"defaultHandler\""));
        }
        for unsupported in ["auditService", "secrets"] {
            if let Some(at) = root.get(unsupported) {
                return Err(at.key_error(format!("\"{unsupported}\" on routes is not supported by this version of Ferrogate"))
                    .with_hint("remove the key; it will be refused rather than silently ignored until it is implemented"));
            }
        }
        if let Some(at) = root.get("monitor") {
            if !matches!(
                at.value,
                serde_json::Value::Bool(_)
                    | serde_json::Value::Object(_)
                    | serde_json::Value::String(_)
            ) {
                return Err(at.error("\"monitor\" takes true, false or an object"));
            }
            tracing::debug!(route = %name, "\"monitor\" is accepted for compatibility: route metrics are always collected");
        }
        let environment = router.environment().clone();
        let properties = Properties::load(
            root.get("properties"),
            Some(parent.properties().clone()),
            &environment.config_dir,
        )?;
        let mut builder = HeapBuilder::new(
            environment,
            format!("route {id}"),
            Some(name.clone()),
            Some(parent.clone()),
            properties.clone(),
            root.get("heap"),
            Vec::new(),
        )?;
        builder.add_global_decorators(root.get("globalDecorators"))?;
        let decorations: Vec<(String, Located<'_>)> = members
            .keys()
            .filter(|key| !ROUTE_KEYS.contains(&key.as_str()))
            .filter_map(|key| root.get(key).map(|at| (key.clone(), at)))
            .collect();
        // A key that is neither a setting nor a decorator is the commonest mistake (a typo of
        // "condition"): report it before anything else in the route can fail.
        for (name, at) in &decorations {
            if let Some(close) = did_you_mean(name, ROUTE_KEYS.iter().copied()) {
                return Err(at
                    .key_error(format!("unknown key \"{name}\" in the route"))
                    .with_hint(format!("did you mean \"{close}\"?")));
            }
            builder.resolve_decorator(name, at)?;
        }
        builder.build_all()?;
        let handler_at = root.get("handler").ok_or_else(|| {
            let close = members
                .keys()
                .find_map(|key| did_you_mean(key, ["handler"]).map(|_| key.clone()));
            let error = root.error("the route has no \"handler\"");
            match close {
                Some(key) => error.with_hint(format!("did you mean \"handler\" instead of \"{key}\"?")),
                None => error.with_hint("add \"handler\": a heap object name such as \"ReverseProxyHandler\", or an inline declaration"),
            }
        })?;
        let handler = builder.resolve_handler(&handler_at)?;
        let handler =
            match builder.apply_decorations(
                HeapObject::Handler(handler),
                "handler",
                &decorations,
            )? {
                HeapObject::Handler(handler) => handler,
                _ => return Err(root.error(
                    "a route decorator replaced the handler with something that is not a handler",
                )),
            };
        let condition = match root.get("condition") {
            Some(at) => Some(builder.expression(&at)?),
            None => None,
        };
        let session = resolve_manager(&mut builder, root.get("session").as_ref(), &root, false)?;
        let heap = builder.finish();
        Ok(Route {
            id: Arc::from(id),
            name: Arc::from(name),
            file: path.to_path_buf(),
            condition,
            handler,
            properties,
            session,
            _heap: heap,
        })
    }
}

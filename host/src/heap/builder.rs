//! Building a heap from its declarations: resolving references (by name through the parent
//! heaps, or inline), refusing duplicates and cycles, and applying decorators.

use std::sync::{Arc, LazyLock};

use indexmap::IndexMap;

use super::properties::{ConfigScope, Properties};
use super::{
    DecorationContext, Decorator, Environment, GlobalDecoration, Heap, HeapObject, ObjectKind,
};
use crate::config::{ConfigError, Located, did_you_mean, pointer_push, typed};
use crate::expr::{Expression, Value};
use crate::handler::{Filter, Handler};

static EMPTY_CONFIG: LazyLock<serde_json::Value> =
    LazyLock::new(|| serde_json::Value::Object(serde_json::Map::new()));

/// The keys of a heap declaration with a fixed meaning; every other key names a decorator.
const DECLARATION_KEYS: &[&str] = &["name", "type", "config", "comment"];

/// One `{ "name", "type", "config" }` object, with its decorations in written order.
#[derive(Clone)]
pub struct Declaration<'d> {
    pub name: String,
    pub type_name: String,
    /// The declaration object itself, for errors about it as a whole.
    pub at: Located<'d>,
    /// Its `config` (an empty object when absent).
    pub config: Located<'d>,
    pub decorations: Vec<(String, Located<'d>)>,
}

impl<'d> Declaration<'d> {
    /// Reads a declaration; `name` is required for heap entries and generated for inline ones.
    pub fn parse(at: Located<'d>, generated_name: Option<String>) -> Result<Self, ConfigError> {
        let serde_json::Value::Object(members) = at.value else {
            return Err(at.error(
                "expected an object declaration such as {\"name\": \"...\", \"type\": \"...\", \"config\": {}}",
            ));
        };
        let name = match (members.get("name"), generated_name) {
            (Some(serde_json::Value::String(name)), _) if !name.is_empty() => name.clone(),
            (Some(_), _) => {
                return Err(at
                    .get("name")
                    .map(|name| name.error("\"name\" must be a non-empty string"))
                    .unwrap_or_else(|| at.error("\"name\" must be a non-empty string")));
            }
            (None, Some(generated)) => generated,
            (None, None) => {
                return Err(at.error("this heap declaration has no \"name\"")
                    .with_hint("every object in a \"heap\" array needs a unique \"name\" so that others can refer to it"));
            }
        };
        let type_name = match members.get("type") {
            Some(serde_json::Value::String(type_name)) if !type_name.is_empty() => {
                type_name.clone()
            }
            Some(_) => {
                return Err(at
                    .get("type")
                    .map(|t| t.error("\"type\" must be a type name such as \"Chain\""))
                    .unwrap_or_else(|| at.error("\"type\" must be a string")));
            }
            None => {
                return Err(at
                    .error(format!("the declaration of \"{name}\" has no \"type\""))
                    .with_hint("add \"type\": the name of a native or plugin type, for example \"StaticResponseHandler\""));
            }
        };
        let config = match at.get("config") {
            Some(config) if config.value.is_null() => Located {
                value: &EMPTY_CONFIG,
                ..config
            },
            Some(config) => config,
            None => Located {
                doc: at.doc,
                pointer: pointer_push(&at.pointer, "config"),
                value: &EMPTY_CONFIG,
            },
        };
        let decorations = members
            .keys()
            .filter(|key| !DECLARATION_KEYS.contains(&key.as_str()))
            .filter_map(|key| at.get(key).map(|value| (key.clone(), value)))
            .collect();
        Ok(Declaration {
            name,
            type_name,
            at,
            config,
            decorations,
        })
    }
}

type ReadyHook = Box<dyn FnOnce(&Arc<Heap>) + Send>;

pub struct HeapBuilder<'d> {
    environment: Arc<Environment>,
    label: String,
    route: Option<String>,
    parent: Option<Arc<Heap>>,
    pending: IndexMap<String, Declaration<'d>>,
    built: IndexMap<String, HeapObject>,
    in_progress: Vec<String>,
    properties: Arc<Properties>,
    global_decorators: Vec<GlobalDecoration>,
    ready_hooks: Vec<ReadyHook>,
}

impl<'d> HeapBuilder<'d> {
    /// Reads the declarations of a `heap` array (absent means empty), refusing duplicates.
    /// `extra` are implicit declarations (the always-present objects) that an explicit
    /// declaration of the same name replaces.
    pub fn new(
        environment: Arc<Environment>,
        label: impl Into<String>,
        route: Option<String>,
        parent: Option<Arc<Heap>>,
        properties: Arc<Properties>,
        heap: Option<Located<'d>>,
        extra: Vec<Declaration<'d>>,
    ) -> Result<Self, ConfigError> {
        let mut pending: IndexMap<String, Declaration<'d>> = IndexMap::new();
        if let Some(heap) = heap {
            let serde_json::Value::Array(entries) = heap.value else {
                return Err(heap.error("\"heap\" must be an array of object declarations"));
            };
            for index in 0..entries.len() {
                let Some(entry) = heap.index(index) else {
                    continue;
                };
                let declaration = Declaration::parse(entry, None)?;
                if let Some(first) = pending.get(&declaration.name) {
                    let first_at = first
                        .at
                        .doc
                        .position_of(&first.at.pointer)
                        .map(|p| format!(" (line {}, column {})", p.line, p.column))
                        .unwrap_or_default();
                    return Err(declaration
                        .at
                        .error(format!(
                            "the heap declares \"{}\" twice; the first is at {}{first_at}",
                            declaration.name, first.at.pointer
                        ))
                        .with_hint("heap names must be unique within one heap: rename or remove one of them"));
                }
                pending.insert(declaration.name.clone(), declaration);
            }
        }
        for declaration in extra {
            pending
                .entry(declaration.name.clone())
                .or_insert(declaration);
        }
        let global_decorators = parent
            .as_ref()
            .map(|parent| parent.global_decorators().to_vec())
            .unwrap_or_default();
        Ok(HeapBuilder {
            environment,
            label: label.into(),
            route,
            parent,
            pending,
            built: IndexMap::new(),
            in_progress: Vec::new(),
            properties,
            global_decorators,
            ready_hooks: Vec::new(),
        })
    }

    pub fn environment(&self) -> &Arc<Environment> {
        &self.environment
    }

    pub fn properties(&self) -> &Arc<Properties> {
        &self.properties
    }

    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// Adds this heap's `globalDecorators` (a map of decorator name to decoration) after the
    /// inherited ones.
    pub fn add_global_decorators(&mut self, map: Option<Located<'d>>) -> Result<(), ConfigError> {
        let Some(map) = map else { return Ok(()) };
        let serde_json::Value::Object(entries) = map.value else {
            return Err(map.error(
                "\"globalDecorators\" must be an object mapping decorator names to their configuration, e.g. {\"timer\": true}",
            ));
        };
        for name in entries.keys() {
            let Some(config) = map.get(name) else {
                continue;
            };
            let decorator = self.resolve_decorator(name, &config)?;
            let evaluated = self.config_value(&config)?;
            self.global_decorators.push(GlobalDecoration {
                name: name.clone(),
                decorator,
                config: evaluated,
            });
        }
        Ok(())
    }

    /// Builds every declared object, so that errors in objects nobody references yet are
    /// found at load time rather than never.
    pub fn build_all(&mut self) -> Result<(), ConfigError> {
        let names: Vec<String> = self.pending.keys().cloned().collect();
        for name in names {
            if !self.built.contains_key(&name) {
                self.build_named(&name)?;
            }
        }
        Ok(())
    }

    /// Runs `hook` with the finished heap, once every object is built: routers use it to load
    /// their routes with this heap as the routes' parent.
    pub fn on_ready(&mut self, hook: impl FnOnce(&Arc<Heap>) + Send + 'static) {
        self.ready_hooks.push(Box::new(hook));
    }

    pub fn finish(self) -> Arc<Heap> {
        let heap = Arc::new(Heap {
            label: self.label,
            parent: self.parent.as_ref().map(Arc::downgrade),
            objects: self.built,
            global_decorators: self.global_decorators,
            properties: self.properties,
            environment: self.environment,
        });
        for hook in self.ready_hooks {
            hook(&heap);
        }
        heap
    }

    /// Resolves a reference: a name (this heap, then the parents) or an inline declaration.
    pub fn resolve(&mut self, reference: &Located<'d>) -> Result<HeapObject, ConfigError> {
        match reference.value {
            serde_json::Value::String(name) => self.resolve_name(name, reference),
            serde_json::Value::Object(_) => {
                let generated = format!("{}{}", self.label, reference.pointer);
                let declaration = Declaration::parse(reference.clone(), Some(generated))?;
                self.build(&declaration)
            }
            _ => Err(reference.error(
                "expected the name of a heap object or an inline declaration {\"type\": ..., \"config\": ...}",
            )),
        }
    }

    pub fn resolve_handler(
        &mut self,
        reference: &Located<'d>,
    ) -> Result<Arc<dyn Handler>, ConfigError> {
        match self.resolve(reference)? {
            HeapObject::Handler(handler) => Ok(handler),
            other => Err(wrong_kind(reference, other.kind(), ObjectKind::Handler)),
        }
    }

    pub fn resolve_filter(
        &mut self,
        reference: &Located<'d>,
    ) -> Result<Arc<dyn Filter>, ConfigError> {
        match self.resolve(reference)? {
            HeapObject::Filter(filter) => Ok(filter),
            other => Err(wrong_kind(reference, other.kind(), ObjectKind::Filter)),
        }
    }

    /// Resolves a reference to a service object of type `T` (proxy options, a secret store ...).
    pub fn resolve_service<T: std::any::Any + Send + Sync>(
        &mut self,
        reference: &Located<'d>,
        what: &str,
    ) -> Result<Arc<T>, ConfigError> {
        let object = self.resolve(reference)?;
        object
            .service::<T>()
            .ok_or_else(|| reference.error(format!("this object is not {what}")))
    }

    /// Looks a name up without building anything new in parents; for optional defaults such as
    /// the heap object named `ProxyOptions`.
    pub fn lookup(
        &mut self,
        name: &str,
        at: &Located<'d>,
    ) -> Result<Option<HeapObject>, ConfigError> {
        match self.lookup_local(name, at)? {
            Some(object) => Ok(Some(object)),
            None => Ok(self.parent.as_ref().and_then(|parent| parent.get(name))),
        }
    }

    /// Like [`Self::lookup`], but only in the heap being built: for defaults that a scope
    /// declares for itself (a route's `Session`) and must not pick up from its parents.
    pub fn lookup_local(
        &mut self,
        name: &str,
        at: &Located<'d>,
    ) -> Result<Option<HeapObject>, ConfigError> {
        if self.built.contains_key(name) || self.pending.contains_key(name) {
            return self.resolve_name(name, at).map(Some);
        }
        Ok(None)
    }

    fn resolve_name(&mut self, name: &str, at: &Located<'d>) -> Result<HeapObject, ConfigError> {
        if let Some(object) = self.built.get(name) {
            return Ok(object.clone());
        }
        if self.pending.contains_key(name) {
            if self.in_progress.iter().any(|building| building == name) {
                let mut cycle = self.in_progress.clone();
                cycle.push(name.to_owned());
                let start = cycle.iter().position(|n| n == name).unwrap_or(0);
                return Err(at
                    .error(format!(
                        "reference cycle in the heap: {}",
                        cycle[start..].join(" -> ")
                    ))
                    .with_hint("an object cannot refer to itself, directly or through others"));
            }
            return self.build_named(name);
        }
        if let Some(object) = self.parent.as_ref().and_then(|parent| parent.get(name)) {
            return Ok(object);
        }
        let mut known: Vec<String> = self.pending.keys().cloned().collect();
        if let Some(parent) = &self.parent {
            known.extend(parent.visible_names());
        }
        let hint = match did_you_mean(name, known.iter().map(String::as_str)) {
            Some(close) => format!(
                "did you mean \"{close}\"? Declare \"{name}\" in a \"heap\" or use an inline declaration"
            ),
            None => format!(
                "declare \"{name}\" in this file's \"heap\" or in config.json; known names: {}",
                known.join(", ")
            ),
        };
        Err(at
            .error(format!("no heap object is named \"{name}\""))
            .with_hint(hint))
    }

    fn build_named(&mut self, name: &str) -> Result<HeapObject, ConfigError> {
        let Some(declaration) = self.pending.get(name).cloned() else {
            return Err(ConfigError::new(format!("no declaration named \"{name}\"")));
        };
        self.in_progress.push(name.to_owned());
        let result = self.build(&declaration);
        self.in_progress.pop();
        let object = result?;
        self.built.insert(name.to_owned(), object.clone());
        Ok(object)
    }

    fn build(&mut self, declaration: &Declaration<'d>) -> Result<HeapObject, ConfigError> {
        let Some(factory) = self
            .environment
            .registry
            .get(&declaration.type_name)
            .cloned()
        else {
            let type_at = declaration
                .at
                .get("type")
                .unwrap_or_else(|| declaration.at.clone());
            let registry = &self.environment.registry;
            let known: Vec<&str> = registry.names().collect();
            let suggestion = did_you_mean(&declaration.type_name, known.iter().copied())
                .map(|close| format!("did you mean \"{close}\"? "))
                .unwrap_or_default();
            return Err(type_at
                .error(format!("unknown type \"{}\"", declaration.type_name))
                .with_hint(format!("{suggestion}known types: {}", known.join(", "))));
        };
        let mut object = (factory.create)(self, declaration)?;
        if object.kind() == ObjectKind::Decorator {
            if let Some((name, at)) = declaration.decorations.first() {
                return Err(at.key_error(format!(
                    "\"{name}\" cannot decorate \"{}\": decorators are not themselves decorated",
                    declaration.name
                )));
            }
            return Ok(object);
        }
        let context = DecorationContext {
            object_name: &declaration.name,
            route: self.route.as_deref(),
        };
        for global in &self.global_decorators {
            if global.decorator.accepts(object.kind()) {
                object = global
                    .decorator
                    .decorate(object, &global.config, &context)
                    .map_err(|reason| {
                        declaration.at.error(format!(
                            "global decorator \"{}\" failed on \"{}\": {reason}",
                            global.name, declaration.name
                        ))
                    })?;
            }
        }
        self.apply_decorations(object, &declaration.name, &declaration.decorations)
    }

    /// Applies decoration keys, in the order written, to an object.
    pub fn apply_decorations(
        &mut self,
        mut object: HeapObject,
        object_name: &str,
        decorations: &[(String, Located<'d>)],
    ) -> Result<HeapObject, ConfigError> {
        let route = self.route.clone();
        let context = DecorationContext {
            object_name,
            route: route.as_deref(),
        };
        for (name, decoration) in decorations {
            let decorator = self.resolve_decorator(name, decoration)?;
            if !decorator.accepts(object.kind()) {
                return Err(decoration.key_error(format!(
                    "decorator \"{name}\" cannot decorate {}",
                    object.kind().describe()
                )));
            }
            let evaluated = self.decoration_value(decoration)?;
            object = decorator
                .decorate(object, &evaluated, &context)
                .map_err(|reason| decoration.error(format!("decorator \"{name}\": {reason}")))?;
        }
        Ok(object)
    }

    /// Finds the decorator a decoration key names; an unknown key gets a hint listing the
    /// reserved keys and decorators it might have meant.
    pub fn resolve_decorator(
        &mut self,
        name: &str,
        at: &Located<'d>,
    ) -> Result<Arc<dyn Decorator>, ConfigError> {
        let object = if self.built.contains_key(name) || self.pending.contains_key(name) {
            Some(self.resolve_name(name, at)?)
        } else {
            self.parent.as_ref().and_then(|parent| parent.get(name))
        };
        match object {
            Some(HeapObject::Decorator(decorator)) => Ok(decorator),
            Some(other) => Err(at.key_error(format!(
                "\"{name}\" is used as a decorator but the heap object of that name is {}",
                other.kind().describe()
            ))),
            None => {
                let decorators = self.decorator_names();
                let hint = match did_you_mean(name, decorators.iter().map(String::as_str)) {
                    Some(close) => format!("did you mean the decorator \"{close}\"?"),
                    None => format!(
                        "keys that are not settings name decorators; known decorators: {}",
                        decorators.join(", ")
                    ),
                };
                Err(at
                    .key_error(format!(
                        "unknown key \"{name}\": not a setting and no decorator has that name"
                    ))
                    .with_hint(hint))
            }
        }
    }

    /// Names of decorators visible from here, for hints.
    pub fn decorator_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .built
            .iter()
            .filter(|(_, object)| object.kind() == ObjectKind::Decorator)
            .map(|(name, _)| name.clone())
            .collect();
        for (name, declaration) in &self.pending {
            let is_decorator = self
                .environment
                .registry
                .get(&declaration.type_name)
                .is_some_and(|factory| factory.kind == ObjectKind::Decorator);
            if is_decorator && !names.contains(name) {
                names.push(name.clone());
            }
        }
        let mut heap = self.parent.clone();
        while let Some(current) = heap {
            for name in current.visible_names() {
                if matches!(current.get(&name), Some(HeapObject::Decorator(_)))
                    && !names.contains(&name)
                {
                    names.push(name);
                }
            }
            heap = current.parent();
        }
        names
    }

    /// A configuration string, with `${...}` evaluated now against properties, `env` and
    /// `system`.
    pub fn config_string(&self, at: &Located<'_>) -> Result<String, ConfigError> {
        let serde_json::Value::String(text) = at.value else {
            return Err(at.error("expected a string"));
        };
        if !text.contains("${") {
            return Ok(text.clone());
        }
        let expression = Expression::parse(text).map_err(|error| {
            at.doc
                .error_in_string(&at.pointer, error.offset, error.message.clone())
        })?;
        let scope = ConfigScope::new(&self.properties, &self.environment.config_dir);
        match expression.try_eval(&scope) {
            Ok(Value::Null) => Err(at
                .error(format!("\"{text}\" evaluated to null"))
                .with_hint("check that the properties, environment variables or system properties it reads are set")),
            Ok(value) => Ok(value.to_string()),
            Err(error) => Err(at.error(format!("\"{text}\" could not be evaluated: {error}"))),
        }
    }

    /// A plugin's configuration: strings whose expressions read only configuration-time values
    /// (`env`, `system`, `openig` and the properties in scope) are evaluated now, as IG users
    /// expect of `"${env['ORDERS_URL']}"`; every other string is passed as written, for the
    /// plugin to compile: per-request expressions, constants such as `"${true}"` that a plugin
    /// may want as an expression, and text that merely looks like one (a regular expression
    /// template `"user:${name}"`).
    pub fn plugin_config_value(&self, at: &Located<'_>) -> Result<serde_json::Value, ConfigError> {
        self.evaluate_tree(at, &|text| {
            Expression::parse(text).is_ok_and(|expression| {
                let roots = expression.roots();
                !roots.is_empty()
                    && roots.iter().all(|root| {
                        matches!(root.as_ref(), "env" | "system" | "openig")
                            || self.properties.get(root).is_some()
                    })
            })
        })
    }

    /// A decoration's value: evaluated now, as IG evaluates `"timer": "${env['TIMED']}"`,
    /// except strings whose expressions read the exchange, which the decorator gets as written
    /// to evaluate per request (IG's runtime expressions: a `baseURI` taken from a request
    /// header). An expression that does not parse, or reads an unknown root, stays a load
    /// error.
    pub fn decoration_value(&self, at: &Located<'_>) -> Result<serde_json::Value, ConfigError> {
        self.evaluate_tree(at, &|text| {
            !Expression::parse(text).is_ok_and(|expression| {
                expression
                    .roots()
                    .iter()
                    .any(|root| crate::exchange::REQUEST_TIME_ROOTS.contains(&root.as_ref()))
            })
        })
    }

    /// A JSON configuration tree with every string's `${...}` evaluated now; for objects whose
    /// settings are all configuration-time values.
    pub fn config_value(&self, at: &Located<'_>) -> Result<serde_json::Value, ConfigError> {
        self.evaluate_tree(at, &|_| true)
    }

    /// Copies a JSON tree, evaluating the `${...}` strings `evaluate_now` picks.
    fn evaluate_tree(
        &self,
        at: &Located<'_>,
        evaluate_now: &dyn Fn(&str) -> bool,
    ) -> Result<serde_json::Value, ConfigError> {
        match at.value {
            serde_json::Value::String(text) if text.contains("${") && evaluate_now(text) => {
                let evaluated = self.config_string(at)?;
                // A whole-string expression may produce a number or boolean the setting needs.
                Ok(serde_json::from_str::<serde_json::Value>(&evaluated)
                    .ok()
                    .filter(|value| {
                        !value.is_string()
                            && text.trim().starts_with("${")
                            && text.trim().ends_with('}')
                    })
                    .unwrap_or(serde_json::Value::String(evaluated)))
            }
            serde_json::Value::Array(items) => (0..items.len())
                .filter_map(|index| at.index(index))
                .map(|item| self.evaluate_tree(&item, evaluate_now))
                .collect::<Result<Vec<_>, _>>()
                .map(serde_json::Value::Array),
            serde_json::Value::Object(members) => {
                let mut out = serde_json::Map::new();
                for key in members.keys() {
                    if let Some(member) = at.get(key) {
                        out.insert(key.clone(), self.evaluate_tree(&member, evaluate_now)?);
                    }
                }
                Ok(serde_json::Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// A request-time expression (a condition, a header value template ...), compiled now.
    pub fn expression(&self, at: &Located<'_>) -> Result<Expression, ConfigError> {
        let text = match at.value {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Bool(value) => value.to_string(),
            serde_json::Value::Number(number) => number.to_string(),
            _ => return Err(at.error(
                "expected a string holding an expression such as \"${request.method == 'GET'}\"",
            )),
        };
        Expression::parse(&text).map_err(|error| {
            at.doc.error_in_string(
                &at.pointer,
                error.offset,
                format!("invalid expression: {}", error.message),
            )
        })
    }

    /// Typed decoding of a configuration object with `deny_unknown_fields` and hints.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        at: &Located<'_>,
    ) -> Result<T, ConfigError> {
        typed::decode(at.doc, &at.pointer, at.value)
    }
}

fn wrong_kind(at: &Located<'_>, found: ObjectKind, wanted: ObjectKind) -> ConfigError {
    at.error(format!(
        "this refers to {}, but {} is needed here",
        found.describe(),
        wanted.describe()
    ))
}

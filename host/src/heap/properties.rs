//! `properties`: named values usable as `${name}` in configuration and at request time, and
//! the scope configuration-time expressions evaluate in.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::config::{ConfigError, Located};
use crate::exchange::scope::{env_lookup, now_value, system_lookup};
use crate::expr::{EvalError, Expression, Scope, Value};

/// Largest file a `$location` property may load; properties are configuration, not data.
const LOCATION_LIMIT: u64 = 4 << 20;

#[derive(Debug, Default)]
pub struct Properties {
    values: IndexMap<String, Value>,
    parent: Option<Arc<Properties>>,
}

impl Properties {
    pub fn empty() -> Arc<Properties> {
        Arc::new(Properties::default())
    }

    /// Reads a `properties` object. Values are evaluated in order, so a property may use the
    /// ones before it and the parent's; `{"$location": "file"}` loads a value (or, in place of
    /// the whole object, all properties) from a file relative to the configuration directory.
    pub fn load(
        at: Option<Located<'_>>,
        parent: Option<Arc<Properties>>,
        config_dir: &Path,
    ) -> Result<Arc<Properties>, ConfigError> {
        let mut properties = Properties {
            values: IndexMap::new(),
            parent,
        };
        let Some(at) = at else {
            return Ok(Arc::new(properties));
        };
        let serde_json::Value::Object(members) = at.value else {
            return Err(at.error("\"properties\" must be an object of named values"));
        };
        if let Some(location) = location_of(members) {
            let loaded = properties.load_location(&at, location, config_dir)?;
            let serde_json::Value::Object(loaded) = loaded else {
                return Err(at.error(format!(
                    "the properties file {location} must hold a JSON object of named values"
                )));
            };
            for (name, value) in loaded {
                let value = properties.evaluate_json(&at, &value, config_dir)?;
                properties.values.insert(name, value);
            }
            return Ok(Arc::new(properties));
        }
        for name in members.keys() {
            let Some(member) = at.get(name) else { continue };
            let value = properties.evaluate_located(&member, config_dir)?;
            properties.values.insert(name.clone(), value);
        }
        Ok(Arc::new(properties))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.values.get(name) {
            Some(value) => Some(value),
            None => self.parent.as_ref()?.get(name),
        }
    }

    fn evaluate_located(&self, at: &Located<'_>, config_dir: &Path) -> Result<Value, ConfigError> {
        match at.value {
            serde_json::Value::Object(members) => {
                if let Some(location) = location_of(members) {
                    let loaded = self.load_location(at, location, config_dir)?;
                    return self.evaluate_json(at, &loaded, config_dir);
                }
                let mut map = IndexMap::new();
                for key in members.keys() {
                    if let Some(member) = at.get(key) {
                        map.insert(key.clone(), self.evaluate_located(&member, config_dir)?);
                    }
                }
                Ok(Value::Map(Arc::new(map)))
            }
            serde_json::Value::Array(items) => (0..items.len())
                .filter_map(|index| at.index(index))
                .map(|item| self.evaluate_located(&item, config_dir))
                .collect::<Result<Vec<_>, _>>()
                .map(|list| Value::List(Arc::new(list))),
            serde_json::Value::String(text) if text.contains("${") => {
                let expression = Expression::parse(text).map_err(|error| {
                    at.doc
                        .error_in_string(&at.pointer, error.offset, error.message.clone())
                })?;
                let scope = ConfigScope::new(self, config_dir);
                expression
                    .try_eval(&scope)
                    .map_err(|error| at.error(format!("property could not be evaluated: {error}")))
            }
            other => Ok(Value::from_json(other)),
        }
    }

    /// Values loaded from a `$location` file have no positions of their own; errors point at
    /// the `$location` entry.
    fn evaluate_json(
        &self,
        at: &Located<'_>,
        value: &serde_json::Value,
        config_dir: &Path,
    ) -> Result<Value, ConfigError> {
        match value {
            serde_json::Value::String(text) if text.contains("${") => {
                let expression = Expression::parse(text)
                    .map_err(|error| at.error(format!("in \"{text}\": {}", error.message)))?;
                expression
                    .try_eval(&ConfigScope::new(self, config_dir))
                    .map_err(|error| {
                        at.error(format!("\"{text}\" could not be evaluated: {error}"))
                    })
            }
            other => Ok(Value::from_json(other)),
        }
    }

    fn load_location(
        &self,
        at: &Located<'_>,
        location: &str,
        config_dir: &Path,
    ) -> Result<serde_json::Value, ConfigError> {
        let location = if location.contains("${") {
            let expression = Expression::parse(location)
                .map_err(|error| at.error(format!("in $location: {}", error.message)))?;
            expression
                .eval(&ConfigScope::new(self, config_dir))
                .to_string()
        } else {
            location.to_owned()
        };
        let location = location.strip_prefix("file://").unwrap_or(&location);
        let path = config_dir.join(location);
        let read = || -> std::io::Result<String> {
            let metadata = std::fs::metadata(&path)?;
            if metadata.len() > LOCATION_LIMIT {
                return Err(std::io::Error::other(format!(
                    "it is larger than {LOCATION_LIMIT} bytes"
                )));
            }
            std::fs::read_to_string(&path)
        };
        let text = read().map_err(|error| {
            at.error(format!(
                "$location {} cannot be read: {error}",
                path.display()
            ))
            .with_hint("paths are relative to the configuration directory")
        })?;
        Ok(serde_json::from_str(&text).unwrap_or_else(|_| {
            serde_json::Value::String(text.trim_end_matches(['\n', '\r']).to_owned())
        }))
    }
}

fn location_of(members: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    match (members.len(), members.get("$location")) {
        (1, Some(serde_json::Value::String(location))) => Some(location),
        _ => None,
    }
}

/// What configuration-time expressions see: properties by name, `env`, `system`, `now` and
/// `openig.configDirectory`.
pub struct ConfigScope<'a> {
    properties: &'a Properties,
    config_dir: &'a Path,
}

impl<'a> ConfigScope<'a> {
    pub fn new(properties: &'a Properties, config_dir: &'a Path) -> Self {
        ConfigScope {
            properties,
            config_dir,
        }
    }
}

impl Scope for ConfigScope<'_> {
    fn lookup(&self, root: &str, path: &[Value]) -> Option<(Value, usize)> {
        match root {
            "env" => Some(env_lookup(path)),
            "system" => Some(system_lookup(path)),
            "now" => Some((now_value(), 0)),
            "openig" => {
                let directory = Value::from(self.config_dir.display().to_string());
                let instance = self
                    .config_dir
                    .parent()
                    .map(|parent| Value::from(parent.display().to_string()))
                    .unwrap_or(Value::Null);
                Some((
                    Value::Map(Arc::new(IndexMap::from([
                        ("configDirectory".to_owned(), directory),
                        ("instanceDirectory".to_owned(), instance),
                    ]))),
                    0,
                ))
            }
            name => self.properties.get(name).map(|value| (value.clone(), 0)),
        }
    }

    fn assign(&mut self, root: &str, _path: &[Value], _value: Value) -> Result<(), EvalError> {
        Err(crate::exchange::scope::not_assignable(format!(
            "`{root}` cannot be assigned in configuration"
        )))
    }
}

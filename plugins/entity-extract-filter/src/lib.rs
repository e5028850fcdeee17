//! IG's `EntityExtractFilter`: matches regular expressions against the request or response
//! body and assigns the results, a map of `key` to value, to `target`. A binding's value is
//! its `template` with `$1`, `$2` ... (or `${name}`) replaced by the groups of the first match,
//! or the whole first match without a template; no match gives null.
//!
//! ```json
//! {"type": "EntityExtractFilter", "config": {
//!     "messageType": "RESPONSE",
//!     "target": "${attributes.extracted}",
//!     "bindings": [{"key": "csrf", "pattern": "name=\"csrf\" value=\"([^\"]+)\"", "template": "$1"}]
//! }}
//! ```
//!
//! The body is read in `charset` (UTF-8, ISO-8859-1 or US-ASCII), by default in the charset
//! its `Content-Type` names, else UTF-8.

mod charset;

use ferrogate_sdk::{Expression, Filter, Message, MessageType, Outcome, Phases, Request, Response};
use regex::Regex;

use crate::charset::Charset;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingConfig {
    key: String,
    pattern: String,
    #[serde(default)]
    template: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    message_type: MessageType,
    target: String,
    bindings: Vec<BindingConfig>,
    /// Overrides the charset of the message's `Content-Type`.
    #[serde(default)]
    charset: Option<String>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

struct Binding {
    key: String,
    pattern: Regex,
    template: Option<String>,
}

/// The largest body searched; a larger one is not buffered and extracts nothing.
const BODY_LIMIT: u64 = 1 << 20;

struct EntityExtractFilter {
    message_type: MessageType,
    target: Expression,
    bindings: Vec<Binding>,
    charset: Option<Charset>,
}

impl EntityExtractFilter {
    fn extract(&self, message: &impl Message) -> Result<(), String> {
        let body = match message.body(BODY_LIMIT) {
            Ok(body) => body,
            Err(error) => {
                ferrogate_sdk::warn!("body not searched: {error}");
                Vec::new()
            }
        };
        let charset = self
            .charset
            .or_else(|| {
                message
                    .first_header("Content-Type")
                    .and_then(|content_type| Charset::of_content_type(&content_type))
            })
            .unwrap_or(Charset::Utf8);
        let text = charset.decode(&body);
        let mut extracted = serde_json::Map::new();
        for binding in &self.bindings {
            let value = binding
                .pattern
                .captures(&text)
                .map(|captures| match &binding.template {
                    Some(template) => {
                        let mut out = String::new();
                        captures.expand(template, &mut out);
                        out
                    }
                    None => captures[0].to_owned(),
                });
            extracted.insert(
                binding.key.clone(),
                value.map_or(serde_json::Value::Null, serde_json::Value::String),
            );
        }
        self.target
            .assign(&serde_json::Value::Object(extracted).to_string())
            .map_err(|e| format!("\"target\": {e}"))
    }
}

impl Filter for EntityExtractFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let charset = config
            .charset
            .as_deref()
            .map(|name| {
                Charset::named(name).ok_or_else(|| {
                    format!(
                        "\"charset\": {name} is not supported; use UTF-8, ISO-8859-1 or US-ASCII"
                    )
                })
            })
            .transpose()?;
        let bindings = config
            .bindings
            .into_iter()
            .enumerate()
            .map(|(index, binding)| {
                let pattern = Regex::new(&binding.pattern)
                    .map_err(|e| format!("\"bindings\"[{index}].pattern: {e}"))?;
                Ok(Binding {
                    key: binding.key,
                    pattern,
                    template: binding.template,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(EntityExtractFilter {
            message_type: config.message_type,
            target: ferrogate_sdk::compile(&config.target)
                .map_err(|e| format!("\"target\": {e}"))?,
            bindings,
            charset,
        })
    }

    fn phases(&self) -> Phases {
        self.message_type.phases()
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        if self.message_type == MessageType::Request {
            self.extract(req)?;
        }
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        if self.message_type == MessageType::Response {
            self.extract(resp)?;
        }
        Ok(())
    }
}

ferrogate_sdk::export_filter!(EntityExtractFilter, "EntityExtractFilter");

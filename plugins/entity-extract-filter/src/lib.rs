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

use ferrogate_sdk::{Expression, Filter, Outcome, Phases, Request, Response};
use regex::Regex;

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
enum MessageType {
    Request,
    Response,
}

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
    /// IG reads the body in this charset; bodies are read as UTF-8 (invalid bytes replaced).
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
}

impl EntityExtractFilter {
    fn extract(&self, body: Result<Vec<u8>, String>) -> Result<(), String> {
        let body = match body {
            Ok(body) => body,
            Err(error) => {
                ferrogate_sdk::warn!("body not searched: {error}");
                Vec::new()
            }
        };
        let text = String::from_utf8_lossy(&body);
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
        if let Some(charset) = config.charset.as_deref()
            && !charset.eq_ignore_ascii_case("UTF-8")
        {
            return Err(format!(
                "\"charset\": only UTF-8 is supported, not {charset}"
            ));
        }
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
        })
    }

    fn phases(&self) -> Phases {
        match self.message_type {
            MessageType::Request => Phases::REQUEST,
            MessageType::Response => Phases::RESPONSE,
        }
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        if self.message_type == MessageType::Request {
            self.extract(req.body(BODY_LIMIT))?;
        }
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        if self.message_type == MessageType::Response {
            self.extract(resp.body(BODY_LIMIT))?;
        }
        Ok(())
    }
}

ferrogate_sdk::export_filter!(EntityExtractFilter, "EntityExtractFilter");

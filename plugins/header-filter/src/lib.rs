//! IG's `HeaderFilter`: removes, then adds, headers of the request or of the response.
//!
//! ```json
//! {"type": "HeaderFilter", "config": {
//!     "messageType": "REQUEST",
//!     "remove": ["Cookie"],
//!     "add": {"X-Forwarded-User": ["${attributes.user}"], "X-Gateway": ["ferrogate"]}
//! }}
//! ```
//!
//! Values of `add` are templates evaluated per request; a value that evaluates to null is
//! skipped, as IG does. Literal values (no `${`) never cross into the host to be evaluated.

use std::collections::BTreeMap;

use ferrogate_sdk::{Expression, Filter, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
enum MessageType {
    Request,
    Response,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    message_type: MessageType,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    add: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

enum HeaderValue {
    Literal(String),
    Template(Expression),
}

impl HeaderValue {
    fn parse(source: String) -> Result<Self, String> {
        if source.contains("${") {
            ferrogate_sdk::compile(&source).map(HeaderValue::Template)
        } else {
            Ok(HeaderValue::Literal(source))
        }
    }

    fn evaluate(&self) -> Option<String> {
        match self {
            HeaderValue::Literal(value) => Some(value.clone()),
            HeaderValue::Template(expression) => expression.evaluate_string(),
        }
    }
}

struct HeaderFilter {
    message_type: MessageType,
    remove: Vec<String>,
    add: Vec<(String, Vec<HeaderValue>)>,
}

/// The operations HeaderFilter needs, the same on a request and on a response.
trait Headers {
    fn remove(&self, name: &str);
    fn append(&self, name: &str, value: &str) -> Result<(), String>;
}

impl Headers for Request {
    fn remove(&self, name: &str) {
        self.remove_header(name)
    }
    fn append(&self, name: &str, value: &str) -> Result<(), String> {
        self.append_header(name, value)
    }
}

impl Headers for Response {
    fn remove(&self, name: &str) {
        self.remove_header(name)
    }
    fn append(&self, name: &str, value: &str) -> Result<(), String> {
        self.append_header(name, value)
    }
}

impl HeaderFilter {
    fn apply(&self, message: &impl Headers) -> Result<(), String> {
        for name in &self.remove {
            message.remove(name);
        }
        for (name, values) in &self.add {
            for value in values.iter().filter_map(HeaderValue::evaluate) {
                message
                    .append(name, &value)
                    .map_err(|error| format!("header \"{name}\": {error}"))?;
            }
        }
        Ok(())
    }
}

/// An HTTP token (RFC 9110 section 5.6.2): what a header name may be.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Filter for HeaderFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        for name in config.remove.iter().chain(config.add.keys()) {
            if !is_token(name) {
                return Err(format!("\"{name}\" is not a valid header name"));
            }
        }
        let mut add = Vec::with_capacity(config.add.len());
        for (name, values) in config.add {
            let values = values
                .into_iter()
                .map(HeaderValue::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| format!("\"add\" of header \"{name}\": {error}"))?;
            add.push((name, values));
        }
        Ok(HeaderFilter {
            message_type: config.message_type,
            remove: config.remove,
            add,
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
            self.apply(req)?;
        }
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        if self.message_type == MessageType::Response {
            self.apply(resp)?;
        }
        Ok(())
    }
}

ferrogate_sdk::export_filter!(HeaderFilter, "HeaderFilter");

//! IG's `HeaderFilter`: removes, then replaces, then adds, headers of the request or of the
//! response.
//!
//! ```json
//! {"type": "HeaderFilter", "config": {
//!     "messageType": "REQUEST",
//!     "remove": ["Cookie"],
//!     "replace": {"Host": ["app.internal"]},
//!     "add": {"X-Forwarded-User": ["${attributes.user}"], "X-Gateway": ["ferrogate"]}
//! }}
//! ```
//!
//! Values of `add` and `replace` are templates evaluated per request; a value that evaluates
//! to null is skipped, as IG does. Literal values (no `${`) never cross into the host to be
//! evaluated, and a filter whose values are all literal declares its whole edit at init
//! (`edit_headers`): the gateway then makes it with no call into the plugin.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ferrogate_sdk::{Expression, Filter, Message, MessageType, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    message_type: MessageType,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    add: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    replace: BTreeMap<String, Vec<String>>,
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

    fn evaluate(&self) -> Option<Cow<'_, str>> {
        match self {
            HeaderValue::Literal(value) => Some(Cow::Borrowed(value)),
            HeaderValue::Template(expression) => expression.evaluate_string().map(Cow::Owned),
        }
    }
}

type Templates = Vec<(String, Vec<HeaderValue>)>;

struct HeaderFilter {
    message_type: MessageType,
    remove: Vec<String>,
    replace: Templates,
    add: Templates,
}

fn append_all(message: &impl Message, templates: &Templates) -> Result<(), String> {
    for (name, values) in templates {
        for value in values.iter().filter_map(HeaderValue::evaluate) {
            message
                .append_header(name, &value)
                .map_err(|error| format!("header \"{name}\": {error}"))?;
        }
    }
    Ok(())
}

/// What `edit_headers` declares: the headers removed, then the ones appended.
#[derive(Debug, PartialEq)]
struct FixedEdit<'a> {
    remove: Vec<&'a str>,
    append: Vec<(&'a str, &'a str)>,
}

impl HeaderFilter {
    /// The whole edit as fixed headers, when no value is a template: IG's remove, replace,
    /// add order becomes every removal (`remove`, then the names `replace` sets) followed by
    /// every append (`replace`'s values, then `add`'s), which is the same edit.
    fn fixed_edit(&self) -> Option<FixedEdit<'_>> {
        let removed = self
            .remove
            .iter()
            .chain(self.replace.iter().map(|(name, _)| name));
        let mut appended = Vec::new();
        for (name, values) in self.replace.iter().chain(&self.add) {
            for value in values {
                let HeaderValue::Literal(value) = value else {
                    return None;
                };
                appended.push((name.as_str(), value.as_str()));
            }
        }
        Some(FixedEdit {
            remove: removed.map(String::as_str).collect(),
            append: appended,
        })
    }

    fn apply(&self, message: &impl Message) -> Result<(), String> {
        for name in &self.remove {
            message.remove_header(name);
        }
        // IG's order: remove, then replace (remove and add), then add.
        for (name, _) in &self.replace {
            message.remove_header(name);
        }
        append_all(message, &self.replace)?;
        append_all(message, &self.add)
    }
}

fn compile_all(key: &str, entries: BTreeMap<String, Vec<String>>) -> Result<Templates, String> {
    entries
        .into_iter()
        .map(|(name, values)| {
            let values = values
                .into_iter()
                .map(HeaderValue::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| format!("\"{key}\" of header \"{name}\": {error}"))?;
            Ok((name, values))
        })
        .collect()
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
        let names = config.remove.iter();
        for name in names.chain(config.replace.keys()).chain(config.add.keys()) {
            if !is_token(name) {
                return Err(format!("\"{name}\" is not a valid header name"));
            }
        }
        let filter = HeaderFilter {
            message_type: config.message_type,
            remove: config.remove,
            replace: compile_all("replace", config.replace)?,
            add: compile_all("add", config.add)?,
        };
        if let Some(edit) = filter.fixed_edit() {
            ferrogate_sdk::edit_headers(filter.message_type, &edit.remove, &edit.append)?;
        }
        Ok(filter)
    }

    fn phases(&self) -> Phases {
        self.message_type.phases()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn literals(entries: &[(&str, &[&str])]) -> Templates {
        entries
            .iter()
            .map(|(name, values)| {
                let values = values
                    .iter()
                    .map(|value| HeaderValue::Literal(value.to_string()))
                    .collect();
                (name.to_string(), values)
            })
            .collect()
    }

    #[test]
    fn literal_values_become_one_edit_in_igs_remove_replace_add_order() {
        let filter = HeaderFilter {
            message_type: MessageType::Response,
            remove: vec!["Server".into()],
            replace: literals(&[("X-Env", &["prod", "live"])]),
            add: literals(&[("X-Env", &["extra"]), ("X-Frame-Options", &["DENY"])]),
        };
        let edit = filter.fixed_edit();
        assert_eq!(
            edit,
            Some(FixedEdit {
                remove: vec!["Server", "X-Env"],
                append: vec![
                    ("X-Env", "prod"),
                    ("X-Env", "live"),
                    ("X-Env", "extra"),
                    ("X-Frame-Options", "DENY"),
                ],
            })
        );
    }
}

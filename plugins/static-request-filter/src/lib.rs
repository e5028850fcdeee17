//! IG's `StaticRequestFilter`: replaces the request with one built from the configuration:
//! `method`, `uri`, `headers`, a `form` and an `entity`. A form is the body
//! (`application/x-www-form-urlencoded`) of a POST, so not together with an entity there, and
//! query parameters otherwise. Every string is a template evaluated per request.
//!
//! ```json
//! {"type": "StaticRequestFilter", "config": {
//!     "method": "POST",
//!     "uri": "http://login.internal/authenticate",
//!     "form": {"username": ["${attributes.user}"], "password": ["${attributes.password}"]}
//! }}
//! ```

use std::collections::BTreeMap;

use ferrogate_sdk::{Expression, Filter, Outcome, Phases, Request, encoding};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    method: String,
    uri: String,
    /// Only IG's default, HTTP/1.1: the upstream client chooses the protocol.
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    form: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    entity: Option<String>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

type Templates = Vec<(String, Vec<Expression>)>;

struct StaticRequestFilter {
    method: String,
    uri: Expression,
    headers: Templates,
    form: Templates,
    entity: Option<Expression>,
}

fn compile_all(what: &str, entries: BTreeMap<String, Vec<String>>) -> Result<Templates, String> {
    entries
        .into_iter()
        .map(|(name, values)| {
            let values = values
                .iter()
                .map(|value| ferrogate_sdk::compile(value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("\"{what}\".\"{name}\": {e}"))?;
            Ok((name, values))
        })
        .collect()
}

fn evaluated(templates: &Templates) -> Vec<(&str, Vec<String>)> {
    templates
        .iter()
        .map(|(name, values)| {
            let values = values
                .iter()
                .filter_map(Expression::evaluate_string)
                .collect();
            (name.as_str(), values)
        })
        .collect()
}

impl Filter for StaticRequestFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        // Both would be the body; with another method the form goes into the query instead.
        if !config.form.is_empty()
            && config.entity.is_some()
            && config.method.eq_ignore_ascii_case("POST")
        {
            return Err("\"form\" and \"entity\" cannot be used together in a POST".into());
        }
        if config.method.is_empty() || !config.method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!(
                "\"method\": \"{}\" is not an HTTP method",
                config.method
            ));
        }
        if let Some(version) = config.version.as_deref()
            && !version.eq_ignore_ascii_case("HTTP/1.1")
        {
            return Err(format!(
                "\"version\": \"{version}\" is not supported: the upstream client chooses the HTTP version (a ClientHandler's \"protocolVersion\"); leave \"version\" out or set IG's default, HTTP/1.1"
            ));
        }
        Ok(StaticRequestFilter {
            method: config.method,
            uri: ferrogate_sdk::compile(&config.uri).map_err(|e| format!("\"uri\": {e}"))?,
            headers: compile_all("headers", config.headers)?,
            form: compile_all("form", config.form)?,
            entity: config
                .entity
                .as_deref()
                .map(ferrogate_sdk::compile)
                .transpose()
                .map_err(|e| format!("\"entity\": {e}"))?,
        })
    }

    fn phases(&self) -> Phases {
        Phases::REQUEST
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        // Evaluate everything against the incoming request before replacing it.
        let mut uri = self
            .uri
            .evaluate_string()
            .ok_or("\"uri\" evaluated to null")?;
        let headers = evaluated(&self.headers);
        let form_values = evaluated(&self.form);
        let form =
            encoding::form(form_values.iter().flat_map(|(name, values)| {
                values.iter().map(move |value| (*name, value.as_str()))
            }));
        let entity = self.entity.as_ref().and_then(Expression::evaluate_string);

        let post_form = !self.form.is_empty() && self.method.eq_ignore_ascii_case("POST");
        if !self.form.is_empty() && !post_form && !form.is_empty() {
            let separator = if uri.contains('?') { '&' } else { '?' };
            uri = format!("{uri}{separator}{form}");
        }
        req.set_method(&self.method)?;
        req.set_uri(&uri)
            .map_err(|e| format!("\"uri\" {uri}: {e}"))?;
        req.clear_headers();
        for (name, values) in headers {
            req.set_header(name, &values)?;
        }
        if post_form {
            req.set_header(
                "Content-Type",
                &["application/x-www-form-urlencoded".to_owned()],
            )?;
            req.set_body(form.as_bytes());
        } else {
            req.set_body(entity.as_deref().unwrap_or_default().as_bytes());
        }
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_filter!(StaticRequestFilter, "StaticRequestFilter");

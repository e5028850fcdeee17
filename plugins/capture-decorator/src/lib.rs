//! IG's `capture` decorator (type `CaptureDecorator`): `"capture": "all"` or a list of
//! `REQUEST`, `RESPONSE`, `FILTERED_REQUEST`, `FILTERED_RESPONSE` logs the messages passing
//! through the decorated object at those points: request line or status, headers, and, as the
//! declaration's settings ask, the body (bounded by `maxEntityLength`) and the contexts, with
//! masked header and attribute values. Around a handler, REQUEST is what it receives and
//! RESPONSE what it returns; around a filter, REQUEST and FILTERED_RESPONSE are what enters and
//! leaves the filter, FILTERED_REQUEST and RESPONSE what it passes on and gets back.

use ferrogate_sdk::{DecorationPoint, Expression, Filter, Outcome, Phases, Request, Response};
use regex::Regex;

/// IG's default `maxEntityLength`: 512 KiB.
const DEFAULT_ENTITY_LIMIT: u64 = 512 << 10;
/// What one captured body may hold at most, whatever the settings say: the log line is
/// built in the plugin's memory.
const ENTITY_LIMIT_CAP: u64 = 16 << 20;
const DEFAULT_MASK: &str = "*****";

/// The declaration's settings: `{"name": "capture", "type": "CaptureDecorator", "config": {...}}`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    capture_entity: Option<bool>,
    capture_context: Option<bool>,
    max_entity_length: Option<u64>,
    masks: Option<Masks>,
    #[allow(dead_code)]
    comment: Option<serde_json::Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Masks {
    /// Regexes matched against header names, case-insensitively.
    #[serde(default)]
    headers: Vec<String>,
    /// Regexes matched against attribute names.
    #[serde(default)]
    attributes: Vec<String>,
    mask: Option<String>,
}

/// A decoration in IG's long form, `{"capturePoints": [...], "captureEntity": true}`; its
/// settings override the declaration's.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LongForm {
    capture_points: serde_json::Value,
    capture_entity: Option<bool>,
    capture_context: Option<bool>,
    max_entity_length: Option<u64>,
}

#[derive(Default)]
struct Points {
    request: bool,
    response: bool,
    filtered_request: bool,
    filtered_response: bool,
}

/// The capture point names of a decoration: one name or a list of them.
fn point_names(value: &serde_json::Value) -> Result<Vec<String>, String> {
    match value {
        serde_json::Value::String(name) => Ok(vec![name.clone()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "capture points are strings such as \"REQUEST\"".to_owned())
            })
            .collect(),
        _ => Err("\"capture\" takes \"all\", a capture point or a list of them".into()),
    }
}

fn points(names: &[String]) -> Result<Points, String> {
    let mut points = Points::default();
    for name in names {
        match name.to_ascii_uppercase().as_str() {
            "ALL" => {
                points.request = true;
                points.response = true;
                points.filtered_request = true;
                points.filtered_response = true;
            }
            "REQUEST" => points.request = true,
            "RESPONSE" => points.response = true,
            "FILTERED_REQUEST" => points.filtered_request = true,
            "FILTERED_RESPONSE" => points.filtered_response = true,
            other => {
                return Err(format!(
                    "unknown capture point \"{other}\"; use all, REQUEST, RESPONSE, FILTERED_REQUEST or FILTERED_RESPONSE"
                ));
            }
        }
    }
    Ok(points)
}

fn regexes(patterns: &[String], case_insensitive: bool, what: &str) -> Result<Vec<Regex>, String> {
    patterns
        .iter()
        .map(|pattern| {
            regex::RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|error| format!("masks.{what}: \"{pattern}\" is not a regex: {error}"))
        })
        .collect()
}

/// Values the logs must not show.
struct Masking {
    headers: Vec<Regex>,
    attributes: Vec<Regex>,
    mask: String,
}

impl Masking {
    fn header(&self, name: &str) -> bool {
        self.headers.iter().any(|regex| regex.is_match(name))
    }

    /// Masks the values of matching attributes in the captured contexts.
    fn contexts(&self, contexts: &mut serde_json::Value) {
        if self.attributes.is_empty() {
            return;
        }
        if let Some(attributes) = contexts
            .get_mut("attributes")
            .and_then(serde_json::Value::as_object_mut)
        {
            for (name, value) in attributes.iter_mut() {
                if self.attributes.iter().any(|regex| regex.is_match(name)) {
                    *value = serde_json::Value::String(self.mask.clone());
                }
            }
        }
    }
}

struct Capture {
    /// The point `on-request` logs, if any.
    on_request: Option<&'static str>,
    /// The point `on-response` logs, if any.
    on_response: Option<&'static str>,
    /// The most of a body to capture; `None`: bodies are not captured.
    entity_limit: Option<u64>,
    /// `${contexts}`, when the contexts are captured.
    contexts: Option<Expression>,
    masking: Masking,
}

impl Capture {
    fn headers(&self, names: Vec<String>, values: impl Fn(&str) -> Vec<String>) -> String {
        let mut out = String::new();
        for name in names {
            let masked = self.masking.header(&name);
            for value in values(&name) {
                let value = if masked { &self.masking.mask } else { &value };
                out.push_str(&format!("\n  {name}: {value}"));
            }
        }
        out
    }

    fn entity(&self, read: impl Fn(u64) -> Result<Vec<u8>, String>) -> String {
        let Some(limit) = self.entity_limit else {
            return String::new();
        };
        match read(limit) {
            Ok(bytes) if bytes.is_empty() => String::new(),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => format!("\n\n{text}"),
                Err(error) => format!("\n\n[binary entity, {} bytes]", error.as_bytes().len()),
            },
            Err(_) => format!("\n\n[entity over {limit} bytes, not captured]"),
        }
    }

    fn contexts(&self) -> String {
        let Some(expression) = &self.contexts else {
            return String::new();
        };
        let mut contexts: serde_json::Value =
            serde_json::from_str(&expression.evaluate()).unwrap_or_default();
        self.masking.contexts(&mut contexts);
        format!("\n  contexts: {contexts}")
    }
}

impl Filter for Capture {
    fn new() -> Result<Self, String> {
        let settings: Settings = ferrogate_sdk::declaration()?;
        let masks = settings.masks.unwrap_or_default();
        let masking = Masking {
            headers: regexes(&masks.headers, true, "headers")?,
            attributes: regexes(&masks.attributes, false, "attributes")?,
            mask: masks.mask.unwrap_or_else(|| DEFAULT_MASK.to_owned()),
        };
        let mut capture_entity = settings.capture_entity.unwrap_or(false);
        let mut capture_context = settings.capture_context.unwrap_or(false);
        let mut entity_limit = settings.max_entity_length.unwrap_or(DEFAULT_ENTITY_LIMIT);

        let point = ferrogate_sdk::decorated_at();
        let names = if point.is_none() {
            // Only the declaration is being checked.
            Vec::new()
        } else {
            match ferrogate_sdk::config::<serde_json::Value>()? {
                serde_json::Value::Object(settings) => {
                    let long: LongForm =
                        serde_json::from_value(serde_json::Value::Object(settings))
                            .map_err(|error| format!("\"capture\": {error}"))?;
                    capture_entity = long.capture_entity.unwrap_or(capture_entity);
                    capture_context = long.capture_context.unwrap_or(capture_context);
                    entity_limit = long.max_entity_length.unwrap_or(entity_limit);
                    point_names(&long.capture_points)?
                }
                other => point_names(&other)?,
            }
        };
        if entity_limit == 0 || entity_limit > ENTITY_LIMIT_CAP {
            return Err(format!(
                "\"maxEntityLength\" must be between 1 and {ENTITY_LIMIT_CAP} bytes"
            ));
        }
        let points = points(&names)?;
        let pick = |flag: bool, name: &'static str| flag.then_some(name);
        let (on_request, on_response) = match point {
            Some(DecorationPoint::AroundFilter) => (
                pick(points.request, "REQUEST"),
                pick(points.filtered_response, "FILTERED_RESPONSE"),
            ),
            Some(DecorationPoint::InsideFilter) => (
                pick(points.filtered_request, "FILTERED_REQUEST"),
                pick(points.response, "RESPONSE"),
            ),
            _ => (
                pick(points.request, "REQUEST"),
                pick(points.response, "RESPONSE"),
            ),
        };
        let contexts = if capture_context {
            Some(ferrogate_sdk::compile("${contexts}")?)
        } else {
            None
        };
        Ok(Capture {
            on_request,
            on_response,
            entity_limit: capture_entity.then_some(entity_limit),
            contexts,
            masking,
        })
    }

    fn phases(&self) -> Phases {
        Phases {
            request: self.on_request.is_some(),
            response: self.on_response.is_some(),
        }
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        if let Some(point) = self.on_request
            && ferrogate_sdk::log_enabled(ferrogate_sdk::Level::Info)
        {
            let headers = self.headers(req.header_names(), |name| req.header(name));
            let contexts = self.contexts();
            let body = self.entity(|limit| req.body(limit));
            ferrogate_sdk::info!(
                "capture {point}\n{} {}{headers}{contexts}{body}",
                req.method(),
                req.uri()
            );
        }
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        if let Some(point) = self.on_response
            && ferrogate_sdk::log_enabled(ferrogate_sdk::Level::Info)
        {
            let headers = self.headers(resp.header_names(), |name| resp.header(name));
            let contexts = self.contexts();
            let body = self.entity(|limit| resp.body(limit));
            ferrogate_sdk::info!(
                "capture {point}\n{}{headers}{contexts}{body}",
                resp.status()
            );
        }
        Ok(())
    }
}

ferrogate_sdk::export_decorator!(Capture, "CaptureDecorator");

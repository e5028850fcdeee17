//! IG's `capture` decorator (type `CaptureDecorator`): `"capture": "all"` or a list of
//! `REQUEST`, `RESPONSE`, `FILTERED_REQUEST`, `FILTERED_RESPONSE` logs the messages passing
//! through the decorated object at those points: request line or status, headers, and the
//! body when `captureEntity` is asked for (bounded). Around a handler, REQUEST is what it
//! receives and RESPONSE what it returns; around a filter, REQUEST and FILTERED_RESPONSE are
//! what enters and leaves the filter, FILTERED_REQUEST and RESPONSE what it passes on and gets
//! back.

use ferrogate_sdk::{DecorationPoint, Filter, Outcome, Phases, Request, Response};

/// The most of a body a capture logs.
const ENTITY_LIMIT: u64 = 4 << 10;

#[derive(Default)]
struct Points {
    request: bool,
    response: bool,
    filtered_request: bool,
    filtered_response: bool,
    entity: bool,
}

/// The capture point names of a decoration, and whether bodies are asked for.
fn names(value: &serde_json::Value) -> Result<(Vec<String>, bool), String> {
    Ok(match value {
        serde_json::Value::String(name) => (vec![name.clone()], false),
        serde_json::Value::Array(items) => {
            let names = items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or("capture points are strings such as \"REQUEST\"")
                })
                .collect::<Result<Vec<_>, _>>()?;
            (names, false)
        }
        // IG's long form: {"capturePoints": [...], "captureEntity": true}
        serde_json::Value::Object(settings) => {
            let mut result = (Vec::new(), false);
            for (key, value) in settings {
                match key.as_str() {
                    "capturePoints" => result.0 = names(value)?.0,
                    "captureEntity" => {
                        result.1 = value
                            .as_bool()
                            .ok_or("\"captureEntity\" takes true or false")?;
                    }
                    "captureContext" | "maxEntityLength" => {}
                    other => return Err(format!("unknown capture setting \"{other}\"")),
                }
            }
            result
        }
        _ => return Err("\"capture\" takes \"all\" or a list of capture points".into()),
    })
}

fn points(value: &serde_json::Value) -> Result<Points, String> {
    let (names, entity) = names(value)?;
    let mut points = Points {
        entity,
        ..Points::default()
    };
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

struct Capture {
    /// The point `on-request` logs, if any.
    on_request: Option<&'static str>,
    /// The point `on-response` logs, if any.
    on_response: Option<&'static str>,
    entity: bool,
}

fn headers_of(names: Vec<String>, values: impl Fn(&str) -> Vec<String>) -> String {
    let mut out = String::new();
    for name in names {
        for value in values(&name) {
            out.push_str(&format!("\n  {name}: {value}"));
        }
    }
    out
}

fn entity(body: Result<Vec<u8>, String>) -> String {
    match body {
        Ok(bytes) if bytes.is_empty() => String::new(),
        Ok(bytes) => format!("\n\n{}", String::from_utf8_lossy(&bytes)),
        Err(_) => format!("\n\n[entity over {ENTITY_LIMIT} bytes, not captured]"),
    }
}

impl Filter for Capture {
    fn new() -> Result<Self, String> {
        let points = points(&ferrogate_sdk::config::<serde_json::Value>()?)?;
        let pick = |flag: bool, name: &'static str| flag.then_some(name);
        let (on_request, on_response) = match ferrogate_sdk::decorated_at() {
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
        Ok(Capture {
            on_request,
            on_response,
            entity: points.entity,
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
            let headers = headers_of(req.header_names(), |name| req.header(name));
            let body = if self.entity {
                entity(req.body(ENTITY_LIMIT))
            } else {
                String::new()
            };
            ferrogate_sdk::info!(
                "capture {point}\n{} {}{headers}{body}",
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
            let headers = headers_of(resp.header_names(), |name| resp.header(name));
            let body = if self.entity {
                entity(resp.body(ENTITY_LIMIT))
            } else {
                String::new()
            };
            ferrogate_sdk::info!("capture {point}\n{}{headers}{body}", resp.status());
        }
        Ok(())
    }
}

ferrogate_sdk::export_decorator!(Capture, "CaptureDecorator");

//! IG's `baseURI` decorator (type `BaseUriDecorator`): `"baseURI": "http://app:8080/base"`
//! gives the request the base's scheme, host and port, and prefixes its path with the base's
//! path, before the decorated handler or filter sees it. The value may be a template
//! (`"${env['APP_URL']}"` is evaluated when the route loads; per-request ones per request).

use ferrogate_sdk::{DecorationPoint, Expression, Filter, Outcome, Phases, Request};

/// Scheme and authority of an absolute URI, and its path without the trailing `/`.
fn split_base(base: &str) -> Option<(&str, &str)> {
    let after_scheme = base.find("://")? + 3;
    let path_start = base[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(base.len(), |offset| after_scheme + offset);
    if path_start == after_scheme {
        return None;
    }
    let path_end = base[path_start..]
        .find(['?', '#'])
        .map_or(base.len(), |offset| path_start + offset);
    Some((
        &base[..path_start],
        base[path_start..path_end].trim_end_matches('/'),
    ))
}

/// The path and query of a request URI, absolute (`http://host/p?q`) or origin-form (`/p?q`).
fn path_and_query(uri: &str) -> &str {
    match uri.find("://") {
        Some(scheme_end) => {
            let after = scheme_end + 3;
            uri[after..]
                .find('/')
                .map_or("/", |offset| &uri[after + offset..])
        }
        None => uri,
    }
}

enum Base {
    Fixed(String),
    Template(Expression),
}

struct BaseUri {
    base: Base,
    point: Option<DecorationPoint>,
}

/// IG's BaseUriDecorator has no settings of its own.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[allow(dead_code)]
    comment: Option<serde_json::Value>,
}

impl Filter for BaseUri {
    fn new() -> Result<Self, String> {
        let _: Settings = ferrogate_sdk::declaration()?;
        let point = ferrogate_sdk::decorated_at();
        if point.is_none() {
            return Ok(BaseUri {
                base: Base::Fixed(String::new()),
                point,
            });
        }
        let value: serde_json::Value = ferrogate_sdk::config()?;
        let serde_json::Value::String(text) = value else {
            return Err(
                "\"baseURI\" takes an absolute URI such as \"http://app.example.com:8080\"".into(),
            );
        };
        let base = if text.contains("${") {
            Base::Template(ferrogate_sdk::compile(&text)?)
        } else {
            if split_base(&text).is_none() {
                return Err(format!(
                    "\"baseURI\": \"{text}\" is not an absolute URI such as http://app.example.com:8080"
                ));
            }
            Base::Fixed(text)
        };
        Ok(BaseUri { base, point })
    }

    fn phases(&self) -> Phases {
        Phases {
            request: self.point != Some(DecorationPoint::InsideFilter),
            response: false,
        }
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        if self.point == Some(DecorationPoint::InsideFilter) {
            return Ok(Outcome::Next);
        }
        let base = match &self.base {
            Base::Fixed(text) => text.clone(),
            Base::Template(template) => template
                .evaluate_string()
                .ok_or("\"baseURI\" evaluated to null")?,
        };
        let (origin, base_path) = split_base(&base)
            .ok_or_else(|| format!("\"baseURI\" {base} is not an absolute URI"))?;
        let uri = req.uri();
        req.set_uri(&format!("{origin}{base_path}{}", path_and_query(&uri)))?;
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_decorator!(BaseUri, "BaseUriDecorator");

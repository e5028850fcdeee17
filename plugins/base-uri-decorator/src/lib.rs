//! IG's `baseURI` decorator (type `BaseUriDecorator`): `"baseURI": "http://app:8080/base"`
//! gives the request the base's scheme, host and port, and prefixes its path with the base's
//! path, before the decorated handler or filter sees it. The value may be a template
//! (`"${env['APP_URL']}"` is evaluated when the route loads; per-request ones per request).
//! A literal base is declared to the host (`config.rebase-requests`), which rebases each
//! request itself: no component call per request. A per-request template is evaluated here
//! and handed to the host's `request.rebase`, one host call, no URI to text and back.

use ferrogate_sdk::{DecorationPoint, Expression, Filter, Outcome, Phases, Request};

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
        } else if point == Some(DecorationPoint::InsideFilter) {
            Base::Fixed(text)
        } else {
            // The host checks the base, then rebases every request without calling us.
            ferrogate_sdk::rebase_requests(&text)
                .map_err(|error| format!("\"baseURI\": {error}"))?;
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
        match &self.base {
            Base::Fixed(base) => req.rebase(base),
            Base::Template(template) => {
                let base = template
                    .evaluate_string()
                    .ok_or("\"baseURI\" evaluated to null")?;
                req.rebase(&base)
            }
        }
        .map_err(|error| format!("\"baseURI\" {error}"))?;
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_decorator!(BaseUri, "BaseUriDecorator");

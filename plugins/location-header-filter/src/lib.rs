//! IG's `LocationHeaderFilter`: when the response is a redirect or a creation (201, 301, 302,
//! 303, 307, 308) whose `Location` is absolute, replaces its scheme, host and port with those of
//! `baseURI` (by default the URI the client used), keeping path, query and fragment. Upstreams
//! that redirect to their own address then send clients back through the gateway.
//!
//! ```json
//! {"type": "LocationHeaderFilter", "config": {"baseURI": "https://gateway.example.com:8443/"}}
//! ```
//!
//! `RedirectFilter` is another name of the type, as in IG.

use ferrogate_sdk::{Expression, Filter, Phases, Request, Response};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default, rename = "baseURI")]
    base_uri: Option<String>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

const REWRITTEN_STATUSES: [u16; 6] = [201, 301, 302, 303, 307, 308];

/// `scheme://authority` of an absolute URI, and the rest (path, query, fragment).
fn split_origin(uri: &str) -> Option<(&str, &str)> {
    let scheme_end = uri.find("://")?;
    let scheme = &uri[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let after = scheme_end + 3;
    let rest_start = uri[after..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |offset| after + offset);
    if rest_start == after {
        return None;
    }
    Some((&uri[..rest_start], &uri[rest_start..]))
}

struct LocationHeaderFilter {
    base: Expression,
}

impl Filter for LocationHeaderFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let source = config
            .base_uri
            .unwrap_or_else(|| "${contexts.router.originalUri}".to_owned());
        if !source.contains("${") && split_origin(&source).is_none() {
            return Err(format!(
                "\"baseURI\": \"{source}\" is not an absolute URI such as https://gateway.example.com"
            ));
        }
        let base = ferrogate_sdk::compile(&source).map_err(|e| format!("\"baseURI\": {e}"))?;
        Ok(LocationHeaderFilter { base })
    }

    fn phases(&self) -> Phases {
        Phases::RESPONSE
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        if !REWRITTEN_STATUSES.contains(&resp.status()) {
            return Ok(());
        }
        let Some(location) = resp.first_header("Location") else {
            return Ok(());
        };
        let Some((_, rest)) = split_origin(&location) else {
            return Ok(());
        };
        let Some(base) = self.base.evaluate_string() else {
            return Ok(());
        };
        let Some((origin, _)) = split_origin(&base) else {
            ferrogate_sdk::warn!("baseURI evaluated to {base}, not an absolute URI; Location kept");
            return Ok(());
        };
        resp.set_header("Location", &[format!("{origin}{rest}")])
    }
}

ferrogate_sdk::export_filter!(
    LocationHeaderFilter,
    "LocationHeaderFilter",
    "RedirectFilter"
);

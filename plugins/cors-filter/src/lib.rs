//! IG's `CorsFilter`: cross-origin resource sharing for the routes behind it.
//!
//! ```json
//! {"type": "CorsFilter", "config": {
//!     "policies": [{
//!         "acceptedOrigins": ["https://app.example.com"],
//!         "acceptedMethods": ["GET", "POST"],
//!         "acceptedHeaders": ["Authorization", "Content-Type"],
//!         "exposedHeaders": ["X-Request-Id"],
//!         "maxAge": "10 minutes",
//!         "allowCredentials": true
//!     }],
//!     "failureHandler": "CorsRefused"
//! }}
//! ```
//!
//! - A request without `Origin` is not a CORS request: it passes untouched.
//! - The first policy that accepts the origin applies (`"*"` accepts any). Origins compare
//!   without case and without the scheme's default port; `acceptedMethods` and
//!   `acceptedHeaders` may be `"*"` too, and the preflight answer then allows what it asked for.
//! - A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here, `200` with
//!   the allow headers when the method and every requested header are accepted; otherwise, and
//!   when no policy accepts the origin, `failureHandler` answers (default `403`, empty body).
//! - An actual request from an accepted origin goes on; its response gets
//!   `Access-Control-Allow-Origin`, `-Allow-Credentials` and `-Expose-Headers`. From an origin
//!   no policy accepts, it goes on without them, and the browser withholds the response.

use ferrogate_sdk::{FailureHandler, Filter, Outcome, Request, Response};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyConfig {
    #[serde(default)]
    accepted_origins: Option<serde_json::Value>,
    /// IG 7.0's name of `acceptedOrigins`, deprecated since.
    #[serde(default)]
    origins: Option<serde_json::Value>,
    #[serde(default)]
    accepted_methods: Option<serde_json::Value>,
    #[serde(default)]
    accepted_headers: Option<serde_json::Value>,
    #[serde(default)]
    exposed_headers: Vec<String>,
    #[serde(default)]
    max_age: Option<String>,
    #[serde(default)]
    allow_credentials: bool,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    policies: Vec<PolicyConfig>,
    #[serde(default)]
    failure_handler: Option<serde_json::Value>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

/// An IG list setting that may also be `"*"`: `None` for anything (a `"*"` in the list
/// too), else the list; absent is the empty list.
fn list_or_star(
    key: &str,
    value: Option<serde_json::Value>,
) -> Result<Option<Vec<String>>, String> {
    let items = match value {
        None => return Ok(Some(Vec::new())),
        Some(serde_json::Value::String(text)) if text == "*" => return Ok(None),
        Some(serde_json::Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "\"{key}\": {other} is neither a list of strings nor \"*\""
            ));
        }
    };
    let items = items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(text) => Ok(text),
            other => Err(format!("\"{key}\": {other} is not a string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!items.iter().any(|item| item == "*")).then_some(items))
}

/// An origin as compared: scheme and host in lowercase, without a trailing `/` or the
/// scheme's default port (IG: an origin without a port also accepts the default one).
fn normalized_origin(origin: &str) -> String {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    for (scheme, port) in [("http://", ":80"), ("https://", ":443")] {
        if origin.starts_with(scheme)
            && let Some(without_port) = origin.strip_suffix(port)
            && !without_port[scheme.len()..].is_empty()
        {
            return without_port.to_owned();
        }
    }
    origin
}

struct Policy {
    /// Normalized; `None` accepts any origin.
    origins: Option<Vec<String>>,
    /// Case-sensitive, as HTTP methods are; `None` accepts any.
    methods: Option<Vec<String>>,
    /// Lowercase: request header names are compared without case; `None` accepts any.
    headers: Option<Vec<String>>,
    allow_headers: String,
    allow_methods: String,
    expose_headers: String,
    max_age_seconds: Option<u64>,
    allow_credentials: bool,
}

impl Policy {
    fn new(index: usize, config: PolicyConfig) -> Result<Self, String> {
        let at = |error: String| format!("\"policies\"[{index}]: {error}");
        let (key, origins) = match (config.accepted_origins, config.origins) {
            (Some(_), Some(_)) => {
                return Err(at(
                    "use \"acceptedOrigins\" or its deprecated name \"origins\", not both".into(),
                ));
            }
            (Some(origins), None) => ("acceptedOrigins", origins),
            (None, Some(origins)) => ("origins", origins),
            (None, None) => {
                return Err(at(
                    "\"acceptedOrigins\" is required: a list of origins, or \"*\"".into(),
                ));
            }
        };
        let origins = match list_or_star(key, Some(origins)).map_err(at)? {
            Some(origins) if origins.is_empty() => {
                return Err(at(format!(
                    "\"{key}\" is empty: no origin would be accepted"
                )));
            }
            origins => origins.map(|origins| {
                origins
                    .iter()
                    .map(|origin| normalized_origin(origin))
                    .collect()
            }),
        };
        let methods = list_or_star("acceptedMethods", config.accepted_methods).map_err(at)?;
        let headers = list_or_star("acceptedHeaders", config.accepted_headers).map_err(at)?;
        let max_age_seconds = match &config.max_age {
            None => None,
            Some(text) => Some(
                ferrogate_sdk::duration(text)
                    .map_err(|e| at(format!("\"maxAge\": {e}")))?
                    .map_or(u64::MAX, |duration| duration.as_secs()),
            ),
        };
        Ok(Policy {
            origins,
            allow_methods: methods.as_deref().unwrap_or_default().join(", "),
            methods,
            allow_headers: headers.as_deref().unwrap_or_default().join(", "),
            headers: headers.map(|headers| {
                headers
                    .iter()
                    .map(|header| header.to_ascii_lowercase())
                    .collect()
            }),
            expose_headers: config.exposed_headers.join(", "),
            max_age_seconds,
            allow_credentials: config.allow_credentials,
        })
    }

    fn accepts_origin(&self, origin: &str) -> bool {
        self.origins.as_ref().is_none_or(|origins| {
            let origin = normalized_origin(origin);
            origins.contains(&origin)
        })
    }

    fn accepts_preflight(&self, method: &str, headers: &[String]) -> bool {
        let method_accepted = self
            .methods
            .as_ref()
            .is_none_or(|methods| methods.iter().any(|accepted| accepted == method));
        let headers_accepted = self.headers.as_ref().is_none_or(|accepted| {
            headers
                .iter()
                .all(|header| accepted.contains(&header.to_ascii_lowercase()))
        });
        method_accepted && headers_accepted
    }

    /// The allowed origin as sent back: `*` only for any origin without credentials (browsers
    /// refuse `*` with credentials).
    fn allow_origin(&self, origin: &str) -> String {
        if self.origins.is_none() && !self.allow_credentials {
            "*".to_owned()
        } else {
            origin.to_owned()
        }
    }

    fn set(response: &Response, name: &str, value: &str) -> Result<(), String> {
        response.set_header(name, &[value.to_owned()])
    }

    fn preflight_response(
        &self,
        origin: &str,
        method: &str,
        headers: &[String],
    ) -> Result<Response, String> {
        let response = Response::new(200);
        Self::set(
            &response,
            "Access-Control-Allow-Origin",
            &self.allow_origin(origin),
        )?;
        // For "*", what was asked: browsers read a literal `*` as a wildcard only without
        // credentials, and never for Authorization.
        let requested_headers = headers.join(", ");
        let (allow_methods, allow_headers) = (
            if self.methods.is_some() {
                &self.allow_methods
            } else {
                method
            },
            if self.headers.is_some() {
                &self.allow_headers
            } else {
                &requested_headers
            },
        );
        if !allow_methods.is_empty() {
            Self::set(&response, "Access-Control-Allow-Methods", allow_methods)?;
        }
        if !allow_headers.is_empty() {
            Self::set(&response, "Access-Control-Allow-Headers", allow_headers)?;
        }
        if let Some(seconds) = self.max_age_seconds {
            Self::set(&response, "Access-Control-Max-Age", &seconds.to_string())?;
        }
        if self.allow_credentials {
            Self::set(&response, "Access-Control-Allow-Credentials", "true")?;
        }
        response.append_header("Vary", "Origin")?;
        Ok(response)
    }

    fn decorate(&self, response: &Response, origin: &str) -> Result<(), String> {
        Self::set(
            response,
            "Access-Control-Allow-Origin",
            &self.allow_origin(origin),
        )?;
        if self.allow_credentials {
            Self::set(response, "Access-Control-Allow-Credentials", "true")?;
        }
        if !self.expose_headers.is_empty() {
            Self::set(
                response,
                "Access-Control-Expose-Headers",
                &self.expose_headers,
            )?;
        }
        response.append_header("Vary", "Origin")
    }
}

struct CorsFilter {
    policies: Vec<Policy>,
    failure_handler: FailureHandler,
}

/// The values of a comma-separated request header, trimmed, empty ones left out.
fn list(values: Vec<String>) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

impl CorsFilter {
    fn policy_for(&self, origin: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|policy| policy.accepts_origin(origin))
    }

    fn refuse(&self, why: &str) -> Result<Outcome, String> {
        ferrogate_sdk::debug!("CORS request refused: {why}");
        Ok(Outcome::Respond(self.failure_handler.respond()?))
    }
}

impl Filter for CorsFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        if config.policies.is_empty() {
            return Err("\"policies\" is empty: declare at least one policy".into());
        }
        let policies = config
            .policies
            .into_iter()
            .enumerate()
            .map(|(index, policy)| Policy::new(index, policy))
            .collect::<Result<Vec<_>, _>>()?;
        let failure_handler = FailureHandler::resolve(config.failure_handler.as_ref(), 403)?;
        Ok(CorsFilter {
            policies,
            failure_handler,
        })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let Some(origin) = req.first_header("Origin") else {
            return Ok(Outcome::Next);
        };
        let preflight_method = req.first_header("Access-Control-Request-Method");
        let is_preflight = req.method() == "OPTIONS" && preflight_method.is_some();
        let Some(policy) = self.policy_for(&origin) else {
            if is_preflight {
                return self.refuse(&format!("origin {origin} is not accepted"));
            }
            return Ok(Outcome::Next);
        };
        let Some(method) = preflight_method.filter(|_| is_preflight) else {
            return Ok(Outcome::Next);
        };
        let headers = list(req.header("Access-Control-Request-Headers"));
        if !policy.accepts_preflight(&method, &headers) {
            return self.refuse(&format!(
                "method {method} or headers {headers:?} are not accepted for {origin}"
            ));
        }
        Ok(Outcome::Respond(
            policy.preflight_response(&origin, &method, &headers)?,
        ))
    }

    fn on_response(&self, req: &Request, resp: &Response) -> Result<(), String> {
        let Some(origin) = req.first_header("Origin") else {
            return Ok(());
        };
        match self.policy_for(&origin) {
            Some(policy) => policy.decorate(resp, &origin),
            None => Ok(()),
        }
    }
}

ferrogate_sdk::export_filter!(CorsFilter, "CorsFilter");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_without_case_default_ports_or_trailing_slashes() {
        assert_eq!(
            normalized_origin("HTTPS://App.Example.com:443/"),
            "https://app.example.com"
        );
        assert_eq!(
            normalized_origin("http://app.example.com:80"),
            "http://app.example.com"
        );
        // Another scheme's default port is a port like any other.
        assert_eq!(
            normalized_origin("https://app.example.com:80"),
            "https://app.example.com:80"
        );
        assert_eq!(
            normalized_origin("http://app.example.com:8080"),
            "http://app.example.com:8080"
        );
        assert_eq!(normalized_origin("null"), "null");
    }

    #[test]
    fn lists_may_be_a_star() {
        let parse = |json: &str| list_or_star("acceptedMethods", serde_json::from_str(json).ok());
        assert_eq!(parse("\"*\""), Ok(None));
        assert_eq!(parse("[\"GET\", \"*\"]"), Ok(None));
        assert_eq!(parse("[\"GET\"]"), Ok(Some(vec!["GET".to_owned()])));
        assert_eq!(list_or_star("acceptedMethods", None), Ok(Some(Vec::new())));
        for bad in ["\"GET\"", "[1]", "{}"] {
            let error = parse(bad).err().unwrap_or_default();
            assert!(error.starts_with("\"acceptedMethods\": "), "{bad}: {error}");
        }
    }
}

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
//! - The first policy that accepts the origin applies (`"*"` accepts any).
//! - A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here, `200` with
//!   the allow headers when the method and every requested header are accepted; otherwise, and
//!   when no policy accepts the origin, `failureHandler` answers (default `403`, empty body).
//! - An actual request from an accepted origin goes on; its response gets
//!   `Access-Control-Allow-Origin`, `-Allow-Credentials` and `-Expose-Headers`. From an origin
//!   no policy accepts, it goes on without them, and the browser withholds the response.

use ferrogate_sdk::{Filter, HandlerRef, Outcome, Request, Response};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyConfig {
    accepted_origins: Vec<String>,
    #[serde(default)]
    accepted_methods: Vec<String>,
    #[serde(default)]
    accepted_headers: Vec<String>,
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

struct Policy {
    any_origin: bool,
    origins: Vec<String>,
    methods: Vec<String>,
    /// Lowercase: request header names are compared without case.
    headers: Vec<String>,
    allow_headers: String,
    allow_methods: String,
    expose_headers: String,
    max_age_seconds: Option<u64>,
    allow_credentials: bool,
}

impl Policy {
    fn new(index: usize, config: PolicyConfig) -> Result<Self, String> {
        let at = |error: String| format!("\"policies\"[{index}]: {error}");
        if config.accepted_origins.is_empty() {
            return Err(at(
                "\"acceptedOrigins\" is empty: no origin would be accepted".into(),
            ));
        }
        let max_age_seconds = match &config.max_age {
            None => None,
            Some(text) => Some(
                ferrogate_sdk::duration(text)
                    .map_err(|e| at(format!("\"maxAge\": {e}")))?
                    .map_or(u64::MAX, |duration| duration.as_secs()),
            ),
        };
        Ok(Policy {
            any_origin: config.accepted_origins.iter().any(|origin| origin == "*"),
            origins: config
                .accepted_origins
                .into_iter()
                .map(|origin| origin.trim_end_matches('/').to_owned())
                .collect(),
            allow_methods: config.accepted_methods.join(", "),
            methods: config.accepted_methods,
            allow_headers: config.accepted_headers.join(", "),
            headers: config
                .accepted_headers
                .iter()
                .map(|header| header.to_ascii_lowercase())
                .collect(),
            expose_headers: config.exposed_headers.join(", "),
            max_age_seconds,
            allow_credentials: config.allow_credentials,
        })
    }

    fn accepts_origin(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|accepted| accepted == origin)
    }

    fn accepts_preflight(&self, method: &str, headers: &[String]) -> bool {
        self.methods.iter().any(|accepted| accepted == method)
            && headers
                .iter()
                .all(|header| self.headers.contains(&header.to_ascii_lowercase()))
    }

    /// The allowed origin as sent back: `*` only for any origin without credentials (browsers
    /// refuse `*` with credentials).
    fn allow_origin(&self, origin: &str) -> String {
        if self.any_origin && !self.allow_credentials {
            "*".to_owned()
        } else {
            origin.to_owned()
        }
    }

    fn set(response: &Response, name: &str, value: &str) -> Result<(), String> {
        response.set_header(name, &[value.to_owned()])
    }

    fn preflight_response(&self, origin: &str) -> Result<Response, String> {
        let response = Response::new(200);
        Self::set(
            &response,
            "Access-Control-Allow-Origin",
            &self.allow_origin(origin),
        )?;
        if !self.allow_methods.is_empty() {
            Self::set(
                &response,
                "Access-Control-Allow-Methods",
                &self.allow_methods,
            )?;
        }
        if !self.allow_headers.is_empty() {
            Self::set(
                &response,
                "Access-Control-Allow-Headers",
                &self.allow_headers,
            )?;
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
    failure_handler: Option<HandlerRef>,
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
        let response = match &self.failure_handler {
            Some(handler) => handler.call()?,
            None => Response::new(403),
        };
        Ok(Outcome::Respond(response))
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
        let failure_handler = config
            .failure_handler
            .map(|reference| ferrogate_sdk::resolve_handler(&reference.to_string()))
            .transpose()
            .map_err(|e| format!("\"failureHandler\": {e}"))?;
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
        Ok(Outcome::Respond(policy.preflight_response(&origin)?))
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

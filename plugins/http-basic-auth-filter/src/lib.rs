//! IG's `HttpBasicAuthFilter`: logs in to the protected application on the user's behalf with
//! HTTP Basic credentials (`username` and the password, as templates or from a secret). If the
//! application still answers `401`, `failureHandler` answers instead.
//!
//! ```json
//! {"type": "HttpBasicAuthFilter", "config": {
//!     "username": "${attributes.user}",
//!     "passwordSecretId": "app.password",
//!     "failureHandler": "LoginFailed"
//! }}
//! ```
//!
//! Unlike IG, which waits for the application's first `401` and then replays the request with
//! the credentials, the credentials go with every request (what IG's `cacheHeader` ends up
//! doing after the first exchange): no round trip is lost and no request body is replayed.
//! With `cacheHeader` (the default, as in IG) the header the application accepted is kept in
//! the session and sent again on the session's later requests to the same origin, without
//! evaluating `username` and the password again.

use std::cell::RefCell;

use ferrogate_sdk::{
    Expression, Filter, HandlerRef, Outcome, Request, Response, encoding, exchange,
};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_secret_id: Option<String>,
    #[serde(default)]
    secrets_provider: Option<serde::de::IgnoredAny>,
    failure_handler: serde_json::Value,
    #[serde(default = "yes")]
    cache_header: bool,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

enum Password {
    Template(Expression),
    Secret(String),
}

fn yes() -> bool {
    true
}

/// What `on_request` leaves for `on_response` of the same request.
struct Pending {
    session_key: String,
    /// The header when it was computed for this request rather than read from the session.
    computed: Option<String>,
}

struct HttpBasicAuthFilter {
    username: Expression,
    password: Password,
    failure_handler: HandlerRef,
    cache_header: bool,
    session_prefix: String,
    /// An instance serves one request at a time, both phases.
    pending: RefCell<Option<Pending>>,
}

/// `scheme://authority` of a request URI: IG caches credentials per origin of the
/// application.
fn origin(uri: &str) -> &str {
    let after_scheme = uri.find("://").map_or(0, |at| at + 3);
    let end = uri[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |offset| after_scheme + offset);
    &uri[..end]
}

impl HttpBasicAuthFilter {
    fn cached_header(&self, session_key: &str) -> Option<String> {
        match exchange::session_value::<Option<String>>(session_key) {
            Ok(header) => header.flatten(),
            Err(error) => {
                ferrogate_sdk::debug!("cached credentials unreadable, computed again: {error}");
                None
            }
        }
    }

    fn computed_header(&self) -> Result<Option<String>, String> {
        let Some(username) = self.username.evaluate_string() else {
            return Ok(None);
        };
        if username.contains(':') {
            return Err("a Basic username cannot contain ':'".into());
        }
        let password = match &self.password {
            Password::Template(template) => {
                template.evaluate_string().unwrap_or_default().into_bytes()
            }
            // Read per request: a rotated secret applies without a reload.
            Password::Secret(id) => ferrogate_sdk::secret(id)?,
        };
        let mut credentials = username.into_bytes();
        credentials.push(b':');
        credentials.extend_from_slice(&password);
        Ok(Some(format!("Basic {}", encoding::base64(&credentials))))
    }
}

/// The largest failure-handler body copied into the response it replaces.
const FAILURE_BODY_LIMIT: u64 = 1 << 20;

impl Filter for HttpBasicAuthFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let password = match (config.password, config.password_secret_id) {
            (Some(_), Some(_)) => {
                return Err("use \"password\" or \"passwordSecretId\", not both".into());
            }
            (None, None) => return Err("\"passwordSecretId\" (or \"password\") is required".into()),
            (Some(template), None) => Password::Template(
                ferrogate_sdk::compile(&template).map_err(|e| format!("\"password\": {e}"))?,
            ),
            (None, Some(id)) => {
                // Read once now, so that a missing secret is a load error naming the id.
                ferrogate_sdk::secret(&id).map_err(|e| format!("\"passwordSecretId\": {e}"))?;
                Password::Secret(id)
            }
        };
        // The host reads secretsProvider itself, for ferrogate_sdk::secret.
        let _ = config.secrets_provider;
        Ok(HttpBasicAuthFilter {
            username: ferrogate_sdk::compile(&config.username)
                .map_err(|e| format!("\"username\": {e}"))?,
            password,
            failure_handler: ferrogate_sdk::resolve_handler(&config.failure_handler.to_string())
                .map_err(|e| format!("\"failureHandler\": {e}"))?,
            cache_header: config.cache_header,
            session_prefix: format!("HttpBasicAuthFilter:{}:", ferrogate_sdk::object_name()),
            pending: RefCell::new(None),
        })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let session_key = format!("{}{}", self.session_prefix, origin(&req.uri()));
        let cached = if self.cache_header {
            self.cached_header(&session_key)
        } else {
            None
        };
        let (header, computed) = match cached {
            Some(header) => (header, None),
            None => match self.computed_header()? {
                Some(header) => (header.clone(), Some(header)),
                None => {
                    ferrogate_sdk::warn!("\"username\" evaluated to null; no credentials sent");
                    return Ok(Outcome::Respond(self.failure_handler.call()?));
                }
            },
        };
        req.set_header("Authorization", &[header])?;
        self.pending.replace(Some(Pending {
            session_key,
            computed,
        }));
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        if resp.status() != 401 {
            if self.cache_header
                && let Some(header) = pending.computed
            {
                exchange::set_session_value(&pending.session_key, &header)?;
            }
            return Ok(());
        }
        if self.cache_header && pending.computed.is_none() {
            // Refused credentials from the session: the next request computes them afresh.
            exchange::set_session_value(&pending.session_key, &serde_json::Value::Null)?;
        }
        resp.replace_with(&self.failure_handler.call()?, FAILURE_BODY_LIMIT)
    }
}

ferrogate_sdk::export_filter!(HttpBasicAuthFilter, "HttpBasicAuthFilter");

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn credentials_are_cached_per_origin() {
        assert_eq!(origin("http://app:8080/a/b?c#d"), "http://app:8080");
        assert_eq!(origin("https://app?x=1"), "https://app");
        assert_eq!(origin("http://app"), "http://app");
        assert_eq!(origin("/relative/path"), "");
    }
}

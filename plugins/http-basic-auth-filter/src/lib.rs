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

use ferrogate_sdk::{Expression, Filter, HandlerRef, Outcome, Request, Response};

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
    /// IG keeps the header in the session after the first challenge; sent every time here.
    #[serde(default)]
    cache_header: Option<bool>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

enum Password {
    Template(Expression),
    Secret(String),
}

struct HttpBasicAuthFilter {
    username: Expression,
    password: Password,
    failure_handler: HandlerRef,
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let block = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let bits = u32::from(block[0]) << 16 | u32::from(block[1]) << 8 | u32::from(block[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(BASE64[(bits >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

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
        let _ = (config.secrets_provider, config.cache_header);
        Ok(HttpBasicAuthFilter {
            username: ferrogate_sdk::compile(&config.username)
                .map_err(|e| format!("\"username\": {e}"))?,
            password,
            failure_handler: ferrogate_sdk::resolve_handler(&config.failure_handler.to_string())
                .map_err(|e| format!("\"failureHandler\": {e}"))?,
        })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let Some(username) = self.username.evaluate_string() else {
            ferrogate_sdk::warn!("\"username\" evaluated to null; no credentials sent");
            return Ok(Outcome::Respond(self.failure_handler.call()?));
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
        req.set_header(
            "Authorization",
            &[format!("Basic {}", base64(&credentials))],
        )?;
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        if resp.status() != 401 {
            return Ok(());
        }
        let failed = self.failure_handler.call()?;
        resp.set_status(failed.status())?;
        for name in resp.header_names() {
            resp.remove_header(&name);
        }
        for name in failed.header_names() {
            resp.set_header(&name, &failed.header(&name))?;
        }
        resp.set_body(&failed.body(1 << 20)?);
        Ok(())
    }
}

ferrogate_sdk::export_filter!(HttpBasicAuthFilter, "HttpBasicAuthFilter");

//! IG's `OAuth2ResourceServerFilter`: admits a request only with a bearer access token that the
//! authorization server's introspection endpoint (RFC 7662) says is active and that has every
//! required scope; publishes `contexts.oauth2.accessToken` for the rest of the chain.
//!
//! ```json
//! {"type": "OAuth2ResourceServerFilter", "config": {
//!     "scopes": ["orders:read"],
//!     "requireHttps": false,
//!     "realm": "orders",
//!     "accessTokenResolver": {
//!         "type": "TokenIntrospectionAccessTokenResolver",
//!         "config": {"endpoint": "https://am.example.com/oauth2/introspect", "providerHandler": "IntrospectionClient"}
//!     },
//!     "cache": {"enabled": true, "defaultTimeout": "1 minute"}
//! }}
//! ```
//!
//! Answers: no token 401; an inactive, unknown or expired token 401 `invalid_token`; a missing
//! scope 403 `insufficient_scope`; plain HTTP with `requireHttps` 400 `invalid_request`, each
//! with its `WWW-Authenticate: Bearer` challenge. An introspection endpoint that cannot be
//! reached or answers other than 200 with JSON gives 503: the token may well be valid.
//!
//! IG keys that have no meaning here are refused at load, each with its reason: `executor`,
//! a resolver referred to by heap name, the resolver's `amService`, and the cache's `amService`
//! and `onNotificationDisconnection` (AM's revocation notifications).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use ferrogate_sdk::{
    Expression, Filter, HandlerRef, Outcome, OutgoingRequest, Phases, Request, Response, encoding,
};
use serde_json::{Value, json};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResolverSettings {
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    provider_handler: Option<Value>,
    /// Refused with a hint (IG finds the endpoint from AM's settings).
    #[serde(default)]
    am_service: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolverConfig {
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    name: Option<String>,
    config: ResolverSettings,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CacheConfig {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    default_timeout: Option<String>,
    #[serde(default)]
    max_timeout: Option<String>,
    /// Refused: AM's WebSocket notifications of revoked tokens are not followed.
    #[serde(default)]
    am_service: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    on_notification_disconnection: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    scopes: Vec<String>,
    #[serde(default = "yes")]
    require_https: bool,
    #[serde(default)]
    realm: Option<String>,
    /// A [`ResolverConfig`], inline: heap references to a resolver cannot be resolved here.
    access_token_resolver: Value,
    /// IG 5's spelling of `cache.defaultTimeout` (it also enables the cache).
    #[serde(default)]
    cache_expiration: Option<String>,
    #[serde(default)]
    cache: Option<CacheConfig>,
    /// Refused: IG's thread pool for the cache, which has no equivalent here.
    #[serde(default)]
    executor: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

fn yes() -> bool {
    true
}

const RESOLVER_TYPE: &str = "TokenIntrospectionAccessTokenResolver";
const CACHE_ENTRIES: usize = 10_000;
const INTROSPECTION_BODY_LIMIT: u64 = 64 << 10;

#[derive(Clone)]
struct TokenInfo {
    scopes: Vec<String>,
    /// Milliseconds since the epoch.
    expires_at: Option<u64>,
    info: Value,
}

struct CacheSettings {
    default_timeout: Duration,
    max_timeout: Option<Duration>,
}

struct OAuth2ResourceServerFilter {
    scopes: Vec<Expression>,
    realm: String,
    require_https: bool,
    secure: Expression,
    endpoint: String,
    provider: Option<HandlerRef>,
    cache_settings: Option<CacheSettings>,
    /// Per instance (an instance serves one request at a time): token -> (info, until ms).
    cache: RefCell<HashMap<String, (TokenInfo, u64)>>,
}

fn duration(what: &str, text: &str) -> Result<Duration, String> {
    ferrogate_sdk::duration(text)
        .map_err(|e| format!("{what}: {e}"))?
        .ok_or_else(|| format!("{what}: must be finite"))
}

/// Why a request is refused.
enum Refusal {
    NoToken,
    InvalidToken(&'static str),
    InsufficientScope(Vec<String>),
    HttpsRequired,
    Unavailable(String),
}

impl OAuth2ResourceServerFilter {
    fn challenge(&self, error: Option<(&str, &str)>, scope: Option<&str>) -> String {
        let mut challenge = format!("Bearer realm=\"{}\"", self.realm);
        if let Some((code, description)) = error {
            challenge.push_str(&format!(
                ", error=\"{code}\", error_description=\"{description}\""
            ));
        }
        if let Some(scope) = scope {
            challenge.push_str(&format!(", scope=\"{scope}\""));
        }
        challenge
    }

    fn refuse(&self, refusal: Refusal) -> Result<Response, String> {
        let (status, challenge) = match &refusal {
            Refusal::NoToken => (401, Some(self.challenge(None, None))),
            Refusal::InvalidToken(why) => (
                401,
                Some(self.challenge(Some(("invalid_token", why)), None)),
            ),
            Refusal::InsufficientScope(required) => (
                403,
                Some(self.challenge(
                    Some((
                        "insufficient_scope",
                        "The access token lacks a required scope",
                    )),
                    Some(&required.join(" ")),
                )),
            ),
            Refusal::HttpsRequired => (
                400,
                Some(self.challenge(Some(("invalid_request", "HTTPS is required")), None)),
            ),
            Refusal::Unavailable(why) => {
                ferrogate_sdk::error!("token introspection at {} failed: {why}", self.endpoint);
                (503, None)
            }
        };
        let response = Response::new(status);
        if let Some(challenge) = challenge {
            response.set_header("WWW-Authenticate", &[challenge])?;
        }
        Ok(response)
    }

    fn introspect(&self, token: &str) -> Result<TokenInfo, Refusal> {
        let request = OutgoingRequest {
            method: "POST".into(),
            uri: self.endpoint.clone(),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("Accept".into(), "application/json".into()),
            ],
            body: encoding::form([("token", token), ("token_type_hint", "access_token")])
                .into_bytes(),
        };
        let response = match &self.provider {
            Some(handler) => ferrogate_sdk::client::send_through(handler, &request),
            None => ferrogate_sdk::client::send(&request),
        }
        .map_err(Refusal::Unavailable)?;
        if response.status() != 200 {
            return Err(Refusal::Unavailable(format!(
                "status {}",
                response.status()
            )));
        }
        let body = response
            .body(INTROSPECTION_BODY_LIMIT)
            .map_err(Refusal::Unavailable)?;
        let info: Value = serde_json::from_slice(&body)
            .map_err(|e| Refusal::Unavailable(format!("not JSON: {e}")))?;
        if info.get("active") != Some(&Value::Bool(true)) {
            return Err(Refusal::InvalidToken("The access token is not active"));
        }
        let scopes = info
            .get("scope")
            .and_then(Value::as_str)
            .map(|scope| scope.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let expires_at = info
            .get("exp")
            .and_then(Value::as_u64)
            .map(|seconds| seconds.saturating_mul(1000));
        Ok(TokenInfo {
            scopes,
            expires_at,
            info,
        })
    }

    fn resolve(&self, token: &str) -> Result<TokenInfo, Refusal> {
        let now = ferrogate_sdk::epoch_millis();
        if self.cache_settings.is_some()
            && let Some((info, until)) = self.cache.borrow().get(token)
            && *until > now
        {
            return Ok(info.clone());
        }
        let info = self.introspect(token)?;
        if let Some(settings) = &self.cache_settings {
            let mut until = now.saturating_add(settings.default_timeout.as_millis() as u64);
            if let Some(expires_at) = info.expires_at {
                until = until.min(expires_at);
            }
            if let Some(max) = settings.max_timeout {
                until = until.min(now.saturating_add(max.as_millis() as u64));
            }
            let mut cache = self.cache.borrow_mut();
            if cache.len() >= CACHE_ENTRIES {
                cache.retain(|_, (_, until)| *until > now);
                if cache.len() >= CACHE_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(token.to_owned(), (info.clone(), until));
        }
        Ok(info)
    }

    fn check(&self, req: &Request) -> Result<(), Refusal> {
        if self.require_https && !self.secure.evaluate_condition() {
            return Err(Refusal::HttpsRequired);
        }
        let token = req
            .header("Authorization")
            .into_iter()
            .find_map(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("Bearer")
                    .then(|| token.trim().to_owned())
            })
            .filter(|token| !token.is_empty())
            .ok_or(Refusal::NoToken)?;
        let info = self.resolve(&token)?;
        if info
            .expires_at
            .is_some_and(|expires_at| expires_at <= ferrogate_sdk::epoch_millis())
        {
            return Err(Refusal::InvalidToken("The access token has expired"));
        }
        let required: Vec<String> = self
            .scopes
            .iter()
            .filter_map(Expression::evaluate_string)
            .collect();
        if !required.iter().all(|scope| info.scopes.contains(scope)) {
            return Err(Refusal::InsufficientScope(required));
        }
        let context = json!({"accessToken": {
            "token": token,
            "scopes": info.scopes,
            "expiresAt": info.expires_at,
            "info": info.info,
        }});
        ferrogate_sdk::exchange::set_context("oauth2", &context).map_err(Refusal::Unavailable)?;
        Ok(())
    }
}

impl Filter for OAuth2ResourceServerFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        if config.executor.is_some() {
            return Err(
                "\"executor\" is not supported: the cache needs no thread pool here; remove it"
                    .into(),
            );
        }
        let resolver: ResolverConfig = match config.access_token_resolver {
            Value::String(name) => {
                return Err(format!(
                    "\"accessTokenResolver\": a reference to the heap object \"{name}\" is not supported; declare the {RESOLVER_TYPE} inline"
                ));
            }
            declaration => serde_json::from_value(declaration)
                .map_err(|e| format!("\"accessTokenResolver\": {e}"))?,
        };
        if resolver.type_name != RESOLVER_TYPE {
            return Err(format!(
                "\"accessTokenResolver\": type \"{}\" is not supported; use {RESOLVER_TYPE}",
                resolver.type_name
            ));
        }
        let _ = resolver.name;
        if resolver.config.am_service.is_some() {
            return Err("\"accessTokenResolver\".\"config\".\"amService\" is not supported: give the introspection \"endpoint\" (AM's oauth2/introspect) and a \"providerHandler\" that adds the client's credentials".into());
        }
        let Some(endpoint) = resolver.config.endpoint else {
            return Err("\"accessTokenResolver\".\"config\".\"endpoint\" is required".into());
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(format!(
                "\"accessTokenResolver\".\"config\".\"endpoint\": \"{endpoint}\" is not an http(s) URI"
            ));
        }
        let provider = resolver
            .config
            .provider_handler
            .map(|reference| ferrogate_sdk::resolve_handler(&reference.to_string()))
            .transpose()
            .map_err(|e| format!("\"providerHandler\": {e}"))?;
        if let Some(cache) = &config.cache
            && (cache.am_service.is_some() || cache.on_notification_disconnection.is_some())
        {
            return Err("\"cache\": \"amService\" and \"onNotificationDisconnection\" are not supported: revoked tokens leave the cache when their entry expires (set \"maxTimeout\" to bound it)".into());
        }
        let cache_settings = match (config.cache, config.cache_expiration) {
            (Some(_), Some(_)) => {
                return Err("use \"cache\" or the older \"cacheExpiration\", not both".into());
            }
            (Some(cache), None) if cache.enabled => Some(CacheSettings {
                default_timeout: cache
                    .default_timeout
                    .as_deref()
                    .map(|text| duration("\"cache\".\"defaultTimeout\"", text))
                    .transpose()?
                    .unwrap_or(Duration::from_secs(60)),
                max_timeout: cache
                    .max_timeout
                    .as_deref()
                    .map(|text| duration("\"cache\".\"maxTimeout\"", text))
                    .transpose()?,
            }),
            (Some(_), None) | (None, None) => None,
            (None, Some(expiration)) => Some(CacheSettings {
                default_timeout: duration("\"cacheExpiration\"", &expiration)?,
                max_timeout: None,
            }),
        };
        let scopes = config
            .scopes
            .iter()
            .map(|scope| ferrogate_sdk::compile(scope))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("\"scopes\": {e}"))?;
        Ok(OAuth2ResourceServerFilter {
            scopes,
            realm: config.realm.unwrap_or_else(|| "OpenIG".to_owned()),
            require_https: config.require_https,
            secure: ferrogate_sdk::compile("${contexts.client.isSecure}")?,
            endpoint,
            provider,
            cache_settings,
            cache: RefCell::new(HashMap::new()),
        })
    }

    fn phases(&self) -> Phases {
        Phases::REQUEST
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        match self.check(req) {
            Ok(()) => Ok(Outcome::Next),
            Err(refusal) => Ok(Outcome::Respond(self.refuse(refusal)?)),
        }
    }
}

ferrogate_sdk::export_filter!(OAuth2ResourceServerFilter, "OAuth2ResourceServerFilter");

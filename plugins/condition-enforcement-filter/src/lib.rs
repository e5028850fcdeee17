//! IG's `ConditionEnforcementFilter`: the request goes on only when `condition` is true;
//! otherwise `failureHandler` answers (by default `403 Forbidden` with an empty body).
//!
//! ```json
//! {"type": "ConditionEnforcementFilter", "config": {
//!     "condition": "${not empty attributes.user}",
//!     "failureHandler": {"type": "StaticResponseHandler", "config": {"status": 401}}
//! }}
//! ```

use ferrogate_sdk::{Expression, Filter, HandlerRef, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    condition: String,
    #[serde(default)]
    failure_handler: Option<serde_json::Value>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

struct ConditionEnforcementFilter {
    condition: Expression,
    failure_handler: Option<HandlerRef>,
}

impl Filter for ConditionEnforcementFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let condition =
            ferrogate_sdk::compile(&config.condition).map_err(|e| format!("\"condition\": {e}"))?;
        let failure_handler = config
            .failure_handler
            .map(|reference| ferrogate_sdk::resolve_handler(&reference.to_string()))
            .transpose()
            .map_err(|e| format!("\"failureHandler\": {e}"))?;
        Ok(ConditionEnforcementFilter {
            condition,
            failure_handler,
        })
    }

    fn phases(&self) -> Phases {
        Phases::REQUEST
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        if self.condition.evaluate_condition() {
            return Ok(Outcome::Next);
        }
        let response = match &self.failure_handler {
            Some(handler) => handler.call()?,
            None => Response::new(403),
        };
        Ok(Outcome::Respond(response))
    }
}

ferrogate_sdk::export_filter!(ConditionEnforcementFilter, "ConditionEnforcementFilter");

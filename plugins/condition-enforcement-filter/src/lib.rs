//! IG's `ConditionEnforcementFilter`: the request goes on only when `condition` is true;
//! otherwise `failureHandler` answers (by default `403 Forbidden` with an empty body).
//!
//! ```json
//! {"type": "ConditionEnforcementFilter", "config": {
//!     "condition": "${not empty attributes.user}",
//!     "failureHandler": {"type": "StaticResponseHandler", "config": {"status": 401}}
//! }}
//! ```

use ferrogate_sdk::{Expression, FailureHandler, Filter, Outcome, Phases, Request};

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
    failure_handler: FailureHandler,
}

impl Filter for ConditionEnforcementFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let condition =
            ferrogate_sdk::compile(&config.condition).map_err(|e| format!("\"condition\": {e}"))?;
        let failure_handler = FailureHandler::resolve(config.failure_handler.as_ref(), 403)?;
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
        Ok(Outcome::Respond(self.failure_handler.respond()?))
    }
}

ferrogate_sdk::export_filter!(ConditionEnforcementFilter, "ConditionEnforcementFilter");

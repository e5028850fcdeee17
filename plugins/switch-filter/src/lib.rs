//! IG's `SwitchFilter`: in the request phase, the first case whose condition holds hands the
//! request to its handler, whose response is the answer (the rest of the chain is skipped); in
//! the response phase, the first matching case's handler response replaces the response. A
//! case without a condition always matches.
//!
//! ```json
//! {"type": "SwitchFilter", "config": {
//!     "onRequest": [{"condition": "${request.uri.path == '/login'}", "handler": "LoginHandler"}],
//!     "onResponse": [{"condition": "${attributes.denied}", "handler": "Denied"}]
//! }}
//! ```

use ferrogate_sdk::{Expression, Filter, HandlerRef, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseConfig {
    #[serde(default)]
    condition: Option<String>,
    handler: serde_json::Value,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    on_request: Vec<CaseConfig>,
    #[serde(default)]
    on_response: Vec<CaseConfig>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

struct Case {
    condition: Option<Expression>,
    handler: HandlerRef,
}

impl Case {
    fn matches(&self) -> bool {
        self.condition
            .as_ref()
            .is_none_or(Expression::evaluate_condition)
    }
}

fn cases(phase: &str, configs: Vec<CaseConfig>) -> Result<Vec<Case>, String> {
    configs
        .into_iter()
        .enumerate()
        .map(|(index, case)| {
            let condition = case
                .condition
                .as_deref()
                .map(ferrogate_sdk::compile)
                .transpose()
                .map_err(|e| format!("\"{phase}\"[{index}].condition: {e}"))?;
            let handler = ferrogate_sdk::resolve_handler(&case.handler.to_string())
                .map_err(|e| format!("\"{phase}\"[{index}].handler: {e}"))?;
            Ok(Case { condition, handler })
        })
        .collect()
}

/// The largest body copied from a response-phase handler into the response.
const REPLACEMENT_BODY_LIMIT: u64 = 16 << 20;

struct SwitchFilter {
    on_request: Vec<Case>,
    on_response: Vec<Case>,
}

impl Filter for SwitchFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        Ok(SwitchFilter {
            on_request: cases("onRequest", config.on_request)?,
            on_response: cases("onResponse", config.on_response)?,
        })
    }

    fn phases(&self) -> Phases {
        Phases {
            request: !self.on_request.is_empty(),
            response: !self.on_response.is_empty(),
        }
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        match self.on_request.iter().find(|case| case.matches()) {
            Some(case) => Ok(Outcome::Respond(case.handler.call()?)),
            None => Ok(Outcome::Next),
        }
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        match self.on_response.iter().find(|case| case.matches()) {
            Some(case) => resp.replace_with(&case.handler.call()?, REPLACEMENT_BODY_LIMIT),
            None => Ok(()),
        }
    }
}

ferrogate_sdk::export_filter!(SwitchFilter, "SwitchFilter");

//! IG's `ConditionalFilter`: when `condition` holds, the request goes on through `delegate`
//! (a filter: a heap name or an inline declaration); otherwise it skips it.
//!
//! ```json
//! {"type": "ConditionalFilter", "config": {
//!     "condition": "${find(request.uri.path, '^/admin')}",
//!     "delegate": {"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {"X-Admin": ["true"]}}}
//! }}
//! ```

use ferrogate_sdk::{Expression, Filter, FilterRef, Outcome, Phases, Request};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    condition: String,
    delegate: serde_json::Value,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

struct ConditionalFilter {
    condition: Expression,
    delegate: FilterRef,
}

impl Filter for ConditionalFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        Ok(ConditionalFilter {
            condition: ferrogate_sdk::compile(&config.condition)
                .map_err(|e| format!("\"condition\": {e}"))?,
            delegate: ferrogate_sdk::resolve_filter(&config.delegate.to_string())
                .map_err(|e| format!("\"delegate\": {e}"))?,
        })
    }

    fn phases(&self) -> Phases {
        Phases::REQUEST
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        if self.condition.evaluate_condition() {
            Ok(self.delegate.delegate())
        } else {
            Ok(Outcome::Next)
        }
    }
}

ferrogate_sdk::export_filter!(ConditionalFilter, "ConditionalFilter");

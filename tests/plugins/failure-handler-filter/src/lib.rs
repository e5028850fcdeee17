//! `FailureHandlerFilter`: resolves `config.failureHandler` at init; answers with it when the
//! request has an `X-Fail` header.
use ferrogate_sdk::{Filter, HandlerRef, Outcome, Request};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    failure_handler: serde_json::Value,
}

struct FailureHandlerFilter {
    failure: HandlerRef,
}

impl Filter for FailureHandlerFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let failure = ferrogate_sdk::resolve_handler(&config.failure_handler.to_string())?;
        Ok(Self { failure })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        if req.header("X-Fail").is_empty() {
            return Ok(Outcome::Next);
        }
        Ok(Outcome::Respond(self.failure.call()?))
    }
}

ferrogate_sdk::export_filter!(FailureHandlerFilter, "FailureHandlerFilter");

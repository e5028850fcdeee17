//! Decorator `timing`: adds `X-Decorated: <decoration value>` to responses (a string value
//! as is, anything else as JSON).
use ferrogate_sdk::{Filter, Request, Response};

struct Timing {
    value: String,
}

impl Filter for Timing {
    fn new() -> Result<Self, String> {
        let value = match ferrogate_sdk::config::<serde_json::Value>()? {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        Ok(Self { value })
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        resp.set_header("X-Decorated", std::slice::from_ref(&self.value))
    }
}

ferrogate_sdk::export_decorator!(Timing, "timing");

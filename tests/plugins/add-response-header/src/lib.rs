//! `AddResponseHeader`: config `{name, value}` appends a header to the response.
use ferrogate_sdk::{Filter, Request, Response};

#[derive(serde::Deserialize)]
struct Config {
    name: String,
    value: String,
}

struct AddResponseHeader(Config);

impl Filter for AddResponseHeader {
    fn new() -> Result<Self, String> {
        Ok(Self(ferrogate_sdk::config()?))
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        resp.append_header(&self.0.name, &self.0.value)
    }
}

ferrogate_sdk::export_filter!(AddResponseHeader, "AddResponseHeader");

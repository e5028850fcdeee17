//! `AddRequestHeader`: config `{name, value}` sets a request header.
use ferrogate_sdk::{Filter, Outcome, Request};

#[derive(serde::Deserialize)]
struct Config {
    name: String,
    value: String,
}

struct AddRequestHeader(Config);

impl Filter for AddRequestHeader {
    fn new() -> Result<Self, String> {
        Ok(Self(ferrogate_sdk::config()?))
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        req.set_header(&self.0.name, std::slice::from_ref(&self.0.value))?;
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_filter!(AddRequestHeader, "AddRequestHeader");

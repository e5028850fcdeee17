//! Hostile `Panic`: panics on every request (a trap on wasm32-wasip2).
use ferrogate_sdk::{Filter, Outcome, Request};

struct Panic;

impl Filter for Panic {
    fn new() -> Result<Self, String> {
        Ok(Self)
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        panic!("plugin panic on {} {}", req.method(), req.uri())
    }
}

ferrogate_sdk::export_filter!(Panic, "Panic");

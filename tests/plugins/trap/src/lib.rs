//! Hostile `Trap`: aborts on every request (`std::process::abort` is `unreachable` on wasm).
use ferrogate_sdk::{Filter, Outcome, Request};

struct Trap;

impl Filter for Trap {
    fn new() -> Result<Self, String> {
        Ok(Self)
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        std::process::abort()
    }
}

ferrogate_sdk::export_filter!(Trap, "Trap");

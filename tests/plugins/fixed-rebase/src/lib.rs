//! `FixedRebase`: config `{base}` declares that its request phase is a rebase onto `base`
//! (`config.rebase-requests`), so the host must never call `on_request`, which fails the
//! request if it is called. `on_response` still runs: it tells, in `X-Late-Declaration`,
//! what the host answered to the same declaration made during a call.
use ferrogate_sdk::{Filter, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize)]
struct Config {
    base: String,
}

struct FixedRebase(Config);

impl Filter for FixedRebase {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        ferrogate_sdk::rebase_requests(&config.base)?;
        Ok(Self(config))
    }

    fn phases(&self) -> Phases {
        Phases::BOTH
    }

    fn on_request(&self, _: &Request) -> Result<Outcome, String> {
        Err("on_request was called although init declared the request phase a rebase".into())
    }

    fn on_response(&self, _: &Request, resp: &Response) -> Result<(), String> {
        let late = match ferrogate_sdk::rebase_requests(&self.0.base) {
            Ok(()) => "accepted".to_owned(),
            Err(error) => error,
        };
        resp.set_header("X-Late-Declaration", &[late])
    }
}

ferrogate_sdk::export_filter!(FixedRebase, "FixedRebase");

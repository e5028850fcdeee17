//! `WindowLimit`: at most `limit` requests per client address in a window of `windowMs`,
//! counted in the host's shared counters (every instance and worker sees the same count).
//! Over the limit: 429 with `Retry-After`, counted in the plugin's `rejected` metric.
use ferrogate_sdk::{Filter, Outcome, Request, Response, counters, exchange};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    limit: u64,
    window_ms: u64,
}

struct WindowLimit(Config);

impl Filter for WindowLimit {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        if config.window_ms == 0 {
            return Err("windowMs must be positive".into());
        }
        Ok(Self(config))
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        let key = format!(
            "{}/{}",
            ferrogate_sdk::object_name(),
            exchange::client_address()
        );
        let count = counters::increment(&key, 1, self.0.window_ms);
        if count.value <= self.0.limit {
            return Ok(Outcome::Next);
        }
        ferrogate_sdk::counter_add("rejected", 1);
        let resp = Response::text(429, "slow down\n");
        let seconds = count.remaining_ms.div_ceil(1000).max(1);
        resp.set_header("Retry-After", &[seconds.to_string()])?;
        Ok(Outcome::Respond(resp))
    }
}

ferrogate_sdk::export_filter!(WindowLimit, "WindowLimit");

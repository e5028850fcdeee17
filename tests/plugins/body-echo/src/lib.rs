//! `BodyEcho`: answers the request body reversed (byte-wise), with `X-Body-Length`.
//! Config `{limit}` (optional, default 1 MiB).
use ferrogate_sdk::{Filter, Outcome, Request, Response};

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Config {
    limit: Option<u64>,
}

struct BodyEcho {
    limit: u64,
}

impl Filter for BodyEcho {
    fn new() -> Result<Self, String> {
        let config: Option<Config> = ferrogate_sdk::config()?;
        let limit = config.unwrap_or_default().limit.unwrap_or(1 << 20);
        Ok(Self { limit })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let mut body = req.body(self.limit)?;
        let resp = Response::new(200);
        resp.set_header("X-Body-Length", &[body.len().to_string()])?;
        body.reverse();
        resp.set_body(&body);
        Ok(Outcome::Respond(resp))
    }
}

ferrogate_sdk::export_filter!(BodyEcho, "BodyEcho");

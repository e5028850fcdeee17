//! `OutboundFilter`: per request, GETs `config.url` through the host's client and copies the
//! upstream's status into the request header `X-Outbound-Status`.
use ferrogate_sdk::{Filter, Outcome, Request, client};

#[derive(serde::Deserialize)]
struct Config {
    url: String,
}

struct OutboundFilter(Config);

impl Filter for OutboundFilter {
    fn new() -> Result<Self, String> {
        Ok(Self(ferrogate_sdk::config()?))
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let resp = client::get(&self.0.url)?;
        req.set_header("X-Outbound-Status", &[resp.status().to_string()])?;
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_filter!(OutboundFilter, "OutboundFilter");

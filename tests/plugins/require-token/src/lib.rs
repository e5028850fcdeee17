//! `RequireToken`: answers 401 unless `Authorization: Bearer <config.token>`.
use ferrogate_sdk::{Filter, Outcome, Request, Response};

#[derive(serde::Deserialize)]
struct Config {
    token: String,
}

struct RequireToken {
    expected: String,
}

impl Filter for RequireToken {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        Ok(Self {
            expected: format!("Bearer {}", config.token),
        })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        if req.header("Authorization").contains(&self.expected) {
            return Ok(Outcome::Next);
        }
        ferrogate_sdk::debug!("rejecting {} {}", req.method(), req.uri());
        let resp = Response::text(401, "missing or wrong bearer token\n");
        resp.set_header("WWW-Authenticate", &["Bearer".to_string()])?;
        Ok(Outcome::Respond(resp))
    }
}

ferrogate_sdk::export_filter!(RequireToken, "RequireToken");

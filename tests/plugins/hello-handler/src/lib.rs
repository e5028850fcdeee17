//! `HelloHandler`: 200 with `config.message`, and `X-Route` from the route's name.
use ferrogate_sdk::{Handler, Request, Response, exchange};

#[derive(serde::Deserialize)]
struct Config {
    message: String,
}

struct Hello(Config);

const VERSION: &str = if cfg!(feature = "v2") { "2" } else { "1" };

impl Handler for Hello {
    fn new() -> Result<Self, String> {
        Ok(Self(ferrogate_sdk::config()?))
    }

    fn handle(&self, _req: &Request) -> Result<Response, String> {
        let resp = Response::text(200, self.0.message.clone());
        resp.set_header("X-Plugin-Version", &[VERSION.to_string()])?;
        if let Some(route) = exchange::route_name() {
            resp.set_header("X-Route", &[route])?;
        }
        Ok(resp)
    }
}

ferrogate_sdk::export_handler!(Hello, "HelloHandler");

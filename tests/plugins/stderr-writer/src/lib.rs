//! `StderrWriter`: config `{text, times}` writes `text` to stderr `times` times (default once)
//! on every request, then passes it on: what a plugin printing diagnostics does. With
//! `initError`, its `init` fails with that message instead.
use std::io::Write;

use ferrogate_sdk::{Filter, Outcome, Request};

#[derive(serde::Deserialize)]
struct Config {
    text: String,
    #[serde(default = "once")]
    times: usize,
    #[serde(rename = "initError")]
    init_error: Option<String>,
}

fn once() -> usize {
    1
}

struct StderrWriter(Config);

impl Filter for StderrWriter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        match config.init_error {
            Some(message) => Err(message),
            None => Ok(Self(config)),
        }
    }

    fn on_request(&self, _: &Request) -> Result<Outcome, String> {
        let mut stderr = std::io::stderr().lock();
        for _ in 0..self.0.times {
            stderr
                .write_all(self.0.text.as_bytes())
                .map_err(|error| format!("writing to stderr: {error}"))?;
        }
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_filter!(StderrWriter, "StderrWriter");

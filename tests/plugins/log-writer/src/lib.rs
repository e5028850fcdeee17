//! `LogWriter`: config `{text, times, level}` logs `text` through the `log` import `times`
//! times (default once) at `level` (default `warn`) on every request, then passes it on: what
//! a plugin logging per request does. With `metric`, it also adds 1 to that counter
//! (`metrics.counter-add`) on every request.
use ferrogate_sdk::{Filter, Level, Outcome, Request};

#[derive(serde::Deserialize)]
struct Config {
    text: String,
    #[serde(default = "once")]
    times: usize,
    #[serde(default)]
    level: LevelName,
    metric: Option<String>,
}

#[derive(serde::Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum LevelName {
    Trace,
    Debug,
    Info,
    #[default]
    Warn,
    Error,
}

fn once() -> usize {
    1
}

struct LogWriter {
    text: String,
    times: usize,
    level: Level,
    metric: Option<String>,
}

impl Filter for LogWriter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        let level = match config.level {
            LevelName::Trace => Level::Trace,
            LevelName::Debug => Level::Debug,
            LevelName::Info => Level::Info,
            LevelName::Warn => Level::Warn,
            LevelName::Error => Level::Error,
        };
        Ok(LogWriter {
            text: config.text,
            times: config.times,
            level,
            metric: config.metric,
        })
    }

    fn on_request(&self, _: &Request) -> Result<Outcome, String> {
        for _ in 0..self.times {
            ferrogate_sdk::log(self.level, &self.text);
        }
        if let Some(metric) = &self.metric {
            ferrogate_sdk::counter_add(metric, 1);
        }
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_filter!(LogWriter, "LogWriter");

//! IG's `timer` decorator (type `TimerDecorator`): `"timer": true` logs how long the decorated
//! handler or filter took, at info level, with the object's name, in the declaration's
//! `timeUnit` (default `ms`).

use std::cell::Cell;
use std::time::Instant;

use ferrogate_sdk::{DecorationPoint, Filter, Outcome, Phases, Request, Response};

/// The declaration's settings: `{"name": "timer", "type": "TimerDecorator", "config": {...}}`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    time_unit: Option<String>,
    #[allow(dead_code)]
    comment: Option<serde_json::Value>,
}

/// A unit of IG's durations, as the log line shows it, and its length in seconds.
fn time_unit(name: &str) -> Result<(&'static str, f64), String> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => ("ns", 1e-9),
        "us" | "µs" | "micro" | "micros" | "microsecond" | "microseconds" => ("us", 1e-6),
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => ("ms", 1e-3),
        "s" | "sec" | "secs" | "second" | "seconds" => ("s", 1.0),
        "m" | "min" | "mins" | "minute" | "minutes" => ("min", 60.0),
        "h" | "hour" | "hours" => ("h", 3600.0),
        "d" | "day" | "days" => ("d", 86400.0),
        other => {
            return Err(format!(
                "\"timeUnit\": unknown unit \"{other}\"; use ns, us, ms, s, minutes, hours or days"
            ));
        }
    })
}

struct Timer {
    /// Set in `on-request`: an instance serves one request at a time, from `on-request`
    /// through `on-response`.
    started: Cell<Option<Instant>>,
    point: Option<DecorationPoint>,
    unit: (&'static str, f64),
}

impl Filter for Timer {
    fn new() -> Result<Self, String> {
        let settings: Settings = ferrogate_sdk::declaration()?;
        let unit = time_unit(settings.time_unit.as_deref().unwrap_or("ms"))?;
        let point = ferrogate_sdk::decorated_at();
        if point.is_none() {
            // Only the declaration is being checked.
            return Ok(Timer {
                started: Cell::new(None),
                point,
                unit,
            });
        }
        match ferrogate_sdk::config::<serde_json::Value>()? {
            serde_json::Value::Bool(true) => {}
            serde_json::Value::String(text) if text.eq_ignore_ascii_case("true") => {}
            other => {
                return Err(format!("\"timer\" takes true or false, not {other}"));
            }
        }
        Ok(Timer {
            started: Cell::new(None),
            point,
            unit,
        })
    }

    fn phases(&self) -> Phases {
        // The instance inside a decorated filter has nothing to time: the one around it does.
        if self.point == Some(DecorationPoint::InsideFilter) {
            Phases {
                request: false,
                response: false,
            }
        } else {
            Phases::BOTH
        }
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        if self.point != Some(DecorationPoint::InsideFilter) {
            self.started.set(Some(Instant::now()));
        }
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, _resp: &Response) -> Result<(), String> {
        let Some(started) = self.started.take() else {
            return Ok(());
        };
        let (unit, seconds) = self.unit;
        let elapsed = started.elapsed().as_secs_f64() / seconds;
        match self.point {
            Some(DecorationPoint::AroundFilter) => ferrogate_sdk::info!(
                "timer: filter finished (including what it called) in {elapsed:.3} {unit}"
            ),
            _ => ferrogate_sdk::info!("timer: handler finished in {elapsed:.3} {unit}"),
        }
        Ok(())
    }
}

ferrogate_sdk::export_decorator!(Timer, "TimerDecorator");

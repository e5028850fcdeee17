//! IG's `timer` decorator (type `TimerDecorator`): `"timer": true` logs how long the decorated
//! handler or filter took, at info level, with the object's name.

use std::cell::Cell;
use std::time::Instant;

use ferrogate_sdk::{DecorationPoint, Filter, Outcome, Phases, Request, Response};

struct Timer {
    /// Set in `on-request`: an instance serves one request at a time, from `on-request`
    /// through `on-response`.
    started: Cell<Option<Instant>>,
    point: Option<DecorationPoint>,
}

impl Filter for Timer {
    fn new() -> Result<Self, String> {
        match ferrogate_sdk::config::<serde_json::Value>()? {
            serde_json::Value::Bool(true) => {}
            serde_json::Value::String(text) if text.eq_ignore_ascii_case("true") => {}
            other => {
                return Err(format!("\"timer\" takes true or false, not {other}"));
            }
        }
        Ok(Timer {
            started: Cell::new(None),
            point: ferrogate_sdk::decorated_at(),
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
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        match self.point {
            Some(DecorationPoint::AroundFilter) => ferrogate_sdk::info!(
                "timer: filter finished (including what it called) in {elapsed_ms:.3} ms"
            ),
            _ => ferrogate_sdk::info!("timer: handler finished in {elapsed_ms:.3} ms"),
        }
        Ok(())
    }
}

ferrogate_sdk::export_decorator!(Timer, "TimerDecorator");

//! IG's `ThrottlingFilter`: at most `rate.numberOfRequests` requests per `rate.duration` for
//! each group of requests (`requestGroupingPolicy`, by default one group for the route);
//! beyond it `429 Too Many Requests` with `Retry-After`, and the rest of the chain is not
//! called.
//!
//! ```json
//! {"type": "ThrottlingFilter", "config": {
//!     "requestGroupingPolicy": "${request.headers['X-Client-Id'][0]}",
//!     "rate": {"numberOfRequests": 100, "duration": "1 minute"}
//! }}
//! ```
//!
//! The count is a sliding window kept in the host's shared counters, so every instance and
//! worker of the gateway sees the same one: the requests of the current fixed window plus those
//! of the previous window weighted by how much of it still overlaps the sliding one. Refused
//! requests do not count (as with IG's token bucket, a client over the rate still gets the rate).
//!
//! IG's `throttlingRatePolicy` (a rate chosen per request) and `executor` are refused at load,
//! saying so; `cleaningInterval` is checked against IG's bounds only, since the host drops old
//! counts by itself.

use std::time::Duration;

use ferrogate_sdk::{Expression, Filter, Outcome, Phases, Request, Response, counters};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rate {
    number_of_requests: u64,
    duration: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    request_grouping_policy: Option<String>,
    /// Optional in the type only, so that `throttlingRatePolicy` gets its own error.
    #[serde(default)]
    rate: Option<Rate>,
    /// IG's housekeeping period; the host drops every count two windows after it started,
    /// whatever the period.
    #[serde(default)]
    cleaning_interval: Option<String>,
    /// Refused with a hint: a rate chosen per request (IG's ThrottlingPolicy types).
    #[serde(default)]
    throttling_rate_policy: Option<serde::de::IgnoredAny>,
    /// Refused: IG's thread pool for the housekeeping, which has no equivalent here.
    #[serde(default)]
    executor: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

const ONE_DAY: Duration = Duration::from_secs(24 * 60 * 60);

struct ThrottlingFilter {
    grouping: Option<Expression>,
    limit: u64,
    window_ms: u64,
    /// Keys are this object's: two throttling filters never share counts.
    prefix: String,
}

impl ThrottlingFilter {
    fn group(&self) -> String {
        self.grouping
            .as_ref()
            .and_then(Expression::evaluate_string)
            .unwrap_or_default()
    }

    fn too_many(&self, retry_after_ms: u64) -> Result<Response, String> {
        let response = Response::text(429, "Too Many Requests\n");
        let seconds = retry_after_ms.div_ceil(1000).max(1);
        response.set_header("Retry-After", &[seconds.to_string()])?;
        Ok(response)
    }
}

impl Filter for ThrottlingFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        if config.throttling_rate_policy.is_some() {
            return Err("\"throttlingRatePolicy\" is not supported: use \"rate\", with one ThrottlingFilter per rate (behind a SwitchFilter, or in separate routes)".into());
        }
        if config.executor.is_some() {
            return Err(
                "\"executor\" is not supported: the gateway drops expired counts itself; remove it"
                    .into(),
            );
        }
        let Some(rate) = config.rate else {
            return Err("\"rate\" is required".into());
        };
        if rate.number_of_requests == 0 {
            return Err("\"rate\".\"numberOfRequests\" must be at least 1".into());
        }
        let duration = ferrogate_sdk::duration(&rate.duration)
            .map_err(|e| format!("\"rate\".\"duration\": {e}"))?
            .filter(|duration| !duration.is_zero())
            .ok_or("\"rate\".\"duration\" must be a finite, non-zero duration")?;
        if let Some(interval) = &config.cleaning_interval {
            // IG's bounds, so that a configuration IG refuses is refused here too.
            let valid = ferrogate_sdk::duration(interval)
                .map_err(|e| format!("\"cleaningInterval\": {e}"))?
                .is_some_and(|period| !period.is_zero() && period <= ONE_DAY);
            if !valid {
                return Err(format!(
                    "\"cleaningInterval\": \"{interval}\" must be more than zero and at most one day"
                ));
            }
        }
        let grouping = config
            .request_grouping_policy
            .as_deref()
            .filter(|policy| !policy.is_empty())
            .map(ferrogate_sdk::compile)
            .transpose()
            .map_err(|e| format!("\"requestGroupingPolicy\": {e}"))?;
        Ok(ThrottlingFilter {
            grouping,
            limit: rate.number_of_requests,
            window_ms: duration.max(Duration::from_millis(1)).as_millis() as u64,
            prefix: format!(
                "ThrottlingFilter/{}/{}",
                ferrogate_sdk::exchange::route_name().unwrap_or_default(),
                ferrogate_sdk::object_name()
            ),
        })
    }

    fn phases(&self) -> Phases {
        Phases::REQUEST
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        let now = ferrogate_sdk::epoch_millis();
        let window = now / self.window_ms;
        let into_window = now % self.window_ms;
        let group = self.group();
        let key = |index: u64| format!("{}/{}#{index}", self.prefix, group);
        // Windows live two lengths: the next window still reads this one as its previous.
        let lifetime = self.window_ms.saturating_mul(2);
        let previous = counters::increment(&key(window.wrapping_sub(1)), 0, lifetime).value;
        let overlap = (self.window_ms - into_window) as f64 / self.window_ms as f64;
        let carried = (previous as f64 * overlap).floor() as u64;
        let allowance = self.limit.saturating_sub(carried);
        match counters::try_increment(&key(window), 1, allowance, lifetime) {
            Ok(_) => Ok(Outcome::Next),
            Err(_) => {
                ferrogate_sdk::counter_add("throttled", 1);
                let to_next_window = self.window_ms - into_window;
                Ok(Outcome::Respond(self.too_many(to_next_window)?))
            }
        }
    }
}

ferrogate_sdk::export_filter!(ThrottlingFilter, "ThrottlingFilter");

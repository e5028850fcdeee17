//! Process-wide state behind the `counters`, `metrics` and `client` imports.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::state::ObjectInfo;

const SHARDS: usize = 16;

struct Window {
    value: u64,
    ends: Instant,
}

static COUNTERS: LazyLock<Vec<Mutex<HashMap<String, Window>>>> =
    LazyLock::new(|| (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect());

fn shard(key: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut fixed = std::hash::DefaultHasher::new();
    key.hash(&mut fixed);
    (fixed.finish() as usize) % SHARDS
}

/// Adds `delta` to `key` in its window; returns the value and the milliseconds left.
pub fn increment(key: &str, delta: u64, window_ms: u64) -> (u64, u64) {
    match add_within(key, delta, u64::MAX, window_ms) {
        Ok(counted) | Err(counted) => counted,
    }
}

/// Adds `delta` to `key` only when the value stays at or under `limit`: `Ok` with the new
/// value and the milliseconds left, `Err` with the unchanged value when it would not.
pub fn try_increment(
    key: &str,
    delta: u64,
    limit: u64,
    window_ms: u64,
) -> Result<(u64, u64), (u64, u64)> {
    add_within(key, delta, limit, window_ms)
}

fn add_within(key: &str, delta: u64, limit: u64, window_ms: u64) -> Result<(u64, u64), (u64, u64)> {
    let now = Instant::now();
    let window_length = Duration::from_millis(window_ms);
    let Ok(mut map) = COUNTERS[shard(key)].lock() else {
        return Err((0, window_ms));
    };
    if map.len() > 10_000 {
        map.retain(|_, window| window.ends > now);
    }
    let window = map.entry(key.to_owned()).or_insert_with(|| Window {
        value: 0,
        ends: now + window_length,
    });
    if window.ends <= now {
        window.value = 0;
        window.ends = now + window_length;
    }
    let remaining = window.ends.saturating_duration_since(now).as_millis() as u64;
    let added = window.value.saturating_add(delta);
    if added > limit {
        return Err((window.value, remaining));
    }
    window.value = added;
    Ok((added, remaining))
}

type MetricKey = (String, String, String, String);

/// Distinct plugin metric series kept; a plugin inventing names per request must not grow
/// the gateway's memory without bound.
const MAX_SERIES: usize = 10_000;

/// Each series' value is shared, so that a host counter bumped on a hot path (a dropped log
/// record) is one atomic add on a handle rather than a lookup under the lock.
static METRICS: LazyLock<Mutex<BTreeMap<MetricKey, Arc<AtomicU64>>>> =
    LazyLock::new(Default::default);

/// A Prometheus metric name part: what a plugin passes is reduced to `[a-zA-Z0-9_]`.
fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The counters the host keeps about plugin objects. A plugin may not add to them, and the
/// series limit does not apply to them: a plugin inventing names must not silence the
/// failures of another.
pub const HOST_COUNTERS: [&str; 2] = ["failures", "log_records_dropped"];

/// Adds to the host's `ferrogate_plugin_<name>_total{type, object, route}`, one of
/// [`HOST_COUNTERS`].
pub fn counter_add(name: &str, object: &ObjectInfo, value: u64) {
    add(&host_counter(name, object), value);
}

/// The host's series `ferrogate_plugin_<name>_total{type, object, route}`, one of
/// [`HOST_COUNTERS`], made if it is not there yet: a handle to add to without the lock.
pub fn host_counter(name: &str, object: &ObjectInfo) -> Arc<AtomicU64> {
    debug_assert!(HOST_COUNTERS.contains(&name), "{name} is no host counter");
    series(metric_name(name), object, usize::MAX).unwrap_or_default()
}

/// Adds to a plugin's own `ferrogate_plugin_<name>_total{type, object, route}`: refused when
/// `name` is one of the host's counters, or is new once there are `MAX_SERIES` series.
pub fn plugin_counter_add(name: &str, object: &ObjectInfo, value: u64) -> Result<(), String> {
    plugin_counter_add_within(name, object, value, MAX_SERIES)
}

fn plugin_counter_add_within(
    name: &str,
    object: &ObjectInfo,
    value: u64,
    max_series: usize,
) -> Result<(), String> {
    let name = metric_name(name);
    if HOST_COUNTERS.contains(&name.as_str()) {
        return Err(format!(
            "the metric name \"{name}\" is the gateway's own (ferrogate_plugin_{name}_total): not added to"
        ));
    }
    // Refused, not ignored: the warning is how a plugin author learns that a name made from
    // request data (a path, a user) has used up the series every plugin shares.
    let series = series(name, object, max_series).map_err(|name| {
        format!(
            "all {max_series} plugin metric series are taken, so the new series \"{name}\" was not \
             made: a plugin that makes metric names from request data makes one per value"
        )
    })?;
    add(&series, value);
    Ok(())
}

/// The series of `name` for `object`, made unless there are `max_series` already; refused, it
/// gives the name back for the caller to report.
fn series(name: String, object: &ObjectInfo, max_series: usize) -> Result<Arc<AtomicU64>, String> {
    let key = (
        name,
        object.type_name.clone(),
        object.object_name.clone(),
        object.route.clone().unwrap_or_default(),
    );
    let mut metrics = METRICS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(series) = metrics.get(&key) {
        return Ok(series.clone());
    }
    if metrics.len() >= max_series {
        return Err(key.0);
    }
    Ok(metrics.entry(key).or_default().clone())
}

fn add(series: &AtomicU64, value: u64) {
    // Saturating, as a plugin may add any value.
    let _ = series.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
        Some(current.saturating_add(value))
    });
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The plugin counters in Prometheus' text exposition format (0.0.4).
pub fn render_metrics(out: &mut String) {
    use std::fmt::Write as _;
    let metrics = METRICS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut family = "";
    for ((name, type_name, object, route), value) in metrics.iter() {
        let value = value.load(Ordering::Relaxed);
        if name != family {
            family = name;
            let _ = writeln!(out, "# TYPE ferrogate_plugin_{name}_total counter");
        }
        let _ = writeln!(
            out,
            "ferrogate_plugin_{name}_total{{type=\"{}\",object=\"{}\",route=\"{}\"}} {value}",
            label(type_name),
            label(object),
            label(route)
        );
    }
}

/// Sends a plugin's request through a handler: the heap's ClientHandler, or one the plugin
/// resolved. Takes what it needs from the
/// store by value: the future must be `Send`, and the store's WASI context is not `Sync`.
pub async fn send(
    client: Option<std::sync::Arc<dyn crate::handler::Handler>>,
    current: Option<(
        std::sync::Arc<crate::exchange::ClientInfo>,
        crate::exchange::TransactionId,
    )>,
    request: super::bindings::imports::http::OutgoingRequest,
) -> Result<crate::http::Response, String> {
    let Some(client) = client else {
        return Err("no ClientHandler is available to this object".into());
    };
    let Some((client_info, transaction_id)) = current else {
        return Err("client.send is only available while handling a request".into());
    };
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.uri.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let outgoing = builder
        .body(crate::http::full_body(request.body))
        .map_err(|error| error.to_string())?;
    let mut exchange = crate::exchange::Exchange::new(outgoing, client_info, transaction_id);
    client
        .handle(&mut exchange)
        .await
        .map_err(|error| error.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn object(name: &str) -> ObjectInfo {
        let mut object = ObjectInfo::probe("shared-tests");
        object.type_name = "SeriesTest".into();
        object.object_name = name.into();
        object
    }

    fn value_of(name: &str, object: &ObjectInfo) -> Option<u64> {
        let key = (
            name.to_owned(),
            object.type_name.clone(),
            object.object_name.clone(),
            String::new(),
        );
        let metrics = METRICS.lock().unwrap_or_else(PoisonError::into_inner);
        metrics.get(&key).map(|value| value.load(Ordering::Relaxed))
    }

    #[test]
    fn a_new_series_past_the_limit_is_refused_and_an_existing_one_still_counts() {
        // A limit of 0 is full whatever other tests made in the shared map.
        let object = object("full-series");
        plugin_counter_add("kept", &object, 2).unwrap();
        plugin_counter_add_within("kept", &object, 3, 0).unwrap();
        assert_eq!(value_of("kept", &object), Some(5));
        let refused = plugin_counter_add_within("per user alice", &object, 1, 0).unwrap_err();
        assert!(
            refused.contains("all 0 plugin metric series are taken")
                && refused.contains("\"per_user_alice\""),
            "{refused}"
        );
        assert_eq!(value_of("per_user_alice", &object), None);
    }
}

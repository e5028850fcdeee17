//! End-to-end tests: the real `ferrogate` binary on loopback, its configuration in a
//! temporary directory, real upstreams and a real HTTP client. One test binary (link time
//! matters); every test starts its own gateway on an ephemeral port, so they run in parallel.

#![allow(clippy::unwrap_used)]

#[path = "e2e/broken.rs"]
mod broken;
#[path = "e2e/check.rs"]
mod check;
#[path = "e2e/conditions.rs"]
mod conditions;
#[path = "e2e/decorators.rs"]
mod decorators;
#[path = "e2e/docs_examples.rs"]
mod docs_examples;
#[path = "e2e/examples.rs"]
mod examples;
#[path = "e2e/filters_cookies.rs"]
mod filters_cookies;
#[path = "e2e/filters_flow.rs"]
mod filters_flow;
#[path = "e2e/filters_jwt.rs"]
mod filters_jwt;
#[path = "e2e/filters_messages.rs"]
mod filters_messages;
#[path = "e2e/filters_oauth2.rs"]
mod filters_oauth2;
#[path = "e2e/filters_traffic.rs"]
mod filters_traffic;
#[path = "e2e/handlers.rs"]
mod handlers;
#[path = "e2e/heap.rs"]
mod heap;
#[path = "e2e/http1.rs"]
mod http1;
#[path = "e2e/limits.rs"]
mod limits;
#[path = "e2e/listeners_cli.rs"]
mod listeners_cli;
#[path = "e2e/listeners_client.rs"]
mod listeners_client;
#[path = "e2e/listeners_h2.rs"]
mod listeners_h2;
#[path = "e2e/listeners_https.rs"]
mod listeners_https;
#[path = "e2e/logging.rs"]
mod logging;
#[path = "e2e/memory.rs"]
mod memory;
#[path = "e2e/plugins_cache.rs"]
mod plugins_cache;
#[path = "e2e/plugins_filters.rs"]
mod plugins_filters;
#[path = "e2e/plugins_hostile.rs"]
mod plugins_hostile;
#[path = "e2e/plugins_log_budget.rs"]
mod plugins_log_budget;
#[path = "e2e/plugins_perf_map.rs"]
mod plugins_perf_map;
#[path = "e2e/plugins_pool.rs"]
mod plugins_pool;
#[path = "e2e/plugins_reload.rs"]
mod plugins_reload;
#[path = "e2e/plugins_runs.rs"]
mod plugins_runs;
#[path = "e2e/plugins_stderr.rs"]
mod plugins_stderr;
#[path = "e2e/plugins_support.rs"]
mod plugins_support;
#[path = "e2e/reload.rs"]
mod reload;
#[path = "e2e/routing.rs"]
mod routing;
#[path = "e2e/secrets.rs"]
mod secrets;
#[path = "e2e/sessions.rs"]
mod sessions;
#[path = "e2e/shutdown.rs"]
mod shutdown;
#[path = "e2e/traffic.rs"]
mod traffic;
#[path = "e2e/upstream_failures.rs"]
mod upstream_failures;
#[path = "e2e/upstream_proxy.rs"]
mod upstream_proxy;
#[path = "e2e/upstream_streaming.rs"]
mod upstream_streaming;
#[path = "e2e/upstream_support.rs"]
mod upstream_support;
#[path = "e2e/upstream_tls.rs"]
mod upstream_tls;
#[path = "e2e/upstream_websocket.rs"]
mod upstream_websocket;

use std::time::Duration;

use ferrogate_e2e::{Gateway, eventually};
use serde_json::{Value, json};

/// The admin listing of the main router's routes.
pub const ROUTES_LISTING: &str = "/openig/api/system/objects/_router/routes?_queryFilter=true";

/// How long a reload may take to be visible (IG users expect "about at once").
pub const RELOAD_LIMIT: Duration = Duration::from_secs(1);

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Every value of a header, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// The number a `/proc/.../status` file gives for `field` (`VmRSS`,
/// `voluntary_ctxt_switches` ...), if the file and the field are there.
pub fn proc_status_field(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// A client that never goes through a proxy from the environment.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub fn try_send(request: reqwest::blocking::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let response = request.send()?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text()?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

pub fn send(request: reqwest::blocking::RequestBuilder) -> Reply {
    try_send(request).unwrap_or_else(|error| panic!("request failed: {error:?}"))
}

pub fn get(gateway: &Gateway, path: &str) -> Reply {
    send(client().get(gateway.url(path)))
}

/// `GET path` to an echo upstream that waits `delay` before answering (its `x-delay-ms`),
/// and how long the answer took.
pub fn get_delayed(gateway: &Gateway, path: &str, delay: Duration) -> (Reply, Duration) {
    let asked = std::time::Instant::now();
    let reply = send(
        client()
            .get(gateway.url(path))
            .header("x-delay-ms", delay.as_millis().to_string()),
    );
    (reply, asked.elapsed())
}

/// The body of a 200 answer to `GET path`, or the status otherwise, for compact assertions.
pub fn body_of(gateway: &Gateway, path: &str) -> String {
    body_or_status(get(gateway, path))
}

/// The body of a 200 reply, or `<status>` otherwise: one string to compare, so an assertion
/// on what a request reached shows a wrong status and a wrong body alike.
pub fn body_or_status(reply: Reply) -> String {
    if reply.status == 200 {
        reply.body
    } else {
        format!("<{}>", reply.status)
    }
}

/// A route answering `body` with 200 (text/plain) when `condition` holds.
pub fn static_route(name: Option<&str>, condition: Option<&str>, body: &str) -> Value {
    let mut route = json!({
        "handler": {
            "type": "StaticResponseHandler",
            "config": {
                "status": 200,
                "headers": {"Content-Type": ["text/plain"]},
                "entity": body
            }
        }
    });
    if let Some(name) = name {
        route["name"] = json!(name);
    }
    if let Some(condition) = condition {
        route["condition"] = json!(condition);
    }
    route
}

/// A route answering `body` for `GET path` exactly.
pub fn path_route(path: &str, body: &str) -> Value {
    static_route(
        None,
        Some(&format!("${{request.uri.path == '{path}'}}")),
        body,
    )
}

/// A route for requests to `path` exactly, through a Chain of `filters` to `handler`: the
/// route shape the filter, plugin and session tests put what they test in.
pub fn chain(path: &str, filters: Value, handler: Value) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "handler": {"type": "Chain", "config": {"filters": filters, "handler": handler}}
    })
}

/// The main router's route states, from the admin surface.
pub fn listing(gateway: &Gateway) -> Vec<Value> {
    listing_at(gateway, ROUTES_LISTING)
}

pub fn listing_at(gateway: &Gateway, path: &str) -> Vec<Value> {
    let reply = get(gateway, path);
    assert_eq!(reply.status, 200, "admin listing: {}", reply.body);
    reply.json()["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The listing entry of the route file named `file_name`.
pub fn entry(gateway: &Gateway, file_name: &str) -> Option<Value> {
    let suffix = format!("/{file_name}");
    listing(gateway).into_iter().find(|entry| {
        entry["file"]
            .as_str()
            .is_some_and(|file| file.ends_with(&suffix))
    })
}

pub fn status_of(gateway: &Gateway, file_name: &str) -> Option<String> {
    entry(gateway, file_name).and_then(|entry| entry["status"].as_str().map(str::to_owned))
}

/// Waits (up to a generous bound, so a failure shows the real delay) until `probe` holds and
/// asserts it happened within `limit`.
#[track_caller]
pub fn within(limit: Duration, what: &str, probe: impl FnMut() -> bool) -> Duration {
    let took = eventually(limit * 4 + Duration::from_secs(2), probe);
    match took {
        Some(took) => {
            assert!(took < limit, "{what}: took {took:?}, more than {limit:?}");
            took
        }
        None => panic!("{what}: never happened"),
    }
}

/// Waits for something that has no latency requirement (a reload whose effect is asserted
/// otherwise), failing after a few seconds.
#[track_caller]
pub fn settles(what: &str, probe: impl FnMut() -> bool) {
    assert!(
        eventually(Duration::from_secs(5), probe).is_some(),
        "{what}: never happened"
    );
}

/// Whether `error` locates the problem as `<...>/file_name:LINE:COLUMN:`.
pub fn locates(error: &str, file_name: &str) -> Option<(usize, usize)> {
    let start = error.find(&format!("/{file_name}:"))? + file_name.len() + 2;
    let mut parts = error[start..].splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((line, column))
}

/// A TCP port on loopback that refuses connections, the same one for the whole test run. It
/// is bound, so neither a server of a test running alongside nor the source port of an
/// outgoing connection can take it, but it does not listen. (A port merely released, as
/// `closed_port` gives, can be taken meanwhile by a server that accepts and stays silent.)
pub fn refused_port() -> u16 {
    static REFUSING: std::sync::OnceLock<(socket2::Socket, u16)> = std::sync::OnceLock::new();
    REFUSING
        .get_or_init(|| {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("a TCP socket");
            socket
                .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
                .expect("bind a loopback port");
            let port = socket
                .local_addr()
                .ok()
                .and_then(|address| address.as_socket())
                .map(|address| address.port())
                .expect("the bound port");
            (socket, port)
        })
        .1
}

/// A TCP port on loopback that nothing listens on right now, free for a test to listen on
/// later.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

//! Hostile plugins fail closed: 500, logged with the plugin and the route, counted, the
//! instance discarded, and the gateway and its other routes serving on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::plugins_support::start;
use crate::{chain, client, get, proc_status_field, try_send};

/// `filter` in front of a handler answering 200 `reached`.
fn route(path: &str, filter: Value) -> Value {
    chain(
        path,
        json!([filter]),
        json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "reached"}}),
    )
}

/// A plugin filter that does its work and passes the request on.
fn ok_route() -> (&'static str, Value) {
    (
        "ok",
        route(
            "/ok",
            json!({"type": "AddRequestHeader", "config": {"name": "X-A", "value": "1"}}),
        ),
    )
}

/// A short deadline and a small memory cap, so hostile plugins meet them soon.
fn tight_limits() -> Value {
    json!({"deadline": "200 ms", "memory": "16 MiB"})
}

fn rss_kib(pid: u32) -> u64 {
    proc_status_field(&format!("/proc/{pid}/status"), "VmRSS").unwrap()
}

/// Sends `count` requests over `threads` keep-alive clients, cycling through `paths`; every
/// answer must have `status`.
fn hammer(gateway: &ferrogate_e2e::Gateway, paths: &[&str], count: usize, status: u16) {
    let threads = 4;
    let workers: Vec<_> = (0..threads)
        .map(|worker| {
            let urls: Vec<String> = paths.iter().map(|path| gateway.url(path)).collect();
            std::thread::spawn(move || {
                let client = client();
                for index in (worker..count).step_by(threads) {
                    let url = &urls[index % urls.len()];
                    let reply = try_send(client.get(url)).unwrap();
                    assert_eq!(reply.status, status, "{url}: {}", reply.body);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

#[test]
fn hostile_plugins_fail_closed_and_the_gateway_serves_on() {
    let routes = [
        ("loop", route("/loop", json!({"type": "InfiniteLoop"}))),
        ("bomb", route("/bomb", json!({"type": "MemoryBomb"}))),
        ("trap", route("/trap", json!({"type": "Trap"}))),
        ("panic", route("/panic", json!({"type": "Panic"}))),
        ok_route(),
    ];
    let (_config, gateway) = start(&routes, json!([]), tight_limits());
    assert_eq!(get(&gateway, "/ok").status, 200);

    // An infinite loop: 500 once the deadline passes; the worker is not stuck meanwhile.
    let looping = {
        let url = gateway.url("/loop");
        std::thread::spawn(move || {
            let started = Instant::now();
            let reply = try_send(client().get(url)).unwrap();
            (reply.status, reply.body, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(get(&gateway, "/ok").status, 200);
    }
    let served_meanwhile = started.elapsed();
    let (status, body, took) = looping.join().unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(
        served_meanwhile < Duration::from_millis(150),
        "other requests waited on the loop: {served_meanwhile:?}"
    );
    // The deadline counts 5 ms epoch ticks, the first of which comes anywhere within a tick
    // of the call's start.
    assert!(
        took >= Duration::from_millis(195) && took < Duration::from_secs(2),
        "the loop was stopped after {took:?}"
    );
    assert!(
        !body.contains("deadline"),
        "internals leak to the client: {body}"
    );
    let logged = gateway.wait_for_log(
        &["deadline", "InfiniteLoop", "route", "loop"],
        Duration::from_secs(5),
    );
    assert!(logged.is_some(), "{:#?}", gateway.logs());

    // A memory bomb hits the cap; a trap and a panic: each 500, the next request fine.
    for path in ["/bomb", "/trap", "/panic"] {
        let reply = get(&gateway, path);
        assert_eq!(reply.status, 500, "{path}: {}", reply.body);
        assert_eq!(get(&gateway, "/ok").status, 200, "after {path}");
    }

    // 10,000 hostile requests: no memory growth, other routes still served.
    hammer(&gateway, &["/trap", "/panic", "/bomb"], 300, 500);
    let before = rss_kib(gateway.pid());
    hammer(
        &gateway,
        &["/trap", "/panic", "/bomb", "/trap"],
        10_000,
        500,
    );
    let after = rss_kib(gateway.pid());
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 10,000 hostile requests"
    );
    hammer(&gateway, &["/ok"], 100, 200);

    let metrics = get(&gateway, "/openig/metrics/prometheus").body;
    let failures = |route: &str| -> u64 {
        metrics
            .lines()
            .find(|line| {
                line.starts_with("ferrogate_plugin_failures_total")
                    && line.contains(&format!("route=\"{route}\""))
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(failures("loop"), 1, "{metrics}");
    assert!(failures("trap") >= 5_000, "{metrics}");
    assert!(failures("bomb") >= 2_500, "{metrics}");
}

/// The context switches the gateway's epoch ticker thread has made: it makes one per tick
/// while it runs, none while it is parked.
fn epoch_ticker_switches(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    for task in tasks {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if name.trim() != "ferrogate-epoch" {
            continue;
        }
        let status = task.join("status");
        return proc_status_field(&status.to_string_lossy(), "voluntary_ctxt_switches").unwrap();
    }
    panic!("the gateway {pid} has no ferrogate-epoch thread");
}

/// Switches of the ticker over `spell`.
fn ticker_switches_over(pid: u32, spell: Duration) -> u64 {
    let before = epoch_ticker_switches(pid);
    std::thread::sleep(spell);
    epoch_ticker_switches(pid) - before
}

#[test]
fn the_epoch_ticker_sleeps_while_no_plugin_runs_and_deadlines_hold_after_it_woke() {
    let routes = [
        ("loop", route("/loop", json!({"type": "InfiniteLoop"}))),
        ok_route(),
    ];
    let (_config, gateway) = start(&routes, json!([]), tight_limits());
    let pid = gateway.pid();
    // The ticker parks a second after the last plugin code ran (loading ran some); a 5 ms
    // tick would make about 100 switches in half a second.
    std::thread::sleep(Duration::from_millis(1500));
    let idle = ticker_switches_over(pid, Duration::from_millis(500));
    assert!(idle <= 2, "the idle ticker switched {idle} times in 500 ms");

    // A call wakes it, and it ticks on for a while after.
    assert_eq!(get(&gateway, "/ok").status, 200);
    let woken = ticker_switches_over(pid, Duration::from_millis(500));
    assert!(
        woken >= 20,
        "after a call the ticker switched {woken} times in 500 ms"
    );

    // Parked again, a runaway plugin's first call still meets its deadline.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(ticker_switches_over(pid, Duration::from_millis(300)) <= 2);
    let started = Instant::now();
    let reply = get(&gateway, "/loop");
    let took = started.elapsed();
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(
        took >= Duration::from_millis(195) && took < Duration::from_secs(2),
        "the loop was stopped after {took:?}"
    );
}

/// Where the process may not reserve the instance pool's address space (`ulimit -v`, valgrind),
/// plugins still run, on instances allocated on demand, and the memory cap still holds.
#[test]
fn under_an_address_space_limit_plugins_run_without_the_pool_and_the_memory_cap_holds() {
    let routes = [
        ("bomb", route("/bomb", json!({"type": "MemoryBomb"}))),
        ok_route(),
    ];
    let config = crate::plugins_support::configure(
        crate::plugins_support::ALL,
        tight_limits(),
        json!([]),
        &routes,
    );
    // Far more than the gateway needs, far less than a thousand 4 GiB pool slots.
    let limit = format!("--as={}", 64u64 << 30);
    let gateway = ferrogate_e2e::Gateway::start_wrapped(
        &["prlimit", &limit, "--"],
        config.path(),
        &["--listen", "127.0.0.1:0"],
        &[],
        1,
    );
    assert!(
        gateway
            .wait_for_log(&["allocated on demand", "ulimit"], Duration::from_secs(5))
            .is_some(),
        "{:#?}",
        gateway.logs()
    );
    let reply = get(&gateway, "/ok");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "reached");

    // Stopped by the cap, the bomb's allocation fails and the guest aborts (`unreachable`);
    // without it, the bomb would grow until its deadline stopped it.
    for _ in 0..3 {
        let reply = get(&gateway, "/bomb");
        assert_eq!(reply.status, 500, "{}", reply.body);
        assert_eq!(get(&gateway, "/ok").status, 200);
    }
    assert!(
        gateway
            .wait_for_log(&["MemoryBomb", "unreachable"], Duration::from_secs(5))
            .is_some(),
        "{:#?}",
        gateway.logs()
    );
    let logs = gateway.logs();
    assert!(
        !logs
            .iter()
            .any(|line| line.contains("MemoryBomb") && line.contains("deadline")),
        "the bomb ran into its deadline, not the memory cap: {logs:#?}"
    );
    let peak = proc_status_field(&format!("/proc/{}/status", gateway.pid()), "VmHWM").unwrap();
    assert!(
        peak < 256 * 1024,
        "the gateway's peak RSS reached {peak} KiB: the memory cap did not hold"
    );
}

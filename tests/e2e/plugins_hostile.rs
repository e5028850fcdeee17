//! Hostile plugins fail closed: 500, logged, the instance discarded, the gateway serving on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::plugins_support::start;
use crate::{client, get, try_send};

fn route(path: &str, filter: &str) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "handler": {
            "type": "Chain",
            "config": {
                "filters": [{"type": filter}],
                "handler": {"type": "StaticResponseHandler", "config": {"status": 200, "entity": "reached"}}
            }
        }
    })
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap()
}

#[test]
fn hostile_plugins_fail_closed_and_the_gateway_serves_on() {
    let routes = [
        ("loop", route("/loop", "TestLoopFilter")),
        ("bomb", route("/bomb", "TestBombFilter")),
        ("trap", route("/trap", "TestTrapFilter")),
        ("panic", route("/panic", "TestPanicFilter")),
        ("ok", route("/ok", "TestHeaderFilter")),
    ];
    let (_config, gateway) = start(&routes, json!([]), json!({"deadline": "200 ms"}));
    assert_eq!(get(&gateway, "/ok").status, 200);

    // An infinite loop: 500 within the deadline, other requests served meanwhile.
    let looping = {
        let url = gateway.url("/loop");
        std::thread::spawn(move || {
            let started = Instant::now();
            let reply = try_send(client().get(url)).unwrap();
            (reply.status, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(get(&gateway, "/ok").status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "served slowly during the loop: {:?}",
        started.elapsed()
    );
    let (status, took) = looping.join().unwrap();
    assert_eq!(status, 500);
    assert!(
        took < Duration::from_secs(2),
        "the loop was stopped after {took:?}"
    );
    assert!(
        gateway
            .wait_for_log(
                &["deadline", "TestLoopFilter", "loop"],
                Duration::from_secs(5)
            )
            .is_some(),
        "{:#?}",
        gateway.logs()
    );

    // Memory bomb, trap, panic.
    for path in ["/bomb", "/trap", "/panic"] {
        let reply = get(&gateway, path);
        assert_eq!(reply.status, 500, "{path}: {}", reply.body);
        assert_eq!(get(&gateway, "/ok").status, 200, "after {path}");
    }

    // Many hostile requests: no growth beyond a bound, other routes still served.
    for _ in 0..100 {
        assert_eq!(get(&gateway, "/trap").status, 500);
    }
    let before = rss_kib(gateway.pid());
    let count = 1_000;
    for index in 0..count {
        let path = if index % 2 == 0 { "/trap" } else { "/panic" };
        assert_eq!(get(&gateway, path).status, 500);
    }
    for _ in 0..10 {
        assert_eq!(get(&gateway, "/bomb").status, 500);
    }
    let after = rss_kib(gateway.pid());
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(get(&gateway, "/ok").status, 200);
}

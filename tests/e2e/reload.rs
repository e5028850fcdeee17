//! Hot reload while serving: every kind of change to the routes directory is applied within a
//! second, and a request loop running throughout sees no failure and only legitimate answers.

use std::os::unix::fs::symlink;
use std::time::Duration;

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::json;

use crate::traffic::{NOT_FOUND, Traffic, ok};
use crate::{RELOAD_LIMIT, body_of, entry, listing, path_route, settles, static_route, within};

const CHANGING: &str = "/changing";

/// A configuration with a stable route on `/stable`.
fn config() -> ConfigDir {
    let config = ConfigDir::new();
    config.write_route("stable.json", &path_route("/stable", "stable"));
    config
}

fn changing(body: &str) -> serde_json::Value {
    path_route(CHANGING, body)
}

fn traffic(gateway: &Gateway, allowed: &[&str]) -> Traffic {
    Traffic::start(gateway, ("/stable", "stable"), CHANGING, allowed)
}

#[test]
fn an_added_route_serves_within_a_second() {
    let config = config();
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, CHANGING), "<404>");
    let traffic = traffic(&gateway, &[NOT_FOUND]);
    traffic.await_answers(NOT_FOUND, 5);

    traffic.allow(&ok("v1"));
    config.write_route("changing.json", &changing("v1"));
    within(RELOAD_LIMIT, "the added route serving", || {
        body_of(&gateway, CHANGING) == "v1"
    });
    traffic.forbid(NOT_FOUND);
    traffic.await_answers(&ok("v1"), 20);

    let report = traffic.finish();
    assert!(report.seen.contains(&ok("v1")), "{:?}", report.seen);
    assert_eq!(
        entry(&gateway, "changing.json").unwrap()["status"],
        "deployed"
    );
}

#[test]
fn a_changed_route_serves_its_new_version_within_a_second() {
    let config = config();
    config.write_route("changing.json", &changing("v1"));
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, CHANGING), "v1");
    let traffic = traffic(&gateway, &[&ok("v1")]);

    for (old, new) in [("v1", "v2"), ("v2", "v3")] {
        traffic.allow(&ok(new));
        config.write_route("changing.json", &changing(new));
        within(RELOAD_LIMIT, &format!("{new} serving"), || {
            body_of(&gateway, CHANGING) == new
        });
        traffic.forbid(&ok(old));
        traffic.await_answers(&ok(new), 20);
    }
    traffic.finish();
}

#[test]
fn a_renamed_route_keeps_serving_under_its_new_id() {
    let config = config();
    // One route with a name, which the move keeps, and one without, named after its file.
    let mut named = changing("named");
    named["name"] = json!("the-route");
    config.write_route("before.json", &named);
    config.write_route("unnamed-before.json", &path_route("/unnamed", "unnamed"));
    let gateway = Gateway::start(config.path());
    let traffic = traffic(&gateway, &[&ok("named")]);
    let unnamed = Traffic::start(
        &gateway,
        ("/stable", "stable"),
        "/unnamed",
        &[&ok("unnamed")],
    );

    std::fs::rename(
        config.routes().join("before.json"),
        config.routes().join("after.json"),
    )
    .unwrap();
    std::fs::rename(
        config.routes().join("unnamed-before.json"),
        config.routes().join("unnamed-after.json"),
    )
    .unwrap();
    within(RELOAD_LIMIT, "the new ids in the admin listing", || {
        let routes = listing(&gateway);
        let ids: Vec<&str> = routes
            .iter()
            .filter_map(|route| route["_id"].as_str())
            .collect();
        ids.contains(&"after")
            && ids.contains(&"unnamed-after")
            && !ids.contains(&"before")
            && !ids.contains(&"unnamed-before")
    });
    let after = entry(&gateway, "after.json").unwrap();
    assert_eq!(after["name"], "the-route");
    assert_eq!(after["status"], "deployed");
    let unnamed_after = entry(&gateway, "unnamed-after.json").unwrap();
    assert_eq!(unnamed_after["name"], "unnamed-after");
    assert!(entry(&gateway, "before.json").is_none());
    assert_eq!(listing(&gateway).len(), 3, "{:?}", listing(&gateway));
    traffic.await_answers(&ok("named"), 20);
    unnamed.await_answers(&ok("unnamed"), 20);
    traffic.finish();
    unnamed.finish();
}

/// A deployment tool that writes the new file before deleting the old one: for a moment both
/// claim the same name, and the new file is refused as a duplicate. Once the old file is
/// gone, the new one must serve.
#[test]
fn a_route_moved_by_copy_then_delete_serves_from_its_new_file() {
    let config = config();
    let mut old = changing("old");
    old["name"] = json!("the-route");
    config.write_route("old.json", &old);
    let gateway = Gateway::start(config.path());
    let traffic = traffic(&gateway, &[&ok("old")]);

    let mut new = changing("new");
    new["name"] = json!("the-route");
    config.write_route("new.json", &new);
    settles("the copy refused as a duplicate", || {
        entry(&gateway, "new.json").is_some_and(|entry| entry["status"] == "failed")
    });
    assert_eq!(body_of(&gateway, CHANGING), "old");

    traffic.allow(&ok("new"));
    config.remove("routes/old.json");
    within(
        RELOAD_LIMIT,
        "the new file serving once the old one is gone",
        || body_of(&gateway, CHANGING) == "new",
    );
    traffic.forbid(&ok("old"));
    traffic.await_answers(&ok("new"), 20);
    traffic.finish();
    assert_eq!(entry(&gateway, "new.json").unwrap()["status"], "deployed");
}

#[test]
fn a_removed_route_is_gone_within_a_second() {
    let config = config();
    config.write_route("changing.json", &changing("v1"));
    let gateway = Gateway::start(config.path());
    let traffic = traffic(&gateway, &[&ok("v1")]);
    traffic.await_answers(&ok("v1"), 5);

    traffic.allow(NOT_FOUND);
    config.remove("routes/changing.json");
    within(RELOAD_LIMIT, "the removed route gone", || {
        body_of(&gateway, CHANGING) == "<404>"
    });
    traffic.forbid(&ok("v1"));
    traffic.await_answers(NOT_FOUND, 20);
    traffic.finish();
    assert!(entry(&gateway, "changing.json").is_none());
    assert_eq!(listing(&gateway).len(), 1);
}

/// Editors save through a temporary file renamed over the original (vim also probes the
/// directory with a file named `4913`), or rewrite the file in place.
#[test]
fn editor_saves_are_picked_up_within_a_second() {
    let config = config();
    config.write_route("changing.json", &changing("v1"));
    let gateway = Gateway::start(config.path());
    let traffic = traffic(&gateway, &[&ok("v1")]);
    let routes = config.routes();

    // Save through a temporary file.
    traffic.allow(&ok("v2"));
    std::fs::write(routes.join("4913"), "").unwrap();
    std::fs::remove_file(routes.join("4913")).unwrap();
    std::fs::write(routes.join(".changing.json.swp"), "not json at all").unwrap();
    let staging = routes.join("changing.json.tmp~");
    std::fs::write(
        &staging,
        serde_json::to_string_pretty(&changing("v2")).unwrap(),
    )
    .unwrap();
    std::fs::rename(&staging, routes.join("changing.json")).unwrap();
    within(RELOAD_LIMIT, "the saved version serving", || {
        body_of(&gateway, CHANGING) == "v2"
    });
    traffic.forbid(&ok("v1"));
    traffic.await_answers(&ok("v2"), 10);

    // Rewrite in place (truncate, then write): a half-written file must not stop the route.
    traffic.allow(&ok("v3"));
    std::fs::write(
        routes.join("changing.json"),
        serde_json::to_string_pretty(&changing("v3")).unwrap(),
    )
    .unwrap();
    within(RELOAD_LIMIT, "the rewritten version serving", || {
        body_of(&gateway, CHANGING) == "v3"
    });
    traffic.forbid(&ok("v2"));
    traffic.await_answers(&ok("v3"), 10);
    traffic.finish();
    // The swap file is not a route.
    assert_eq!(listing(&gateway).len(), 2, "{:?}", listing(&gateway));
}

/// Kubernetes mounts a ConfigMap as `x.json -> ..data/x.json`, `..data -> ..<timestamp>/`,
/// and updates it by writing a new timestamped folder and renaming a new `..data` link over
/// the old one.
#[test]
fn a_configmap_symlink_swap_is_picked_up_within_a_second() {
    let config = config();
    let routes = config.routes();
    let publish = |version: &str, body: &str| {
        let folder = routes.join(format!("..2026_{version}"));
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(
            folder.join("changing.json"),
            serde_json::to_string_pretty(&changing(body)).unwrap(),
        )
        .unwrap();
        symlink(format!("..2026_{version}"), routes.join("..data_tmp")).unwrap();
        std::fs::rename(routes.join("..data_tmp"), routes.join("..data")).unwrap();
    };
    publish("a", "v1");
    symlink("..data/changing.json", routes.join("changing.json")).unwrap();
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, CHANGING), "v1");
    let traffic = traffic(&gateway, &[&ok("v1")]);

    for (old_version, old, version, new) in [("a", "v1", "b", "v2"), ("b", "v2", "c", "v3")] {
        traffic.allow(&ok(new));
        publish(version, new);
        std::fs::remove_dir_all(routes.join(format!("..2026_{old_version}"))).unwrap();
        within(
            RELOAD_LIMIT,
            &format!("{new} serving after the swap"),
            || body_of(&gateway, CHANGING) == new,
        );
        traffic.forbid(&ok(old));
        traffic.await_answers(&ok(new), 10);
    }
    traffic.finish();
    // Kubernetes' own entries are not routes.
    assert_eq!(listing(&gateway).len(), 2, "{:?}", listing(&gateway));
}

/// Without file system events (`FERROGATE_WATCH=poll`), the Router's `scanInterval` rescan
/// picks changes up.
#[test]
fn polling_picks_changes_up_at_the_scan_interval() {
    let config = config();
    config.write(
        "config.json",
        &json!({"handler": {"name": "_router", "type": "Router", "config": {"scanInterval": "1 second"}}}).to_string(),
    );
    config.write_route("changing.json", &changing("v1"));
    let gateway = Gateway::start_with(config.path(), &[], &[("FERROGATE_WATCH", "poll")]);
    let traffic = traffic(&gateway, &[&ok("v1")]);

    traffic.allow(&ok("v2"));
    config.write_route("changing.json", &changing("v2"));
    within(
        Duration::from_millis(2500),
        "the change picked up by polling",
        || body_of(&gateway, CHANGING) == "v2",
    );
    traffic.forbid(&ok("v1"));

    config.write_route(
        "added.json",
        &static_route(None, Some("${request.uri.path == '/added'}"), "added"),
    );
    within(
        Duration::from_millis(2500),
        "an added file picked up by polling",
        || body_of(&gateway, "/added") == "added",
    );
    traffic.await_answers(&ok("v2"), 10);
    traffic.finish();
}

/// Saves in quick succession (a script, a formatter on save): the last one wins, even when
/// in-place rewrites keep the same length within one timestamp tick.
#[test]
fn a_burst_of_saves_ends_on_the_last_version() {
    let config = config();
    config.write_route("changing.json", &changing("v000"));
    let gateway = Gateway::start(config.path());
    let file = config.routes().join("changing.json");
    for round in 0..3 {
        for i in 1..=100 {
            let body = format!("v{:03}", round * 100 + i);
            std::fs::write(
                &file,
                serde_json::to_string_pretty(&changing(&body)).unwrap(),
            )
            .unwrap();
            if i % 10 == 0 {
                std::thread::sleep(Duration::from_millis(7));
            }
        }
        let last = format!("v{:03}", round * 100 + 100);
        within(
            RELOAD_LIMIT,
            &format!("{last} serving after the burst"),
            || body_of(&gateway, CHANGING) == last,
        );
    }
}

/// A request in flight finishes on the route it started with, even if that route is removed.
#[test]
fn a_request_in_flight_survives_the_removal_of_its_route() {
    let upstream = ferrogate_e2e::upstream::Upstream::echo();
    let config = config();
    config.write_route(
        "slow.json",
        &json!({
            "name": "slow",
            "condition": "${request.uri.path == '/slow'}",
            "baseURI": upstream.base_uri(),
            "handler": "ReverseProxyHandler"
        }),
    );
    let gateway = Gateway::start(config.path());
    let url = gateway.url("/slow");
    let in_flight = std::thread::spawn(move || {
        crate::try_send(crate::client().get(url).header("x-delay-ms", "800"))
    });
    assert!(
        gateway
            .wait_for_log(&["route matched", "slow"], Duration::from_secs(5))
            .is_some()
    );
    config.remove("routes/slow.json");
    within(RELOAD_LIMIT, "the route removed", || {
        body_of(&gateway, "/slow") == "<404>"
    });
    let reply = in_flight
        .join()
        .unwrap()
        .expect("the request in flight completes");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["uri"], "/slow");
}

/// Some deployment tools replace the whole routes folder (delete it, create it again).
#[test]
fn a_replaced_routes_directory_is_picked_up() {
    let config = config();
    config.write_route("changing.json", &changing("v1"));
    let gateway = Gateway::start(config.path());
    let routes = config.routes();
    let staging = config.path().join("routes.new");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(
        staging.join("stable.json"),
        serde_json::to_string(&path_route("/stable", "stable")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        staging.join("changing.json"),
        serde_json::to_string(&changing("v2")).unwrap(),
    )
    .unwrap();
    std::fs::remove_dir_all(&routes).unwrap();
    std::fs::rename(&staging, &routes).unwrap();
    within(RELOAD_LIMIT, "the new folder's version serving", || {
        body_of(&gateway, CHANGING) == "v2"
    });
    config.write_route("changing.json", &changing("v3"));
    within(RELOAD_LIMIT, "a later change in the new folder", || {
        body_of(&gateway, CHANGING) == "v3"
    });
}

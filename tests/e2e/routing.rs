//! Routing semantics: order, refusals, duplicates, the admin prefix, the default handler and
//! nested routers.

use ferrogate_e2e::{ConfigDir, Gateway, check};
use serde_json::json;

use crate::check::diagnostic_for;
use crate::{
    RELOAD_LIMIT, body_of, entry, get, listing, listing_at, path_route, settles, static_route,
    status_of, within,
};

const ORDER: &str = "${request.uri.path == '/order'}";

/// Routes are ordered by name, falling back to the route id; file names do not matter.
#[test]
fn the_route_whose_name_sorts_first_wins() {
    let config = ConfigDir::new();
    config.write_route(
        "a-first-file.json",
        &static_route(Some("zeta"), Some(ORDER), "zeta"),
    );
    config.write_route(
        "z-last-file.json",
        &static_route(Some("alpha"), Some(ORDER), "alpha"),
    );
    // No name: ordered by its id, taken from the file name.
    config.write_route("mid.json", &static_route(None, Some(ORDER), "mid"));
    // An explicit _id orders a nameless route too.
    config.write_route("0-file.json", &{
        let mut route = static_route(None, Some(ORDER), "by-id");
        route["_id"] = json!("omega");
        route
    });
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/order"), "alpha");

    config.remove("routes/z-last-file.json");
    within(RELOAD_LIMIT, "the next route by name", || {
        body_of(&gateway, "/order") == "mid"
    });
    config.remove("routes/mid.json");
    within(RELOAD_LIMIT, "the next route by id", || {
        body_of(&gateway, "/order") == "by-id"
    });
    config.remove("routes/0-file.json");
    within(RELOAD_LIMIT, "the last route", || {
        body_of(&gateway, "/order") == "zeta"
    });

    // A route added later with a name sorting first takes over.
    config.write_route("zzz.json", &static_route(Some("aaa"), Some(ORDER), "aaa"));
    within(RELOAD_LIMIT, "the new first route", || {
        body_of(&gateway, "/order") == "aaa"
    });
}

#[test]
fn no_matching_route_is_404() {
    let config = ConfigDir::new();
    config.write_route("a.json", &path_route("/a", "a"));
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/a"), "a");
    assert_eq!(get(&gateway, "/b").status, 404);
    assert_eq!(get(&gateway, "/").status, 404);

    let empty = ConfigDir::new();
    let gateway = Gateway::start(empty.path());
    assert_eq!(get(&gateway, "/anything").status, 404);
}

#[test]
fn routes_named_default_are_refused() {
    let config = ConfigDir::new();
    config.write_route("default.json", &static_route(None, None, "default-file"));
    config.write_route(
        "named.json",
        &static_route(Some("default"), None, "default-name"),
    );
    config.write_route("by-id.json", &{
        let mut route = static_route(None, None, "default-id");
        route["_id"] = json!("default");
        route
    });
    config.write_route("ok.json", &path_route("/ok", "ok"));

    let (success, _, stderr) = check(config.path());
    assert!(!success, "{stderr}");
    for file in ["default.json", "named.json", "by-id.json"] {
        let diagnostic = diagnostic_for(&stderr, file);
        assert!(diagnostic.contains("\"default\""), "{diagnostic}");
    }

    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/ok"), "ok");
    // The refused routes would take every other request.
    assert_eq!(get(&gateway, "/other").status, 404);
    for file in ["default.json", "named.json", "by-id.json"] {
        assert_eq!(
            status_of(&gateway, file).as_deref(),
            Some("failed"),
            "{file}"
        );
    }
}

#[test]
fn duplicate_ids_and_names_keep_the_first_file() {
    let config = ConfigDir::new();
    let with_id = |body: &str| {
        let mut route = static_route(None, Some("${request.uri.path == '/dup-id'}"), body);
        route["_id"] = json!("dup");
        route
    };
    config.write_route("a.json", &with_id("a"));
    config.write_route("b.json", &with_id("b"));
    config.write_route(
        "c.json",
        &static_route(
            Some("same"),
            Some("${request.uri.path == '/dup-name'}"),
            "c",
        ),
    );
    config.write_route(
        "d.json",
        &static_route(
            Some("same"),
            Some("${request.uri.path == '/dup-name'}"),
            "d",
        ),
    );

    let (success, _, stderr) = check(config.path());
    assert!(!success, "{stderr}");
    assert!(
        diagnostic_for(&stderr, "b.json").contains("a.json"),
        "{stderr}"
    );
    assert!(
        diagnostic_for(&stderr, "d.json").contains("c.json"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("/a.json:") && !stderr.contains("/c.json:"),
        "{stderr}"
    );

    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/dup-id"), "a");
    assert_eq!(body_of(&gateway, "/dup-name"), "c");
    assert_eq!(status_of(&gateway, "b.json").as_deref(), Some("failed"));
    assert_eq!(status_of(&gateway, "d.json").as_deref(), Some("failed"));
    let error = entry(&gateway, "d.json").unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("same") && error.contains("c.json"),
        "{error}"
    );

    // A duplicate added while serving (its file sorts first) is refused too.
    config.write_route(
        "0.json",
        &static_route(
            Some("same"),
            Some("${request.uri.path == '/dup-name'}"),
            "0",
        ),
    );
    settles("the new duplicate reported", || {
        status_of(&gateway, "0.json").as_deref() == Some("failed")
    });
    assert_eq!(body_of(&gateway, "/dup-name"), "c");
}

#[test]
fn admin_paths_never_reach_routes() {
    let config = ConfigDir::new();
    config.write_route("catch-all.json", &static_route(None, None, "catch-all"));
    let gateway = Gateway::start(config.path());

    let ping = get(&gateway, "/openig/ping");
    assert_eq!(ping.status, 200);
    assert_ne!(ping.body, "catch-all");
    for path in ["/openig/anything", "/openig", "/openig/api/nothing"] {
        let reply = get(&gateway, path);
        assert_ne!(reply.body, "catch-all", "{path} reached the route");
        assert_eq!(reply.status, 404, "{path}");
    }
    for path in ["/", "/openigx", "/x/openig/ping", "/api/openig"] {
        assert_eq!(body_of(&gateway, path), "catch-all", "{path}");
    }
    assert_eq!(listing(&gateway).len(), 1);
}

#[test]
fn admin_json_moves_the_admin_prefix() {
    let config = ConfigDir::new();
    config.write("admin.json", &json!({"prefix": "admin"}).to_string());
    config.write_route("catch-all.json", &static_route(None, None, "catch-all"));
    let gateway = Gateway::start(config.path());

    let ping = get(&gateway, "/admin/ping");
    assert_eq!(ping.status, 200);
    assert_ne!(ping.body, "catch-all");
    let routes = listing_at(
        &gateway,
        "/admin/api/system/objects/_router/routes?_queryFilter=true",
    );
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0]["_id"], "catch-all");
    for path in [
        "/openig/ping",
        "/openig/x",
        "/openig/api/system/objects/_router/routes",
    ] {
        assert_eq!(body_of(&gateway, path), "catch-all", "{path}");
    }
    assert_ne!(get(&gateway, "/admin/x").body, "catch-all");
}

#[test]
fn the_default_handler_takes_unmatched_requests() {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &json!({
            "handler": {
                "name": "_router",
                "type": "Router",
                "config": {
                    "defaultHandler": {
                        "type": "StaticResponseHandler",
                        "config": {"status": 418, "entity": "fallback for ${request.uri.path}"}
                    }
                }
            }
        })
        .to_string(),
    );
    config.write_route("a.json", &path_route("/a", "a"));
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/a"), "a");
    let fallback = get(&gateway, "/nothing");
    assert_eq!(
        (fallback.status, fallback.body.as_str()),
        (418, "fallback for /nothing")
    );
    // The admin surface is still the admin surface.
    assert_eq!(get(&gateway, "/openig/ping").status, 200);
}

#[test]
fn a_nested_router_dispatches_to_its_own_routes() {
    let config = ConfigDir::new();
    config.write_route(
        "outer.json",
        &json!({
            "condition": "${find(request.uri.path, '^/inner/')}",
            "handler": {"type": "Router", "config": {"directory": "inner-routes"}}
        }),
    );
    config.write_route("other.json", &path_route("/other", "other"));
    config.write(
        "inner-routes/a.json",
        &serde_json::to_string(&path_route("/inner/a", "inner-a")).unwrap(),
    );
    config.write(
        "inner-routes/any.json",
        &serde_json::to_string(&static_route(
            Some("zz-any"),
            Some("${request.uri.path.startsWith('/inner/')}"),
            "inner-any",
        ))
        .unwrap(),
    );
    let gateway = Gateway::start(config.path());
    assert_eq!(body_of(&gateway, "/inner/a"), "inner-a");
    assert_eq!(body_of(&gateway, "/inner/zzz"), "inner-any");
    assert_eq!(body_of(&gateway, "/other"), "other");
    assert_eq!(get(&gateway, "/a").status, 404);

    // The inner directory is watched too.
    config.write(
        "inner-routes/b.json",
        &serde_json::to_string(&path_route("/inner/b", "inner-b")).unwrap(),
    );
    within(RELOAD_LIMIT, "a route added to the nested router", || {
        body_of(&gateway, "/inner/b") == "inner-b"
    });
    config.remove("inner-routes/any.json");
    within(
        RELOAD_LIMIT,
        "a route removed from the nested router",
        || get(&gateway, "/inner/zzz").status == 404,
    );
}

//! CookieFilter (an embedded plugin) through the real binary: which cookies reach the
//! application and the user agent, and the jar of managed cookies kept in the session.
//!
//! Until sessions outlive an exchange, the jar is exercised within one: a SequenceHandler
//! whose steps all go through the same CookieFilter object, the later steps carrying what the
//! earlier ones were sent.

use ferrogate_e2e::upstream::Upstream;
use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

use crate::{Reply, client, send};

fn serve(routes: &[(&str, Value)]) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    for (name, route) in routes {
        config.write_route(&format!("{name}.json"), route);
    }
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

fn route(path: &str, heap: Value, handler: Value) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "heap": heap,
        "handler": handler
    })
}

fn through(filter: Value, handler: Value) -> Value {
    json!({"type": "Chain", "config": {"filters": [filter], "handler": handler}})
}

fn cookie_filter(config: Value) -> Value {
    json!({"type": "CookieFilter", "config": config})
}

/// The protected application answering with these cookies.
fn application(set_cookie: &[&str], set_cookie2: &[&str]) -> Value {
    let mut headers = json!({"Set-Cookie": set_cookie});
    if !set_cookie2.is_empty() {
        headers["Set-Cookie2"] = json!(set_cookie2);
    }
    json!({"type": "StaticResponseHandler", "config": {"status": 200, "headers": headers, "entity": "app"}})
}

fn echo(upstream: &Upstream) -> Value {
    json!({"type": "ClientHandler", "baseURI": upstream.base_uri()})
}

fn sequence(steps: Vec<Value>) -> Value {
    let bindings: Vec<Value> = steps
        .into_iter()
        .map(|handler| json!({"handler": handler}))
        .collect();
    json!({"type": "SequenceHandler", "config": {"bindings": bindings}})
}

/// The `Cookie` header the echo upstream received, if any.
fn forwarded_cookie(reply: &Reply) -> Option<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let echo: Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|error| panic!("not an echo ({error}): {}", reply.body));
    echo["headers"]["cookie"].as_str().map(str::to_owned)
}

/// The application's cookies that reached the user agent: everything but the gateway's own
/// session cookie, which carries the session the managed cookies are kept in.
fn application_set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .all("set-cookie")
        .into_iter()
        .filter(|cookie| !cookie.starts_with("IG_SESSIONID="))
        .collect()
}

#[test]
fn suppressed_and_managed_cookies_of_the_user_agent_never_reach_the_application() {
    let upstream = Upstream::echo();
    let routes = [
        (
            "mixed",
            route(
                "/mixed",
                json!([]),
                through(
                    cookie_filter(json!({
                        "managed": ["sid"], "suppressed": ["Tracker"], "relayed": ["LANG"]
                    })),
                    echo(&upstream),
                ),
            ),
        ),
        (
            "relay-default",
            route(
                "/relay-default",
                json!([]),
                through(
                    cookie_filter(json!({"suppressed": ["tracker"], "defaultAction": "relay"})),
                    echo(&upstream),
                ),
            ),
        ),
        (
            "untouched",
            route(
                "/untouched",
                json!([]),
                through(
                    cookie_filter(json!({"defaultAction": "RELAY"})),
                    echo(&upstream),
                ),
            ),
        ),
        (
            "all-gone",
            route(
                "/all-gone",
                json!([]),
                through(
                    cookie_filter(json!({"defaultAction": "SUPPRESS", "relayed": []})),
                    echo(&upstream),
                ),
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes);
    let with_cookies = |path: &str, values: &[&str]| {
        let mut request = client().get(gateway.url(path));
        for value in values {
            request = request.header("cookie", *value);
        }
        send(request)
    };

    // Names match the lists whatever their case; `other` is managed by default.
    let reply = with_cookies("/mixed", &["lang=fr; tracker=1; SID=forged; other=x"]);
    assert_eq!(forwarded_cookie(&reply).as_deref(), Some("lang=fr"));

    // Several Cookie headers (as HTTP/2 user agents send) become one.
    let reply = with_cookies("/relay-default", &["a=1; TRACKER=2", "b=3"]);
    assert_eq!(forwarded_cookie(&reply).as_deref(), Some("a=1; b=3"));

    // Nothing to remove: the header goes exactly as sent.
    let reply = with_cookies("/untouched", &["a=1;b=2"]);
    assert_eq!(forwarded_cookie(&reply).as_deref(), Some("a=1;b=2"));

    let reply = with_cookies("/all-gone", &["a=1; b=2"]);
    assert_eq!(
        forwarded_cookie(&reply),
        None,
        "no empty Cookie header either"
    );
}

#[test]
fn only_relayed_cookies_of_the_application_reach_the_user_agent() {
    let expires = "Expires=Wed, 21 Oct 2099 07:28:00 GMT";
    let routes = [
        (
            "managed",
            route(
                "/managed",
                json!([]),
                through(
                    cookie_filter(json!({"suppressed": ["tracker"], "relayed": ["lang"]})),
                    application(
                        &[
                            "LANG=fr; Path=/",
                            "Tracker=1",
                            "sid=abc; HttpOnly",
                            &format!("other=2; {expires}"),
                        ],
                        &["legacy=1; Version=1"],
                    ),
                ),
            ),
        ),
        (
            "relayed",
            route(
                "/relayed",
                json!([]),
                through(
                    cookie_filter(json!({"suppressed": ["tracker"], "defaultAction": "RELAY"})),
                    application(
                        &[&format!("a=1; {expires}"), "tracker=2"],
                        &[
                            "b=1; Version=1, tracker=\"x, y\"; Version=1",
                            "c=2; Version=\"1\"",
                        ],
                    ),
                ),
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes);

    let reply = send(client().get(gateway.url("/managed")));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(application_set_cookies(&reply), ["LANG=fr; Path=/"]);
    assert!(reply.all("set-cookie2").is_empty());

    let reply = send(client().get(gateway.url("/relayed")));
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The Expires date's comma does not split a Set-Cookie.
    assert_eq!(
        application_set_cookies(&reply),
        [format!("a=1; {expires}")],
        "suppressed: tracker"
    );
    assert_eq!(
        reply.all("set-cookie2"),
        ["b=1; Version=1, c=2; Version=\"1\""]
    );
}

#[test]
fn managed_cookies_go_back_to_the_application_as_a_user_agent_would_send_them() {
    let upstream = Upstream::echo();
    let heap = json!([
        {"name": "Jar", "type": "CookieFilter", "config": {"relayed": ["LANG"]}},
        {"name": "OtherJar", "type": "CookieFilter"}
    ]);
    let login = application(
        &[
            "sid=one; Path=/",
            "wide=1; Domain=.Example.COM; Path=/",
            "cart=3",
            "deep=1; Path=/shop/cart",
            "admin=1; Path=/admin",
            "near=1; Path=/sho",
            "secure=1; Secure",
            "old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "foreign=1; Domain=other.com",
        ],
        &[],
    );
    let routes = [
        (
            "cart",
            route(
                "/shop/cart",
                heap.clone(),
                sequence(vec![
                    through(json!("Jar"), login.clone()),
                    // Replaces sid (same name, domain and path), deletes cart.
                    through(
                        json!("Jar"),
                        application(&["sid=two; Path=/", "cart=; Max-Age=0"], &[]),
                    ),
                    through(json!("Jar"), echo(&upstream)),
                ]),
            ),
        ),
        (
            "isolated",
            route(
                "/shop/isolated",
                heap,
                sequence(vec![
                    through(json!("Jar"), login),
                    through(json!("OtherJar"), echo(&upstream)),
                ]),
            ),
        ),
    ];
    let (_config, gateway) = serve(&routes);
    let request = |path: &str| {
        send(
            client()
                .get(gateway.url(path))
                .header("host", "app.example.com")
                .header("cookie", "sid=forged; lang=en"),
        )
    };

    let reply = request("/shop/cart");
    // The user agent's sid is dropped (managed); the jar's cookies that match
    // app.example.com/shop/cart over http follow the relayed one, longest path first, then
    // oldest first (the replaced sid kept its place).
    assert_eq!(
        forwarded_cookie(&reply).as_deref(),
        Some("lang=en; deep=1; sid=two; wide=1")
    );
    assert!(
        application_set_cookies(&reply).is_empty(),
        "{:?}",
        reply.headers
    );

    // Another CookieFilter object keeps its own jar.
    let reply = request("/shop/isolated");
    assert_eq!(forwarded_cookie(&reply), None);
}

#[test]
fn a_cookie_in_several_lists_takes_the_first_of_managed_suppressed_relayed() {
    let upstream = Upstream::echo();
    let routes = [(
        "twice",
        route(
            "/twice",
            json!([]),
            through(
                cookie_filter(json!({
                    "managed": ["SID"],
                    "suppressed": ["t"],
                    "relayed": ["sid", "T", "lang"],
                    "defaultAction": "RELAY"
                })),
                echo(&upstream),
            ),
        ),
    )];
    let (_config, gateway) = serve(&routes);
    let reply = send(
        client()
            .get(gateway.url("/twice"))
            .header("cookie", "sid=forged; t=1; lang=fr; other=x"),
    );
    // IG's precedence: sid is managed and t suppressed, although both are relayed too.
    assert_eq!(
        forwarded_cookie(&reply).as_deref(),
        Some("lang=fr; other=x")
    );
    assert!(
        gateway
            .wait_for_log(
                &["cookie \\\"sid\\\" is listed in both", "as in IG"],
                std::time::Duration::from_secs(5)
            )
            .is_some(),
        "a warning says which list applies: {:#?}",
        gateway.logs()
    );
}

#[test]
fn cookie_filter_rejects_bad_configuration_at_load() {
    let config = ConfigDir::new();
    let ok = json!({"type": "StaticResponseHandler", "config": {"status": 200}});
    let bad = |file: &str, name: &str, settings: Value| {
        config.write_route(
            file,
            &route(
                &format!("/{name}"),
                json!([{"name": name, "type": "CookieFilter", "config": settings}]),
                through(json!(name), ok.clone()),
            ),
        );
    };
    bad("unknown.json", "Misspelt", json!({"manged": ["sid"]}));
    bad("action.json", "BadAction", json!({"defaultAction": "KEEP"}));
    bad("name.json", "BadName", json!({"suppressed": ["a b"]}));
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    for (file, object, message) in [
        ("unknown.json", "Misspelt", "unknown field `manged`"),
        ("action.json", "BadAction", "\"KEEP\" is not an action"),
        ("name.json", "BadName", "\"a b\" is not a cookie name"),
    ] {
        let line = stderr
            .lines()
            .find(|line| line.contains(file))
            .unwrap_or_else(|| panic!("no error for {file}: {stderr}"));
        assert!(line.contains(object), "{line}");
        assert!(line.contains(message), "{line}");
    }
}

#[test]
fn managed_cookies_outlive_the_request_in_the_session() {
    let upstream = Upstream::echo();
    let routes = [(
        "app",
        json!({
            "condition": "${find(request.uri.path, '^/app/')}",
            "handler": through(
                cookie_filter(json!({})),
                json!({"type": "DispatchHandler", "config": {"bindings": [
                    {
                        "condition": "${request.uri.path == '/app/login'}",
                        "handler": application(&["sid=abc; Path=/app"], &[])
                    },
                    {"handler": "ClientHandler", "baseURI": upstream.base_uri()}
                ]}}),
            )
        }),
    )];
    let (_config, gateway) = serve(&routes);

    let login = send(client().get(gateway.url("/app/login")));
    assert_eq!(login.status, 200, "{}", login.body);
    let session_cookies: Vec<String> = login
        .all("set-cookie")
        .iter()
        .map(|cookie| cookie.split(';').next().unwrap().trim().to_owned())
        .collect();
    assert!(
        session_cookies.iter().all(|pair| !pair.starts_with("sid=")),
        "the managed cookie stays in the gateway: {session_cookies:?}"
    );
    assert!(
        !session_cookies.is_empty(),
        "the gateway gives the client its session cookie"
    );

    let home = send(
        client()
            .get(gateway.url("/app/home"))
            .header("cookie", session_cookies.join("; ")),
    );
    let forwarded = forwarded_cookie(&home).unwrap_or_default();
    assert!(
        forwarded.split("; ").any(|pair| pair == "sid=abc"),
        "{forwarded}"
    );
}

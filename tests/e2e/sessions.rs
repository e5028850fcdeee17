//! Sessions through the real binary: the default in-memory session, JwtSession in config.json
//! (as the heap object named `Session`) and on a route, with a cookie-carrying client. The
//! JWT cookie is decrypted here independently (ring) to show what travels.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ferrogate_e2e::{ConfigDir, Gateway, check, serve_with_heap};
use serde_json::{Value, json};

use crate::check::diagnostic_for;
use crate::{Reply, chain, client, send};

const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";

/// A route that counts the visits of its session and answers `visits=N`.
fn counter_route(path: &str) -> Value {
    chain(
        path,
        json!([{"type": "AssignmentFilter", "config": {"onRequest": [
            {"target": "${session.visits}", "value": "${empty session.visits ? 1 : session.visits + 1}"}
        ]}}]),
        json!({"type": "StaticResponseHandler", "config": {
            "status": 200, "entity": "visits=${session.visits}"
        }}),
    )
}

/// A route that answers with session values without touching the session.
fn reader_route(path: &str) -> Value {
    json!({
        "condition": format!("${{request.uri.path == '{path}'}}"),
        "handler": {"type": "StaticResponseHandler", "config": {
            "status": 200, "entity": "visits=${session.visits} where=${session.where}"
        }}
    })
}

fn key_store() -> Value {
    json!({"name": "keys", "type": "Base64EncodedSecretStore",
           "config": {"secrets": {"session.key": STANDARD.encode(KEY)}}})
}

fn jwt_session(name: &str, cookie: &str) -> Value {
    json!({"name": name, "type": "JwtSession", "config": {
        "authenticatedEncryptedSecretId": "session.key",
        "secretsProvider": "keys",
        "cookie": {"name": cookie}
    }})
}

fn get_with(gateway: &Gateway, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = client().get(gateway.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    send(request)
}

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// The `name=value` part of the one Set-Cookie named `name`.
fn cookie(reply: &Reply, name: &str) -> String {
    let prefix = format!("{name}=");
    let found: Vec<String> = set_cookies(reply)
        .into_iter()
        .filter(|header| header.starts_with(&prefix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name} cookie expected: {:?}",
        set_cookies(reply)
    );
    found[0].split(';').next().unwrap().to_owned()
}

/// Decrypts a JwtSession cookie value with the test key: what any holder of the key sees.
fn decrypt(token: &str) -> serde_json::Map<String, Value> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 5, "a JWE in compact form: {token}");
    assert_eq!(
        parts[1], "",
        "direct key agreement carries no encrypted key"
    );
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "dir", "enc": "A256GCM"}));
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).unwrap());
    let nonce: [u8; 12] = URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap()
        .try_into()
        .unwrap();
    let mut sealed = URL_SAFE_NO_PAD.decode(parts[3]).unwrap();
    sealed.extend(URL_SAFE_NO_PAD.decode(parts[4]).unwrap());
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(parts[0].as_bytes()),
            &mut sealed,
        )
        .expect("the cookie decrypts with the configured key");
    serde_json::from_slice(plain).unwrap()
}

#[test]
fn default_in_memory_session_follows_the_client_cookie() {
    let (_config, gateway) = serve_with_heap(
        &[
            ("count", counter_route("/count")),
            ("read", reader_route("/read")),
        ],
        json!([]),
    );

    let first = get_with(&gateway, "/count", None);
    assert_eq!(first.body, "visits=1");
    let session = cookie(&first, "IG_SESSIONID");
    let attributes = set_cookies(&first).join(" ");
    assert!(
        attributes.contains("Path=/") && attributes.contains("HttpOnly"),
        "{attributes}"
    );

    let second = get_with(&gateway, "/count", Some(&session));
    assert_eq!(second.body, "visits=2");
    assert!(
        set_cookies(&second).is_empty(),
        "the id is already known to the client"
    );
    assert_eq!(
        get_with(&gateway, "/read", Some(&session)).body,
        "visits=2 where="
    );

    assert_eq!(
        get_with(&gateway, "/count", None).body,
        "visits=1",
        "a new client, a new session"
    );
    let reading = get_with(&gateway, "/read", None);
    assert!(
        set_cookies(&reading).is_empty(),
        "a request that stores nothing creates no session"
    );
}

#[test]
fn jwt_session_named_session_travels_in_an_encrypted_cookie_any_instance_can_read() {
    let heap = json!([key_store(), jwt_session("Session", "openig-jwt-session")]);
    let routes = [("count", counter_route("/count"))];
    let (_config, gateway) = serve_with_heap(&routes, heap.clone());

    let first = get_with(&gateway, "/count", None);
    assert_eq!(first.body, "visits=1");
    assert!(
        set_cookies(&first)
            .iter()
            .all(|c| !c.starts_with("IG_SESSIONID"))
    );
    let session = cookie(&first, "openig-jwt-session");
    let claims = decrypt(session.trim_start_matches("openig-jwt-session="));
    assert_eq!(claims["visits"], 1);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expires = claims["_ig_exp"].as_u64().unwrap();
    assert!(
        (now + 1790..=now + 1810).contains(&expires),
        "30 minutes by default: {expires} vs {now}"
    );

    let second = get_with(&gateway, "/count", Some(&session));
    assert_eq!(second.body, "visits=2");
    let session = cookie(&second, "openig-jwt-session");

    // Stateless: another gateway with the same key continues the session.
    let (_other_config, other) = serve_with_heap(&routes, heap);
    assert_eq!(get_with(&other, "/count", Some(&session)).body, "visits=3");

    // A forged cookie is ignored: a fresh session, not an error.
    let value = session.trim_start_matches("openig-jwt-session=");
    let mut parts: Vec<String> = value.split('.').map(str::to_owned).collect();
    let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
    ciphertext[0] ^= 0x55;
    parts[3] = URL_SAFE_NO_PAD.encode(ciphertext);
    let forged = format!("openig-jwt-session={}", parts.join("."));
    let reply = get_with(&gateway, "/count", Some(&forged));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "visits=1");
}

#[test]
fn a_route_session_replaces_the_gateway_session_only_inside_the_route() {
    let mut inside = counter_route("/inside");
    inside["heap"] = json!([key_store()]);
    inside["session"] = jwt_session("RouteSession", "route-session");
    let (_config, gateway) = serve_with_heap(
        &[
            ("inside", inside),
            ("outside", counter_route("/outside")),
            ("read", reader_route("/read")),
        ],
        json!([]),
    );

    let outside = get_with(&gateway, "/outside", None);
    let gateway_session = cookie(&outside, "IG_SESSIONID");
    let inside = get_with(&gateway, "/inside", Some(&gateway_session));
    assert_eq!(
        inside.body, "visits=1",
        "the route does not see the gateway's session"
    );
    let route_session = cookie(&inside, "route-session");
    assert!(
        set_cookies(&inside)
            .iter()
            .all(|c| !c.starts_with("IG_SESSIONID")),
        "{:?}",
        set_cookies(&inside)
    );

    let both = format!("{gateway_session}; {route_session}");
    assert_eq!(get_with(&gateway, "/inside", Some(&both)).body, "visits=2");
    assert_eq!(get_with(&gateway, "/outside", Some(&both)).body, "visits=2");
    assert_eq!(
        get_with(&gateway, "/read", Some(&both)).body,
        "visits=2 where="
    );
}

#[test]
fn a_session_too_large_for_a_cookie_is_reported_and_not_saved() {
    let big = "x".repeat(6000);
    let route = chain(
        "/big",
        json!([{"type": "AssignmentFilter", "config": {"onRequest": [
            {"target": "${session.big}", "value": big}
        ]}}]),
        json!({"type": "StaticResponseHandler", "config": {"status": 200, "entity": "stored"}}),
    );
    let heap = json!([key_store(), jwt_session("Session", "openig-jwt-session")]);
    let (_config, gateway) = serve_with_heap(&[("big", route)], heap);

    let reply = get_with(&gateway, "/big", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(set_cookies(&reply).is_empty(), "{:?}", set_cookies(&reply));
    let logged = gateway
        .wait_for_log(
            &["larger than browsers keep", "big"],
            std::time::Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("no error logged: {:?}", gateway.logs()));
    assert!(logged.contains("useCompression"), "{logged}");
}

#[test]
fn session_configuration_errors_name_the_file_and_what_to_do() {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &json!({
            "heap": [key_store()],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    let mut legacy = counter_route("/legacy");
    legacy["session"] = json!({"type": "JwtSession", "config": {"keystore": "ks", "alias": "a"}});
    config.write_route("legacy.json", &legacy);
    let mut not_a_manager = counter_route("/a");
    not_a_manager["session"] = json!("ClientHandler");
    config.write_route("not-a-manager.json", &not_a_manager);
    let mut short_key = counter_route("/b");
    short_key["heap"] = json!([{"name": "short", "type": "Base64EncodedSecretStore",
                                 "config": {"secrets": {"k": STANDARD.encode([1u8; 16])}}}]);
    short_key["session"] = json!({"type": "JwtSession", "config": {
        "authenticatedEncryptedSecretId": "k", "secretsProvider": "short"}});
    config.write_route("short-key.json", &short_key);

    let (success, stdout, stderr) = check(config.path());
    assert!(!success, "stdout: {stdout}\nstderr: {stderr}");
    let legacy = diagnostic_for(&stderr, "legacy.json");
    assert!(legacy.contains("\"keystore\""), "{legacy}");
    assert!(
        legacy.contains("authenticatedEncryptedSecretId"),
        "{legacy}"
    );
    let wrong_kind = diagnostic_for(&stderr, "not-a-manager.json");
    assert!(wrong_kind.contains("session manager"), "{wrong_kind}");
    let short = diagnostic_for(&stderr, "short-key.json");
    assert!(
        short.contains("16 bytes") && short.contains("32 bytes"),
        "{short}"
    );
}

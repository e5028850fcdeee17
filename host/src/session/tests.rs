#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{COOKIE, SET_COOKIE};
use indexmap::IndexMap;

use super::*;
use crate::expr::Value;
use crate::http::{empty_body, text_response};

const KEY: [u8; 32] = [7; 32];

fn jwt(compress: bool) -> JwtSessionManager {
    JwtSessionManager::new(
        CookieSettings::new("openig-jwt-session"),
        &KEY,
        "A256GCM",
        Duration::from_secs(1800),
        Duration::ZERO,
        compress,
    )
    .unwrap()
}

/// A manager with cookie "s", a 60 s timeout and no compression: the key, method and skew vary.
fn jwt_with(key: &[u8], method: &str, skew: Duration) -> Result<JwtSessionManager, String> {
    JwtSessionManager::new(
        CookieSettings::new("s"),
        key,
        method,
        Duration::from_secs(60),
        skew,
        false,
    )
}

fn values(pairs: &[(&str, Value)]) -> IndexMap<String, Value> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

fn request_with_cookie(cookie: Option<&str>) -> Request {
    let mut builder = http::Request::builder().uri("/");
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie);
    }
    builder.body(empty_body()).unwrap()
}

fn response() -> Response {
    text_response(http::StatusCode::OK, "ok")
}

fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of a Set-Cookie header, ready to send back as a Cookie header.
fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

fn changed(pairs: &[(&str, Value)]) -> Session {
    Session {
        values: values(pairs),
        changed: true,
    }
}

#[test]
fn jwt_round_trips_values_with_and_without_compression() {
    for compress in [false, true] {
        let manager = jwt(compress);
        let written = values(&[
            ("user", Value::Str("alice".into())),
            ("visits", Value::Int(3)),
            (
                "roles",
                Value::List(std::sync::Arc::new(vec![Value::Str("admin".into())])),
            ),
        ]);
        let token = manager.encode(&written, 2_000_000_000).unwrap();
        assert_eq!(token.split('.').count(), 5, "{token}");
        assert!(
            !token.contains("alice"),
            "values must not be readable: {token}"
        );
        let (read, expires_at) = manager.decode(&token, 1_000_000_000).unwrap();
        assert_eq!(expires_at, 2_000_000_000);
        assert_eq!(read.len(), 3);
        assert!(read["user"].java_equals(&Value::Str("alice".into())));
        assert!(read["visits"].java_equals(&Value::Int(3)));
    }
}

#[test]
fn jwt_refuses_altered_foreign_expired_and_malformed_tokens() {
    let manager = jwt(false);
    let token = manager
        .encode(&values(&[("user", Value::Str("alice".into()))]), 1_000)
        .unwrap();

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
    ciphertext[0] ^= 1;
    parts[3] = URL_SAFE_NO_PAD.encode(ciphertext);
    assert!(matches!(
        manager.decode(&parts.join("."), 10),
        Err(jwt::Rejected::Undecryptable)
    ));

    // The header is authenticated too: claiming compression fails decryption, not inflation.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#);
    assert!(matches!(
        manager.decode(&parts.join("."), 10),
        Err(jwt::Rejected::Undecryptable)
    ));

    let other = jwt_with(&[8; 32], "A256GCM", Duration::ZERO).unwrap();
    assert!(matches!(
        other.decode(&token, 10),
        Err(jwt::Rejected::Undecryptable)
    ));

    assert!(matches!(
        manager.decode(&token, 1_000),
        Err(jwt::Rejected::Expired)
    ));
    assert!(manager.decode(&token, 999).is_ok());

    for malformed in ["", "a.b.c", "a..b.c.d.e", "not base64!..x.y.z"] {
        assert!(manager.decode(malformed, 10).is_err(), "{malformed}");
    }

    let a128 = jwt_with(&[7; 16], "A128GCM", Duration::ZERO).unwrap();
    assert!(matches!(
        a128.decode(&token, 10),
        Err(jwt::Rejected::UnexpectedHeader(_))
    ));
}

#[test]
fn jwt_skew_allowance_extends_acceptance_past_expiry() {
    let manager = jwt_with(&KEY, "A256GCM", Duration::from_secs(30)).unwrap();
    let token = manager
        .encode(&values(&[("a", Value::Int(1))]), 1_000)
        .unwrap();
    assert!(manager.decode(&token, 1_029).is_ok());
    assert!(manager.decode(&token, 1_030).is_err());
}

#[test]
fn jwt_key_length_and_method_errors_say_what_is_needed() {
    let short = jwt_with(&[1; 16], "A256GCM", Duration::ZERO);
    let message = short.err().unwrap();
    assert!(
        message.contains("16 bytes") && message.contains("32 bytes"),
        "{message}"
    );
    let method = jwt_with(&KEY, "A128CBC-HS256", Duration::ZERO);
    assert!(method.err().unwrap().contains("A256GCM"));
}

#[test]
fn jwt_manager_writes_only_changed_sessions_and_clears_emptied_ones() {
    let manager = jwt(false);

    let (session, ticket) = manager.load(&request_with_cookie(None));
    assert!(session.values.is_empty() && !ticket.present);
    let mut untouched = response();
    manager.save(&session, ticket, &mut untouched, "r");
    assert!(set_cookies(&untouched).is_empty());

    let mut first = response();
    manager.save(
        &changed(&[("user", Value::Str("bob".into()))]),
        Ticket::default(),
        &mut first,
        "r",
    );
    let cookies = set_cookies(&first);
    assert_eq!(cookies.len(), 1);
    assert!(
        cookies[0].starts_with("openig-jwt-session="),
        "{}",
        cookies[0]
    );
    assert!(cookies[0].contains("; Path=/") && cookies[0].contains("; HttpOnly"));
    assert!(!cookies[0].contains("Max-Age"), "not persistent by default");

    let request = request_with_cookie(Some(&format!("other=1; {}", cookie_pair(&cookies[0]))));
    let (session, ticket) = manager.load(&request);
    assert!(ticket.present);
    assert!(session.values["user"].java_equals(&Value::Str("bob".into())));

    // Read but not changed, and far from expiry: nothing to send.
    let mut read_only = response();
    manager.save(&session, ticket.clone(), &mut read_only, "r");
    assert!(set_cookies(&read_only).is_empty());

    let mut cleared = response();
    manager.save(&changed(&[]), ticket, &mut cleared, "r");
    let cookies = set_cookies(&cleared);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].starts_with("openig-jwt-session=;") && cookies[0].contains("Max-Age=0"));
}

#[test]
fn jwt_manager_renews_a_session_past_half_its_lifetime_and_replaces_a_bad_cookie() {
    let manager = jwt(false);
    let near_expiry = Ticket {
        present: true,
        id: None,
        expires_at: Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 60,
        ),
    };
    let session = Session {
        values: values(&[("user", Value::Str("bob".into()))]),
        changed: false,
    };
    let mut renewed = response();
    manager.save(&session, near_expiry, &mut renewed, "r");
    assert_eq!(set_cookies(&renewed).len(), 1);

    let (session, ticket) = manager.load(&request_with_cookie(Some("openig-jwt-session=garbage")));
    assert!(session.values.is_empty());
    let mut replaced = response();
    manager.save(&session, ticket, &mut replaced, "r");
    assert!(
        set_cookies(&replaced)[0].contains("Max-Age=0"),
        "a bad cookie is removed"
    );
}

#[test]
fn oversized_sessions_are_not_written() {
    let manager = jwt(false);
    let big = "x".repeat(5000);
    let mut response = response();
    manager.save(
        &changed(&[("big", Value::Str(big.as_str().into()))]),
        Ticket::default(),
        &mut response,
        "r",
    );
    assert!(set_cookies(&response).is_empty());

    // Compression brings the same session well under the limit.
    let compressed = jwt(true);
    let mut response = text_response(http::StatusCode::OK, "ok");
    compressed.save(
        &changed(&[("big", Value::Str(big.as_str().into()))]),
        Ticket::default(),
        &mut response,
        "r",
    );
    assert_eq!(set_cookies(&response).len(), 1);
}

#[test]
fn in_memory_sessions_live_behind_a_random_id() {
    let manager = InMemorySessionManager::new(
        CookieSettings::new("IG_SESSIONID"),
        Duration::from_secs(60),
        10,
    );
    let mut first = response();
    manager.save(
        &changed(&[("n", Value::Int(1))]),
        Ticket::default(),
        &mut first,
        "r",
    );
    let cookies = set_cookies(&first);
    assert_eq!(cookies.len(), 1);
    let pair = cookie_pair(&cookies[0]).to_owned();
    let id = pair.trim_start_matches("IG_SESSIONID=");
    assert!(id.len() >= 22, "ids carry at least 128 random bits: {id}");

    let (mut session, ticket) = manager.load(&request_with_cookie(Some(&pair)));
    assert!(session.values["n"].java_equals(&Value::Int(1)));
    session.values.insert("n".into(), Value::Int(2));
    session.changed = true;
    let mut second = response();
    manager.save(&session, ticket, &mut second, "r");
    assert!(set_cookies(&second).is_empty(), "the id stays the same");
    let (session, ticket) = manager.load(&request_with_cookie(Some(&pair)));
    assert!(session.values["n"].java_equals(&Value::Int(2)));

    // An id the gateway did not issue is not adopted (no session fixation).
    let (unknown, unknown_ticket) = manager.load(&request_with_cookie(Some(
        "IG_SESSIONID=chosen-by-attacker",
    )));
    assert!(unknown.values.is_empty() && !unknown_ticket.present);

    let mut cleared = response();
    manager.save(&changed(&[]), ticket, &mut cleared, "r");
    assert!(set_cookies(&cleared)[0].contains("Max-Age=0"));
    assert!(manager.is_empty());
}

#[test]
fn in_memory_store_is_bounded_and_expires_idle_sessions() {
    let manager = InMemorySessionManager::new(
        CookieSettings::new("IG_SESSIONID"),
        Duration::from_millis(50),
        2,
    );
    for _ in 0..3 {
        let mut response = response();
        manager.save(
            &changed(&[("n", Value::Int(1))]),
            Ticket::default(),
            &mut response,
            "r",
        );
    }
    assert_eq!(
        manager.len(),
        2,
        "the third session is refused, not an eviction of live ones"
    );
    std::thread::sleep(Duration::from_millis(80));
    let mut response = response();
    manager.save(
        &changed(&[("n", Value::Int(1))]),
        Ticket::default(),
        &mut response,
        "r",
    );
    assert_eq!(
        manager.len(),
        1,
        "expired sessions are swept when the store is full"
    );
    let pair = cookie_pair(&set_cookies(&response)[0]).to_owned();
    std::thread::sleep(Duration::from_millis(80));
    let (session, _) = manager.load(&request_with_cookie(Some(&pair)));
    assert!(session.values.is_empty(), "idle past the timeout");
}

#[test]
fn cookie_settings_format_attributes_and_find_the_cookie_among_others() {
    let mut settings = CookieSettings::new("sid");
    settings.domain = Some("example.com".into());
    settings.path = "/app".into();
    settings.secure = true;
    settings.persistent = true;
    let mut response = response();
    settings.set(&mut response, "v", 600).unwrap();
    assert_eq!(
        set_cookies(&response),
        ["sid=v; Max-Age=600; Path=/app; Domain=example.com; Secure; HttpOnly"]
    );
    let request = request_with_cookie(Some("a=1; sidx=2; sid=\"3\""));
    assert_eq!(settings.find(&request), Some("3"));
    assert_eq!(settings.find(&request_with_cookie(Some("sidx=2"))), None);
}

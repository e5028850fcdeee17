//! OAuth2ResourceServerFilter (an embedded plugin) through the real binary, against an
//! RFC 7662 introspection endpoint. No real authorization server (ForgeRock AM and the like)
//! can run here, so the endpoint is a small fake on loopback: it knows a few tokens, counts
//! the calls (to see the cache work) and records the credentials it was sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::{Value, json};

use crate::{client, get, send};

pub struct Introspection {
    pub url: String,
    pub calls: Arc<AtomicUsize>,
    pub authorizations: Arc<Mutex<Vec<String>>>,
}

fn token_info(token: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    match token {
        "reader" => {
            json!({"active": true, "scope": "orders:read profile", "sub": "alice", "client_id": "app", "exp": now + 3600})
        }
        "writer" => {
            json!({"active": true, "scope": "orders:write", "sub": "bob", "exp": now + 3600})
        }
        "expired" => {
            json!({"active": true, "scope": "orders:read", "sub": "carol", "exp": now - 10})
        }
        _ => json!({"active": false}),
    }
}

/// Answers `POST /introspect` with `token=...` in the form body.
pub fn introspection_endpoint() -> Introspection {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let authorizations = Arc::new(Mutex::new(Vec::new()));
    let (counter, seen) = (calls.clone(), authorizations.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    seen.lock().unwrap().push(line.trim().to_owned());
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let form = String::from_utf8_lossy(&body);
            let token = form
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
                .unwrap_or_default();
            let answer = token_info(token).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    Introspection {
        url,
        calls,
        authorizations,
    }
}

fn protected(endpoint: &str, extra: Value) -> Value {
    let mut config = json!({
        "scopes": ["orders:read"],
        "requireHttps": false,
        "realm": "orders",
        "accessTokenResolver": {
            "type": "TokenIntrospectionAccessTokenResolver",
            "config": {"endpoint": endpoint, "providerHandler": "IntrospectionClient"}
        }
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    json!({
        "condition": "${find(request.uri.path, '^/orders')}",
        "handler": {"type": "Chain", "config": {
            "filters": [{"type": "OAuth2ResourceServerFilter", "config": config}],
            "handler": {"type": "StaticResponseHandler", "config": {
                "status": 200, "entity": "orders for ${contexts.oauth2.accessToken.info.sub}"
            }}
        }}
    })
}

fn serve(route: Value) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    // IG's usual set-up: the client credentials are added by a Chain in front of a client.
    config.write(
        "config.json",
        &json!({
            "heap": [{"name": "IntrospectionClient", "type": "Chain", "config": {
                "filters": [{"type": "HeaderFilter", "config": {"messageType": "REQUEST", "add": {
                    "Authorization": ["Basic Z2F0ZXdheTpzM2NyZXQ="]
                }}}],
                "handler": "ClientHandler"
            }}],
            "handler": {"name": "_router", "type": "Router"}
        })
        .to_string(),
    );
    config.write_route("orders.json", &route);
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

fn with_token(gateway: &Gateway, token: &str) -> crate::Reply {
    send(
        client()
            .get(gateway.url("/orders"))
            .header("authorization", format!("Bearer {token}")),
    )
}

#[test]
fn oauth2_resource_server_filter_admits_active_tokens_with_the_scopes() {
    let endpoint = introspection_endpoint();
    let (_config, gateway) = serve(protected(&endpoint.url, json!({})));

    let ok = with_token(&gateway, "reader");
    assert_eq!((ok.status, ok.body.as_str()), (200, "orders for alice"));
    assert!(
        endpoint.authorizations.lock().unwrap()[0].ends_with("Basic Z2F0ZXdheTpzM2NyZXQ="),
        "the providerHandler's credentials reach the endpoint"
    );

    let missing = get(&gateway, "/orders");
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"orders\"")
    );

    for token in ["unknown", "expired"] {
        let invalid = with_token(&gateway, token);
        assert_eq!(invalid.status, 401, "{token}");
        let challenge = invalid.header("www-authenticate").unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }

    let scoped = with_token(&gateway, "writer");
    assert_eq!(scoped.status, 403);
    let challenge = scoped.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"orders:read\""),
        "{challenge}"
    );
}

#[test]
fn oauth2_introspection_results_are_cached_until_they_expire() {
    let endpoint = introspection_endpoint();
    let (_config, gateway) = serve(protected(
        &endpoint.url,
        json!({"cache": {"enabled": true, "defaultTimeout": "1 minute"}}),
    ));
    for _ in 0..20 {
        assert_eq!(with_token(&gateway, "reader").status, 200);
    }
    // Instances are pooled and each keeps its own cache: a handful of calls, not twenty.
    let calls = endpoint.calls.load(Ordering::SeqCst);
    assert!((1..=4).contains(&calls), "{calls} introspection calls");

    let endpoint = introspection_endpoint();
    let (_config, gateway) = serve(protected(&endpoint.url, json!({})));
    for _ in 0..5 {
        assert_eq!(with_token(&gateway, "reader").status, 200);
    }
    assert_eq!(
        endpoint.calls.load(Ordering::SeqCst),
        5,
        "no cache unless enabled, as in IG"
    );
}

#[test]
fn oauth2_endpoint_down_is_503_and_plain_http_can_be_refused() {
    let closed = format!("http://127.0.0.1:{}/introspect", crate::refused_port());
    let (_config, gateway) = serve(protected(&closed, json!({})));
    let down = with_token(&gateway, "reader");
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(
        gateway
            .wait_for_log(&["token introspection", "failed"], Duration::from_secs(5))
            .is_some(),
        "{:#?}",
        gateway.logs()
    );

    let endpoint = introspection_endpoint();
    let (_config, gateway) = serve(protected(&endpoint.url, json!({"requireHttps": true})));
    let plain = with_token(&gateway, "reader");
    assert_eq!(plain.status, 400);
    assert!(
        plain
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_request")
    );
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn oauth2_configuration_errors_are_reported_at_load() {
    let config = ConfigDir::new();
    let mut route = protected("http://127.0.0.1:9/introspect", json!({}));
    route["handler"]["config"]["filters"][0]["config"]["accessTokenResolver"]["type"] =
        json!("OpenAmAccessTokenResolver");
    config.write_route("orders.json", &route);
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    assert!(stderr.contains("orders.json"), "{stderr}");
    assert!(stderr.contains("OpenAmAccessTokenResolver"), "{stderr}");
    assert!(
        stderr.contains("TokenIntrospectionAccessTokenResolver"),
        "{stderr}"
    );

    // IG keys that cannot mean here what they mean in IG are refused, each by name.
    let config = ConfigDir::new();
    let filter_config = |file: &str, edit: &dyn Fn(&mut Value)| {
        let mut route = protected("http://127.0.0.1:9/introspect", json!({}));
        edit(&mut route["handler"]["config"]["filters"][0]["config"]);
        config.write_route(file, &route);
    };
    filter_config("executor.json", &|filter| {
        filter["executor"] = json!("ScheduledExecutorService");
    });
    filter_config("by-name.json", &|filter| {
        filter["accessTokenResolver"] = json!("IntrospectionResolver");
    });
    filter_config("am-service.json", &|filter| {
        filter["accessTokenResolver"]["config"]["amService"] = json!("AmService");
    });
    filter_config("notifications.json", &|filter| {
        filter["cache"] = json!({"enabled": true, "amService": "AmService"});
    });
    let (ok, _stdout, stderr) = ferrogate_e2e::check(config.path());
    assert!(!ok);
    for (file, message) in [
        ("executor.json", "\"executor\" is not supported"),
        (
            "by-name.json",
            "a reference to the heap object \"IntrospectionResolver\" is not supported",
        ),
        ("am-service.json", "\"amService\" is not supported"),
        (
            "notifications.json",
            "\"amService\" and \"onNotificationDisconnection\" are not supported",
        ),
    ] {
        let line = stderr
            .lines()
            .find(|line| line.contains(file))
            .unwrap_or_else(|| panic!("no error for {file}: {stderr}"));
        assert!(line.contains(message), "{line}");
    }
}

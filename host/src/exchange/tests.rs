//! The exchange's expression bindings that depend on a live request: the built-in contexts.

use super::test_support::exchange;
use crate::expr::{Expression, Value};

fn eval(exchange: &super::Exchange, source: &str) -> Value {
    Expression::parse(source)
        .unwrap_or_else(|error| panic!("{source}: {}", error.message))
        .eval(&exchange.scope())
}

#[test]
fn built_in_contexts_read_field_by_field_and_whole() {
    let mut exchange = exchange("GET", "http://gateway.example.com/api/items");
    exchange
        .attributes
        .insert("user".to_owned(), Value::from("ada"));
    assert_eq!(
        eval(&exchange, "${contexts.client.remoteAddress}"),
        Value::from("127.0.0.1")
    );
    assert_eq!(
        eval(&exchange, "${contexts.client.remotePort}"),
        Value::Int(40000)
    );
    let client = eval(&exchange, "${contexts.client}").to_json();
    assert_eq!(client["localPort"], 8080);
    assert_eq!(client["isSecure"], false);
    assert_eq!(
        eval(&exchange, "${contexts.attributes.user}"),
        Value::from("ada")
    );
    assert_eq!(eval(&exchange, "${contexts.client.nonsense}"), Value::Null);
}

#[test]
fn the_transaction_id_reads_as_ig_spells_it() {
    let exchange = exchange("GET", "http://gateway.example.com/");
    for source in [
        "${contexts.transactionId.transactionId.value}",
        "${contexts.transactionId.transactionId}",
        "${contexts.transactionId}",
    ] {
        assert_eq!(
            eval(&exchange, source),
            Value::from("test-transaction"),
            "{source}"
        );
    }
    assert_eq!(
        eval(&exchange, "${contexts.transactionId.other}"),
        Value::Null
    );
}

#[test]
fn all_contexts_form_one_map_with_those_filters_published() {
    let mut exchange = exchange("GET", "http://gateway.example.com/");
    let published = serde_json::json!({"accessToken": {"token": "t"}});
    exchange
        .contexts
        .insert("oauth2".to_owned(), Value::from_json(&published));
    let all = eval(&exchange, "${contexts}").to_json();
    assert_eq!(all["client"]["remoteAddress"], "127.0.0.1");
    assert_eq!(all["transactionId"], "test-transaction");
    assert_eq!(all["oauth2"]["accessToken"]["token"], "t");
    assert!(all["router"].is_object(), "{all}");
}

#[test]
fn client_info_keeps_what_ig_exposes_of_an_ipv6_connection() {
    let remote: std::net::SocketAddr = "[fe80::1%3]:40000".parse().expect("address");
    let local: std::net::SocketAddr = "[2001:db8::8]:8443".parse().expect("address");
    let client = super::ClientInfo::new(remote, local, true);
    assert_eq!(client.remote().ip(), remote.ip());
    assert_eq!(client.remote().port(), 40000);
    assert_eq!(client.local().to_string(), "[2001:db8::8]:8443");
    assert!(client.secure);
}

/// Each open connection holds its `ClientInfo` in an `Arc`, idle or not: 40 bytes of it make a
/// 56-byte allocation, where two `SocketAddr`s made 96 (docs/PERFORMANCE.md, target 5).
#[test]
fn client_info_fits_a_56_byte_allocation() {
    let size = std::mem::size_of::<super::ClientInfo>();
    assert!(
        size <= 40,
        "ClientInfo is {size} bytes: every open connection's Arc grows"
    );
}

//! What a forwarded request carries of the client's head.

#![allow(clippy::unwrap_used)]

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};

use super::{Outgoing, names_in_connection};

fn client_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "gw.example.com"),
        ("accept", "*/*"),
        ("connection", "keep-alive, x-private"),
        ("x-private", "hop"),
        ("keep-alive", "timeout=5"),
        ("te", "trailers"),
        ("proxy-authorization", "Basic client"),
        ("x-forwarded-for", "10.0.0.1"),
        ("x-app", "1"),
    ] {
        headers.append(name, value.parse().unwrap());
    }
    headers
}

#[test]
fn hop_by_hop_fields_stay_behind_and_set_fields_replace_the_clients() {
    let headers = client_headers();
    let uri: Uri = "http://app:8080/p".parse().unwrap();
    let mut outgoing = Outgoing::new(&Method::GET, &uri, &headers);
    outgoing.set(http::header::HOST, HeaderValue::from_static("app:8080"));
    outgoing.set(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_static("10.0.0.1, 127.0.0.1"),
    );
    let fields: Vec<(String, String)> = outgoing
        .fields()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["accept", "x-app", "host", "x-forwarded-for"],
        "{fields:?}"
    );
    assert_eq!(fields[2].1, "app:8080");
    assert_eq!(fields[3].1, "10.0.0.1, 127.0.0.1");
    // The client's own values are still there to read.
    assert_eq!(
        outgoing
            .received(&HeaderName::from_static("x-forwarded-for"))
            .unwrap(),
        "10.0.0.1"
    );
    // Setting a field twice keeps the last value only.
    outgoing.set(http::header::HOST, HeaderValue::from_static("other"));
    let map = outgoing.header_map();
    assert_eq!(map.get_all("host").iter().count(), 1);
    assert_eq!(map["host"], "other");
    assert!(!map.contains_key("x-private") && !map.contains_key("proxy-authorization"));
}

#[test]
fn only_a_connection_field_set_here_goes_out() {
    let mut headers = client_headers();
    headers.append("connection", "close".parse().unwrap());
    let uri: Uri = "http://app:8080/p".parse().unwrap();
    let mut outgoing = Outgoing::new(&Method::GET, &uri, &headers);
    assert!(!outgoing.connection_has("close"));
    outgoing.set(
        http::header::CONNECTION,
        HeaderValue::from_static("keep-alive, Upgrade"),
    );
    assert!(outgoing.connection_has("upgrade"));
    assert!(!outgoing.connection_has("close"));
}

#[test]
fn connection_names_the_fields_that_are_not_hop_by_hop() {
    let named = |values: &[&str]| {
        let mut headers = HeaderMap::new();
        headers.append("accept", "*/*".parse().unwrap());
        for value in values {
            headers.append("connection", value.parse().unwrap());
        }
        names_in_connection(&headers)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    let nothing: [&str; 0] = [];
    assert_eq!(named(&[]), nothing);
    assert_eq!(named(&["keep-alive"]), nothing);
    assert_eq!(named(&["Close"]), nothing);
    assert_eq!(named(&["Keep-Alive, Upgrade"]), nothing);
    assert_eq!(named(&["keep-alive, X-Private"]), ["x-private"]);
    // Every Connection field counts, not only the first.
    assert_eq!(named(&["keep-alive", "x-a, TE,x-b"]), ["x-a", "x-b"]);
}

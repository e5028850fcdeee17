use http::{HeaderMap, HeaderValue};

use super::{forwarded_for, strip_hop_by_hop};

fn headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn names(map: &HeaderMap) -> Vec<&str> {
    map.keys().map(http::HeaderName::as_str).collect()
}

#[test]
fn keep_alive_responses_lose_connection_and_keep_alive_only() {
    let mut map = headers(&[
        ("content-type", "text/plain"),
        ("connection", "keep-alive"),
        ("keep-alive", "timeout=5"),
        ("x-upstream", "app"),
    ]);
    strip_hop_by_hop(&mut map);
    assert_eq!(names(&map), ["content-type", "x-upstream"]);
}

#[test]
fn fields_named_by_connection_are_removed_in_any_case_and_list_form() {
    let mut map = headers(&[
        ("connection", "X-Hop, close"),
        ("connection", " x-other ,Upgrade"),
        ("x-hop", "secret"),
        ("x-other", "secret"),
        ("upgrade", "websocket"),
        ("transfer-encoding", "chunked"),
        ("te", "trailers"),
        ("x-kept", "yes"),
    ]);
    strip_hop_by_hop(&mut map);
    assert_eq!(names(&map), ["x-kept"]);
}

#[test]
fn a_message_without_hop_by_hop_fields_is_left_as_it_is() {
    let mut map = headers(&[
        ("x-hop", "kept: no connection header names it"),
        ("etag", "1"),
    ]);
    strip_hop_by_hop(&mut map);
    assert_eq!(names(&map), ["x-hop", "etag"]);
    // A hop-by-hop field goes even without a Connection header.
    let mut map = headers(&[("proxy-authenticate", "Basic"), ("etag", "1")]);
    strip_hop_by_hop(&mut map);
    assert_eq!(names(&map), ["etag"]);
}

#[test]
fn forwarded_for_is_the_client_address_alone_or_after_the_earlier_hops() {
    let v4: std::net::IpAddr = "192.0.2.7".parse().expect("IPv4 literal");
    assert_eq!(forwarded_for(None, v4).expect("valid"), "192.0.2.7");
    assert_eq!(
        forwarded_for(Some(b"203.0.113.9, 198.51.100.1"), v4).expect("valid"),
        "203.0.113.9, 198.51.100.1, 192.0.2.7"
    );
}

#[test]
fn forwarded_for_writes_ipv4_addresses_as_display_does() {
    for text in [
        "0.0.0.0",
        "127.0.0.1",
        "10.9.99.100",
        "255.255.255.255",
        "1.20.199.250",
    ] {
        let ip: std::net::IpAddr = text.parse().expect("IPv4 literal");
        assert_eq!(forwarded_for(None, ip).expect("valid"), text);
    }
    // Every octet value, in each position.
    for octet in 0..=255u8 {
        let ip = std::net::IpAddr::from([octet, 255 - octet, octet / 2, octet]);
        assert_eq!(
            forwarded_for(None, ip).expect("valid"),
            ip.to_string().as_str()
        );
    }
}

#[test]
fn forwarded_for_writes_ipv6_addresses_whole() {
    // Eight full groups (the longest form Rust writes), an IPv4-mapped address, and one
    // written in dotted form but printed as groups.
    for text in [
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "::ffff:255.255.255.255",
        "1234:5678:9abc:def0:1234:5678:255.255.255.255",
    ] {
        let ip: std::net::IpAddr = text.parse().expect("IPv6 literal");
        assert_eq!(
            forwarded_for(None, ip).expect("valid"),
            ip.to_string().as_str()
        );
    }
}

#[test]
fn forwarded_for_keeps_a_chain_longer_than_its_inline_room() {
    let previous = vec!["198.51.100.1"; 40].join(", ");
    let ip: std::net::IpAddr = "2001:db8::1".parse().expect("IPv6 literal");
    let value = forwarded_for(Some(previous.as_bytes()), ip).expect("valid");
    assert_eq!(value, format!("{previous}, 2001:db8::1").as_str());
}

//! The per-upstream records: one per upstream, slots counted there, and a bounded map.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::{Http2, MAX_TRACKED_UPSTREAMS, Settings, Slot, UpstreamClient};
use crate::proxy::{ClientTlsOptions, ProxyOptions};

fn client(connections: usize) -> UpstreamClient {
    UpstreamClient::new(
        Settings {
            connections,
            connect_timeout: None,
            so_timeout: None,
            http2: Http2::Never,
            retries: None,
        },
        &ClientTlsOptions::system_default().unwrap(),
        Arc::new(ProxyOptions::None),
    )
    .unwrap()
}

fn uri(port: usize) -> http::Uri {
    format!("http://127.0.0.1:{port}/path").parse().unwrap()
}

fn tracked(client: &UpstreamClient) -> usize {
    client.upstreams.lock().unwrap().len()
}

#[tokio::test]
async fn one_record_per_upstream_whatever_the_path_and_host_case() {
    let client = client(2);
    let first = client.upstream(&"http://App.Example:8080/a".parse().unwrap());
    let second = client.upstream(&"http://app.example:8080/b?c".parse().unwrap());
    assert!(Arc::ptr_eq(&first, &second));
    let tls = client.upstream(&"https://app.example:8080/a".parse().unwrap());
    assert!(!Arc::ptr_eq(&first, &tls));
    assert_eq!(tracked(&client), 2);
    assert_eq!(first.authority(), "App.Example:8080");
}

#[tokio::test]
async fn slots_are_the_connections_limit_and_come_back_when_dropped() {
    let client = client(2);
    let upstream = client.upstream(&uri(1));
    let a = Slot::try_take(&upstream).unwrap();
    let _b = Slot::try_take(&upstream).unwrap();
    assert!(Slot::try_take(&upstream).is_none());
    drop(a);
    assert!(Slot::try_take(&upstream).is_some());
}

#[tokio::test]
async fn past_the_bound_unused_upstreams_are_forgotten_and_busy_ones_kept() {
    let client = client(4);
    let busy = client.upstream(&uri(0));
    let held = Slot::try_take(&busy).unwrap();
    for port in 1..MAX_TRACKED_UPSTREAMS {
        client.upstream(&uri(port));
    }
    assert_eq!(tracked(&client), MAX_TRACKED_UPSTREAMS);
    // One more: the unused ones go, the one with a request in flight stays.
    client.upstream(&uri(MAX_TRACKED_UPSTREAMS));
    assert_eq!(tracked(&client), 2);
    assert!(Arc::ptr_eq(&busy, &client.upstream(&uri(0))));
    drop(held);
}

#[tokio::test]
async fn the_last_upstream_is_remembered_and_the_map_still_decides_the_others() {
    let client = client(4);
    let first = client.upstream(&uri(1));
    // The same upstream again, by another path: the remembered record.
    assert!(Arc::ptr_eq(&first, &client.upstream(&uri(1))));
    assert!(Arc::ptr_eq(
        &first,
        client
            .last
            .load()
            .as_ref()
            .expect("an upstream is remembered")
    ));
    // Another upstream is looked up in the map and remembered in turn.
    let second = client.upstream(&uri(2));
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(Arc::ptr_eq(&first, &client.upstream(&uri(1))));
    // A case variant misses the remembered bytes but finds the same record in the map.
    let lower = client.upstream(&"http://app.example:1/".parse().unwrap());
    let upper = client.upstream(&"http://APP.example:1/x".parse().unwrap());
    assert!(Arc::ptr_eq(&lower, &upper));
    assert_eq!(tracked(&client), 3);
}

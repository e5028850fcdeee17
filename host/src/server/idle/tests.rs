//! The registry's clock, expiry, shutdown and wake-ups.

#![allow(clippy::unwrap_used)]

use std::future::poll_fn;

use super::*;

fn stopped(registration: &Registration) -> Option<Stop> {
    let mut context = Context::from_waker(std::task::Waker::noop());
    match registration.poll_stop(&mut context) {
        Poll::Ready(stop) => Some(stop),
        Poll::Pending => None,
    }
}

#[test]
fn a_connection_waiting_longer_than_the_timeout_is_stopped_and_a_busy_one_never() {
    let connections = Connections::new(Duration::from_secs(2));
    let waiting = connections.register();
    let busy = connections.register();
    waiting.idle();
    connections.sweep();
    assert_eq!(stopped(&waiting), None);
    connections.sweep();
    assert_eq!(stopped(&waiting), Some(Stop::Expired));
    for _ in 0..5 {
        connections.sweep();
    }
    assert_eq!(stopped(&busy), None);
    // A new request clears the expiry; the timeout runs again from the next wait.
    waiting.busy();
    assert_eq!(stopped(&waiting), None);
    waiting.idle();
    connections.sweep();
    assert_eq!(stopped(&waiting), None);
}

#[test]
fn shutdown_stops_every_connection_and_ended_ones_are_forgotten() {
    let connections = Connections::new(Duration::from_secs(30));
    let first = connections.register();
    let ended = connections.register();
    drop(ended);
    connections.sweep();
    assert_eq!(connections.count(), 1);
    connections.close_all();
    assert_eq!(stopped(&first), Some(Stop::Closing));
    assert!(connections.register().closing());
}

#[tokio::test]
async fn the_waiting_task_is_woken_when_stopped() {
    let connections = Connections::new(Duration::from_secs(1));
    let registration = connections.register();
    registration.idle();
    let sweeper = connections.clone();
    let woken = tokio::spawn(async move { poll_fn(|cx| registration.poll_stop(cx)).await });
    tokio::task::yield_now().await;
    sweeper.sweep();
    assert_eq!(woken.await.unwrap(), Stop::Expired);
}

//! A background request loop run while routes change: it sends requests without pause to a
//! stable route and to the route under change, and records every answer that is not
//! legitimate at the time (a connection error, a 5xx, an unexpected body, a 404 where the
//! route exists).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ferrogate_e2e::Gateway;

use crate::{client, try_send};

/// What the changing route may answer: `"404"`, or `"200 <body>"`.
type Allowed = Arc<Mutex<BTreeSet<String>>>;

pub struct Traffic {
    stop: Arc<AtomicBool>,
    allowed: Allowed,
    /// How many times the changing route gave each answer so far.
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    workers: Vec<JoinHandle<Outcome>>,
}

#[derive(Default)]
struct Outcome {
    requests: usize,
    changing_seen: BTreeSet<String>,
    failures: Vec<String>,
}

pub struct Report {
    /// Every distinct answer of the changing route.
    pub seen: BTreeSet<String>,
}

fn key(status: u16, body: &str) -> String {
    match status {
        404 => "404".to_owned(),
        _ => format!("{status} {body}"),
    }
}

/// The allowed-set entry of a 200 answer with `body`.
pub fn ok(body: &str) -> String {
    key(200, body)
}

pub const NOT_FOUND: &str = "404";

impl Traffic {
    /// Starts two workers. `stable_path` must always answer 200 `stable_body`; the answers of
    /// `changing_path` must be in the allowed set, either when the request was sent or when
    /// its answer arrived (a request in flight during a reload may see either version).
    pub fn start(
        gateway: &Gateway,
        stable: (&str, &str),
        changing_path: &str,
        allowed: &[&str],
    ) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let allowed: Allowed = Arc::new(Mutex::new(
            allowed.iter().map(|a| (*a).to_owned()).collect(),
        ));
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let workers = (0..2)
            .map(|_| {
                let stop = stop.clone();
                let allowed = allowed.clone();
                let counts = counts.clone();
                let stable_url = gateway.url(stable.0);
                let stable_body = stable.1.to_owned();
                let changing_url = gateway.url(changing_path);
                std::thread::spawn(move || {
                    let client = client();
                    let mut outcome = Outcome::default();
                    while !stop.load(Ordering::SeqCst) {
                        outcome.requests += 1;
                        match try_send(client.get(&stable_url)) {
                            Ok(reply) if reply.status == 200 && reply.body == stable_body => {}
                            Ok(reply) => outcome
                                .failures
                                .push(format!("stable route answered {} {:?}", reply.status, reply.body)),
                            Err(error) => outcome.failures.push(format!("stable route: {error:?}")),
                        }
                        outcome.requests += 1;
                        let before = allowed.lock().unwrap().clone();
                        match try_send(client.get(&changing_url)) {
                            Ok(reply) => {
                                let answer = key(reply.status, &reply.body);
                                let after = allowed.lock().unwrap().clone();
                                if !before.contains(&answer) && !after.contains(&answer) {
                                    outcome.failures.push(format!(
                                        "changing route answered {answer:?}; allowed {before:?} then {after:?}"
                                    ));
                                }
                                *counts.lock().unwrap().entry(answer.clone()).or_insert(0) += 1;
                                outcome.changing_seen.insert(answer);
                            }
                            Err(error) => outcome.failures.push(format!("changing route: {error:?}")),
                        }
                    }
                    outcome
                })
            })
            .collect();
        Traffic {
            stop,
            allowed,
            counts,
            workers,
        }
    }

    /// Waits until the loop has received `answer` from the changing route `n` more times, so
    /// that what follows a change is exercised before the loop stops.
    #[track_caller]
    pub fn await_answers(&self, answer: &str, n: usize) {
        let count = || {
            self.counts
                .lock()
                .unwrap()
                .get(answer)
                .copied()
                .unwrap_or(0)
        };
        let start = count();
        crate::settles(
            &format!("{n} more {answer:?} answers in the traffic loop"),
            || count() >= start + n,
        );
    }

    /// Allows an answer from now on (call before making the change that causes it).
    pub fn allow(&self, answer: &str) {
        self.allowed.lock().unwrap().insert(answer.to_owned());
    }

    /// Stops allowing an answer (call once the change that retires it has been observed).
    pub fn forbid(&self, answer: &str) {
        self.allowed.lock().unwrap().remove(answer);
    }

    /// Stops the workers and asserts that no request failed.
    #[track_caller]
    pub fn finish(mut self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        let mut requests = 0;
        let mut seen = BTreeSet::new();
        let mut failures = Vec::new();
        for worker in self.workers.drain(..) {
            let outcome = worker.join().expect("traffic worker panicked");
            requests += outcome.requests;
            seen.extend(outcome.changing_seen);
            failures.extend(outcome.failures);
        }
        assert!(
            failures.is_empty(),
            "{} of {requests} requests failed during the reload, first ones:\n{}",
            failures.len(),
            failures
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            requests >= 20,
            "the traffic loop barely ran: {requests} requests"
        );
        Report { seen }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The loop is only worth something if it notices: an answer nobody allowed fails it.
#[test]
#[should_panic(expected = "requests failed during the reload")]
fn traffic_notices_an_answer_that_was_not_allowed() {
    let config = ferrogate_e2e::ConfigDir::new();
    config.write_route("stable.json", &crate::path_route("/stable", "stable"));
    config.write_route("changing.json", &crate::path_route("/changing", "v1"));
    let gateway = Gateway::start(config.path());
    let traffic = Traffic::start(&gateway, ("/stable", "stable"), "/changing", &[&ok("v1")]);
    config.write_route(
        "changing.json",
        &crate::path_route("/changing", "unexpected"),
    );
    traffic.await_answers(&ok("unexpected"), 5);
    traffic.finish();
}

//! The filter contract, exercised by native test filters: order on the way in and out,
//! short-circuiting, and ChainOfFilters splicing into an enclosing chain.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use futures_util::FutureExt;

use super::{Chain, ChainOfFilters, Filter, FnHandler, Handler, HandlerError, HandlerFuture, Next};
use crate::exchange::Exchange;
use crate::exchange::test_support::exchange;
use crate::http::text_response;

/// Records its name on the way in and out, and tags the request and response.
struct Recording {
    name: &'static str,
    journal: Arc<Mutex<Vec<String>>>,
}

impl Filter for Recording {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            self.journal
                .lock()
                .unwrap()
                .push(format!("{} in", self.name));
            exchange
                .request
                .headers_mut()
                .append("x-seen-by", self.name.parse().unwrap());
            let mut response = next.handle(exchange).await?;
            response
                .headers_mut()
                .append("x-filtered-by", self.name.parse().unwrap());
            self.journal
                .lock()
                .unwrap()
                .push(format!("{} out", self.name));
            Ok(response)
        })
    }
}

/// Answers 401 itself unless the request carries a token.
struct RequireToken;

impl Filter for RequireToken {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        if exchange.request.headers().contains_key("x-token") {
            next.handle(exchange)
        } else {
            Box::pin(async { Ok(text_response(http::StatusCode::UNAUTHORIZED, "no token")) })
        }
    }
}

fn recording(name: &'static str, journal: &Arc<Mutex<Vec<String>>>) -> Arc<dyn Filter> {
    Arc::new(Recording {
        name,
        journal: journal.clone(),
    })
}

fn echo_seen_by(journal: &Arc<Mutex<Vec<String>>>) -> Arc<dyn Handler> {
    let journal = journal.clone();
    Arc::new(FnHandler(move |exchange: &mut Exchange| {
        journal.lock().unwrap().push("handler".to_owned());
        let seen: Vec<&str> = exchange
            .request
            .headers()
            .get_all("x-seen-by")
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect();
        Ok(text_response(http::StatusCode::OK, seen.join(",")))
    }))
}

fn run(handler: &dyn Handler, mut exchange: Exchange) -> crate::http::Response {
    handler
        .handle(&mut exchange)
        .now_or_never()
        .unwrap()
        .unwrap()
}

#[test]
fn filters_run_in_order_in_and_in_reverse_out() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let chain = Chain::new(
        vec![recording("a", &journal), recording("b", &journal)],
        echo_seen_by(&journal),
    );
    let response = run(&chain, exchange("GET", "http://gw/x"));
    assert_eq!(
        *journal.lock().unwrap(),
        ["a in", "b in", "handler", "b out", "a out"]
    );
    let filtered: Vec<_> = response.headers().get_all("x-filtered-by").iter().collect();
    assert_eq!(filtered, ["b", "a"]);
}

#[test]
fn a_filter_can_answer_without_calling_the_rest() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let chain = Chain::new(
        vec![
            recording("outer", &journal),
            Arc::new(RequireToken),
            recording("inner", &journal),
        ],
        echo_seen_by(&journal),
    );
    let response = run(&chain, exchange("GET", "http://gw/x"));
    assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(*journal.lock().unwrap(), ["outer in", "outer out"]);

    let mut with_token = exchange("GET", "http://gw/x");
    with_token
        .request
        .headers_mut()
        .insert("x-token", "t".parse().unwrap());
    assert_eq!(run(&chain, with_token).status(), http::StatusCode::OK);
}

#[test]
fn a_chain_of_filters_splices_into_the_enclosing_chain() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let inner: Arc<dyn Filter> = Arc::new(ChainOfFilters::new(vec![
        recording("inner-1", &journal),
        recording("inner-2", &journal),
    ]));
    let chain = Chain::new(
        vec![
            recording("first", &journal),
            inner,
            recording("last", &journal),
        ],
        echo_seen_by(&journal),
    );
    let response = run(&chain, exchange("GET", "http://gw/x"));
    let body = http_body_util::BodyExt::collect(response.into_body())
        .now_or_never()
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(body, "first,inner-1,inner-2,last");
    assert_eq!(
        *journal.lock().unwrap(),
        [
            "first in",
            "inner-1 in",
            "inner-2 in",
            "last in",
            "handler",
            "last out",
            "inner-2 out",
            "inner-1 out",
            "first out"
        ]
    );
}

#[test]
fn handler_errors_map_to_gateway_statuses() {
    let upstream = HandlerError::Upstream {
        target: "app:80".to_owned(),
        reason: "connection refused".to_owned(),
    };
    assert_eq!(upstream.status(), http::StatusCode::BAD_GATEWAY);
    let timeout = HandlerError::UpstreamTimeout {
        target: "app:80".to_owned(),
        after: std::time::Duration::from_secs(1),
    };
    assert_eq!(
        timeout.into_response().status(),
        http::StatusCode::GATEWAY_TIMEOUT
    );
    let plugin = HandlerError::Plugin {
        object: "auth".to_owned(),
    };
    assert_eq!(plugin.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn the_edge_logs_only_the_failures_not_logged_where_they_happened() {
    let logged_where_they_happened = [
        HandlerError::Upstream {
            target: "app:80".to_owned(),
            reason: "connection refused".to_owned(),
        },
        HandlerError::UpstreamTimeout {
            target: "app:80".to_owned(),
            after: std::time::Duration::from_secs(1),
        },
        HandlerError::Plugin {
            object: "auth".to_owned(),
        },
    ];
    for error in &logged_where_they_happened {
        assert!(error.is_logged(), "{error}");
    }
    for error in [
        HandlerError::BadRequest("no entity".to_owned()),
        HandlerError::Internal("baseURI rebasing failed".to_owned()),
    ] {
        assert!(!error.is_logged(), "{error}");
    }
}

//! The index must never change which route wins: for random route sets mixing indexed and
//! unindexed conditions, and random requests (percent-encodings, line terminators, hosts or
//! none, methods), the first candidate whose condition is true is the first route whose
//! condition is true.

use super::*;
use crate::exchange::test_support::{exchange, exchange_of};
use crate::exchange::{Exchange, ExchangeScope};

/// SplitMix64: enough randomness for test cases, and reproducible from the seed in a failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Path segments as they appear in request URIs...
const RAW_SEGMENTS: &[&str] = &[
    "", "a", "api", "%61pi", "v1", "v1.0", "v1x0", "apis", "x+y", "xxy", "a%20b", "%C3%A9", "%FF",
    "%2F", "health", "b", "items", "%25",
];
/// ...and as literals in conditions (decoded, some with regex metacharacters).
const SEGMENTS: &[&str] = &[
    "", "a", "api", "v1", "v1.0", "apis", "x+y", "a b", "é", "\u{FFFD}", "health", "b", "items",
    "%",
];
const ENDINGS: &[&str] = &[
    "",
    "",
    "",
    "/",
    "%0A",
    "%0D%0A",
    "%0D",
    "%E2%80%A8",
    "%0A%0A",
];
const HOSTS: &[&str] = &["a.example", "A.example", "b.example", "a.example:8080", ""];
const METHODS: &[&str] = &["GET", "GET", "POST", "PUT", "DELETE"];

fn request(rng: &mut Rng) -> Exchange {
    let mut path = String::new();
    for _ in 0..rng.below(4) {
        path.push('/');
        path.push_str(rng.pick(RAW_SEGMENTS));
    }
    path.push_str(rng.pick(ENDINGS));
    if path.is_empty() || !path.starts_with('/') {
        path.insert(0, '/');
    }
    let host = rng.pick(HOSTS);
    let uri = if host.is_empty() {
        path
    } else {
        format!("http://{host}{path}")
    };
    let mut builder = http::Request::builder().method(rng.pick(METHODS)).uri(&uri);
    if rng.chance(30) {
        builder = builder.header("X-T", "y");
    }
    exchange_of(
        builder
            .body(crate::http::empty_body())
            .unwrap_or_else(|error| panic!("test request {uri}: {error}")),
    )
}

/// A decoded path literal: a few segments, sometimes a trailing slash.
fn literal(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..1 + rng.below(2) {
        out.push('/');
        out.push_str(rng.pick(SEGMENTS));
    }
    if rng.chance(20) {
        out.push('/');
    }
    out
}

/// The literal as a regex: usually escaped, sometimes raw so that `.` and `+` act as
/// metacharacters.
fn pattern(rng: &mut Rng, text: &str) -> String {
    if rng.chance(25) {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) || (c == '/' && rng.chance(10)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One test term; most are indexable, some are not, some fail to evaluate.
fn term(rng: &mut Rng) -> String {
    let text = literal(rng);
    let re = pattern(rng, &text);
    match rng.below(24) {
        0 | 1 => format!("request.uri.path == '{text}'"),
        2 => format!("'{text}' == request.uri.path"),
        3 => format!("request.uri.path.equals('{text}')"),
        4 | 5 => format!("request.uri.path.startsWith('{text}')"),
        6 | 7 => format!("find(request.uri.path, '^{re}')"),
        8 => format!("matches(request.uri.path, '^{re}$')"),
        9 => format!("find(request.uri.path, '^{re}$')"),
        10 => format!("matchesWithRegex(request.uri.path, '{re}(/.*)?')"),
        11 => format!("matchesWithRegex(request.uri.path, '^{re}$')"),
        12 => format!("request.uri.path.matches('{re}.*')"),
        13 => format!("find(request.uri.path, '^{re}s?/')"),
        14 => format!("request.method == '{}'", rng.pick(METHODS)),
        15 => format!("request.uri.host == '{}'", rng.pick(HOSTS)),
        16 => "find(request.uri.host, '^a\\\\.example$')".to_owned(),
        // Unindexable.
        17 => format!("find(request.uri.path, '{re}')"),
        18 => "request.headers['X-T'][0] == 'y'".to_owned(),
        19 => format!("not (request.uri.path == '{text}')"),
        20 => format!("request.uri.path.endsWith('{text}')"),
        21 => format!("find(request.uri.path, '^{re}|/b')"),
        // Fails to evaluate: a condition error counts as false.
        22 => "request.uri.path.charAt(1000) == 'x'".to_owned(),
        _ => format!("request.uri.path.toLowerCase() == '{text}'"),
    }
}

fn condition(rng: &mut Rng) -> Option<String> {
    let body = match rng.below(10) {
        0 => return None,
        1 | 2 => format!("{} && {}", term(rng), term(rng)),
        3 => format!("{} || {}", term(rng), term(rng)),
        4 => format!("({} or {}) and {}", term(rng), term(rng), term(rng)),
        5 => format!("{} and {} and {}", term(rng), term(rng), term(rng)),
        _ => term(rng),
    };
    Some(format!("${{{body}}}"))
}

#[test]
fn indexed_dispatch_picks_the_route_linear_evaluation_picks() {
    let mut indexed_evaluations = 0usize;
    let mut linear_evaluations = 0usize;
    for seed in 0..300u64 {
        let mut rng = Rng(seed);
        let sources: Vec<Option<String>> = (0..1 + rng.below(40))
            .map(|_| condition(&mut rng))
            .collect();
        let conditions: Vec<Option<Expression>> = sources
            .iter()
            .map(|source| {
                source.as_ref().map(|source| {
                    Expression::parse(source)
                        .unwrap_or_else(|error| panic!("seed {seed}: {source}: {error}"))
                })
            })
            .collect();
        let index = RouteIndex::build(conditions.iter().map(Option::as_ref));
        for _ in 0..200 {
            let exchange = request(&mut rng);
            let scope = ExchangeScope::new(&exchange, None);
            let accepts = |route: usize| {
                conditions[route]
                    .as_ref()
                    .is_none_or(|condition| condition.eval_condition(&scope))
            };
            let linear = (0..conditions.len()).find(|&route| {
                linear_evaluations += 1;
                accepts(route)
            });
            let keys = index.keys(&exchange.request);
            let mut previous = None;
            let indexed = index.candidates(&keys).find(|&route| {
                assert!(
                    previous < Some(route),
                    "seed {seed}: candidates out of order"
                );
                previous = Some(route);
                indexed_evaluations += 1;
                accepts(route)
            });
            assert_eq!(
                indexed,
                linear,
                "seed {seed}, {} {}: conditions {:#?}",
                exchange.request.method(),
                exchange.request.uri(),
                sources
                    .iter()
                    .enumerate()
                    .filter(|(route, _)| Some(*route) == indexed || Some(*route) == linear)
                    .collect::<Vec<_>>()
            );
        }
    }
    // Not a correctness property, but a test whose random routes never let the index skip
    // anything would prove nothing.
    assert!(
        indexed_evaluations * 2 < linear_evaluations,
        "the index skipped too little: {indexed_evaluations} of {linear_evaluations}"
    );
}

#[test]
fn request_keys_read_what_the_bindings_read() {
    let mut rng = Rng(7);
    let path = Expression::parse("${request.uri.path}").expect("parses");
    let host = Expression::parse("${request.uri.host}").expect("parses");
    let method = Expression::parse("${request.method}").expect("parses");
    for _ in 0..500 {
        let exchange = request(&mut rng);
        let scope = ExchangeScope::new(&exchange, None);
        let keys = RequestKeys::of(&exchange.request);
        assert_eq!(path.eval(&scope).to_el_string(), keys.get(Field::Path));
        assert_eq!(host.eval(&scope).to_el_string(), keys.get(Field::Host));
        assert_eq!(method.eval(&scope).to_el_string(), keys.get(Field::Method));
    }
}

#[test]
fn routes_come_out_once_and_in_order() {
    let sources = [
        "${request.uri.path == '/a' || find(request.uri.path, '^/a')}",
        "${request.headers['X'][0] == 'y'}",
        "${request.method == 'GET' && request.uri.path.startsWith('/a')}",
        "${request.uri.host == 'h' || request.uri.path == '/a'}",
        "${request.uri.path == '/b'}",
    ];
    let conditions: Vec<Expression> = sources
        .iter()
        .map(|source| Expression::parse(source).expect("parses"))
        .collect();
    let index = RouteIndex::build(conditions.iter().map(Some));
    let candidates = |exchange: &Exchange| {
        let keys = index.keys(&exchange.request);
        index.candidates(&keys).collect::<Vec<_>>()
    };
    assert_eq!(candidates(&exchange("GET", "http://h/a")), vec![0, 1, 2, 3]);
    assert_eq!(candidates(&exchange("POST", "http://h/a")), vec![0, 1, 3]);
    assert_eq!(candidates(&exchange("POST", "http://g/c")), vec![1]);
    assert_eq!(candidates(&exchange("GET", "/b")), vec![1, 4]);
}

#[test]
fn keys_hold_every_field_a_guard_reads_even_when_filed_under_another() {
    // Filed under the exact path; the host constraint of the same guard must still see the
    // request's host. The second index has no path guard at all, so it never decodes one.
    let one = [
        Expression::parse("${request.uri.host == 'a.example' && request.uri.path == '/x'}")
            .expect("parses"),
    ];
    let index = RouteIndex::build(one.iter().map(Some));
    let request = |uri: &str| {
        http::Request::builder()
            .uri(uri)
            .body(crate::http::empty_body())
            .expect("request")
    };
    let matching = request("http://a.example/x");
    let keys = index.keys(&matching);
    assert_eq!(index.candidates(&keys).collect::<Vec<_>>(), vec![0]);
    let other_host = request("http://b.example/x");
    let keys = index.keys(&other_host);
    assert!(index.candidates(&keys).next().is_none());

    let methods = [Expression::parse("${request.method == 'GET'}").expect("parses")];
    let index = RouteIndex::build(methods.iter().map(Some));
    let request = request("http://a.example/%7Ex");
    let keys = index.keys(&request);
    assert_eq!(keys.get(Field::Path), "");
    assert_eq!(keys.get(Field::Host), "");
    assert_eq!(index.candidates(&keys).collect::<Vec<_>>(), vec![0]);
}

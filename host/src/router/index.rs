//! Which routes a request needs to try. IG evaluates every route's condition in order until
//! one is true; with thousands of routes that is thousands of evaluations per request. Most
//! conditions test the path, host or method against literals, so the routes are filed under
//! those literals when a snapshot is built, and a request only tries the routes filed under
//! its own path, host and method, plus the routes whose conditions say nothing the index
//! understands.
//!
//! The index never decides: it hands out candidates in route order and the router evaluates
//! each candidate's whole condition as before, so the first route whose condition is true
//! still wins. A route is left out only when one of its guards ([`condition`]) proves the
//! condition false for this request.

#[cfg(test)]
mod tests;
mod trie;

use std::borrow::Cow;
use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use smallvec::SmallVec;

use super::condition::{self, Constraint, Field, Guard, Key};
use crate::expr::Expression;
use trie::PathTrie;

/// What the index looks up in a request, computed once per request rather than once per
/// route, and only the fields some guard tests: decoding the path costs as much as the rest
/// of routing when no condition looks at it.
pub(crate) struct RequestKeys<'r> {
    /// `request.uri.path`: the path with percent-encodings decoded (invalid UTF-8 replaced),
    /// exactly as the binding computes it.
    path: Cow<'r, str>,
    /// `request.uri.host`'s string form: "" when the URI has no host (null in expressions).
    host: &'r str,
    method: &'r str,
}

impl<'r> RequestKeys<'r> {
    /// Every field, whatever the index needs.
    #[cfg(test)]
    pub fn of(request: &'r crate::http::Request) -> Self {
        Self::fields(request, Fields::ALL)
    }

    fn fields(request: &'r crate::http::Request, fields: Fields) -> Self {
        RequestKeys {
            path: if fields.has(Field::Path) {
                percent_decode_str(request.uri().path()).decode_utf8_lossy()
            } else {
                Cow::Borrowed("")
            },
            host: if fields.has(Field::Host) {
                request.uri().host().unwrap_or("")
            } else {
                ""
            },
            method: request.method().as_str(),
        }
    }

    fn get(&self, field: Field) -> &str {
        match field {
            Field::Path => &self.path,
            Field::Host => self.host,
            Field::Method => self.method,
        }
    }
}

/// Route positions, in dispatch order.
type Bucket = Box<[usize]>;

/// The request fields some guard constrains.
#[derive(Clone, Copy, Default)]
struct Fields(u8);

impl Fields {
    #[cfg(test)]
    const ALL: Fields = Fields(0b111);

    fn bit(field: Field) -> u8 {
        match field {
            Field::Path => 1,
            Field::Host => 2,
            Field::Method => 4,
        }
    }

    fn add(&mut self, field: Field) {
        self.0 |= Self::bit(field);
    }

    fn has(self, field: Field) -> bool {
        self.0 & Self::bit(field) != 0
    }
}

#[derive(Default)]
pub(crate) struct RouteIndex {
    /// Per route, in dispatch order: the guards one of which holds when its condition is true.
    /// Empty for routes the index knows nothing about.
    guards: Box<[Box<[Guard]>]>,
    /// Routes tried for every request.
    always: Bucket,
    paths: PathTrie,
    hosts: HashMap<Box<str>, Bucket>,
    methods: HashMap<Box<str>, Bucket>,
    /// What [`RouteIndex::keys`] must compute: every field a filed guard reads (the buckets
    /// are keyed by fields of those same guards).
    fields: Fields,
}

impl RouteIndex {
    /// Files routes given their conditions in dispatch order (`None`: no condition).
    pub fn build<'e>(conditions: impl IntoIterator<Item = Option<&'e Expression>>) -> Self {
        let mut guards = Vec::new();
        let mut always = Vec::new();
        let mut paths = trie::Builder::default();
        let mut hosts: HashMap<Box<str>, Vec<usize>> = HashMap::new();
        let mut methods: HashMap<Box<str>, Vec<usize>> = HashMap::new();
        let mut fields = Fields::default();
        for (route, condition) in conditions.into_iter().enumerate() {
            let route_guards = condition.and_then(condition::guards).unwrap_or_default();
            let mut filed = !route_guards.is_empty();
            for guard in &route_guards {
                let Some(constraint) = guard.iter().min_by_key(|c| selectivity(c)) else {
                    filed = false;
                    continue;
                };
                match (constraint.field, &constraint.key) {
                    (Field::Path, Key::Exact { text, .. }) => paths.exact(text, route),
                    (Field::Path, Key::Prefix(text)) => paths.prefix(text, route),
                    (Field::Host, Key::Exact { text, .. }) => file(&mut hosts, text, route),
                    (Field::Method, Key::Exact { text, .. }) => file(&mut methods, text, route),
                    (Field::Host | Field::Method, Key::Prefix(_)) => filed = false,
                }
            }
            if filed {
                for constraint in route_guards.iter().flatten() {
                    fields.add(constraint.field);
                }
                guards.push(route_guards.into_boxed_slice());
            } else {
                always.push(route);
                guards.push(Box::default());
            }
        }
        let freeze = |map: HashMap<Box<str>, Vec<usize>>| {
            map.into_iter()
                .map(|(key, routes)| (key, routes.into_boxed_slice()))
                .collect()
        };
        RouteIndex {
            guards: guards.into_boxed_slice(),
            always: always.into_boxed_slice(),
            paths: paths.build(),
            hosts: freeze(hosts),
            methods: freeze(methods),
            fields,
        }
    }

    /// The request's keys this index reads.
    pub fn keys<'r>(&self, request: &'r crate::http::Request) -> RequestKeys<'r> {
        RequestKeys::fields(request, self.fields)
    }

    /// The routes to try for this request, in dispatch order.
    pub fn candidates<'a>(&'a self, keys: &'a RequestKeys<'a>) -> Candidates<'a> {
        // Inline: a request meets a handful of buckets (the unguarded routes, a few path
        // prefixes, a host, a method), and this runs for every routed request.
        let mut buckets: SmallVec<[&'a [usize]; 8]> = SmallVec::new();
        if !self.always.is_empty() {
            buckets.push(&self.always);
        }
        self.paths.visit(keys.path.as_bytes(), &mut |bucket| {
            buckets.push(bucket);
        });
        for (map, value) in [(&self.hosts, keys.host), (&self.methods, keys.method)] {
            if map.is_empty() {
                continue;
            }
            buckets.extend(map.get(value).map(|bucket| &**bucket));
            if let Some(bare) = without_line_terminator(value) {
                buckets.extend(map.get(bare).map(|bucket| &**bucket));
            }
        }
        Candidates {
            index: self,
            keys,
            buckets,
            last: None,
        }
    }

    /// Whether some guard of the route holds for the request (or it has none).
    fn admits(&self, route: usize, keys: &RequestKeys<'_>) -> bool {
        let Some(guards) = self.guards.get(route) else {
            return true;
        };
        guards.is_empty()
            || guards.iter().any(|guard| {
                guard
                    .iter()
                    .all(|constraint| constraint.key.admits(keys.get(constraint.field)))
            })
    }
}

/// Which constraint of a guard to file the route under: the one likely to leave the fewest
/// routes to try. Any choice is correct, since the whole guard is checked afterwards.
fn selectivity(constraint: &Constraint) -> u8 {
    match (constraint.field, &constraint.key) {
        (Field::Path, Key::Exact { .. }) => 0,
        (Field::Path, Key::Prefix(text)) if text.len() > 1 => 1,
        (Field::Host, Key::Exact { .. }) => 2,
        (Field::Method, Key::Exact { .. }) => 3,
        (Field::Path, Key::Prefix(_)) => 4,
        (Field::Host | Field::Method, Key::Prefix(_)) => u8::MAX,
    }
}

fn file(map: &mut HashMap<Box<str>, Vec<usize>>, key: &str, route: usize) {
    let bucket = map.entry(key.into()).or_default();
    // A route with several guards under one key is filed once; routes arrive in order.
    if bucket.last() != Some(&route) {
        bucket.push(route);
    }
}

/// The value without one final line terminator, under which `$`-anchored exact keys may be
/// filed.
fn without_line_terminator(value: &str) -> Option<&str> {
    // The longest terminator: `$` stops before a whole "\r\n".
    let cut = value
        .char_indices()
        .rev()
        .take(2)
        .map(|(at, _)| at)
        .filter(|&at| condition::is_line_terminator(&value[at..]))
        .last()?;
    Some(&value[..cut])
}

/// The merge of the buckets that apply to a request: each route once, in dispatch order,
/// and only if its guards admit the request.
pub(crate) struct Candidates<'a> {
    index: &'a RouteIndex,
    keys: &'a RequestKeys<'a>,
    /// Few: the always-tried routes, one per path prefix present in the path, the exact path,
    /// host and method.
    buckets: SmallVec<[&'a [usize]; 8]>,
    last: Option<usize>,
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            let (slot, route) = self
                .buckets
                .iter()
                .enumerate()
                .filter_map(|(slot, bucket)| bucket.first().map(|&route| (slot, route)))
                .min_by_key(|&(_, route)| route)?;
            self.buckets[slot] = &self.buckets[slot][1..];
            // A route filed in two matching buckets comes out of both; buckets are sorted,
            // so the second copy follows the first at once.
            if self.last == Some(route) {
                continue;
            }
            self.last = Some(route);
            if self.index.admits(route, self.keys) {
                return Some(route);
            }
        }
    }
}

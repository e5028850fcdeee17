//! Lookups of one field in a message's header map that first scan a small map's names.
//!
//! `HeaderMap` hashes the name on every lookup (FNV over a custom name's bytes, or over the
//! two enum discriminants of a standard one) before it probes: some hundred instructions.
//! Most messages carry a handful of fields, and most of the fields the hot path asks every
//! request and response for are absent (`Cookie` without a session, `Connection` on
//! HTTP/1.1, `X-Forwarded-For` from a client that is no proxy): comparing the few names
//! with the one looked for (for standard names, one byte) says so for a fraction of the
//! hash. What the lookups find is exactly what the map's own would.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Maps with more values than this are looked up by hash.
const SCANNED_AT_MOST: usize = 8;

/// The first value of `name`, as [`HeaderMap::get`].
pub fn get<'m>(headers: &'m HeaderMap, name: &HeaderName) -> Option<&'m HeaderValue> {
    if scanned_without(headers, name) {
        return None;
    }
    headers.get(name)
}

/// Every value of `name` in order, as [`HeaderMap::get_all`].
pub fn get_all<'m>(headers: &'m HeaderMap, name: &HeaderName) -> Values<'m> {
    if scanned_without(headers, name) {
        return Values(None);
    }
    Values(Some(headers.get_all(name).iter()))
}

/// Whether `headers` is small and its names, scanned, do not include `name`. A map that has
/// the name is then looked up by hash: walking a map's values costs more per field than
/// walking its names.
fn scanned_without(headers: &HeaderMap, name: &HeaderName) -> bool {
    headers.len() <= SCANNED_AT_MOST && !headers.keys().any(|field| field == name)
}

/// The values [`get_all`] finds.
pub struct Values<'m>(Option<header::ValueIter<'m, HeaderValue>>);

impl<'m> Iterator for Values<'m> {
    type Item = &'m HeaderValue;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.as_mut()?.next()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A map with `extra` fields besides a repeated Cookie, a Connection and a custom field.
    fn map(extra: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.append(header::HOST, HeaderValue::from_static("h"));
        headers.append(header::COOKIE, HeaderValue::from_static("a=1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        for i in 0..extra {
            headers.append(
                HeaderName::from_bytes(format!("x-extra-{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("e"),
            );
        }
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        headers.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        headers
    }

    #[test]
    fn small_and_large_maps_answer_as_the_maps_own_lookups() {
        let names = [
            header::COOKIE,
            header::CONNECTION,
            header::HOST,
            header::UPGRADE,
            HeaderName::from_static("x-forwarded-for"),
            HeaderName::from_static("x-forwarded-host"),
            HeaderName::from_static("x-extra-3"),
        ];
        // 5 values (scanned), 8 (the most scanned), 9 and 25 (hashed).
        for extra in [0, 3, 4, 20] {
            let headers = map(extra);
            for name in &names {
                assert_eq!(get(&headers, name), headers.get(name), "{name} of {extra}");
                assert_eq!(
                    get_all(&headers, name).collect::<Vec<_>>(),
                    headers.get_all(name).iter().collect::<Vec<_>>(),
                    "{name} of {extra}"
                );
            }
        }
    }

    #[test]
    fn every_value_of_a_repeated_field_is_found_in_order() {
        let headers = map(0);
        let cookies: Vec<_> = get_all(&headers, &header::COOKIE)
            .map(|value| value.to_str().unwrap())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(get(&headers, &header::COOKIE).unwrap(), "a=1");
    }
}

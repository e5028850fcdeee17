//! A request as it leaves for an upstream: the exchange's own method, URI and headers, read
//! in place, with what forwarding changes (hop-by-hop fields dropped, `Host` and
//! `X-Forwarded-*` set) applied while the head is written. Nothing of the request head is
//! copied, and the exchange keeps the request as the client sent it, for the filters that
//! look at it once the response is back.

#[cfg(test)]
mod tests;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};
use smallvec::SmallVec;

use crate::http::header_lookup;

/// Fields that describe one connection, not the message: never forwarded as received.
pub const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The fields a message's `Connection` header names besides the hop-by-hop ones, which
/// never go anyway: requests and responses alike drop them when forwarded. Inlined into
/// its two callers: each message of every exchange asks, most find no field or one that
/// names nothing, and as a call of its own it cost some 40 instructions more per proxied
/// request (tests/perf/instructions).
#[inline(always)]
pub fn names_in_connection(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut connection = header_lookup::get_all(headers, &header::CONNECTION);
    // No `Connection` (most HTTP/1.1 messages), or `keep-alive` or `close` alone (what
    // browsers and HTTP/1.0 peers send), names no field: nothing to split or allocate.
    let (first, second) = match (connection.next(), connection.next()) {
        (None, _) => return Vec::new(),
        (Some(value), None)
            if value.as_bytes().eq_ignore_ascii_case(b"keep-alive")
                || value.as_bytes().eq_ignore_ascii_case(b"close") =>
        {
            return Vec::new();
        }
        (Some(first), second) => (first, second),
    };
    // The values already taken, then the rest: one lookup of the field. Only tokens that
    // are not hop-by-hop are parsed into names, which for a name not in the standard table
    // allocates.
    let values = std::iter::once(first).chain(second).chain(connection);
    crate::h1::list_items(values)
        .filter(|item| {
            !HOP_BY_HOP
                .iter()
                .any(|hop| hop.as_str().eq_ignore_ascii_case(item))
        })
        .filter_map(|item| HeaderName::from_bytes(item.as_bytes()).ok())
        .collect()
}

pub struct Outgoing<'a> {
    pub method: &'a Method,
    /// Absolute: the server to send to, and the target.
    pub uri: &'a Uri,
    headers: &'a HeaderMap,
    /// Fields written instead of the client's of the same name (and after them). Inline: a
    /// reverse proxy sets four (Host and three X-Forwarded-*), and this is built per request.
    set: SmallVec<[(HeaderName, HeaderValue); 6]>,
    /// Further fields the client's `Connection` header names as hop-by-hop.
    named_by_connection: Vec<HeaderName>,
}

impl<'a> Outgoing<'a> {
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Outgoing {
            method,
            uri,
            headers,
            set: SmallVec::new(),
            named_by_connection: names_in_connection(headers),
        }
    }

    /// Sends `value` as the only `name` field.
    pub fn set(&mut self, name: HeaderName, value: HeaderValue) {
        self.set.retain(|(existing, _)| *existing != name);
        self.set.push((name, value));
    }

    /// The client's field `name`, as received (hop-by-hop ones included).
    pub fn received(&self, name: &HeaderName) -> Option<&'a HeaderValue> {
        header_lookup::get(self.headers, name)
    }

    /// Whether the `Connection` field that goes out lists `token`. Only a field set here can:
    /// the client's `Connection` is hop-by-hop and never forwarded.
    pub fn connection_has(&self, token: &str) -> bool {
        let values = self
            .set
            .iter()
            .filter(|(name, _)| *name == header::CONNECTION);
        crate::h1::list_items(values.map(|(_, value)| value))
            .any(|item| item.eq_ignore_ascii_case(token))
    }

    fn forwards(&self, name: &HeaderName) -> bool {
        !HOP_BY_HOP.contains(name)
            && !self.named_by_connection.contains(name)
            && !self.set.iter().any(|(set, _)| set == name)
    }

    /// Every field that goes out, in order: the client's that are forwarded, then those set.
    pub fn fields(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers
            .iter()
            .filter(|(name, _)| self.forwards(name))
            .chain(self.set.iter().map(|(name, value)| (name, value)))
    }

    /// The fields as a map of their own, for clients that need to own the request (HTTP/2).
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.headers.len() + self.set.len());
        for (name, value) in self.fields() {
            map.append(name.clone(), value.clone());
        }
        map
    }
}

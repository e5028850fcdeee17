//! Message heads: parsing request and response heads out of a read buffer, and writing them.
//!
//! Parsed header values are slices of the buffer the head arrived in (one shared allocation
//! per head, no copy per value), which is what lets a proxied request's headers go back out
//! without being copied.

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue, InvalidHeaderName};
use http::{Method, StatusCode, Uri, Version};

use super::names::{RecentNames, fresh_name};
use crate::http::header_lookup;

/// Most header fields a head may carry.
pub const MAX_HEADERS: usize = 128;

#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    /// What the framing and connection rules read from `headers`, as parsed.
    pub facts: HeadFacts,
}

#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    /// What the framing and connection rules read from `headers`, as parsed.
    pub facts: HeadFacts,
}

/// What the framing and connection rules need from a head's fields, noted while the fields are
/// parsed: each lookup in a header map hashes the name, and a proxied request made eight of
/// them for these alone (docs/development.md, "Counting instructions").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadFacts {
    /// The length every `Content-Length` value agrees on; `None` without the header.
    content_length: Result<Option<u64>, FieldError>,
    /// Whether the last transfer coding is `chunked`; `None` without `Transfer-Encoding`.
    chunked_last: Result<Option<bool>, FieldError>,
    /// The codings other than the final `chunked` that `Transfer-Encoding` lists, counted
    /// in their kind: a request may carry none of them.
    extra_codings: ExtraCodings,
    /// The tokens of `Connection` the rules act on.
    pub connection: ConnectionTokens,
    /// Whether the head has an `Expect` field.
    pub expect: bool,
    /// Whether the head has an `Upgrade` field.
    pub upgrade: bool,
}

/// Transfer codings beside a final `chunked`. A proxy that decodes `chunked` and frames the
/// body anew would drop them, handing the upstream compressed bytes it was not told about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ExtraCodings {
    /// `chunked` before the last coding (RFC 9112 7: applied at most once, and last).
    chunked: bool,
    /// Any other coding (`gzip`, `deflate`, `compress`, an unknown one).
    other: bool,
}

/// What is wrong with a framing field, kept in a byte rather than as its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldError {
    InvalidLength,
    ConflictingLengths,
    InvalidCoding,
}

impl FieldError {
    fn framing(self) -> HeadError {
        HeadError::Framing(match self {
            FieldError::InvalidLength => "invalid Content-Length",
            FieldError::ConflictingLengths => "conflicting Content-Length values",
            FieldError::InvalidCoding => "invalid Transfer-Encoding",
        })
    }
}

/// The `Connection` tokens HTTP/1.1's rules act on, found case-insensitively in any of its
/// values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

impl ConnectionTokens {
    /// Takes `token` into account; false when it is none of the three (or a list of tokens).
    fn note(&mut self, token: &[u8]) -> bool {
        if token.eq_ignore_ascii_case(b"keep-alive") {
            self.keep_alive = true;
        } else if token.eq_ignore_ascii_case(b"close") {
            self.close = true;
        } else if token.eq_ignore_ascii_case(b"upgrade") {
            self.upgrade = true;
        } else {
            return false;
        }
        true
    }
}

impl Default for HeadFacts {
    fn default() -> Self {
        HeadFacts {
            content_length: Ok(None),
            chunked_last: Ok(None),
            extra_codings: ExtraCodings::default(),
            connection: ConnectionTokens::default(),
            expect: false,
            upgrade: false,
        }
    }
}

impl HeadFacts {
    /// The facts of fields already in a map (a head built rather than parsed).
    pub fn of(headers: &HeaderMap) -> Self {
        let mut facts = HeadFacts::default();
        for (name, value) in headers {
            facts.note(name, value);
        }
        facts
    }

    /// Takes one field into account, in the order of the head.
    fn note(&mut self, name: &HeaderName, value: &HeaderValue) {
        if name == header::CONTENT_LENGTH {
            self.note_content_length(value);
        } else if name == header::TRANSFER_ENCODING {
            self.note_transfer_encoding(value);
        } else if name == header::CONNECTION {
            // Most values are one token: no list to split.
            if !self.connection.note(value.as_bytes()) {
                for item in list_items(std::iter::once(value)) {
                    self.connection.note(item.as_bytes());
                }
            }
        } else if name == header::EXPECT {
            self.expect = true;
        } else if name == header::UPGRADE {
            self.upgrade = true;
        }
    }

    fn note_content_length(&mut self, value: &HeaderValue) {
        let Ok(found) = self.content_length else {
            return;
        };
        self.content_length = content_length_items(value, found);
    }

    fn note_transfer_encoding(&mut self, value: &HeaderValue) {
        let Ok(last) = self.chunked_last else {
            return;
        };
        let Ok(text) = value.to_str() else {
            self.chunked_last = Err(FieldError::InvalidCoding);
            return;
        };
        let mut codings = text
            .rsplit(',')
            .map(str::trim)
            .filter(|coding| !coding.is_empty());
        let Some(final_coding) = codings.next() else {
            return;
        };
        // The final coding of an earlier field comes before this one's.
        match last {
            Some(true) => self.extra_codings.chunked = true,
            Some(false) => self.extra_codings.other = true,
            None => {}
        }
        for coding in codings {
            self.note_extra_coding(coding);
        }
        self.chunked_last = Ok(Some(final_coding.eq_ignore_ascii_case("chunked")));
    }

    fn note_extra_coding(&mut self, coding: &str) {
        if coding.eq_ignore_ascii_case("chunked") {
            self.extra_codings.chunked = true;
        } else {
            self.extra_codings.other = true;
        }
    }

    fn content_length(&self) -> Result<Option<u64>, HeadError> {
        self.content_length.map_err(FieldError::framing)
    }

    fn chunked_last(&self) -> Result<Option<bool>, HeadError> {
        self.chunked_last.map_err(FieldError::framing)
    }

    /// Whether the head has a `Content-Length` field, valid or not.
    fn has_content_length(&self) -> bool {
        self.content_length != Ok(None)
    }
}

/// Adds the lengths of one `Content-Length` value to `found`: a list of equal values is
/// allowed (RFC 9110 8.6); differing ones are an attack.
fn content_length_items(
    value: &HeaderValue,
    mut found: Option<u64>,
) -> Result<Option<u64>, FieldError> {
    let bytes = value.as_bytes();
    // Most values are one length: digits alone, with no list to split.
    if !bytes.is_empty() && bytes.len() <= 19 && bytes.iter().all(u8::is_ascii_digit) {
        let length = bytes
            .iter()
            .fold(0u64, |length, digit| length * 10 + u64::from(digit - b'0'));
        if found.is_some_and(|previous| previous != length) {
            return Err(FieldError::ConflictingLengths);
        }
        return Ok(Some(length));
    }
    let text = value.to_str().map_err(|_| FieldError::InvalidLength)?;
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() || !item.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(FieldError::InvalidLength);
        }
        let length: u64 = item.parse().map_err(|_| FieldError::InvalidLength)?;
        if found.is_some_and(|previous| previous != length) {
            return Err(FieldError::ConflictingLengths);
        }
        found = Some(length);
    }
    Ok(found)
}

/// Why a head was refused; each maps to the status a server answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("the message head is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the message head has more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("malformed message head: {0}")]
    Malformed(String),
    #[error("invalid message framing: {0}")]
    Framing(&'static str),
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
    #[error("HTTP version not supported")]
    Version,
}

impl HeadError {
    /// What a server answers to a client that sent such a head.
    pub fn status(&self) -> StatusCode {
        match self {
            HeadError::TooLarge(_) | HeadError::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            HeadError::Version => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            HeadError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            HeadError::Malformed(_) | HeadError::Framing(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Where a header's name and value sit in the head's bytes.
#[derive(Clone, Copy, Default)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
}

/// The fields of one head, inline for the usual few.
type Fields = smallvec::SmallVec<[Field; 24]>;

/// httparse's slots for the fields: left uninitialised (128 of them are 4 KiB, which
/// initialising cost each parse a memset of that size).
fn slots<'b>() -> [std::mem::MaybeUninit<httparse::Header<'b>>; MAX_HEADERS] {
    [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS]
}

fn span(base: *const u8, part: &[u8]) -> (u32, u32) {
    // Both point into the same buffer; offsets fit in u32 because heads are bounded far below.
    let start = part.as_ptr() as usize - base as usize;
    (start as u32, (start + part.len()) as u32)
}

fn version(minor: Option<u8>) -> Result<Version, HeadError> {
    match minor {
        Some(0) => Ok(Version::HTTP_10),
        Some(1) => Ok(Version::HTTP_11),
        _ => Err(HeadError::Version),
    }
}

fn parse_error(error: httparse::Error) -> HeadError {
    match error {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        httparse::Error::Version => HeadError::Version,
        other => HeadError::Malformed(other.to_string()),
    }
}

/// The length of a complete head, `None` while it may still come whole: a partial head
/// already past `max_bytes` cannot, and neither can a complete one that is longer.
fn head_length(
    parsed: httparse::Status<usize>,
    buffered: usize,
    max_bytes: usize,
) -> Result<Option<usize>, HeadError> {
    match parsed {
        httparse::Status::Complete(length) if length > max_bytes => {
            Err(HeadError::TooLarge(max_bytes))
        }
        httparse::Status::Complete(length) => Ok(Some(length)),
        httparse::Status::Partial if buffered > max_bytes => Err(HeadError::TooLarge(max_bytes)),
        httparse::Status::Partial => Ok(None),
    }
}

/// Room a response's header map leaves for the fields filters add (CORS, security headers,
/// a HeaderFilter or two) before it must grow, which rehashes and moves every entry.
const RESPONSE_ROOM: usize = 4;

fn header_map(
    head: &Bytes,
    fields: &[Field],
    room: usize,
    mut name_of: impl FnMut(usize, &[u8]) -> Result<HeaderName, InvalidHeaderName>,
) -> Result<(HeaderMap, HeadFacts), HeadError> {
    let mut headers = HeaderMap::with_capacity(fields.len() + room);
    let mut facts = HeadFacts::default();
    for (place, field) in fields.iter().enumerate() {
        let name = &head[field.name.0 as usize..field.name.1 as usize];
        let name = name_of(place, name)
            .map_err(|_| HeadError::Malformed("invalid header name".to_owned()))?;
        let value = head.slice(field.value.0 as usize..field.value.1 as usize);
        let value = HeaderValue::from_maybe_shared(value)
            .map_err(|_| HeadError::Malformed(format!("invalid value of header {name}")))?;
        facts.note(&name, &value);
        headers.append(name, value);
    }
    Ok((headers, facts))
}

/// Parses the request head at the start of `buf`, taking its bytes out of `buf`. `None`: the
/// head is not complete yet (and fits in `max_bytes` so far). With a `scheme`, an origin-form
/// target becomes the absolute URI the client addressed (that scheme, the `Host` header),
/// sharing the head's bytes.
pub fn parse_request(
    buf: &mut BytesMut,
    max_bytes: usize,
    scheme: Option<&http::uri::Scheme>,
) -> Result<Option<RequestHead>, HeadError> {
    let mut slots = slots();
    let base = buf.as_ptr();
    let mut request = httparse::Request::new(&mut []);
    let parsed = request
        .parse_with_uninit_headers(buf, &mut slots)
        .map_err(parse_error)?;
    let Some(length) = head_length(parsed, buf.len(), max_bytes)? else {
        return Ok(None);
    };
    let mut host = None;
    let mut fields = Fields::with_capacity(request.headers.len());
    for header in request.headers.iter() {
        let field = Field {
            name: span(base, header.name.as_bytes()),
            value: span(base, header.value),
        };
        if header.name.eq_ignore_ascii_case("host") {
            // Two would let the gateway route by one and the upstream read the other.
            if host.is_some() {
                return Err(HeadError::Malformed("more than one Host header".to_owned()));
            }
            host = Some(field.value);
        }
        fields.push(field);
    }
    let method = Method::from_bytes(request.method.unwrap_or("").as_bytes())
        .map_err(|_| HeadError::Malformed("invalid method".to_owned()))?;
    let target = span(base, request.path.unwrap_or("").as_bytes());
    let version = version(request.version)?;
    match host {
        // RFC 9112 3.2: a server must refuse an HTTP/1.1 request without Host.
        None if version == Version::HTTP_11 => {
            return Err(HeadError::Malformed(
                "an HTTP/1.1 request must have a Host header".to_owned(),
            ));
        }
        // A Host is `host[:port]`: userinfo would pass an authority's parse, and routes
        // would see a host the client did not address.
        Some(host) if buf[host.0 as usize..host.1 as usize].contains(&b'@') => {
            return Err(HeadError::Malformed("invalid Host header".to_owned()));
        }
        _ => {}
    }
    let head = buf.split_to(length).freeze();
    let target = head.slice(target.0 as usize..target.1 as usize);
    let uri = match (scheme, host) {
        (Some(scheme), Some(host)) if target.first() == Some(&b'/') => {
            absolute_uri(scheme, head.slice(host.0 as usize..host.1 as usize), target)?
        }
        _ => Uri::from_maybe_shared(target)
            .map_err(|error| HeadError::Malformed(format!("invalid request target: {error}")))?,
    };
    let (headers, facts) = header_map(&head, &fields, 0, fresh_name)?;
    Ok(Some(RequestHead {
        method,
        uri,
        version,
        headers,
        facts,
    }))
}

fn absolute_uri(scheme: &http::uri::Scheme, host: Bytes, target: Bytes) -> Result<Uri, HeadError> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(
        http::uri::Authority::from_maybe_shared(host)
            .map_err(|_| HeadError::Malformed("invalid Host header".to_owned()))?,
    );
    parts.path_and_query = Some(
        http::uri::PathAndQuery::from_maybe_shared(target)
            .map_err(|error| HeadError::Malformed(format!("invalid request target: {error}")))?,
    );
    Uri::from_parts(parts)
        .map_err(|error| HeadError::Malformed(format!("invalid request target: {error}")))
}

/// Parses the response head at the start of `buf`, as [`parse_request`] does. `names` are
/// those of the connection's previous response.
pub fn parse_response(
    buf: &mut BytesMut,
    max_bytes: usize,
    names: &mut RecentNames,
) -> Result<Option<ResponseHead>, HeadError> {
    let mut slots = slots();
    let base = buf.as_ptr();
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut response, buf, &mut slots)
        .map_err(parse_error)?;
    let Some(length) = head_length(parsed, buf.len(), max_bytes)? else {
        return Ok(None);
    };
    let fields: Fields = response
        .headers
        .iter()
        .map(|header| Field {
            name: span(base, header.name.as_bytes()),
            value: span(base, header.value),
        })
        .collect();
    let status = StatusCode::from_u16(response.code.unwrap_or(0))
        .map_err(|_| HeadError::Malformed("invalid status code".to_owned()))?;
    let version = version(response.version)?;
    let head = buf.split_to(length).freeze();
    let (headers, facts) = header_map(&head, &fields, RESPONSE_ROOM, |place, name| {
        names.name(place, name)
    })?;
    Ok(Some(ResponseHead {
        status,
        version,
        headers,
        facts,
    }))
}

/// The items of comma-separated field values (`Connection: keep-alive, Upgrade`), trimmed.
pub fn list_items<'a>(
    values: impl IntoIterator<Item = &'a HeaderValue>,
) -> impl Iterator<Item = &'a str> {
    values
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

/// Whether a `Connection` header lists `token`.
pub fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    list_items(header_lookup::get_all(headers, &header::CONNECTION))
        .any(|item| item.eq_ignore_ascii_case(token))
}

/// Whether the peer lets the connection carry another message after this one.
pub fn wants_keep_alive(version: Version, connection: ConnectionTokens) -> bool {
    if version == Version::HTTP_11 {
        !connection.close
    } else {
        connection.keep_alive
    }
}

/// How the body after a head is delimited, once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    Length(u64),
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// The framing of a request body (RFC 9112 6.3). A request with both `Transfer-Encoding` and
/// `Content-Length`, or with a transfer coding other than a final `chunked`, is refused: a
/// proxy that guessed would let requests be smuggled past it. Codings before the final
/// `chunked` are refused as not implemented (RFC 9112 6.1 asks for 501), as nginx does:
/// passed on without them, the body would reach the upstream still encoded.
pub fn request_framing(head: &RequestHead) -> Result<Framing, HeadError> {
    let chunked_last = head.facts.chunked_last()?;
    if chunked_last == Some(true) {
        if head.facts.extra_codings.chunked {
            return Err(HeadError::Framing("chunked applied more than once"));
        }
        if head.facts.extra_codings.other {
            return Err(HeadError::NotImplemented(
                "a request body with a transfer coding other than chunked",
            ));
        }
    }
    match chunked_last {
        Some(_) if head.version == Version::HTTP_10 => Err(HeadError::Framing(
            "Transfer-Encoding in an HTTP/1.0 request",
        )),
        Some(_) if head.facts.has_content_length() => Err(HeadError::Framing(
            "both Transfer-Encoding and Content-Length",
        )),
        Some(true) => Ok(Framing::Chunked),
        Some(false) => Err(HeadError::Framing(
            "a transfer coding other than a final chunked",
        )),
        None => Ok(match head.facts.content_length()? {
            None | Some(0) => Framing::Empty,
            Some(length) => Framing::Length(length),
        }),
    }
}

/// The framing of a response body, which depends on the request it answers.
pub fn response_framing(
    request_method: &Method,
    head: &ResponseHead,
) -> Result<Framing, HeadError> {
    let status = head.status.as_u16();
    if request_method == Method::HEAD
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        return Ok(Framing::Empty);
    }
    match head.facts.chunked_last()? {
        Some(true) => Ok(Framing::Chunked),
        // An unknown coding cannot be delimited: the body runs to the connection's end.
        Some(false) => Ok(Framing::UntilClose),
        None => Ok(match head.facts.content_length()? {
            Some(0) => Framing::Empty,
            Some(length) => Framing::Length(length),
            None => Framing::UntilClose,
        }),
    }
}

/// Writes the fields of `headers` except those the writer sets itself: the framing ones
/// (unless `keep_content_length`), and `Connection` when `own_connection`. Says whether one
/// was `Date`, noted while they are written: looking it up would hash the name again.
fn put_headers(
    dst: &mut Vec<u8>,
    headers: &HeaderMap,
    keep_content_length: bool,
    own_connection: bool,
) -> bool {
    let mut has_date = false;
    for (name, value) in headers {
        has_date |= name == header::DATE;
        let skip = (name == header::CONTENT_LENGTH && !keep_content_length)
            || name == header::TRANSFER_ENCODING
            || (name == header::CONNECTION && own_connection);
        if skip {
            continue;
        }
        dst.extend_from_slice(name.as_str().as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    has_date
}

fn put_framing(dst: &mut Vec<u8>, framing: Framing) {
    match framing {
        Framing::Length(length) => {
            dst.extend_from_slice(b"content-length: ");
            dst.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
            dst.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => dst.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Empty | Framing::UntilClose => {}
    }
}

/// What a response head says about its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionHeader {
    /// Nothing: HTTP/1.1's default, keep-alive.
    Default,
    Close,
    /// `keep-alive`, which an HTTP/1.0 client needs to hear.
    KeepAlive,
}

/// Writes a response head. `framing` `Empty` writes `content-length: 0` when the status
/// allows a body; `keep_content_length` passes the handler's own Content-Length through (for
/// HEAD and 304, whose framing is empty but whose length describes the resource).
pub fn encode_response_head(
    dst: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    connection: ConnectionHeader,
    keep_content_length: bool,
) {
    dst.extend_from_slice(b"HTTP/1.1 ");
    dst.extend_from_slice(status.as_str().as_bytes());
    dst.push(b' ');
    dst.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    dst.extend_from_slice(b"\r\n");
    // A protocol switch names the protocol in Connection (`upgrade`): the handler's stands.
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    let has_date = put_headers(dst, headers, keep_content_length, !switching);
    if !has_date {
        dst.extend_from_slice(b"date: ");
        super::date::put(dst);
        dst.extend_from_slice(b"\r\n");
    }
    let status_code = status.as_u16();
    let bodiless_status = (100..200).contains(&status_code) || status_code == 204;
    match framing {
        Framing::Empty if !bodiless_status && !keep_content_length => {
            dst.extend_from_slice(b"content-length: 0\r\n");
        }
        other => put_framing(dst, other),
    }
    match connection {
        _ if switching => {}
        ConnectionHeader::Default => {}
        ConnectionHeader::Close => dst.extend_from_slice(b"connection: close\r\n"),
        ConnectionHeader::KeepAlive => dst.extend_from_slice(b"connection: keep-alive\r\n"),
    }
    dst.extend_from_slice(b"\r\n");
}

/// Writes a request head. `target` is the request-target: origin form (`/path?query`), or
/// absolute form for a forward proxy. `fields` are written as given (the sender has dropped
/// hop-by-hop fields and set its own `Connection`), except framing fields, which follow
/// `framing`.
pub fn encode_request_head<'h>(
    dst: &mut Vec<u8>,
    method: &Method,
    target: &str,
    fields: impl Iterator<Item = (&'h HeaderName, &'h HeaderValue)>,
    framing: Framing,
) {
    dst.extend_from_slice(method.as_str().as_bytes());
    dst.push(b' ');
    dst.extend_from_slice(target.as_bytes());
    dst.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in fields {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        dst.extend_from_slice(name.as_str().as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    match framing {
        // Methods that normally carry a body say it is empty, as clients do.
        Framing::Empty if matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {
            dst.extend_from_slice(b"content-length: 0\r\n");
        }
        other => put_framing(dst, other),
    }
    dst.extend_from_slice(b"\r\n");
}

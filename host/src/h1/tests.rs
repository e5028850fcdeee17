//! The HTTP/1.1 codec: heads, framing decisions (including the request smuggling cases a
//! proxy must refuse), chunked decoding at every split point, and writing bodies.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderMap, Method, StatusCode, Version};
use http_body_util::BodyExt;
use tokio::io::AsyncReadExt;

use super::*;

impl Transport for tokio::io::DuplexStream {}

fn request(text: &str) -> Result<Option<RequestHead>, HeadError> {
    parse_request(&mut BytesMut::from(text), 64 * 1024, None)
}

fn framing_of(text: &str) -> Result<Framing, HeadError> {
    request_framing(&request(text)?.unwrap())
}

#[test]
fn a_request_head_is_parsed_and_its_values_are_slices_of_the_buffer() {
    let mut buf = BytesMut::from(
        "GET /items?id=3 HTTP/1.1\r\nHost: gw.example.com\r\nX-Many: a\r\nX-Many: b\r\n\r\nNEXT",
    );
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let head = parse_request(&mut buf, 1024, None).unwrap().unwrap();
    assert_eq!(head.method, Method::GET);
    assert_eq!(head.uri, "/items?id=3");
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.headers["host"], "gw.example.com");
    let many: Vec<_> = head.headers.get_all("x-many").iter().collect();
    assert_eq!(many, ["a", "b"]);
    let value = head.headers["host"].as_bytes().as_ptr() as usize;
    assert!((start..end).contains(&value), "the value was copied");
    // What follows the head stays for the body or the next request.
    assert_eq!(&buf[..], b"NEXT");
}

#[test]
fn with_a_scheme_an_origin_form_target_becomes_the_absolute_uri_the_client_addressed() {
    let scheme = http::uri::Scheme::HTTPS;
    let parse = |text: &str| parse_request(&mut BytesMut::from(text), 1024, Some(&scheme));
    let uri = |text: &str| parse(text).unwrap().unwrap().uri;
    assert_eq!(
        uri("GET /p?q=1 HTTP/1.1\r\nhost: gw.example.com:8443\r\n\r\n"),
        "https://gw.example.com:8443/p?q=1"
    );
    // An absolute-form target is the client's own; without Host the target stays as sent.
    assert_eq!(
        uri("GET http://other/x HTTP/1.1\r\nhost: gw\r\n\r\n"),
        "http://other/x"
    );
    assert_eq!(uri("GET /x HTTP/1.0\r\n\r\n"), "/x");
    assert!(parse("GET /x HTTP/1.1\r\nhost: bad host\r\n\r\n").is_err());
}

#[test]
fn a_partial_head_waits_and_an_oversized_one_is_refused() {
    assert!(request("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
    let long = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n",
        "a".repeat(2000)
    );
    assert_eq!(
        parse_request(&mut BytesMut::from(long.as_str()), 1024, None).unwrap_err(),
        HeadError::TooLarge(1024)
    );
    // Complete, but longer than the limit: refused as well, not taken because it ended.
    let whole = format!("{long}\r\n");
    assert_eq!(
        parse_request(&mut BytesMut::from(whole.as_str()), 1024, None).unwrap_err(),
        HeadError::TooLarge(1024)
    );
    assert!(parse_request(&mut BytesMut::from(whole.as_str()), whole.len(), None).is_ok());
    // A head within the limit is taken though the body read with it is past the limit.
    let mut with_body =
        BytesMut::from("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n");
    with_body.extend_from_slice(&[b'a'; 2000]);
    assert!(parse_request(&mut with_body, 1024, None).unwrap().is_some());
    assert_eq!(with_body.len(), 2000, "the body stays in the buffer");
    let response =
        |text: &str| parse_response(&mut BytesMut::from(text), 1024, &mut RecentNames::default());
    let long = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n", "a".repeat(2000));
    assert_eq!(response(&long).unwrap_err(), HeadError::TooLarge(1024));
    assert_eq!(
        response(&format!("{long}\r\n")).unwrap_err(),
        HeadError::TooLarge(1024)
    );
    assert!(
        response("HTTP/1.1 200 OK\r\nServer: a\r\n")
            .unwrap()
            .is_none()
    );
    let many: String = (0..MAX_HEADERS + 1)
        .map(|i| format!("X-{i}: v\r\n"))
        .collect();
    let error = request(&format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n")).unwrap_err();
    assert_eq!(error, HeadError::TooManyHeaders);
    assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(
        request("GET / HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n")
            .unwrap_err()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        request("GET / HTTP/2.0\r\n\r\n").unwrap_err(),
        HeadError::Version
    );
}

#[test]
fn request_framing_refuses_what_would_let_requests_be_smuggled() {
    assert_eq!(
        framing_of("GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap(),
        Framing::Empty
    );
    assert_eq!(
        framing_of("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").unwrap(),
        Framing::Empty
    );
    assert_eq!(
        framing_of("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n").unwrap(),
        Framing::Length(12)
    );
    assert_eq!(
        framing_of(
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n"
        )
        .unwrap(),
        Framing::Length(5)
    );
    assert_eq!(
        framing_of("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked \r\n\r\n").unwrap(),
        Framing::Chunked
    );
    for refused in [
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        // chunked may be applied once only, whether in one field or two.
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let error = framing_of(refused).unwrap_err();
        assert_eq!(
            error.status(),
            StatusCode::BAD_REQUEST,
            "{refused:?}: {error}"
        );
    }
}

fn response(text: &str) -> ResponseHead {
    parse_response(
        &mut BytesMut::from(text),
        64 * 1024,
        &mut RecentNames::default(),
    )
    .unwrap()
    .unwrap()
}

#[test]
fn responses_on_one_connection_get_their_own_fields_whatever_came_before() {
    let mut names = RecentNames::default();
    let mut parse = |text: &str| {
        let head = parse_response(&mut BytesMut::from(text), 64 * 1024, &mut names)
            .unwrap()
            .unwrap();
        head.headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect::<Vec<_>>()
    };
    let first = "HTTP/1.1 200 OK\r\nServer: a\r\nX-Trace: 1\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        parse(first),
        ["server: a", "x-trace: 1", "content-length: 0"]
    );
    assert_eq!(
        parse(first),
        ["server: a", "x-trace: 1", "content-length: 0"]
    );
    // Other names at the same places, one field more, then one fewer.
    assert_eq!(
        parse("HTTP/1.1 200 OK\r\nSERVER: b\r\nContent-Length: 0\r\nX-Trace: 2\r\nVary: c\r\n\r\n"),
        ["server: b", "content-length: 0", "x-trace: 2", "vary: c"]
    );
    assert_eq!(
        parse("HTTP/1.1 204 No Content\r\nX-Other: 3\r\n\r\n"),
        ["x-other: 3"]
    );
    // A name that is no token is refused though a valid one was at its place before.
    assert!(
        parse_response(
            &mut BytesMut::from("HTTP/1.1 200 OK\r\nX-Oth(r: 3\r\n\r\n"),
            64 * 1024,
            &mut names
        )
        .is_err()
    );
}

#[test]
fn a_response_header_map_has_room_for_the_fields_filters_add() {
    let mut head = response(
        "HTTP/1.1 200 OK\r\nServer: t\r\nDate: d\r\nContent-Type: text/plain\r\n\
         Content-Length: 7\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(head.headers.len(), 5);
    let room = head.headers.capacity() - head.headers.len();
    assert!(room >= 4, "room for {room} fields");
    // Adding that many moves nothing: the map does not grow.
    let capacity = head.headers.capacity();
    for name in ["x-a", "x-b", "x-c", "x-d"] {
        head.headers
            .append(name, http::HeaderValue::from_static("1"));
    }
    assert_eq!(head.headers.capacity(), capacity);
}

#[test]
fn response_framing_depends_on_the_request_and_the_status() {
    let with_length = response("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n");
    assert_eq!(
        response_framing(&Method::GET, &with_length).unwrap(),
        Framing::Length(7)
    );
    assert_eq!(
        response_framing(&Method::HEAD, &with_length).unwrap(),
        Framing::Empty
    );
    for status in [
        "204 No Content",
        "304 Not Modified",
        "101 Switching Protocols",
    ] {
        let head = response(&format!("HTTP/1.1 {status}\r\nContent-Length: 7\r\n\r\n"));
        assert_eq!(
            response_framing(&Method::GET, &head).unwrap(),
            Framing::Empty
        );
    }
    let chunked =
        response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
    assert_eq!(
        response_framing(&Method::GET, &chunked).unwrap(),
        Framing::Chunked
    );
    let unframed = response("HTTP/1.0 200 OK\r\n\r\n");
    assert_eq!(
        response_framing(&Method::GET, &unframed).unwrap(),
        Framing::UntilClose
    );
    assert!(!wants_keep_alive(
        unframed.version,
        unframed.facts.connection
    ));
    let kept = response("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(wants_keep_alive(kept.version, kept.facts.connection));
    let closed = response("HTTP/1.1 200 OK\r\nConnection: foo, close\r\n\r\n");
    assert!(!wants_keep_alive(closed.version, closed.facts.connection));
}

#[test]
fn the_facts_noted_while_parsing_are_those_of_the_parsed_fields() {
    // Noted field by field as the head is parsed, they must agree with the same rules applied
    // to the finished map, whatever the order, case and repetition of the fields.
    let heads = [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTRANSFER-ENCODING: Chunked, \r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: ,\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 3\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, keep-alive\r\nUpgrade: websocket\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: foo\r\nconnection: CLOSE\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
    ];
    for text in heads {
        let head = request(text).unwrap().unwrap();
        assert_eq!(head.facts, HeadFacts::of(&head.headers), "{text:?}");
    }
    let upgrade = request(heads[7]).unwrap().unwrap().facts;
    assert!(upgrade.upgrade && upgrade.connection.upgrade && upgrade.connection.keep_alive);
    assert!(!upgrade.connection.close && !upgrade.expect);
    let closing = request(heads[8]).unwrap().unwrap().facts;
    assert!(closing.connection.close && !closing.connection.keep_alive);
    assert!(request(heads[9]).unwrap().unwrap().facts.expect);
    assert_eq!(
        framing_of(heads[4]).unwrap_err(),
        HeadError::NotImplemented("a request body with a transfer coding other than chunked"),
        "a coding of an earlier field counts as one before the final chunked"
    );
    assert_eq!(framing_of(heads[5]).unwrap(), Framing::Chunked);
    let response = response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(response.facts, HeadFacts::of(&response.headers));
    assert!(response.facts.connection.close);
}

/// Decodes `wire` fed in two pieces split at `split`, returning the body and what is left.
fn decode_split(
    framing: Framing,
    wire: &[u8],
    split: usize,
) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
    let mut decoder = Decoder::new(framing);
    let mut buf = BytesMut::from(&wire[..split]);
    let mut body = Vec::new();
    let mut fed_rest = false;
    loop {
        match decoder.decode(&mut buf)? {
            Step::Data(data) => body.extend_from_slice(&data),
            Step::Done => {
                if !fed_rest {
                    buf.extend_from_slice(&wire[split..]);
                }
                return Ok((body, buf.to_vec()));
            }
            Step::More if !fed_rest => {
                buf.extend_from_slice(&wire[split..]);
                fed_rest = true;
            }
            Step::More => {
                decoder.end_of_stream()?;
                return Ok((body, buf.to_vec()));
            }
        }
    }
}

#[test]
fn chunked_bodies_decode_the_same_at_every_split_point_and_leave_what_follows() {
    let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: yes\r\n\r\nGET /next";
    for split in 0..wire.len() {
        let (body, rest) = decode_split(Framing::Chunked, wire, split).unwrap();
        assert_eq!(body, b"hello world", "split at {split}");
        assert_eq!(rest, b"GET /next", "split at {split}");
    }
    let (body, rest) = decode_split(Framing::Length(5), b"helloGET", 2).unwrap();
    assert_eq!(
        (body.as_slice(), rest.as_slice()),
        (&b"hello"[..], &b"GET"[..])
    );
    let (body, _) = decode_split(Framing::UntilClose, b"all of it", 4).unwrap();
    assert_eq!(body, b"all of it");
}

#[test]
fn malformed_or_truncated_bodies_are_errors() {
    for wire in [
        &b"5\r\nhelloXX0\r\n\r\n"[..],
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\n",
        b"5x\r\nhello\r\n",
    ] {
        assert!(
            decode_split(Framing::Chunked, wire, wire.len()).is_err(),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    assert!(matches!(
        decode_split(Framing::Length(10), b"short", 5),
        Err(BodyError::Incomplete)
    ));
    assert!(matches!(
        decode_split(Framing::Chunked, b"5\r\nhel", 6),
        Err(BodyError::Incomplete)
    ));
}

fn head_text(
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    connection: ConnectionHeader,
) -> String {
    let mut out = Vec::new();
    encode_response_head(&mut out, status, headers, framing, connection, false);
    String::from_utf8(out).unwrap()
}

#[test]
fn response_heads_carry_our_framing_a_date_and_the_connection_decision() {
    let mut headers = HeaderMap::new();
    headers.insert("content-length", "999".parse().unwrap());
    headers.insert("transfer-encoding", "chunked".parse().unwrap());
    headers.insert("connection", "keep-alive".parse().unwrap());
    headers.insert("x-app", "1".parse().unwrap());
    let text = head_text(
        StatusCode::OK,
        &headers,
        Framing::Length(5),
        ConnectionHeader::Close,
    );
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("x-app: 1\r\n"), "{text}");
    assert!(text.contains("content-length: 5\r\n"), "{text}");
    assert!(!text.contains("999") && !text.contains("chunked"), "{text}");
    assert!(
        text.contains("connection: close\r\n") && !text.contains("keep-alive"),
        "{text}"
    );
    assert!(
        text.contains("\r\ndate: ") && text.ends_with("\r\n\r\n"),
        "{text}"
    );

    let empty = head_text(
        StatusCode::OK,
        &HeaderMap::new(),
        Framing::Empty,
        ConnectionHeader::Default,
    );
    assert!(empty.contains("content-length: 0\r\n"), "{empty}");
    let no_content = head_text(
        StatusCode::NO_CONTENT,
        &HeaderMap::new(),
        Framing::Empty,
        ConnectionHeader::Default,
    );
    assert!(!no_content.contains("content-length"), "{no_content}");

    let mut upgrade = HeaderMap::new();
    upgrade.insert("connection", "upgrade".parse().unwrap());
    upgrade.insert("upgrade", "websocket".parse().unwrap());
    let switching = head_text(
        StatusCode::SWITCHING_PROTOCOLS,
        &upgrade,
        Framing::Empty,
        ConnectionHeader::Close,
    );
    assert!(switching.contains("connection: upgrade\r\n"), "{switching}");
    assert!(!switching.contains("close"), "{switching}");
}

#[test]
fn request_heads_use_the_target_given_and_say_when_a_body_is_empty() {
    let mut headers = HeaderMap::new();
    headers.insert("host", "app:8080".parse().unwrap());
    let mut out = Vec::new();
    encode_request_head(
        &mut out,
        &Method::POST,
        "/orders?x=1",
        headers.iter(),
        Framing::Empty,
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "POST /orders?x=1 HTTP/1.1\r\nhost: app:8080\r\ncontent-length: 0\r\n\r\n"
    );
    let mut out = Vec::new();
    encode_request_head(
        &mut out,
        &Method::GET,
        "/",
        headers.iter(),
        Framing::Chunked,
    );
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("transfer-encoding: chunked\r\n")
    );
}

/// A body of several frames, the later ones not ready at once.
fn streamed(parts: &[&'static str]) -> crate::http::Body {
    let frames: Vec<Result<http_body::Frame<Bytes>, crate::http::BoxError>> = parts
        .iter()
        .map(|part| Ok(http_body::Frame::data(Bytes::from_static(part.as_bytes()))))
        .collect();
    let stream = futures_util::stream::iter(frames).then(|frame| async {
        tokio::task::yield_now().await;
        frame
    });
    BodyExt::boxed(http_body_util::StreamBody::new(stream))
}

async fn written(
    body: &mut crate::http::Body,
    framing: Framing,
) -> (Result<(), WriteError>, Vec<u8>) {
    let (mut near, mut far) = tokio::io::duplex(64 * 1024);
    let result = write_message(&mut near, b"HEAD\r\n", body, framing).await;
    drop(near);
    let mut out = Vec::new();
    far.read_to_end(&mut out).await.unwrap();
    (result, out)
}

#[tokio::test]
async fn bodies_are_written_with_the_framing_announced() {
    let mut full = crate::http::full_body("hello");
    assert_eq!(framing_for(&full, true), Framing::Length(5));
    let (result, out) = written(&mut full, Framing::Length(5)).await;
    result.unwrap();
    assert_eq!(out, b"HEAD\r\nhello");

    let mut chunks = streamed(&["ab", "", "cde"]);
    assert_eq!(framing_for(&chunks, true), Framing::Chunked);
    assert_eq!(framing_for(&chunks, false), Framing::UntilClose);
    let (result, out) = written(&mut chunks, Framing::Chunked).await;
    result.unwrap();
    assert_eq!(out, b"HEAD\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n");

    let mut empty = crate::http::empty_body();
    assert_eq!(framing_for(&empty, true), Framing::Empty);
    let (result, out) = written(&mut empty, Framing::Empty).await;
    result.unwrap();
    assert_eq!(out, b"HEAD\r\n");

    // A body longer or shorter than its announced length is an error, not a corrupt stream.
    let mut long = crate::http::full_body("too long");
    assert!(matches!(
        written(&mut long, Framing::Length(3)).await.0,
        Err(WriteError::Length { declared: 3, .. })
    ));
    let mut short = streamed(&["ab"]);
    assert!(matches!(
        written(&mut short, Framing::Length(3)).await.0,
        Err(WriteError::Length {
            declared: 3,
            actual: 2
        })
    ));
}

/// A writer that keeps what each vectored write was given: the lengths of its slices.
#[derive(Default)]
struct SliceLog(Vec<Vec<usize>>);

impl tokio::io::AsyncWrite for SliceLog {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.get_mut().0.push(vec![buf.len()]);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let lengths: Vec<usize> = bufs.iter().map(|slice| slice.len()).collect();
        let total = lengths.iter().sum();
        self.get_mut().0.push(lengths);
        std::task::Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn writes_carry_no_empty_slices() {
    // A head with no body, and a chunked body's later frames (their head already sent).
    let mut log = SliceLog::default();
    write_message(
        &mut log,
        b"HEAD\r\n",
        &mut crate::http::empty_body(),
        Framing::Empty,
    )
    .await
    .unwrap();
    assert_eq!(log.0, [vec![6]]);

    let mut log = SliceLog::default();
    let mut chunks = streamed(&["ab", "cde"]);
    write_message(&mut log, b"HEAD\r\n", &mut chunks, Framing::Chunked)
        .await
        .unwrap();
    assert!(
        log.0.iter().flatten().all(|&length| length > 0),
        "{:?}",
        log.0
    );
    assert_eq!(log.0.iter().flatten().sum::<usize>(), 6 + 7 + 13);

    let mut log = SliceLog::default();
    let mut slices = [
        std::io::IoSlice::new(b""),
        std::io::IoSlice::new(b"a"),
        std::io::IoSlice::new(b""),
        std::io::IoSlice::new(b"bc"),
        std::io::IoSlice::new(b""),
    ];
    write_all_vectored(&mut log, &mut slices).await.unwrap();
    assert_eq!(log.0, [vec![1, 0, 2]]);

    let mut log = SliceLog::default();
    write_all_vectored(&mut log, &mut [std::io::IoSlice::new(b"")])
        .await
        .unwrap();
    assert!(log.0.is_empty());
}

type Ended = Arc<Mutex<Option<(Vec<u8>, &'static str)>>>;

struct Record(Ended);

impl BodyEnd<tokio::io::DuplexStream> for Record {
    fn end(self, reader: Reader<tokio::io::DuplexStream>, ending: Ending) {
        let how = match ending {
            Ending::Complete => "complete",
            Ending::Unread(_) => "unread",
            Ending::Broken => "broken",
        };
        *self.0.lock().unwrap() = Some((reader.buf.to_vec(), how));
    }
}

#[tokio::test]
async fn an_incoming_body_streams_off_the_connection_and_gives_it_back() {
    let (near, far) = tokio::io::duplex(1024);
    let ended: Ended = Arc::default();
    let mut reader = Reader::new(far);
    reader.buf.extend_from_slice(b"4\r\nwiki\r\n");
    let body = IncomingBody::new(reader, Framing::Chunked, Record(ended.clone()));
    let writer = tokio::spawn(async move {
        let mut near = near;
        tokio::io::AsyncWriteExt::write_all(&mut near, b"5\r\npedia\r\n0\r\n\r\nGET /next")
            .await
            .unwrap();
        near
    });
    let collected = body.collect().await.unwrap().to_bytes();
    assert_eq!(&collected[..], b"wikipedia");
    let (rest, how) = ended.lock().unwrap().clone().unwrap();
    assert_eq!(how, "complete");
    assert_eq!(rest, b"GET /next");
    drop(writer.await.unwrap());

    // Dropped before its end, a body says so, with where it stopped.
    let (_near, far) = tokio::io::duplex(1024);
    let ended: Ended = Arc::default();
    let body = IncomingBody::new(Reader::new(far), Framing::Length(10), Record(ended.clone()));
    drop(body);
    assert_eq!(ended.lock().unwrap().clone().unwrap().1, "unread");
}

/// Fills a reader from a duplex stream that was sent `bytes`.
async fn filled(bytes: &[u8], room: usize) -> Reader<tokio::io::DuplexStream> {
    use tokio::io::AsyncWriteExt;
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    client.write_all(bytes).await.unwrap();
    // The writing end stays open: the reader is a connection between requests.
    std::mem::forget(client);
    let mut reader = Reader::new(server);
    std::future::poll_fn(|cx| reader.poll_fill(cx, room))
        .await
        .unwrap();
    reader
}

#[tokio::test]
async fn a_released_read_buffer_serves_the_next_read_on_the_thread() {
    let before = super::io::spare_count();
    let mut first = filled(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 4096).await;
    let head = first.buf.split().freeze();
    // Bytes of the head still in use: the buffer cannot be written again, and is not kept.
    first.release_if_empty(4096);
    assert_eq!(super::io::spare_count(), before);
    assert_eq!(first.buf.capacity(), 0, "an idle reader holds no buffer");
    drop(head);

    let mut second = filled(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 4096).await;
    let memory = second.buf.as_ptr();
    drop(second.buf.split().freeze());
    second.release_if_empty(4096);
    assert_eq!(super::io::spare_count(), before + 1);
    assert_eq!(second.buf.capacity(), 0);
    let third = filled(b"x", 4096).await;
    assert_eq!(super::io::spare_count(), before);
    assert_eq!(
        third.buf.as_ptr(),
        memory,
        "the spare buffer, from its start"
    );
    assert!(third.buf.capacity() >= 4096);
}

#[tokio::test]
async fn the_spare_read_buffers_are_bounded() {
    let mut readers = Vec::new();
    for _ in 0..super::io::SPARE_KEPT_AT_MOST + 10 {
        let mut reader = filled(b"ab", 4096).await;
        reader.buf.clear();
        readers.push(reader);
    }
    for reader in &mut readers {
        reader.release_if_empty(4096);
    }
    assert_eq!(super::io::spare_count(), super::io::SPARE_KEPT_AT_MOST);
}

#[test]
fn a_request_body_with_a_coding_besides_chunked_is_not_implemented() {
    // Decoding chunked and framing the body anew would drop the other coding: the upstream
    // would get gzip bytes it was not told about.
    for coded in [
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: x-custom , CHUNKED\r\n\r\n",
    ] {
        let error = framing_of(coded).unwrap_err();
        assert_eq!(
            error.status(),
            StatusCode::NOT_IMPLEMENTED,
            "{coded:?}: {error}"
        );
    }
    // Responses keep their framing: the gateway cannot refuse what an upstream sent.
    let coded = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(
        response_framing(&Method::GET, &coded).unwrap(),
        Framing::Chunked
    );
}

#[test]
fn an_http11_request_has_exactly_one_host_and_it_names_a_host() {
    let refused = |text: &str| {
        let error = request(text).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{text:?}: {error}");
        error.to_string()
    };
    assert!(refused("GET / HTTP/1.1\r\nX-A: 1\r\n\r\n").contains("must have a Host header"));
    // The gateway would route by one and an upstream could read the other.
    assert!(
        refused("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nHOST: b\r\n\r\n")
            .contains("more than one Host header")
    );
    assert!(refused("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n").contains("invalid Host header"));
    // An absolute-form target still needs Host (RFC 9112 3.2), though it overrides it.
    refused("GET http://a/ HTTP/1.1\r\n\r\n");
    // HTTP/1.0 predates Host.
    assert!(request("GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    assert!(
        request("GET / HTTP/1.1\r\nhost: a:8080\r\n\r\n")
            .unwrap()
            .is_some()
    );
}

/// A body on a duplex stream with `limit` between bytes, and the stream's writing end.
fn stalling_body(
    framing: Framing,
    limit: std::time::Duration,
) -> (
    IncomingBody<tokio::io::DuplexStream, Record>,
    tokio::io::DuplexStream,
    Ended,
) {
    let (near, far) = tokio::io::duplex(1024);
    let ended: Ended = Arc::default();
    let body =
        IncomingBody::new(Reader::new(far), framing, Record(ended.clone())).with_stall_limit(limit);
    (body, near, ended)
}

async fn send_later(mut near: tokio::io::DuplexStream, after_ms: u64, bytes: &'static [u8]) {
    tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
    tokio::io::AsyncWriteExt::write_all(&mut near, bytes)
        .await
        .unwrap();
    // Kept open: the peer stays connected, it only stops sending.
    std::mem::forget(near);
}

#[tokio::test]
async fn a_body_whose_peer_stops_sending_fails_after_its_stall_limit() {
    let limit = std::time::Duration::from_millis(150);
    let (body, near, ended) = stalling_body(Framing::Length(10), limit);
    tokio::spawn(send_later(near, 0, b"abc"));
    let started = tokio::time::Instant::now();
    let error = tokio::time::timeout(limit * 10, body.collect())
        .await
        .expect("the stalled body never failed")
        .unwrap_err();
    assert!(started.elapsed() >= limit);
    let stalled = error.downcast_ref::<BodyError>().unwrap();
    assert!(
        matches!(stalled, BodyError::Stalled(after) if *after == limit),
        "{stalled}"
    );
    assert_eq!(ended.lock().unwrap().clone().unwrap().1, "broken");
}

#[tokio::test]
async fn the_stall_limit_counts_each_wait_not_the_whole_body() {
    // Six bytes over about 600 ms, never more than 100 ms apart: slower in total than the
    // limit, never stalled.
    let limit = std::time::Duration::from_millis(250);
    let (body, mut near, ended) = stalling_body(Framing::Length(6), limit);
    tokio::spawn(async move {
        for _ in 0..6 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            tokio::io::AsyncWriteExt::write_all(&mut near, b"x")
                .await
                .unwrap();
        }
        std::mem::forget(near);
    });
    let collected = body.collect().await.unwrap().to_bytes();
    assert_eq!(&collected[..], b"xxxxxx");
    assert_eq!(ended.lock().unwrap().clone().unwrap().1, "complete");
}

#[tokio::test]
async fn a_consumer_slow_to_come_back_is_not_held_against_the_peer() {
    // The first wait arms the timer; the consumer then takes the bytes and comes back only
    // after the limit has passed (an upstream slow to read what it was sent). The wait that
    // starts then is counted afresh.
    let limit = std::time::Duration::from_millis(200);
    let (mut body, mut near, _ended) = stalling_body(Framing::Length(6), limit);
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        tokio::io::AsyncWriteExt::write_all(&mut near, b"abc")
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
        tokio::io::AsyncWriteExt::write_all(&mut near, b"def")
            .await
            .unwrap();
        std::mem::forget(near);
    });
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"abc");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&second[..], b"def");
}

//! The HTTP/1.1 codec on every proxied request: a request head parsed into an absolute URI
//! and a header map, an upstream's response head parsed, a response head written, and a
//! chunked body decoded. Beside each, httparse alone on the same bytes: what the codec
//! costs over the parser it builds on.

#[path = "support/allocator.rs"]
mod allocator;

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use ferrogate::h1::{
    ConnectionHeader, Decoder, Framing, RecentNames, Step, encode_response_head, parse_request,
    parse_response,
};

/// What a browser sends: a dozen fields, cookies included.
const BROWSER_REQUEST: &[u8] = b"GET /api/orders?page=2&size=20 HTTP/1.1\r\n\
Host: gateway.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: application/json, text/plain, */*\r\n\
Accept-Language: en-GB,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: https://shop.example.com/orders\r\n\
Origin: https://shop.example.com\r\n\
Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl\r\n\
Cookie: session=7f3c2a; theme=dark; consent=yes\r\n\
Connection: keep-alive\r\n\
Sec-Fetch-Mode: cors\r\n\r\n";

/// What nginx answers with a 1 KiB body.
const UPSTREAM_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Server: nginx/1.22.1\r\n\
Date: Tue, 01 Dec 2026 08:08:05 GMT\r\n\
Content-Type: text/plain\r\n\
Content-Length: 1024\r\n\
Connection: keep-alive\r\n\r\n";

fn bench(c: &mut Criterion) {
    let scheme = http::uri::Scheme::HTTP;
    let mut group = c.benchmark_group("h1");
    group.bench_function("parse_browser_request", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(BROWSER_REQUEST);
            black_box(parse_request(&mut buf, 64 * 1024, Some(&scheme)).ok())
        })
    });
    group.bench_function("httparse_browser_request", |b| {
        b.iter(|| {
            let mut slots = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut slots);
            black_box(
                request
                    .parse(black_box(BROWSER_REQUEST))
                    .ok()
                    .map(|s| s.is_complete()),
            )
        })
    });
    group.bench_function("parse_upstream_response", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(UPSTREAM_RESPONSE);
            let mut names = RecentNames::default();
            black_box(parse_response(&mut buf, 64 * 1024, &mut names).ok())
        })
    });
    // The usual case: a pooled connection's previous response had the same fields.
    group.bench_function("parse_upstream_response_again", |b| {
        let mut names = RecentNames::default();
        b.iter(|| {
            let mut buf = BytesMut::from(UPSTREAM_RESPONSE);
            black_box(parse_response(&mut buf, 64 * 1024, &mut names).ok())
        })
    });
    let response = parse_response(
        &mut BytesMut::from(UPSTREAM_RESPONSE),
        64 * 1024,
        &mut RecentNames::default(),
    )
    .ok()
    .flatten()
    .expect("a response head");
    group.bench_function("encode_response_head", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            out.clear();
            encode_response_head(
                &mut out,
                response.status,
                &response.headers,
                Framing::Length(1024),
                ConnectionHeader::Default,
                false,
            );
            black_box(out.len())
        })
    });
    let mut chunked = Vec::new();
    for _ in 0..16 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'x'; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let chunked = Bytes::from(chunked);
    group.bench_function("decode_chunked_16_kib", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&chunked[..]);
            let mut decoder = Decoder::new(Framing::Chunked);
            let mut total = 0;
            while let Ok(Step::Data(data)) = decoder.decode(&mut buf) {
                total += data.len();
            }
            black_box(total)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! What both reference floors (the tokio one, `perf-floor`, and the io_uring one,
//! `perf-floor-uring`) do to a request and a response between reading and writing them, so
//! that the two differ only in how they reach the kernel.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

const MAX_HEADERS: usize = 64;

pub struct Head {
    pub first_line: Bytes,
    pub headers: HeaderMap,
}

pub fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Parses a head off the front of `buf` once it is complete: the first line as sent, and
/// the fields, whose values share the head's bytes.
pub fn take_head(buf: &mut BytesMut, request: bool) -> io::Result<Option<Head>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let (length, spans) = {
        let (status, parsed) = if request {
            let mut head = httparse::Request::new(&mut fields);
            let status = head.parse(buf).map_err(|_| invalid("request head"))?;
            (status, head.headers.len())
        } else {
            let mut head = httparse::Response::new(&mut fields);
            let status = head.parse(buf).map_err(|_| invalid("response head"))?;
            (status, head.headers.len())
        };
        let httparse::Status::Complete(length) = status else {
            return Ok(None);
        };
        let base = buf.as_ptr() as usize;
        let spans: Vec<(HeaderName, usize, usize)> = fields[..parsed]
            .iter()
            .map(|field| {
                let name = HeaderName::from_bytes(field.name.as_bytes())
                    .map_err(|_| invalid("field name"))?;
                let start = field.value.as_ptr() as usize - base;
                Ok((name, start, start + field.value.len()))
            })
            .collect::<io::Result<_>>()?;
        (length, spans)
    };
    let head = buf.split_to(length).freeze();
    let line_end = head.iter().position(|&byte| byte == b'\r').unwrap_or(0);
    let mut headers = HeaderMap::with_capacity(spans.len() + 3);
    for (name, start, end) in spans {
        let value = HeaderValue::from_maybe_shared(head.slice(start..end))
            .map_err(|_| invalid("field value"))?;
        headers.append(name, value);
    }
    Ok(Some(Head {
        first_line: head.slice(..line_end),
        headers,
    }))
}

pub fn put_head(out: &mut BytesMut, first_line: &[u8], headers: &HeaderMap) {
    out.put_slice(first_line);
    out.put_slice(b"\r\n");
    for (name, value) in headers {
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
}

/// Turns a client's request head into the upstream's, as Ferrogate's ReverseProxyHandler
/// does: the upstream's `Host`, and the three `X-Forwarded-*` fields. Requests with a body
/// are refused: the floors proxy none.
pub fn forward_request(
    headers: &mut HeaderMap,
    upstream_host: &HeaderValue,
    forwarded_for: &HeaderValue,
) -> io::Result<()> {
    if headers.contains_key(http::header::CONTENT_LENGTH)
        || headers.contains_key(http::header::TRANSFER_ENCODING)
    {
        return Err(invalid("request bodies are not proxied"));
    }
    if let Some(host) = headers.remove(http::header::HOST) {
        headers.insert("x-forwarded-host", host);
    }
    headers.insert(http::header::HOST, upstream_host.clone());
    headers.insert("x-forwarded-for", forwarded_for.clone());
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    Ok(())
}

/// The response body's length; the floors relay only bodies that declare one.
pub fn content_length(headers: &HeaderMap) -> io::Result<usize> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.trim().parse().ok())
        .ok_or_else(|| invalid("a response without Content-Length"))
}

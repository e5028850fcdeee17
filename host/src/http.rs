//! The message types every handler and filter works with.
//!
//! Bodies are boxed so that a handler can hand a response streamed from an upstream straight
//! back to the client, and so that native and plugin handlers share one type.

pub mod header_edits;
pub mod header_lookup;
pub mod stall;
pub mod upgrade;
pub mod uri;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming message body.
pub type Body = BoxBody<Bytes, BoxError>;
pub type Request = http::Request<Body>;
pub type Response = http::Response<Body>;

pub fn empty_body() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A short plain-text response, used for errors the gateway itself produces.
pub fn text_response(status: http::StatusCode, text: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(full_body(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub fn json_response(status: http::StatusCode, value: &serde_json::Value) -> Response {
    let mut response = http::Response::new(full_body(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The outcome of reading a body up to a limit without losing it.
pub enum Buffered {
    Complete(Bytes),
    /// Over the limit: the body, whole again (what was read, then the unread rest).
    TooLarge(Body),
}

/// Reads a body into memory up to `limit` bytes. A larger body is not lost: it comes back
/// reassembled so the request can still be forwarded, only not inspected.
pub async fn buffer_up_to(body: Body, limit: usize) -> Result<Buffered, BoxError> {
    let mut body = body;
    let mut buffer = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            // Trailers end the body; a buffered copy has nowhere to carry them.
            break;
        };
        buffer.extend_from_slice(&data);
        if buffer.len() > limit {
            let prefixed = Prefixed {
                prefix: Some(buffer.freeze()),
                rest: body,
            };
            return Ok(Buffered::TooLarge(prefixed.boxed()));
        }
    }
    Ok(Buffered::Complete(buffer.freeze()))
}

/// A body whose first bytes were already read: those, then the rest of the stream.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Body,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return std::task::Poll::Ready(Some(Ok(http_body::Frame::data(prefix))));
        }
        std::pin::Pin::new(&mut self.rest).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |prefix| prefix.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(rest.lower() + prefix);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + prefix);
        }
        hint
    }
}

/// A request body that failed on the client's side: malformed framing, the client closing
/// the connection midway or sending nothing for too long. Whoever reads the body passes it
/// on inside its own error; the gateway then answers for the client's failure (400, or 408
/// for a stall) rather than blaming the upstream or itself.
#[derive(Debug, thiserror::Error)]
#[error("the client's request body failed: {reason}")]
pub struct ClientBodyError {
    stalled: bool,
    reason: BoxError,
}

impl ClientBodyError {
    pub fn new(reason: BoxError, stalled: bool) -> Self {
        ClientBodyError { stalled, reason }
    }

    pub fn status(&self) -> http::StatusCode {
        if self.stalled {
            http::StatusCode::REQUEST_TIMEOUT
        } else {
            http::StatusCode::BAD_REQUEST
        }
    }

    /// The client's body failure among `error` and its sources, however deep a reader
    /// wrapped it.
    pub fn find<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e ClientBodyError> {
        find_source(error)
    }
}

/// The first error of type `T` among `error` and its sources.
pub fn find_source<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("the body is larger than the {limit} bytes the gateway buffers")]
    TooLarge { limit: usize },
    #[error("the body could not be read: {0}")]
    Read(BoxError),
}

/// IG's names for the status classes, used in metrics labels and expressions.
pub fn status_family(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "informational",
        200..=299 => "successful",
        300..=399 => "redirection",
        400..=499 => "client_error",
        500..=599 => "server_error",
        _ => "unknown",
    }
}

pub trait RequestExt {
    /// A copy of the request line and headers with an empty body, for handlers that replay a
    /// request (the body is replayed separately from a buffered copy).
    fn clone_without_body(&self) -> Request;
}

impl RequestExt for Request {
    fn clone_without_body(&self) -> Request {
        let mut copy = http::Request::new(empty_body());
        *copy.method_mut() = self.method().clone();
        *copy.uri_mut() = self.uri().clone();
        *copy.version_mut() = self.version();
        *copy.headers_mut() = self.headers().clone();
        copy
    }
}

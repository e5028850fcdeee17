//! The message types every handler and filter works with.
//!
//! Bodies are boxed so that a handler can hand a response streamed from an upstream straight
//! back to the client, and so that native and plugin handlers share one type.

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

/// Reads a whole body into memory, refusing more than `limit` bytes so that a hostile or
/// mistaken client cannot make the gateway buffer without bound.
///
pub async fn collect_bounded(body: Body, limit: usize) -> Result<Bytes, CollectError> {
    {
        let mut body = body;
        let mut buffer = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(CollectError::Read)?;
            if let Ok(data) = frame.into_data() {
                if buffer.len() + data.len() > limit {
                    return Err(CollectError::TooLarge { limit });
                }
                buffer.extend_from_slice(&data);
            }
        }
        Ok(buffer.freeze())
    }
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

//! HTTP/1.1 on both sides of the gateway: message heads, body framing and streaming bodies
//! off a connection. The server (`server::h1`) and the upstream client (`proxy::h1`) are
//! built on it; hyper still carries HTTP/2 both ways.
//!
//! Why not hyper for HTTP/1.1 too: a proxy's CPU per request is mostly spent here. Doing it
//! in the connection's own task means no dispatcher task and channel per upstream connection,
//! head and small body written with one `writev`, header values sliced out of the read
//! buffer instead of copied, and idle connections that hold no buffer at all.

pub mod body;
mod date;
pub mod head;
pub mod io;
mod names;

#[cfg(test)]
mod tests;

pub use body::{
    BodyEnd, BodyError, Decoder, Ending, IncomingBody, Step, WriteError, framing_for, skip_body,
    write_message,
};
pub use head::{
    ConnectionHeader, ConnectionTokens, Framing, HeadError, HeadFacts, MAX_HEADERS, RequestHead,
    ResponseHead, connection_has, encode_request_head, encode_response_head, list_items,
    parse_request, parse_response, request_framing, response_framing, wants_keep_alive,
};
pub use io::{Joined, Reader, Transport, write_all_vectored};
pub use names::RecentNames;

//! What requests and responses have in common, for filters that work on either (IG's
//! `messageType: REQUEST | RESPONSE`).

use serde::de::{Deserialize, Deserializer, Error as _};

use crate::{HeaderValues, Phases, Request, Response};

#[cfg(test)]
mod tests;

/// The operations a [`Request`] and a [`Response`] share, so that one function serves both:
///
/// ```no_run
/// use ferrogate_sdk::Message;
///
/// fn tag(message: &impl Message) -> Result<(), String> {
///     message.remove_header("Server");
///     message.append_header("X-Gateway", "ferrogate")
/// }
/// ```
///
/// Each method is the handle's own method of the same name.
pub trait Message {
    /// Every value of a header, in order; empty when absent. Names are case-insensitive.
    fn header(&self, name: &str) -> HeaderValues;
    /// The first value of a header, if any.
    fn first_header(&self, name: &str) -> Option<String>;
    /// The names of the headers present.
    fn header_names(&self) -> Vec<String>;
    /// Replaces every value of a header; an empty list removes it.
    fn set_header(&self, name: &str, values: &[String]) -> Result<(), String>;
    /// Adds a value after those already there.
    fn append_header(&self, name: &str, value: &str) -> Result<(), String>;
    /// Removes every value of a header.
    fn remove_header(&self, name: &str);
    /// Removes every header.
    fn clear_headers(&self);
    /// The body, buffered by the host, up to `limit` bytes; an error when it is larger.
    fn body(&self, limit: u64) -> Result<Vec<u8>, String>;
    /// Replaces the body.
    fn set_body(&self, body: &[u8]);
}

macro_rules! delegate_message {
    ($ty:ty) => {
        impl Message for $ty {
            fn header(&self, name: &str) -> HeaderValues {
                <$ty>::header(self, name)
            }
            fn first_header(&self, name: &str) -> Option<String> {
                <$ty>::first_header(self, name)
            }
            fn header_names(&self) -> Vec<String> {
                <$ty>::header_names(self)
            }
            fn set_header(&self, name: &str, values: &[String]) -> Result<(), String> {
                <$ty>::set_header(self, name, values)
            }
            fn append_header(&self, name: &str, value: &str) -> Result<(), String> {
                <$ty>::append_header(self, name, value)
            }
            fn remove_header(&self, name: &str) {
                <$ty>::remove_header(self, name)
            }
            fn clear_headers(&self) {
                <$ty>::clear_headers(self)
            }
            fn body(&self, limit: u64) -> Result<Vec<u8>, String> {
                <$ty>::body(self, limit)
            }
            fn set_body(&self, body: &[u8]) {
                <$ty>::set_body(self, body)
            }
        }
    };
}

delegate_message!(Request);
delegate_message!(Response);

/// IG's `messageType` setting: which message a filter works on. Deserialized from
/// `"REQUEST"` or `"RESPONSE"`, ignoring case as IG reads enumerations.
///
/// ```
/// use ferrogate_sdk::{MessageType, Phases};
///
/// #[derive(serde::Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Config {
///     message_type: MessageType,
/// }
///
/// let config: Config = serde_json::from_str(r#"{"messageType": "RESPONSE"}"#).unwrap();
/// assert_eq!(config.message_type, MessageType::Response);
/// assert_eq!(config.message_type.phases(), Phases::RESPONSE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The request, before the rest of the chain.
    Request,
    /// The response, on the way back.
    Response,
}

impl MessageType {
    /// The one phase a filter on this message type uses (for [`Filter::phases`](crate::Filter::phases)).
    pub fn phases(self) -> Phases {
        match self {
            MessageType::Request => Phases::REQUEST,
            MessageType::Response => Phases::RESPONSE,
        }
    }
}

impl<'de> Deserialize<'de> for MessageType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.eq_ignore_ascii_case("REQUEST") {
            Ok(MessageType::Request)
        } else if text.eq_ignore_ascii_case("RESPONSE") {
            Ok(MessageType::Response)
        } else {
            Err(D::Error::custom(format!(
                "\"{text}\" is not a message type: use REQUEST or RESPONSE"
            )))
        }
    }
}

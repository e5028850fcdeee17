//! Internal to `ferrogate-sdk`: the `handler-plugin` world's bindings, which also hold the
//! bindings of every host import (the SDK's filter world reuses them). Use `ferrogate-sdk`.
#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../wit",
    world: "handler-plugin",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "ferrogate_sdk::bindings::handler",
});

// ---------------------------------------------------------------------------------------------
// Conveniences on the message handles

macro_rules! message_conveniences {
    ($ty:ty) => {
        impl $ty {
            /// The first value of a header, if any.
            pub fn first_header(&self, name: &str) -> Option<String> {
                self.header(name).into_iter().next()
            }

            /// Removes every header, for a message about to be rebuilt from scratch.
            pub fn clear_headers(&self) {
                for name in self.header_names() {
                    self.remove_header(&name);
                }
            }
        }
    };
}

message_conveniences!(ferrogate::plugin::http::Request);
message_conveniences!(ferrogate::plugin::http::Response);

impl ferrogate::plugin::http::Response {
    /// A response with a status and a text body (`Content-Type: text/plain; charset=utf-8`).
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        let resp = Self::new(status);
        let _ = resp.set_header("Content-Type", &["text/plain; charset=utf-8".to_string()]);
        resp.set_body(body.into().as_bytes());
        resp
    }

    /// Makes this response the same as `source` (status, every header, body): what a filter
    /// does when, in the response phase, another handler's answer replaces the one the chain
    /// produced. A `source` body larger than `body_limit` bytes is an error, and this response
    /// is then left half replaced: fail the request.
    pub fn replace_with(&self, source: &Self, body_limit: u64) -> Result<(), String> {
        self.set_status(source.status())?;
        self.clear_headers();
        for name in source.header_names() {
            self.set_header(&name, &source.header(&name))?;
        }
        self.set_body(&source.body(body_limit)?);
        Ok(())
    }
}

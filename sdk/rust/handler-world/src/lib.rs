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

impl ferrogate::plugin::http::Request {
    /// The first value of a header, if any.
    pub fn first_header(&self, name: &str) -> Option<String> {
        self.header(name).into_iter().next()
    }
}

impl ferrogate::plugin::http::Response {
    /// A response with a status and a text body (`Content-Type: text/plain; charset=utf-8`).
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        let resp = Self::new(status);
        let _ = resp.set_header("Content-Type", &["text/plain; charset=utf-8".to_string()]);
        resp.set_body(body.into().as_bytes());
        resp
    }

    /// The first value of a header, if any.
    pub fn first_header(&self, name: &str) -> Option<String> {
        self.header(name).into_iter().next()
    }
}

//! `ObjectTag` built on the bare `filter-plugin` world, without the SDK and without the
//! optional `objects` export: what a component from another language looks like. Response
//! phase only: appends `X-Objects: <object name>` and `X-Tag-Build: plain-world`. Tests swap it
//! for the SDK's `object-tag` to see the gateway fall back to one call per filter.

wit_bindgen::generate!({
    path: "../../../sdk/wit",
    world: "filter-plugin",
});

use exports::ferrogate::plugin::filter::{Guest as FilterGuest, RequestOutcome};
use exports::ferrogate::plugin::plugin::{Guest as PluginGuest, Kind, TypeInfo};
use ferrogate::plugin::config;
use ferrogate::plugin::http::{Request, Response};

struct PlainTag;

impl PluginGuest for PlainTag {
    fn types() -> Vec<TypeInfo> {
        vec![TypeInfo {
            name: "ObjectTag".into(),
            kind: Kind::Filter,
        }]
    }
}

impl FilterGuest for PlainTag {
    fn init() -> Result<(), String> {
        config::phases(false, true);
        Ok(())
    }

    fn on_request(_request: &Request) -> Result<RequestOutcome, String> {
        Ok(RequestOutcome::Next)
    }

    fn on_response(_request: &Request, response: &Response) -> Result<(), String> {
        response.append_header("X-Objects", &config::object_name())?;
        response.append_header("X-Tag-Build", "plain-world")
    }
}

export!(PlainTag);

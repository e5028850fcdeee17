//! Which adjacent filters form runs, with the embedded HeaderFilter; what runs do to requests
//! is tested end to end (tests/e2e/plugins_runs.rs).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::super::state::ObjectInfo;
use super::super::{InstanceMode, Limits, embedded, engine, loader};
use super::*;
use crate::handler::FnHandler;

fn header_filter_file() -> Arc<PluginFile> {
    let runtime = engine::runtime(engine::Sizing::default()).unwrap();
    let plugin = embedded::EMBEDDED
        .iter()
        .find(|plugin| plugin.name == "header-filter")
        .unwrap();
    loader::open_embedded(runtime, plugin.name, plugin.wasm).unwrap()
}

/// A HeaderFilter object adding `X-Order: <name>` to `message_type`, initialised as the heap
/// initialises objects (which is when it declares its phases). The value is an expression:
/// with a literal one, the object declares a fixed edit and makes no call (see
/// [`literal_header_filter`]).
fn header_filter(
    file: &Arc<PluginFile>,
    name: &str,
    message_type: &str,
    instances: InstanceMode,
) -> Arc<dyn Filter> {
    header_filter_adding(
        file,
        name,
        &format!("${{'{name}'}}"),
        message_type,
        instances,
    )
}

fn literal_header_filter(
    file: &Arc<PluginFile>,
    name: &str,
    message_type: &str,
) -> Arc<dyn Filter> {
    header_filter_adding(file, name, name, message_type, InstanceMode::Reuse)
}

fn header_filter_adding(
    file: &Arc<PluginFile>,
    name: &str,
    value: &str,
    message_type: &str,
    instances: InstanceMode,
) -> Arc<dyn Filter> {
    let config = serde_json::json!({"messageType": message_type, "add": {"X-Order": [value]}});
    let mut info = ObjectInfo::probe(&file.origin);
    info.type_name = "HeaderFilter".into();
    info.object_name = name.into();
    info.config = config.to_string();
    info.declaration = config.to_string();
    let _ = info.handlers.set(Vec::new());
    let _ = info.filters.set(Vec::new());
    let limits = Limits {
        instances,
        ..Limits::default()
    };
    let object = Arc::new(PluginObject::new(Arc::new(info), file.clone(), limits));
    let (instance, _) = crate::plugin::block_on(object.instantiate(false))
        .unwrap()
        .map_err(|error| super::super::object::describe(&error))
        .unwrap();
    object.checkin(instance);
    Arc::new(super::super::object::PluginFilter(object))
}

struct Native;

impl Filter for Native {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        next.handle(exchange)
    }
}

/// What `fuse` made of the filters: the size of each entry, 1 for a filter left alone.
fn shape(filters: &[Arc<dyn Filter>]) -> Vec<usize> {
    let fused = fuse(filters.to_vec());
    let originals: Vec<*const ()> = filters
        .iter()
        .map(|filter| Arc::as_ptr(filter).cast::<()>())
        .collect();
    let mut at = 0;
    fused
        .iter()
        .map(|filter| {
            let size = if originals.get(at) == Some(&Arc::as_ptr(filter).cast::<()>()) {
                1
            } else {
                // Not one of the originals: a run, of the members from here on.
                let run = fused_members(filter);
                assert!(run >= 2, "a run of {run}");
                run
            };
            at += size;
            size
        })
        .collect()
}

/// The number of members of a run, found by running it: each member adds its `X-Order`.
fn fused_members(filter: &Arc<dyn Filter>) -> usize {
    let handler =
        FnHandler(|_: &mut Exchange| Ok(crate::http::text_response(http::StatusCode::OK, "ok")));
    let mut exchange =
        crate::exchange::test_support::exchange("GET", "http://gateway.example.com/");
    let response = crate::plugin::block_on(filter.filter(&mut exchange, Next::new(&[], &handler)))
        .unwrap()
        .unwrap();
    exchange.request.headers().get_all("x-order").iter().count()
        + response.headers().get_all("x-order").iter().count()
}

#[test]
fn adjacent_single_phase_filters_of_one_component_form_runs() {
    let file = header_filter_file();
    let reuse = InstanceMode::Reuse;
    let request = |name: &str| header_filter(&file, name, "REQUEST", reuse);
    let response = |name: &str| header_filter(&file, name, "RESPONSE", reuse);
    let native: Arc<dyn Filter> = Arc::new(Native);

    assert_eq!(shape(&[response("a"), response("b"), response("c")]), [3]);
    // A change of phase ends a run; so does a native filter; one filter alone is no run.
    assert_eq!(
        shape(&[
            request("a"),
            request("b"),
            response("c"),
            response("d"),
            native.clone(),
            response("e"),
        ]),
        [2, 2, 1, 1]
    );
    assert_eq!(shape(&[response("a")]), [1]);
    assert_eq!(shape(&[]), Vec::<usize>::new());
    // A fresh instance per request is per object by definition.
    let fresh = header_filter(&file, "f", "RESPONSE", InstanceMode::Fresh);
    assert_eq!(shape(&[fresh, response("g")]), [1, 1]);
    // Objects whose phase the host does (literal values) make no call, so they join no run.
    let literal = |name: &str| literal_header_filter(&file, name, "RESPONSE");
    assert_eq!(
        shape(&[literal("h"), literal("i"), literal("j")]),
        [1, 1, 1]
    );
    assert_eq!(
        shape(&[response("k"), literal("l"), response("m")]),
        [1, 1, 1]
    );
}

#[test]
fn members_of_a_run_keep_no_idle_instance_of_their_own() {
    let file = header_filter_file();
    let filters = [
        header_filter(&file, "a", "RESPONSE", InstanceMode::Reuse),
        header_filter(&file, "b", "RESPONSE", InstanceMode::Reuse),
    ];
    let alone = header_filter(&file, "alone", "REQUEST", InstanceMode::Reuse);
    let idle = |filter: &Arc<dyn Filter>| filter.plugin_object().unwrap().idle_instances();
    assert_eq!(idle(&filters[0]), 1);
    let fused = fuse([filters.to_vec(), vec![alone.clone()]].concat());
    assert_eq!(fused.len(), 2);
    assert_eq!((idle(&filters[0]), idle(&filters[1])), (0, 0));
    assert_eq!(idle(&alone), 1);
}

#[test]
fn every_standard_filter_component_serves_runs() {
    let runtime = engine::runtime(engine::Sizing::default()).unwrap();
    for plugin in embedded::EMBEDDED {
        let file = loader::open_embedded(runtime, plugin.name, plugin.wasm).unwrap();
        let compiled = file.current();
        let is_filter = matches!(compiled.exports, loader::Exports::Filter { .. });
        assert_eq!(compiled.objects().is_some(), is_filter, "{}", plugin.name);
    }
}

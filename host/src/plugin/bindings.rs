//! Host bindings generated from the WIT contract in `sdk/wit/plugin.wit`.

pub use wasmtime::component::Resource;

/// The request being processed: the live request of the exchange the store holds for the call.
pub struct RequestRes;
/// A response: the chain's, moved into the store for the call, or one the plugin built.
pub struct ResponseRes(pub crate::http::Response);
/// A compiled `${...}` expression.
pub struct ExpressionRes(pub crate::expr::Expression);
/// An index into the handlers the object resolved during `init`.
pub struct HandlerRefRes(pub usize);

mod filter_world {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "filter-plugin",
        // Only imports that wait (on a body, a handler, an outbound exchange) are async:
        // every other import is a plain call, without a boxed future per call.
        imports: {
            "ferrogate:plugin/http.[method]request.body": async | trappable,
            "ferrogate:plugin/http.[method]response.body": async | trappable,
            "ferrogate:plugin/heap.[method]handler-ref.call": async | trappable,
            "ferrogate:plugin/client.send": async | trappable,
            "ferrogate:plugin/client.send-through": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        with: {
            "ferrogate:plugin/http.request": super::RequestRes,
            "ferrogate:plugin/http.response": super::ResponseRes,
            "ferrogate:plugin/expressions.expression": super::ExpressionRes,
            "ferrogate:plugin/heap.handler-ref": super::HandlerRefRes,
        },
    });
}

mod handler_world {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "handler-plugin",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "ferrogate:plugin/http": super::filter_world::ferrogate::plugin::http,
            "ferrogate:plugin/log": super::filter_world::ferrogate::plugin::log,
            "ferrogate:plugin/config": super::filter_world::ferrogate::plugin::config,
            "ferrogate:plugin/exchange": super::filter_world::ferrogate::plugin::exchange,
            "ferrogate:plugin/expressions": super::filter_world::ferrogate::plugin::expressions,
            "ferrogate:plugin/heap": super::filter_world::ferrogate::plugin::heap,
            "ferrogate:plugin/client": super::filter_world::ferrogate::plugin::client,
            "ferrogate:plugin/counters": super::filter_world::ferrogate::plugin::counters,
            "ferrogate:plugin/metrics": super::filter_world::ferrogate::plugin::metrics,
            "ferrogate:plugin/plugin": super::filter_world::exports::ferrogate::plugin::plugin,
        },
    });
}

pub use filter_world::exports::ferrogate::plugin::filter::RequestOutcome;
pub use filter_world::exports::ferrogate::plugin::plugin::{Kind, TypeInfo};
pub use filter_world::ferrogate::plugin as imports;
pub use filter_world::ferrogate::plugin::config::DecorationPoint;
pub use filter_world::{FilterPlugin, FilterPluginPre};
pub use handler_world::{HandlerPlugin, HandlerPluginPre};

/// The handler world binds the `plugin` interface separately; its kinds are the same enum.
pub fn handler_kind(kind: handler_world::exports::ferrogate::plugin::plugin::Kind) -> Kind {
    use handler_world::exports::ferrogate::plugin::plugin::Kind as HandlerKind;
    match kind {
        HandlerKind::Filter => Kind::Filter,
        HandlerKind::Handler => Kind::Handler,
        HandlerKind::Decorator => Kind::Decorator,
    }
}

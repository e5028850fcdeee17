//! What a store holds: an empty WASI context (no files, network or environment; stderr kept
//! for the log), the resource table, the object the instance serves and, during a call, the
//! exchange being processed.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::exchange::Exchange;
use crate::handler::Handler;
use crate::http::header_edits::HeaderEdits;

/// A plugin heap object as the imports see it.
pub struct ObjectInfo {
    pub type_name: String,
    pub object_name: String,
    pub route: Option<String>,
    /// The origin file, for logs.
    pub file: String,
    /// `config` (or the decoration value) as JSON text.
    pub config: String,
    /// For decorator instances: the `config` of the decorator's heap declaration (IG's
    /// CaptureDecorator `captureEntity` ...), as JSON text; else the same as `config`.
    pub declaration: String,
    /// Secret ids granted by the configuration (values of keys ending in `SecretId`).
    pub secrets: Vec<String>,
    /// The heap's `ClientHandler`, for `client.send`.
    pub client: Option<Arc<dyn Handler>>,
    pub secrets_provider: Option<crate::secrets::SecretsProvider>,
    /// The handlers `heap.resolve-handler` resolved during the first `init`, in order.
    pub handlers: std::sync::OnceLock<Vec<Arc<dyn Handler>>>,
    /// For decorator instances: where this one sits.
    pub decoration_point: Option<super::bindings::DecorationPoint>,
    /// The filters `heap.resolve-filter` resolved during the first `init`, in order.
    pub filters: std::sync::OnceLock<Vec<Arc<dyn crate::handler::Filter>>>,
    /// How much the object may log; `None` (no limit) for an embedded plugin.
    pub log_budget: Option<super::log_budget::LogBudget>,
}

impl ObjectInfo {
    /// No object: what a throwaway instance that only answers `plugin.types` serves.
    pub fn probe(file: &str) -> Self {
        ObjectInfo {
            type_name: String::new(),
            object_name: String::new(),
            route: None,
            file: file.to_owned(),
            config: "{}".into(),
            declaration: "{}".into(),
            secrets: Vec::new(),
            client: None,
            secrets_provider: None,
            handlers: std::sync::OnceLock::new(),
            decoration_point: None,
            filters: std::sync::OnceLock::new(),
            log_budget: None,
        }
    }
}

/// A log record about a plugin object, led by the fields that say which one: its type, heap
/// object, route and origin file. The record's target stays the module that writes it.
macro_rules! object_event {
    ($level:ident, $object:expr, $($fields_and_message:tt)+) => {{
        let object: &$crate::plugin::state::ObjectInfo = $object;
        tracing::$level!(
            plugin_type = %object.type_name,
            object = %object.object_name,
            route = object.route.as_deref().unwrap_or(""),
            file = %object.file,
            $($fields_and_message)+
        )
    }};
}
pub(crate) use object_event;

/// Heap references an object's first `init` asked for, as written (JSON text), in order.
#[derive(Default)]
pub struct PendingRefs {
    pub handlers: Vec<String>,
    pub filters: Vec<String>,
}

pub struct StoreState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    /// The table entry every call passes as its request (see `new`).
    pub request_rep: u32,
    /// The table entry every `on-response` call passes as its response: the chain's response
    /// is swapped into it for the call and back out, so no entry is made per call.
    pub response_rep: u32,
    /// The object the imports act for.
    pub object: Arc<ObjectInfo>,
    /// For an instance serving several objects (`run.rs`), all of them by number; empty for
    /// an instance serving one.
    pub objects: Arc<[Arc<ObjectInfo>]>,
    /// The number of `object` in `objects`.
    pub entered: u32,
    /// During a call, the exchange being processed, lent by swapping it with what the store
    /// held before (a stand-in made once per instance): two moves per call, nothing built.
    pub exchange: Exchange,
    /// Whether `exchange` is the current call's (`init` has none).
    pub in_call: bool,
    /// During the first `init`: the references asked for, resolved by the factory afterwards.
    pub pending_refs: Option<PendingRefs>,
    /// How many handler references this instance's `init` asked for.
    pub refs_asked: usize,
    /// How many filter references this instance's `init` asked for.
    pub filter_refs_asked: usize,
    /// Epoch ticks the current call has run through (its deadline counts these).
    pub ticks: u32,
    /// What `init` declared about how the host runs the object.
    pub declared: Declarations,
    /// The memory cap, where the engine allocates on demand (`engine::Allocation`); the pool
    /// needs none.
    pub limits: wasmtime::StoreLimits,
    /// What the guest writes to stderr, taken and logged after each call.
    pub stderr: super::stderr::Stderr,
}

/// What an object's `init` tells the host about running it, so that the host can leave out
/// calls: kept from the object's first `init`.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    /// `config.phases`; `None` means both.
    pub phases: Option<Phases>,
    /// The request phase, when `init` declared it one the host does itself.
    pub request: Option<HostRequest>,
    /// `config.edit-headers` for the response, parsed: the host does the response phase.
    pub response: Option<HeaderEdits>,
}

/// A request phase the host does in place of calling `on-request`.
#[derive(Debug, Clone)]
pub enum HostRequest {
    /// `config.rebase-requests`, parsed.
    Rebase(http::Uri),
    /// `config.edit-headers` for the request, parsed.
    EditHeaders(HeaderEdits),
}

/// The phases a filter object takes part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    pub request: bool,
    pub response: bool,
}

impl Phases {
    pub const BOTH: Phases = Phases {
        request: true,
        response: true,
    };
}

impl StoreState {
    /// The exchange of the call in progress.
    pub fn current(&self) -> Option<&Exchange> {
        self.in_call.then_some(&self.exchange)
    }

    pub fn current_mut(&mut self) -> Option<&mut Exchange> {
        self.in_call.then_some(&mut self.exchange)
    }

    pub fn new(object: Arc<ObjectInfo>) -> Self {
        let mut table = ResourceTable::new();
        // One handle stands for "the request of the current call" in every call: the guest
        // only ever borrows it, and its methods act on the lent exchange.
        let request_rep = table
            .push(super::bindings::RequestRes)
            .map(|handle| handle.rep())
            .unwrap_or_default();
        let response_rep = table
            .push(super::bindings::ResponseRes(http::Response::new(
                crate::http::empty_body(),
            )))
            .map(|handle| handle.rep())
            .unwrap_or_default();
        let stderr = super::stderr::Stderr::default();
        StoreState {
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            table,
            request_rep,
            response_rep,
            object,
            objects: Arc::new([]),
            entered: 0,
            exchange: Exchange::stand_in(),
            in_call: false,
            pending_refs: None,
            refs_asked: 0,
            filter_refs_asked: 0,
            ticks: 0,
            declared: Declarations::default(),
            limits: wasmtime::StoreLimits::default(),
            stderr,
        }
    }
}

impl StoreState {
    /// The state of an instance serving several objects, acting for the first.
    pub fn serving(objects: Arc<[Arc<ObjectInfo>]>) -> Option<Self> {
        let first = objects.first()?.clone();
        let mut state = StoreState::new(first);
        state.objects = objects;
        Some(state)
    }

    /// Makes object number `object` the one the imports act for; false when there is no such
    /// object (an instance serving one object has only number 0).
    pub fn act_for(&mut self, object: u32) -> bool {
        if object == self.entered {
            return true;
        }
        let Some(info) = usize::try_from(object)
            .ok()
            .and_then(|index| self.objects.get(index))
        else {
            return false;
        };
        self.object = info.clone();
        self.entered = object;
        true
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

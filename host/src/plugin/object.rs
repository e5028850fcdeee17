//! Plugin heap objects: instances (reused from a small pool or fresh per request), the calls
//! with their CPU deadline, and the filter, handler and decorator adapters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::{ComponentNamedList, Lift, Lower, Resource, TypedFunc};
use wasmtime::{Store, UpdateDeadline};

use super::bindings::{DecorationPoint, RequestOutcome, RequestRes, ResponseRes};
use super::loader::{Compiled, Exports, PluginFile};
use super::pool::{InstantiationError, Pool, SlotsBack, Versioned};
use super::state::{Declarations, HostRequest, ObjectInfo, PendingRefs, Phases, StoreState};
use super::{InstanceMode, Limits};
use crate::exchange::Exchange;
use crate::handler::{Filter, Handler, HandlerError, HandlerFuture, Next};
use crate::heap::{DecorationContext, Decorator, HeapObject, ObjectKind};
use crate::http::Response;
use crate::http::header_edits::HeaderEdits;

/// Plugin calls that trapped, ran out of time or memory: every one answered 500.
pub static FAILURES: AtomicU64 = AtomicU64::new(0);

type InitCall = TypedFunc<(), (Result<(), String>,)>;
type OnRequestCall = TypedFunc<(Resource<RequestRes>,), (Result<RequestOutcome, String>,)>;
type OnResponseCall =
    TypedFunc<(Resource<RequestRes>, Resource<ResponseRes>), (Result<(), String>,)>;
type HandleCall = TypedFunc<(Resource<RequestRes>,), (Result<Resource<ResponseRes>, String>,)>;

/// The calls of one instance.
enum Calls {
    Filter {
        on_request: OnRequestCall,
        on_response: OnResponseCall,
    },
    Handler {
        handle: HandleCall,
    },
}

pub struct Instance {
    store: Store<StoreState>,
    calls: Calls,
    /// The component can wait on nothing (`loader::Compiled::immediate`): calls run on the
    /// caller's stack.
    immediate: bool,
    generation: u64,
    /// Last, so dropped after the store.
    _slots_back: SlotsBack,
}

impl Versioned for Instance {
    fn generation(&self) -> u64 {
        self.generation
    }
}

/// One call of an instance, checked against the contract's signature.
pub(super) fn typed<P, R>(
    instance: &wasmtime::component::Instance,
    store: &mut Store<StoreState>,
    index: &wasmtime::component::ComponentExportIndex,
) -> Result<TypedFunc<P, R>, CallError>
where
    P: ComponentNamedList + Lower,
    R: ComponentNamedList + Lift,
{
    instance
        .get_typed_func(store, index)
        .map_err(CallError::Trap)
}

/// Runs one call of an instance on a fiber: its component imports something that may wait.
/// Boxed, so that the filter's own future, which every request moves into a box, stays small.
pub(super) async fn call_on_fiber<P, R>(
    store: &mut Store<StoreState>,
    call: TypedFunc<P, R>,
    params: P,
) -> Result<R, CallError>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: ComponentNamedList + Lift + Send + Sync + 'static,
{
    Box::pin(call.call_async(&mut *store, params))
        .await
        .map_err(CallError::Trap)
}

/// Logs what the call wrote to stderr, while its exchange is still lent to the store, so that
/// the record carries the transaction.
#[inline]
pub(super) fn report_stderr<R>(store: &Store<StoreState>, called: &Result<R, CallError>) {
    super::stderr::report(store.data(), matches!(called, Err(CallError::Trap(_))));
}

/// Runs one call of an instance whose component can wait on nothing: a plain call on the
/// caller's stack, no fiber, no future.
pub(super) fn call_now<P, R>(
    store: &mut Store<StoreState>,
    call: TypedFunc<P, R>,
    params: P,
) -> Result<R, CallError>
where
    P: ComponentNamedList + Lower,
    R: ComponentNamedList + Lift,
{
    call.call(&mut *store, params).map_err(CallError::Trap)
}

/// Arms the deadline and runs a call, directly or on a fiber. A macro rather than an async
/// function: a direct call is then not awaited at all, and the filter's future only carries
/// the state of a fiber call for the instances that need one.
macro_rules! run_call {
    ($store:expr, $immediate:expr, $call:expr, $params:expr) => {{
        $crate::plugin::object::PluginObject::arm($store);
        let called = if $immediate {
            $crate::plugin::object::call_now($store, $call, $params)
        } else {
            $crate::plugin::object::call_on_fiber($store, $call, $params).await
        };
        $crate::plugin::object::report_stderr($store, &called);
        called
    }};
}
pub(super) use run_call;

/// Runs a response-phase call: the chain's response swapped into the store's response slot
/// and the exchange lent for the call, both taken back whatever the call did. A macro for the
/// reason `run_call!` is one.
macro_rules! response_call {
    ($store:expr, $immediate:expr, $call:expr, $exchange:expr, $response:expr) => {{
        use wasmtime::component::Resource;
        use $crate::plugin::object::{lend, reclaim, swap_response};
        let store = $store;
        let slot = Resource::<$crate::plugin::bindings::ResponseRes>::new_borrow(
            store.data().response_rep,
        );
        match swap_response(store, &slot, $response) {
            Err(error) => Err(error),
            Ok(()) => {
                lend(store, $exchange);
                let params = (
                    Resource::new_borrow(store.data().request_rep),
                    Resource::new_borrow(slot.rep()),
                );
                let called = $crate::plugin::object::run_call!(store, $immediate, $call, params);
                reclaim(store, $exchange);
                swap_response(store, &slot, $response).and(called)
            }
        }
    }};
}
pub(super) use response_call;

pub struct PluginObject {
    pub info: Arc<ObjectInfo>,
    pub(super) file: Arc<PluginFile>,
    pub(super) limits: Limits,
    pool: Pool<Instance>,
    declared: std::sync::OnceLock<Declarations>,
}

/// Why a call produced no answer.
pub enum CallError {
    /// A trap, panic, deadline or memory exhaustion: the instance is discarded.
    Trap(wasmtime::Error),
    /// The plugin returned an error.
    Guest(String),
}

impl PluginObject {
    pub fn new(info: Arc<ObjectInfo>, file: Arc<PluginFile>, limits: Limits) -> Self {
        PluginObject {
            info,
            file,
            limits,
            pool: Pool::new(),
            declared: std::sync::OnceLock::new(),
        }
    }

    /// Starts a call's deadline: it counts the epoch ticks the plugin runs through (the
    /// callback below), so waits on the host, which run no wasm, cost at most one tick, and
    /// no clock is read per call.
    pub(super) fn arm(store: &mut Store<StoreState>) {
        super::epoch::TICKER.keep_ticking();
        store.data_mut().ticks = 0;
        store.set_epoch_deadline(1);
    }

    /// A new store and instance of the current version, initialised; `pending` collects the
    /// handler references `init` asks for (the first instance of an object).
    pub async fn instantiate(&self, pending: bool) -> Result<(Instance, PendingRefs), CallError> {
        super::pool::with_room(self.limits.deadline, || self.instantiate_once(pending)).await
    }

    async fn instantiate_once(&self, pending: bool) -> Result<(Instance, PendingRefs), CallError> {
        let compiled = self.file.current();
        let immediate = compiled.immediate;
        let mut state = StoreState::new(self.info.clone());
        if pending {
            state.pending_refs = Some(PendingRefs::default());
        }
        let ticks = deadline_ticks(self.limits.deadline);
        let mut store = new_store(&compiled, state, self.limits.deadline, ticks);
        let instance = instantiate_in(&compiled, &mut store).await?;
        let (init, calls): (InitCall, Calls) = match &compiled.exports {
            Exports::Filter {
                init,
                on_request,
                on_response,
                ..
            } => (
                typed(&instance, &mut store, init)?,
                Calls::Filter {
                    on_request: typed(&instance, &mut store, on_request)?,
                    on_response: typed(&instance, &mut store, on_response)?,
                },
            ),
            Exports::Handler { init, handle } => (
                typed(&instance, &mut store, init)?,
                Calls::Handler {
                    handle: typed(&instance, &mut store, handle)?,
                },
            ),
        };
        let (initialised,) = run_call!(&mut store, immediate, init, ())?;
        initialised.map_err(CallError::Guest)?;
        let refs = store.data_mut().pending_refs.take().unwrap_or_default();
        let _ = self
            .declared
            .set(std::mem::take(&mut store.data_mut().declared));
        Ok((
            Instance {
                store,
                calls,
                immediate,
                generation: compiled.generation,
                _slots_back: SlotsBack,
            },
            refs,
        ))
    }

    async fn checkout(&self) -> Result<Instance, CallError> {
        if self.limits.instances == InstanceMode::Reuse
            && let Some(instance) = self.pool.take(self.file.generation())
        {
            return Ok(instance);
        }
        // Rare (a fresh instance): boxed so the per-call future does not carry its size.
        Box::pin(self.instantiate(false))
            .await
            .map(|(instance, _)| instance)
    }

    pub fn checkin(&self, instance: Instance) {
        if self.limits.instances == InstanceMode::Reuse {
            self.pool.put(instance);
        }
    }

    /// Drops the idle instances: an object that joined a run is served by the run's, and
    /// makes a new one of its own only if it is also used alone.
    pub(super) fn release_idle(&self) {
        self.pool.clear();
    }

    #[cfg(test)]
    pub(super) fn idle_instances(&self) -> usize {
        self.pool.idle()
    }

    pub(super) fn fail(&self, exchange: &Exchange, phase: &str, error: CallError) -> HandlerError {
        let (kind, detail) = match error {
            CallError::Trap(error) => {
                FAILURES.fetch_add(1, Ordering::Relaxed);
                super::shared::counter_add("failures", &self.info, 1);
                ("trap", format!("{error:#}"))
            }
            CallError::Guest(message) => ("error", message),
        };
        // Within the object's log budget: a plugin failing on every request would otherwise
        // log as much as one logging on every request. The failure counter above counts all.
        if super::log_budget::admit(&self.info) {
            super::state::object_event!(
                error,
                &self.info,
                transaction = %exchange.transaction_id,
                kind,
                "plugin {phase} failed: {detail}"
            );
        }
        HandlerError::Plugin {
            object: self.info.object_name.clone(),
        }
    }

    /// The phases this object's filters take part in, as its first `init` declared them.
    pub(super) fn phases(&self) -> Phases {
        self.declared
            .get()
            .and_then(|declared| declared.phases)
            .unwrap_or(Phases::BOTH)
    }

    /// The request phase its first `init` declared the host does (`config.rebase-requests`
    /// or `config.edit-headers`).
    pub(super) fn host_request(&self) -> Option<&HostRequest> {
        self.declared.get()?.request.as_ref()
    }

    /// The response header edit its first `init` declared (`config.edit-headers`): the host
    /// then does the object's response phase.
    pub(super) fn host_response(&self) -> Option<&HeaderEdits> {
        self.declared.get()?.response.as_ref()
    }

    /// Whether the host does at least one phase of the object in place of a call.
    pub(super) fn host_does_a_phase(&self) -> bool {
        self.declared
            .get()
            .is_some_and(|declared| declared.request.is_some() || declared.response.is_some())
    }

    /// Ends a call: the instance goes back to the pool unless it trapped (its state is then
    /// unknown), and a failure is logged and becomes the 500 the client gets.
    fn settle<T>(
        &self,
        instance: Instance,
        exchange: &Exchange,
        phase: &str,
        result: Result<T, CallError>,
    ) -> Result<T, HandlerError> {
        give_back(instance, result, |instance| self.checkin(instance))
            .map_err(|error| self.fail(exchange, phase, error))
    }

    /// The request phase of an object that declared it one the host does.
    fn host_request_phase(
        &self,
        exchange: &mut Exchange,
        work: &HostRequest,
    ) -> Result<(), HandlerError> {
        match work {
            HostRequest::Rebase(base) => {
                crate::http::uri::rebase_in_place(exchange.request.uri_mut(), base).map_err(
                    |reason| {
                        let message = format!("rebasing the request onto {base}: {reason}");
                        self.fail(exchange, "on-request", CallError::Guest(message))
                    },
                )
            }
            HostRequest::EditHeaders(edits) => {
                edits.apply(exchange.request.headers_mut());
                Ok(())
            }
        }
    }

    /// Runs the object as a filter around `inner`. When the host does every phase the object
    /// uses (a `baseURI`'s rebase, a HeaderFilter's fixed headers), no call is made: the
    /// request phase is done before `inner` starts, and a response edit waits on `inner` in a
    /// future far smaller than `run_filter`'s, which has room for an instance.
    fn filter_around<'a>(
        &'a self,
        exchange: &'a mut Exchange,
        inner: Inner<'a>,
    ) -> HandlerFuture<'a> {
        let phases = self.phases();
        let host_request = self.host_request();
        if host_request.is_none() && phases.request {
            return Box::pin(self.run_filter(exchange, inner));
        }
        let host_response = self.host_response();
        if host_response.is_none() && phases.response {
            return Box::pin(self.run_filter(exchange, inner));
        }
        if let Some(work) = host_request
            && let Err(error) = self.host_request_phase(exchange, work)
        {
            return Box::pin(std::future::ready(Err(error)));
        }
        match host_response {
            None => inner.handle(exchange),
            Some(edits) => Box::pin(async move {
                let mut response = inner.handle(exchange).await?;
                edits.apply(response.headers_mut());
                Ok(response)
            }),
        }
    }

    /// Runs `on-request`, the rest of the chain, then `on-response`, skipping the phases the
    /// object declared it does not use.
    async fn run_filter<'a>(
        &'a self,
        exchange: &'a mut Exchange,
        inner: Inner<'a>,
    ) -> Result<Response, HandlerError> {
        let phases = self.phases();
        let host_response = self.host_response();
        let calls_response = phases.response && host_response.is_none();
        // An instance that saw `on-request` also sees `on-response`: plugins may keep state
        // for the request in between.
        let mut held = None;
        let next = if let Some(work) = self.host_request() {
            self.host_request_phase(exchange, work)?;
            Continue::Next
        } else if phases.request {
            let mut instance = self.checkout_for(exchange).await?;
            let result = on_request(&self.info, &mut instance, exchange).await;
            match result {
                Ok(Continue::Answered(response)) => {
                    self.checkin(instance);
                    return Ok(response);
                }
                Ok(next) if calls_response => {
                    held = Some(instance);
                    next
                }
                result => self.settle(instance, exchange, "on-request", result)?,
            }
        } else {
            Continue::Next
        };
        let rest = match next {
            Continue::Through(delegate) => inner.through(&*delegate, exchange).await,
            _ => inner.handle(exchange).await,
        };
        let mut response = match rest {
            Ok(response) => response,
            Err(error) => {
                if let Some(instance) = held {
                    self.checkin(instance);
                }
                return Err(error);
            }
        };
        if let Some(edits) = host_response {
            edits.apply(response.headers_mut());
            return Ok(response);
        }
        if !phases.response {
            return Ok(response);
        }
        let mut instance = match held {
            Some(instance) => instance,
            None => self.checkout_for(exchange).await?,
        };
        let result = on_response(&mut instance, exchange, response).await;
        self.settle(instance, exchange, "on-response", result)
    }

    async fn run_handler(&self, exchange: &mut Exchange) -> Result<Response, HandlerError> {
        let mut instance = self.checkout_for(exchange).await?;
        let result = handle(&mut instance, exchange).await;
        self.settle(instance, exchange, "handle", result)
    }

    async fn checkout_for(&self, exchange: &Exchange) -> Result<Instance, HandlerError> {
        self.checkout()
            .await
            .map_err(|error| self.fail(exchange, "instantiation", error))
    }
}

/// Gives an instance back after a call, unless the call trapped (its state is then unknown);
/// reporting the error, if any, is the caller's.
pub(super) fn give_back<I, T>(
    instance: I,
    result: Result<T, CallError>,
    checkin: impl FnOnce(I),
) -> Result<T, CallError> {
    if !matches!(result, Err(CallError::Trap(_))) {
        checkin(instance);
    }
    result
}

/// A store for an instance of `compiled` whose calls may each run through `allowed` epoch
/// ticks (`deadline` is what the error says).
pub(super) fn new_store(
    compiled: &Compiled,
    state: StoreState,
    deadline: std::time::Duration,
    allowed: u32,
) -> Store<StoreState> {
    let immediate = compiled.immediate;
    let mut store = Store::new(compiled.pre_engine(), state);
    super::engine::limit(&mut store, super::engine::current_store_limits());
    store.epoch_deadline_callback(move |mut context| {
        super::epoch::TICKER.keep_ticking();
        let state = context.data_mut();
        state.ticks += 1;
        if state.ticks >= allowed {
            Err(wasmtime::format_err!(
                "the plugin ran past its deadline of {deadline:?}"
            ))
        } else if immediate {
            // A call off a fiber cannot give the worker back; it runs on to its deadline.
            Ok(UpdateDeadline::Continue(1))
        } else {
            // Each tick also gives the worker back to other tasks for a moment.
            Ok(UpdateDeadline::Yield(1))
        }
    });
    PluginObject::arm(&mut store);
    store
}

impl InstantiationError for CallError {
    fn allocator_full(&self) -> bool {
        matches!(self, CallError::Trap(error) if error.allocator_full())
    }

    fn no_room(self, waited: std::time::Duration) -> Self {
        match self {
            CallError::Trap(error) => CallError::Trap(error.no_room(waited)),
            guest => guest,
        }
    }
}

/// Instantiates the current version in `store`, directly or on a fiber as its calls run.
pub(super) async fn instantiate_in(
    compiled: &Compiled,
    store: &mut Store<StoreState>,
) -> Result<wasmtime::component::Instance, CallError> {
    let Some(pre) = compiled.instance_pre() else {
        return Err(CallError::Guest(
            "the component exports neither a filter nor a handler".into(),
        ));
    };
    if compiled.immediate {
        pre.instantiate(store)
    } else {
        pre.instantiate_async(store).await
    }
    .map_err(CallError::Trap)
}

/// How many epoch ticks a call may run through.
pub(super) fn deadline_ticks(deadline: std::time::Duration) -> u32 {
    let tick = super::engine::EPOCH_TICK.as_nanos().max(1);
    u32::try_from(deadline.as_nanos().div_ceil(tick))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Lends the exchange to the store for the duration of a call (the imports reach it there),
/// swapping it with the stand-in the store holds between calls.
pub(super) fn lend(store: &mut Store<StoreState>, exchange: &mut Exchange) {
    let state = store.data_mut();
    std::mem::swap(exchange, &mut state.exchange);
    state.in_call = true;
}

pub(super) fn reclaim(store: &mut Store<StoreState>, exchange: &mut Exchange) {
    let state = store.data_mut();
    if state.in_call {
        std::mem::swap(exchange, &mut state.exchange);
        state.in_call = false;
    }
}

pub(super) fn trap(error: wasmtime::component::ResourceTableError) -> CallError {
    CallError::Trap(error.into())
}

fn filter_calls(
    instance: &mut Instance,
) -> Result<(&mut Store<StoreState>, OnRequestCall, OnResponseCall), CallError> {
    match instance.calls {
        Calls::Filter {
            on_request,
            on_response,
        } => Ok((&mut instance.store, on_request, on_response)),
        Calls::Handler { .. } => Err(CallError::Guest("the component is not a filter".into())),
    }
}

async fn on_request(
    info: &ObjectInfo,
    instance: &mut Instance,
    exchange: &mut Exchange,
) -> Result<Continue, CallError> {
    let immediate = instance.immediate;
    let (store, call, _) = filter_calls(instance)?;
    lend(store, exchange);
    let params = (Resource::new_borrow(store.data().request_rep),);
    let called = run_call!(store, immediate, call, params);
    let result = called.and_then(|(result,)| request_outcome(info, store, result));
    reclaim(store, exchange);
    result
}

pub(super) fn request_outcome(
    info: &ObjectInfo,
    store: &mut Store<StoreState>,
    result: Result<RequestOutcome, String>,
) -> Result<Continue, CallError> {
    match result.map_err(CallError::Guest)? {
        RequestOutcome::Next => Ok(Continue::Next),
        RequestOutcome::Respond(response) => store
            .data_mut()
            .table
            .delete(response)
            .map(|response| Continue::Answered(response.0))
            .map_err(trap),
        RequestOutcome::Delegate(index) => info
            .filters
            .get()
            .and_then(|filters| filters.get(index as usize))
            .cloned()
            .map(Continue::Through)
            .ok_or_else(|| {
                CallError::Guest(format!(
                    "delegate({index}) names no filter resolved with heap.resolve-filter"
                ))
            }),
    }
}

async fn on_response(
    instance: &mut Instance,
    exchange: &mut Exchange,
    mut response: Response,
) -> Result<Response, CallError> {
    let immediate = instance.immediate;
    let (store, _, call) = filter_calls(instance)?;
    let (result,) = response_call!(store, immediate, call, exchange, &mut response)?;
    result.map_err(CallError::Guest)?;
    Ok(response)
}

/// Exchanges `response` with what the store's response slot holds.
pub(super) fn swap_response(
    store: &mut Store<StoreState>,
    slot: &Resource<ResponseRes>,
    response: &mut Response,
) -> Result<(), CallError> {
    let held = store.data_mut().table.get_mut(slot).map_err(trap)?;
    std::mem::swap(&mut held.0, response);
    Ok(())
}

async fn handle(instance: &mut Instance, exchange: &mut Exchange) -> Result<Response, CallError> {
    let Calls::Handler { handle: call } = instance.calls else {
        return Err(CallError::Guest("the component is not a handler".into()));
    };
    let immediate = instance.immediate;
    let store = &mut instance.store;
    lend(store, exchange);
    let params = (Resource::new_borrow(store.data().request_rep),);
    let called = run_call!(store, immediate, call, params);
    let result = called.and_then(|(result,)| {
        let response = result.map_err(CallError::Guest)?;
        store
            .data_mut()
            .table
            .delete(response)
            .map(|response| response.0)
            .map_err(trap)
    });
    reclaim(store, exchange);
    result
}

/// How the request phase ended.
pub(super) enum Continue {
    Next,
    Answered(Response),
    Through(Arc<dyn Filter>),
}

/// What a plugin filter wraps.
enum Inner<'a> {
    Next(Next<'a>),
    Filter(&'a Arc<dyn Filter>, Next<'a>),
    Handler(&'a dyn Handler),
}

impl<'a> Inner<'a> {
    fn handle<'b>(self, exchange: &'b mut Exchange) -> HandlerFuture<'b>
    where
        'a: 'b,
    {
        match self {
            Inner::Next(next) => next.handle(exchange),
            Inner::Filter(filter, next) => filter.filter(exchange, next),
            Inner::Handler(handler) => handler.handle(exchange),
        }
    }

    /// Runs `delegate` with what this filter wraps as its next.
    async fn through(
        self,
        delegate: &dyn Filter,
        exchange: &mut Exchange,
    ) -> Result<Response, HandlerError> {
        match self {
            Inner::Next(next) => delegate.filter(exchange, next).await,
            Inner::Filter(filter, next) => {
                let wrapped = next.prepend(std::slice::from_ref(filter));
                delegate.filter(exchange, wrapped).await
            }
            Inner::Handler(handler) => delegate.filter(exchange, Next::new(&[], handler)).await,
        }
    }
}

pub struct PluginFilter(pub Arc<PluginObject>);

impl Filter for PluginFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        self.0.filter_around(exchange, Inner::Next(next))
    }

    fn plugin_object(&self) -> Option<&Arc<PluginObject>> {
        Some(&self.0)
    }
}

pub struct PluginHandler(pub Arc<PluginObject>);

impl Handler for PluginHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        Box::pin(self.0.run_handler(exchange))
    }
}

/// A filter decorated by a plugin: one decorator instance around the filter, one between the
/// filter and the rest of its chain (see `config.decoration-point`).
struct DecoratedFilter {
    around: Arc<PluginObject>,
    inside: Arc<dyn Filter>,
    inner: Arc<dyn Filter>,
}

impl Filter for DecoratedFilter {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let through_inside = next.prepend(std::slice::from_ref(&self.inside));
            // `run_filter` itself, not `filter_around`: this future is boxed already, and
            // its `next` must live in it; a decorator whose phases the host does still costs
            // no call there.
            self.around
                .run_filter(exchange, Inner::Filter(&self.inner, through_inside))
                .await
        })
    }
}

struct DecoratedHandler {
    plugin: Arc<PluginObject>,
    inner: Arc<dyn Handler>,
}

impl Handler for DecoratedHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        self.plugin
            .filter_around(exchange, Inner::Handler(&*self.inner))
    }
}

/// A plugin decorator: wraps filters and handlers with the component's filter interface,
/// `config.get` being the decoration value. A decoration of `false` leaves the object as it
/// is (`"timer": false`).
pub struct PluginDecorator {
    pub type_name: String,
    pub name: String,
    pub file: Arc<PluginFile>,
    pub limits: Limits,
    pub client: Option<Arc<dyn Handler>>,
    /// The `config` of the decorator's heap declaration, as JSON text.
    pub declaration: String,
}

impl PluginDecorator {
    /// Initialises an instance with no decoration point and a null decoration: the contract's
    /// way of asking the plugin to check its declaration's `config` alone.
    pub fn validate_declaration(&self) -> Result<(), String> {
        let plugin = self.plugin_object(Arc::from("null"), self.name.clone(), None, None);
        super::block_on(plugin.instantiate(false))?
            .map(drop)
            .map_err(|error| describe(&error))
    }

    fn plugin_object(
        &self,
        decoration: Arc<str>,
        object_name: String,
        route: Option<String>,
        point: Option<DecorationPoint>,
    ) -> Arc<PluginObject> {
        let info = Arc::new(ObjectInfo {
            type_name: self.type_name.clone(),
            object_name,
            route,
            file: self.file.origin.clone(),
            config: decoration.to_string(),
            declaration: self.declaration.clone(),
            secrets: Vec::new(),
            client: self.client.clone(),
            secrets_provider: None,
            handlers: std::sync::OnceLock::new(),
            filters: std::sync::OnceLock::new(),
            decoration_point: point,
            log_budget: super::log_budget::LogBudget::for_file(&self.file, &self.limits),
        });
        Arc::new(PluginObject::new(info, self.file.clone(), self.limits))
    }

    /// A decorator instance source for one position, initialised once to validate the
    /// decoration now.
    fn object(
        &self,
        decoration: &serde_json::Value,
        context: &DecorationContext<'_>,
        point: DecorationPoint,
    ) -> Result<Arc<PluginObject>, String> {
        let plugin = self.plugin_object(
            Arc::from(decoration.to_string()),
            format!("{}@{}", self.name, context.object_name),
            context.route.map(str::to_owned),
            Some(point),
        );
        let info = &plugin.info;
        let (instance, refs) =
            super::block_on(plugin.instantiate(true))?.map_err(|error| describe(&error))?;
        if !refs.handlers.is_empty() || !refs.filters.is_empty() {
            return Err("a decorator cannot resolve heap handlers or filters".into());
        }
        let _ = info.handlers.set(Vec::new());
        let _ = info.filters.set(Vec::new());
        plugin.checkin(instance);
        Ok(plugin)
    }
}

impl Decorator for PluginDecorator {
    fn accepts(&self, kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Filter | ObjectKind::Handler)
    }

    fn decorate(
        &self,
        object: HeapObject,
        decoration: &serde_json::Value,
        context: &DecorationContext<'_>,
    ) -> Result<HeapObject, String> {
        if decoration == &serde_json::Value::Bool(false) {
            return Ok(object);
        }
        match object {
            HeapObject::Filter(inner) => {
                let around = self.object(decoration, context, DecorationPoint::AroundFilter)?;
                let inside = self.object(decoration, context, DecorationPoint::InsideFilter)?;
                Ok(HeapObject::Filter(Arc::new(DecoratedFilter {
                    around,
                    inside: Arc::new(PluginFilter(inside)),
                    inner,
                })))
            }
            HeapObject::Handler(inner) => Ok(HeapObject::Handler(Arc::new(DecoratedHandler {
                plugin: self.object(decoration, context, DecorationPoint::AroundHandler)?,
                inner,
            }))),
            other => Ok(other),
        }
    }
}

pub fn describe(error: &CallError) -> String {
    match error {
        CallError::Trap(error) => format!("{error:#}"),
        CallError::Guest(message) => message.clone(),
    }
}

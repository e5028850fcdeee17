//! Runs: adjacent filters of one chain that are objects of the same component and use the same
//! single phase, served by one instance and one component call per request instead of one
//! each (the contract's optional `objects` interface).
//!
//! A component call costs far more than what a small filter does in it (docs/plugin-runtime.md),
//! so a chain of ten HeaderFilters pays mostly for ten calls. A run keeps the chain's order and
//! every object's own configuration, errors and logs; only the number of calls changes. A run
//! whose component's current version does not export `objects` (a plugin reloaded from a
//! folder, say) runs its filters one by one, as if it had never been formed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Store;
use wasmtime::component::{ComponentType, Lift, Resource, TypedFunc};

use super::bindings::{RequestOutcome, RequestRes, ResponseRes};
use super::loader::PluginFile;
use super::object::{
    CallError, Continue, PluginObject, deadline_ticks, give_back, instantiate_in, lend, new_store,
    reclaim, request_outcome, response_call, run_call, typed,
};
use super::pool::{Pool, SlotsBack, Versioned};
use super::state::{ObjectInfo, Phases, StoreState};
use super::{InstanceMode, Limits};
use crate::exchange::Exchange;
use crate::handler::{Filter, HandlerError, HandlerFuture, Next};
use crate::http::Response;

/// `objects.failure`.
#[derive(ComponentType, Lift)]
#[component(record)]
struct Failure {
    object: u32,
    message: String,
}

/// `objects.stop`.
#[derive(ComponentType, Lift)]
#[component(record)]
struct Stop {
    object: u32,
    outcome: RequestOutcome,
}

type InitObjectCall = TypedFunc<(u32,), (Result<(), String>,)>;
type OnRequestAllCall = TypedFunc<(Resource<RequestRes>,), (Result<Option<Stop>, Failure>,)>;
type OnResponseAllCall =
    TypedFunc<(Resource<RequestRes>, Resource<ResponseRes>), (Result<(), Failure>,)>;

/// The phase a run's filters all use, and the other they all leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPhase {
    Request,
    Response,
}

impl RunPhase {
    fn of(phases: Phases) -> Option<RunPhase> {
        match (phases.request, phases.response) {
            (true, false) => Some(RunPhase::Request),
            (false, true) => Some(RunPhase::Response),
            _ => None,
        }
    }
}

struct RunInstance {
    store: Store<StoreState>,
    on_request_all: OnRequestAllCall,
    on_response_all: OnResponseAllCall,
    immediate: bool,
    generation: u64,
    /// Last, so dropped after the store.
    _slots_back: SlotsBack,
}

impl Versioned for RunInstance {
    fn generation(&self) -> u64 {
        self.generation
    }
}

pub struct PluginRun {
    /// In chain order; object number `i` of every instance is `members[i]`.
    members: Vec<Arc<PluginObject>>,
    /// The members as the chain had them, for running them one by one.
    filters: Vec<Arc<dyn Filter>>,
    objects: Arc<[Arc<ObjectInfo>]>,
    phase: RunPhase,
    file: Arc<PluginFile>,
    limits: Limits,
    pool: Pool<RunInstance>,
    /// The last generation of the component seen to export `objects` (0: none yet).
    served: AtomicU64,
}

/// Replaces each stretch of two or more adjacent filters that can form a run with one run.
pub fn fuse(filters: Vec<Arc<dyn Filter>>) -> Vec<Arc<dyn Filter>> {
    let mut fused: Vec<Arc<dyn Filter>> = Vec::with_capacity(filters.len());
    let mut pending: Vec<(Arc<dyn Filter>, Arc<PluginObject>)> = Vec::new();
    let mut pending_phase = None;
    for filter in filters {
        let candidate = filter.plugin_object().cloned().and_then(|object| {
            let phase = runnable_phase(&object)?;
            Some((object, phase))
        });
        let joins = match (&candidate, pending.last()) {
            (Some((object, phase)), Some((_, last))) => {
                Some(*phase) == pending_phase && Arc::ptr_eq(&object.file, &last.file)
            }
            _ => false,
        };
        if !joins {
            flush(&mut fused, &mut pending, pending_phase);
        }
        match candidate {
            Some((object, phase)) => {
                pending_phase = Some(phase);
                pending.push((filter, object));
            }
            None => fused.push(filter),
        }
    }
    flush(&mut fused, &mut pending, pending_phase);
    fused
}

/// The phase an object would run in within a run, if it can take part in one: a filter of a
/// component exporting `objects`, with reused instances, using exactly one phase, and none
/// that the host does in place of a call.
fn runnable_phase(object: &PluginObject) -> Option<RunPhase> {
    if object.limits.instances != InstanceMode::Reuse
        || object.info.decoration_point.is_some()
        || object.host_does_a_phase()
    {
        return None;
    }
    object.file.current().objects()?;
    RunPhase::of(object.phases())
}

fn flush(
    fused: &mut Vec<Arc<dyn Filter>>,
    pending: &mut Vec<(Arc<dyn Filter>, Arc<PluginObject>)>,
    phase: Option<RunPhase>,
) {
    match (pending.len(), phase) {
        (0, _) => {}
        (1, _) | (_, None) => fused.extend(pending.drain(..).map(|(filter, _)| filter)),
        (_, Some(phase)) => {
            let (filters, members): (Vec<_>, Vec<_>) = pending.drain(..).unzip();
            // The instance each member made when the heap built it would otherwise sit idle
            // for as long as the route lives.
            for member in &members {
                member.release_idle();
            }
            fused.push(Arc::new(PluginRun::new(members, filters, phase)));
        }
    }
}

impl PluginRun {
    fn new(
        members: Vec<Arc<PluginObject>>,
        filters: Vec<Arc<dyn Filter>>,
        phase: RunPhase,
    ) -> Self {
        let file = members[0].file.clone();
        let limits = members[0].limits;
        let objects = members.iter().map(|member| member.info.clone()).collect();
        PluginRun {
            members,
            filters,
            objects,
            phase,
            file,
            limits,
            pool: Pool::new(),
            served: AtomicU64::new(0),
        }
    }

    /// Whether the component's current version serves runs; false sends requests through the
    /// members one by one.
    fn served_together(&self) -> bool {
        let generation = self.file.generation();
        if self.served.load(Ordering::Relaxed) == generation {
            return true;
        }
        let served = self.file.current().objects().is_some();
        if served {
            self.served.store(generation, Ordering::Relaxed);
        }
        served
    }

    /// A new instance of the current version with every member initialised in it, in order.
    async fn instantiate(&self) -> Result<RunInstance, CallError> {
        super::pool::with_room(self.limits.deadline, || self.instantiate_once()).await
    }

    async fn instantiate_once(&self) -> Result<RunInstance, CallError> {
        let compiled = self.file.current();
        let Some(exports) = compiled.objects() else {
            return Err(CallError::Guest(
                "the component no longer exports ferrogate:plugin/objects".into(),
            ));
        };
        let state = StoreState::serving(self.objects.clone())
            .ok_or_else(|| CallError::Guest("a run without filters".into()))?;
        // One call runs every member, so it gets every member's share of time.
        let members = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        let ticks = deadline_ticks(self.limits.deadline).saturating_mul(members);
        let deadline = self.limits.deadline.saturating_mul(members);
        let mut store = new_store(&compiled, state, deadline, ticks);
        let instance = instantiate_in(&compiled, &mut store).await?;
        let init: InitObjectCall = typed(&instance, &mut store, &exports.init_object)?;
        let on_request_all = typed(&instance, &mut store, &exports.on_request_all)?;
        let on_response_all = typed(&instance, &mut store, &exports.on_response_all)?;
        let immediate = compiled.immediate;
        for (number, member) in (0..members).zip(&self.members) {
            let state = store.data_mut();
            state.act_for(number);
            // Each object asks for its own heap references, which its first init resolved.
            state.refs_asked = 0;
            state.filter_refs_asked = 0;
            let (initialised,) = run_call!(&mut store, immediate, init, (number,))?;
            initialised.map_err(|message| {
                CallError::Guest(format!(
                    "init of \"{}\" in an instance shared with the filters next to it: {message}",
                    member.info.object_name
                ))
            })?;
        }
        Ok(RunInstance {
            store,
            on_request_all,
            on_response_all,
            immediate,
            generation: compiled.generation,
            _slots_back: SlotsBack,
        })
    }

    async fn checkout(&self, exchange: &Exchange) -> Result<RunInstance, HandlerError> {
        if let Some(instance) = self.pool.take(self.file.generation()) {
            return Ok(instance);
        }
        // Rare: boxed so the per-request future does not carry its size.
        Box::pin(self.instantiate())
            .await
            .map_err(|error| self.members[0].fail(exchange, "instantiation", error))
    }

    fn checkin(&self, instance: RunInstance) {
        self.pool.put(instance);
    }

    /// Ends a call as `PluginObject::settle` does, the failure reported for the member it
    /// names, or for the one the instance was acting for when it trapped.
    fn settle<T>(
        &self,
        instance: RunInstance,
        exchange: &Exchange,
        phase: &str,
        result: Result<T, RunError>,
    ) -> Result<T, HandlerError> {
        let mut blamed = instance.store.data().entered;
        let result = result.map_err(|error| match error {
            RunError::Member(object, error) => {
                blamed = object;
                error
            }
            RunError::Call(error) => error,
        });
        give_back(instance, result, |instance| self.checkin(instance)).map_err(|error| {
            let member = self.member(blamed).unwrap_or(&self.members[0]);
            member.fail(exchange, phase, error)
        })
    }

    async fn run<'a>(
        &'a self,
        exchange: &'a mut Exchange,
        next: Next<'a>,
    ) -> Result<Response, HandlerError> {
        if !self.served_together() {
            return next.prepend(&self.filters).handle(exchange).await;
        }
        match self.phase {
            RunPhase::Request => self.run_requests(exchange, next).await,
            RunPhase::Response => {
                let response = next.handle(exchange).await?;
                self.run_responses(exchange, response).await
            }
        }
    }

    async fn run_requests<'a>(
        &'a self,
        exchange: &'a mut Exchange,
        next: Next<'a>,
    ) -> Result<Response, HandlerError> {
        let mut instance = self.checkout(exchange).await?;
        let result = self.on_request_all(&mut instance, exchange).await;
        match self.settle(instance, exchange, "on-request", result)? {
            None => next.handle(exchange).await,
            Some((_, Continue::Next)) => next.handle(exchange).await,
            Some((_, Continue::Answered(response))) => Ok(response),
            // The delegate wraps the rest of the run, then the rest of the chain.
            Some((object, Continue::Through(delegate))) => {
                let after = usize::try_from(object).map_or(self.filters.len(), |index| index + 1);
                let rest = self.filters.get(after..).unwrap_or_default();
                delegate.filter(exchange, next.prepend(rest)).await
            }
        }
    }

    async fn on_request_all(
        &self,
        instance: &mut RunInstance,
        exchange: &mut Exchange,
    ) -> Result<Option<(u32, Continue)>, RunError> {
        let call = instance.on_request_all;
        let immediate = instance.immediate;
        let store = &mut instance.store;
        store.data_mut().act_for(0);
        lend(store, exchange);
        let params = (Resource::new_borrow(store.data().request_rep),);
        let called = run_call!(store, immediate, call, params);
        let result = match called {
            Err(error) => Err(RunError::Call(error)),
            Ok((Ok(None),)) => Ok(None),
            Ok((Ok(Some(Stop { object, outcome })),)) => match self.member(object) {
                Some(member) => request_outcome(&member.info, store, Ok(outcome))
                    .map(|outcome| Some((object, outcome)))
                    .map_err(|error| RunError::Member(object, error)),
                None => Err(RunError::Call(no_member(object))),
            },
            Ok((Err(Failure { object, message }),)) => {
                Err(RunError::Member(object, CallError::Guest(message)))
            }
        };
        reclaim(store, exchange);
        result
    }

    async fn run_responses(
        &self,
        exchange: &mut Exchange,
        mut response: Response,
    ) -> Result<Response, HandlerError> {
        let mut instance = self.checkout(exchange).await?;
        let result = self
            .on_response_all(&mut instance, exchange, &mut response)
            .await;
        self.settle(instance, exchange, "on-response", result)?;
        Ok(response)
    }

    async fn on_response_all(
        &self,
        instance: &mut RunInstance,
        exchange: &mut Exchange,
        response: &mut Response,
    ) -> Result<(), RunError> {
        let call = instance.on_response_all;
        let immediate = instance.immediate;
        let store = &mut instance.store;
        let last = u32::try_from(self.members.len() - 1).unwrap_or(u32::MAX);
        store.data_mut().act_for(last);
        let called = response_call!(store, immediate, call, exchange, response);
        match called.map_err(RunError::Call)? {
            (Ok(()),) => Ok(()),
            (Err(Failure { object, message }),) => match self.member(object) {
                Some(_) => Err(RunError::Member(object, CallError::Guest(message))),
                None => Err(RunError::Call(no_member(object))),
            },
        }
    }

    fn member(&self, object: u32) -> Option<&Arc<PluginObject>> {
        usize::try_from(object)
            .ok()
            .and_then(|index| self.members.get(index))
    }
}

/// Why a run's call produced no answer, and whose fault it is when the plugin said.
enum RunError {
    Member(u32, CallError),
    Call(CallError),
}

/// A plugin naming an object its instance does not serve breaks the contract: its state is
/// unknown, so the instance goes.
fn no_member(object: u32) -> CallError {
    CallError::Trap(wasmtime::format_err!(
        "the plugin named object {object}, which this instance does not serve"
    ))
}

impl Filter for PluginRun {
    fn filter<'a>(&'a self, exchange: &'a mut Exchange, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(self.run(exchange, next))
    }
}

#[cfg(test)]
mod tests;

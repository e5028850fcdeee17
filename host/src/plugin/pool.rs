//! The instances kept between requests for one plugin object or run: a few, of the
//! component's current version only.
//!
//! Every idle instance holds slots of the process-wide pooling allocator (an instance, its
//! memories and tables), which has room for a fixed number at once (`"instanceSlots"`). So
//! the idle instances of all pools are a cache on that budget, not a claim on it: when an
//! instantiation finds the allocator full, [`with_room`] drops idle instances, a few pools at
//! a time in turn, and the instantiation is tried again. Without it, a configuration with
//! more plugin objects than the allocator has slots would not load, each object keeping the
//! instance its validation made.
//!
//! When nothing is idle, every slot serves a call in flight (a filter that takes part in both
//! phases holds its instance across the upstream's answer), and the instantiation waits for
//! one to come back (`room`), as a request waits in HAProxy's queue for a free server slot,
//! rather than failing a burst of requests that a moment later would have found room.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

mod room;

use room::{ROOM, Room, WaitEnd, Waiter};
pub use room::{SlotsBack, render_metrics, room_may_be_free};

/// At most this many idle instances are kept; more than the workers can use at once only
/// hold memory.
const POOL_SIZE: usize = 16;

/// An instance of one compiled version of a component.
pub trait Versioned {
    fn generation(&self) -> u64;
}

pub struct Pool<T> {
    idle: Arc<Idle<T>>,
}

struct Idle<T>(Mutex<Vec<T>>);

/// What the shedding sees of a pool, whatever its instances' type.
trait Shed: Send + Sync {
    /// Drops every idle instance; how many there were.
    fn drop_idle(&self) -> usize;
}

impl<T: Send> Shed for Idle<T> {
    fn drop_idle(&self) -> usize {
        // Taken out under the lock, dropped after it: dropping a store returns its slots to
        // the allocator, which resets their memory.
        let dropped = match self.0.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => return 0,
        };
        dropped.len()
    }
}

/// Every live pool, and where the next shedding starts, so that successive sheddings take
/// from different pools rather than emptying the first ones again and again.
struct Registry {
    pools: Vec<Weak<dyn Shed>>,
    next: usize,
}

impl Registry {
    const fn new() -> Self {
        Registry {
            pools: Vec::new(),
            next: 0,
        }
    }

    fn register(&mut self, pool: Weak<dyn Shed>) {
        // Reloads replace pools; forgetting the dropped ones whenever the list doubles keeps
        // it within twice the live count at a constant cost per registration.
        let len = self.pools.len();
        if len >= 64 && len.is_power_of_two() {
            self.pools.retain(|pool| pool.strong_count() > 0);
        }
        self.pools.push(pool);
    }

    /// Drops the idle instances of pools in turn until at least `wanted` are gone or every
    /// pool has been visited; how many were dropped (0: every slot is held by a call in
    /// flight).
    fn shed(&mut self, wanted: usize) -> usize {
        self.pools.retain(|pool| pool.strong_count() > 0);
        let count = self.pools.len();
        let mut dropped = 0;
        let mut visited = 0;
        while dropped < wanted && visited < count {
            let at = self.next % count;
            self.next = at + 1;
            visited += 1;
            if let Some(pool) = self.pools[at].upgrade() {
                dropped += pool.drop_idle();
            }
        }
        dropped
    }
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry::new());

/// How many idle instances one attempt to make room drops: enough that a configuration
/// loading more objects than the allocator has slots sheds once per few dozen objects, not
/// once per object; few enough that the pools it visits keep most of what they hold.
const SHED_AT_ONCE: usize = 64;

/// What an instantiation that found the allocator full says when no room was made in time.
fn no_room_message(waited: Duration) -> String {
    format!(
        "no plugin instance slot came free within {waited:?}: every slot of the process-wide \
         instance pool is serving a call in flight; raise \"instanceSlots\" in config.json's \
         \"plugins\" (docs/plugin-runtime.md, Sandbox and limits)"
    )
}

/// An instantiation's error, as far as making room goes.
pub trait InstantiationError: Sized {
    /// Whether it is the pooling allocator saying it has no free slot of some kind.
    fn allocator_full(&self) -> bool;
    /// The same error, saying that no slot came free within `waited`.
    fn no_room(self, waited: Duration) -> Self;
}

impl InstantiationError for wasmtime::Error {
    fn allocator_full(&self) -> bool {
        self.is::<wasmtime::PoolConcurrencyLimitError>()
    }

    fn no_room(self, waited: Duration) -> Self {
        self.context(no_room_message(waited))
    }
}

/// Runs `attempt`, an instantiation in a store of its own each time, again for as long as it
/// finds the allocator full: at once while idle instances can be dropped to make room, then
/// as slots come back, for at most `wait`.
pub async fn with_room<T, E, F, Fut>(wait: Duration, attempt: F) -> Result<T, E>
where
    E: InstantiationError,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    with_room_in(&REGISTRY, &ROOM, wait, attempt).await
}

async fn with_room_in<T, E, F, Fut>(
    registry: &Mutex<Registry>,
    room: &Room,
    wait: Duration,
    mut attempt: F,
) -> Result<T, E>
where
    E: InstantiationError,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let until = Instant::now() + wait;
    let mut waiter: Option<Waiter> = None;
    loop {
        match attempt().await {
            Err(error) if error.allocator_full() => {
                let made_room = registry
                    .lock()
                    .is_ok_and(|mut registry| registry.shed(SHED_AT_ONCE) > 0);
                if made_room {
                    continue;
                }
                match &mut waiter {
                    // Registered first, then tried once more: a slot that came back since the
                    // attempt above woke nobody.
                    None => waiter = Some(Waiter::register(room)),
                    Some(registered) => {
                        if registered.wait(until).await == WaitEnd::Expired {
                            return Err(error.no_room(wait));
                        }
                    }
                }
            }
            other => return other,
        }
    }
}

impl<T: Versioned + Send + 'static> Pool<T> {
    pub fn new() -> Self {
        let idle = Arc::new(Idle(Mutex::new(Vec::new())));
        let shed: Arc<dyn Shed> = idle.clone();
        if let Ok(mut registry) = REGISTRY.lock() {
            registry.register(Arc::downgrade(&shed));
        }
        Pool { idle }
    }

    /// An idle instance of `generation`, if there is one; one of an older version is dropped.
    pub fn take(&self, generation: u64) -> Option<T> {
        let pooled = self.idle.0.lock().ok().and_then(|mut idle| idle.pop());
        pooled.filter(|instance| instance.generation() == generation)
    }

    /// Drops every idle instance.
    pub fn clear(&self) {
        self.idle.drop_idle();
    }

    #[cfg(test)]
    pub fn idle(&self) -> usize {
        self.idle.0.lock().map_or(0, |idle| idle.len())
    }

    pub fn put(&self, instance: T) {
        if let Ok(mut idle) = self.idle.0.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(instance);
        }
        // Idle, the instance can be shed for a waiting instantiation (past POOL_SIZE it is
        // dropped on return, and its SlotsBack wakes one too).
        room_may_be_free();
    }
}

#[cfg(test)]
mod tests;

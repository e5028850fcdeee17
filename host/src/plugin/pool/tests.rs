//! Shedding on a registry of its own and waiting in a room of its own (the process-wide ones
//! are shared with the other tests' plugin objects, whose idle instances they count and whose
//! stores wake their waiters), and the allocator's full signal from a real pooling allocator.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;

use super::super::block_on;
use super::*;

fn idle_pool(instances: usize) -> Arc<Idle<u64>> {
    Arc::new(Idle(Mutex::new(vec![0; instances])))
}

fn registered(registry: &mut Registry, pool: &Arc<Idle<u64>>) {
    let shed: Arc<dyn Shed> = pool.clone();
    registry.register(Arc::downgrade(&shed));
}

fn idle(pool: &Idle<u64>) -> usize {
    pool.0.lock().unwrap().len()
}

#[test]
fn shedding_takes_pools_in_turn_until_enough_are_dropped() {
    let mut registry = Registry::new();
    let pools = [idle_pool(2), idle_pool(3), idle_pool(5)];
    for pool in &pools {
        registered(&mut registry, pool);
    }

    assert_eq!(registry.shed(4), 5, "the first two pools, whole");
    assert_eq!(pools.each_ref().map(|pool| idle(pool)), [0, 0, 5]);

    pools[0].0.lock().unwrap().push(0);
    assert_eq!(
        registry.shed(1),
        5,
        "the next shedding starts where the last one stopped"
    );
    assert_eq!(pools.each_ref().map(|pool| idle(pool)), [1, 0, 0]);

    assert_eq!(
        registry.shed(3),
        1,
        "every pool visited once, then it gives up"
    );
    assert_eq!(
        registry.shed(1),
        0,
        "nothing idle: nothing to make room with"
    );
}

#[test]
fn dropped_pools_are_forgotten() {
    let mut registry = Registry::new();
    let kept = idle_pool(1);
    registered(&mut registry, &kept);
    for _ in 0..200 {
        registered(&mut registry, &idle_pool(1));
    }
    assert!(
        registry.pools.len() < 200,
        "registration prunes: {}",
        registry.pools.len()
    );

    assert_eq!(registry.shed(usize::MAX), 1);
    assert_eq!(registry.pools.len(), 1);
}

/// The smallest component: the preamble of the component binary format, nothing in it.
const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// An engine whose pooling allocator has room for one instance at a time.
struct OneSlot {
    engine: wasmtime::Engine,
    component: wasmtime::component::Component,
    linker: wasmtime::component::Linker<()>,
}

impl OneSlot {
    fn new() -> Self {
        let mut pooling = wasmtime::PoolingAllocationConfig::default();
        pooling
            .total_component_instances(1)
            .total_core_instances(1)
            .total_memories(1)
            .total_tables(1)
            .max_memory_size(1 << 16);
        let mut config = wasmtime::Config::new();
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
        let engine = wasmtime::Engine::new(&config).unwrap();
        let component = wasmtime::component::Component::new(&engine, EMPTY_COMPONENT).unwrap();
        let linker = wasmtime::component::Linker::new(&engine);
        OneSlot {
            engine,
            component,
            linker,
        }
    }

    /// A store holding an instance, or the allocator's error.
    fn instantiate(&self) -> Result<wasmtime::Store<()>, wasmtime::Error> {
        let mut store = wasmtime::Store::new(&self.engine, ());
        self.linker.instantiate(&mut store, &self.component)?;
        Ok(store)
    }
}

#[test]
fn a_full_pooling_allocator_is_told_apart_from_other_errors() {
    let slot = OneSlot::new();
    let first = slot.instantiate().unwrap();
    let full = slot.instantiate().unwrap_err();
    assert!(full.allocator_full(), "{full:#}");
    assert!(full.context("while loading a route").allocator_full());
    assert!(!wasmtime::Error::msg("the plugin ran past its deadline").allocator_full());
    drop(first);
    slot.instantiate().unwrap();
}

#[test]
fn an_instantiation_finding_the_allocator_full_drops_idle_instances_and_tries_again() {
    let slot = OneSlot::new();
    let registry = Mutex::new(Registry::new());
    let idle = Arc::new(Idle(Mutex::new(vec![slot.instantiate().unwrap()])));
    let shed: Arc<dyn Shed> = idle.clone();
    registry.lock().unwrap().register(Arc::downgrade(&shed));

    let mut attempts = 0;
    let store = block_on(with_room_in(
        &registry,
        &Room::new(),
        Duration::ZERO,
        || {
            attempts += 1;
            std::future::ready(slot.instantiate())
        },
    ))
    .unwrap()
    .unwrap();
    assert_eq!(attempts, 2, "one failure, then room made");
    assert!(idle.0.lock().unwrap().is_empty());

    // The slot is held by a store in use, not an idle one, and no time is given to wait for
    // it: the error says so.
    let error = block_on(with_room_in(
        &registry,
        &Room::new(),
        Duration::ZERO,
        || std::future::ready(slot.instantiate()),
    ))
    .unwrap()
    .unwrap_err();
    assert!(error.allocator_full());
    assert!(
        format!("{error:#}").starts_with(&no_room_message(Duration::ZERO)),
        "{error:#}"
    );
    drop(store);
}

#[test]
fn an_instantiation_waits_for_a_slot_in_flight_to_come_back() {
    let slot = OneSlot::new();
    let registry = Mutex::new(Registry::new());
    let room = Room::new();
    let in_flight = slot.instantiate().unwrap();

    let mut attempts = 0;
    let store = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            drop(in_flight);
            room.may_be_free();
        });
        block_on(with_room_in(
            &registry,
            &room,
            Duration::from_secs(30),
            || {
                attempts += 1;
                std::future::ready(slot.instantiate())
            },
        ))
    });
    assert!(store.unwrap().is_ok());
    assert!(attempts >= 2, "the slot was in flight at the first attempt");
    assert_eq!(room.waits.load(Ordering::Relaxed), 1);
    assert_eq!(room.expired.load(Ordering::Relaxed), 0);
    assert!(room.waited_micros.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_wait_for_room_ends_after_the_time_given_and_names_the_setting() {
    let slot = OneSlot::new();
    let _in_flight = slot.instantiate().unwrap();
    let wait = Duration::from_millis(150);
    let room = Room::new();
    let started = std::time::Instant::now();
    let error = block_on(with_room_in(
        &Mutex::new(Registry::new()),
        &room,
        wait,
        || std::future::ready(slot.instantiate()),
    ))
    .unwrap()
    .unwrap_err();
    assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
    assert_eq!(room.waits.load(Ordering::Relaxed), 1);
    assert_eq!(room.expired.load(Ordering::Relaxed), 1);
    assert!(room.waited_micros.load(Ordering::Relaxed) >= 150_000);
    let message = format!("{error:#}");
    assert!(message.contains("within 150ms"), "{message}");
    assert!(message.contains("\"instanceSlots\""), "{message}");
    assert!(message.contains("maximum concurrent limit"), "{message}");
}

#[test]
fn a_waiter_is_woken_by_a_slot_coming_back_after_it_registered_and_only_then() {
    let room = Room::new();
    let far = || Instant::now() + Duration::from_secs(30);
    block_on(async {
        // Nobody waiting: nothing is kept for a later waiter, which would wake for nothing.
        room.may_be_free();
        let mut waiter = Waiter::register(&room);
        assert_eq!(waiter.wait(far()).await, WaitEnd::Unwoken);

        // Registered before the slot came back: woken, though not yet waiting then.
        room.may_be_free();
        assert_eq!(waiter.wait(far()).await, WaitEnd::Woken);
        // The wake-up was used up; the waiter is registered again for the next one.
        assert_eq!(waiter.wait(far()).await, WaitEnd::Unwoken);
        room.may_be_free();
        assert_eq!(waiter.wait(far()).await, WaitEnd::Woken);

        assert_eq!(waiter.wait(Instant::now()).await, WaitEnd::Expired);
        assert_eq!(room.waiting.load(Ordering::SeqCst), 1);
        drop(waiter);
        assert_eq!(room.waiting.load(Ordering::SeqCst), 0);
    })
    .unwrap();
}

#[test]
fn the_waits_are_rendered_for_prometheus() {
    let room = Room::new();
    room.waits.store(3, Ordering::Relaxed);
    room.expired.store(1, Ordering::Relaxed);
    room.waited_micros.store(1_250_000, Ordering::Relaxed);
    let _waiter = Waiter::register(&room);
    let mut out = String::new();
    room.render(&mut out, Some(1000));
    assert_eq!(
        out,
        "# TYPE ferrogate_plugin_instance_slots gauge\n\
         ferrogate_plugin_instance_slots 1000\n\
         # TYPE ferrogate_plugin_instance_slot_waiting gauge\n\
         ferrogate_plugin_instance_slot_waiting 1\n\
         # TYPE ferrogate_plugin_instance_slot_waits_total counter\n\
         ferrogate_plugin_instance_slot_waits_total 4\n\
         # TYPE ferrogate_plugin_instance_slot_wait_expired_total counter\n\
         ferrogate_plugin_instance_slot_wait_expired_total 1\n\
         # TYPE ferrogate_plugin_instance_slot_wait_seconds_total counter\n\
         ferrogate_plugin_instance_slot_wait_seconds_total 1.25\n"
    );

    // Instances allocated on demand have no slots to report.
    let mut out = String::new();
    room.render(&mut out, None);
    assert!(
        out.starts_with("# TYPE ferrogate_plugin_instance_slot_waiting gauge\n"),
        "{out}"
    );
}

#[test]
fn other_errors_are_not_tried_again() {
    let registry = Mutex::new(Registry::new());
    let mut attempts = 0;
    let error = block_on(with_room_in(
        &registry,
        &Room::new(),
        Duration::ZERO,
        || {
            attempts += 1;
            std::future::ready(Err::<(), _>(wasmtime::Error::msg("a trap in init")))
        },
    ))
    .unwrap()
    .unwrap_err();
    assert_eq!(
        (attempts, format!("{error:#}")),
        (1, "a trap in init".into())
    );
}

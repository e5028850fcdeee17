//! The instances kept between requests for one plugin object or run: a few, of the
//! component's current version only.

use std::sync::Mutex;

/// At most this many idle instances are kept; more than the workers can use at once only
/// hold memory.
const POOL_SIZE: usize = 16;

/// An instance of one compiled version of a component.
pub trait Versioned {
    fn generation(&self) -> u64;
}

pub struct Pool<T> {
    idle: Mutex<Vec<T>>,
}

impl<T: Versioned> Pool<T> {
    pub fn new() -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle instance of `generation`, if there is one; one of an older version is dropped.
    pub fn take(&self, generation: u64) -> Option<T> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        pooled.filter(|instance| instance.generation() == generation)
    }

    /// Drops every idle instance.
    pub fn clear(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    #[cfg(test)]
    pub fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    pub fn put(&self, instance: T) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(instance);
        }
    }
}

//! Hostile `InfiniteLoop`: spins forever on every request (the CPU deadline must stop it).
use ferrogate_sdk::{Filter, Outcome, Request};

struct InfiniteLoop;

impl Filter for InfiniteLoop {
    fn new() -> Result<Self, String> {
        Ok(Self)
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

ferrogate_sdk::export_filter!(InfiniteLoop, "InfiniteLoop");

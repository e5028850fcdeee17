//! Hostile `MemoryBomb`: grows a Vec until allocation fails (the memory cap must stop it; on
//! wasm an allocation failure aborts, which is a trap).
use ferrogate_sdk::{Filter, Outcome, Request};

struct MemoryBomb;

impl Filter for MemoryBomb {
    fn new() -> Result<Self, String> {
        Ok(Self)
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        loop {
            chunks.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&chunks);
        }
    }
}

ferrogate_sdk::export_filter!(MemoryBomb, "MemoryBomb");

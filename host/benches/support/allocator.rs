//! The gateway's binary allocates with mimalloc (`host/src/main.rs`); the benches do too, so
//! that what they measure is what the binary runs.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

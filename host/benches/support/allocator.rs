//! The gateway's binary allocates with mimalloc (`ferrogate-alloc`, `host/src/main.rs`); the
//! benches do too, so that what they measure is what the binary runs.

#[global_allocator]
static ALLOCATOR: ferrogate_alloc::MiMalloc = ferrogate_alloc::MiMalloc;

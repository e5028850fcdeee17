use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::*;

/// The size of the future a six-argument function returns, from its type alone.
fn returned_size<F, A, B, C, D, E, G, Fut>(_: F) -> usize
where
    F: FnOnce(A, B, C, D, E, G) -> Fut,
{
    std::mem::size_of::<Fut>()
}

/// What an idle keep-alive connection costs is mostly its task: tokio (1.54) puts the future in
/// a cell of a 32-byte header, 16 bytes of scheduler and id, an 8-byte stage tag and a
/// 48-byte trailer, aligned to 128 bytes. A future of up to 152 bytes makes a 256-byte cell;
/// one byte more makes it 384 (docs/PERFORMANCE.md, target 5 of the idle scenario).
#[test]
fn an_idle_plain_connection_fits_a_256_byte_task_cell() {
    let size = returned_size(serve::<OwnedReadHalf, OwnedWriteHalf>);
    assert!(
        size <= 152,
        "h1::serve's future is {size} bytes: every idle connection's task grows by 128"
    );
}

/// Every request on a connection allocates its `respond` future. mimalloc serves blocks of
/// up to 1 KiB from a per-size free list; a larger one takes its generic path, about 200
/// instructions more per request (docs/development.md, "Counting instructions").
#[test]
fn a_requests_future_stays_within_the_allocators_small_blocks() {
    let size = returned_size(respond::<OwnedReadHalf, OwnedWriteHalf>);
    assert!(
        size <= 1024,
        "h1::respond's future is {size} bytes: past 1 KiB every request allocates it the slow way"
    );
}

//! Synchronous definitions of the WASI stream and poll operations wasmtime-wasi defines as
//! async: the blocking reads, writes and flushes, the stream destructors, `poll` and
//! `pollable.block`.
//!
//! wasmtime runs a component on a fiber, with a boxed future per call, as soon as one
//! function it imports is async, and every Rust plugin imports a blocking flush and
//! `pollable.block` through the standard library's stdout. A plugin's stdio never waits
//! (stdin is empty, stdout discards what it gets, stderr keeps it in memory), so for a
//! component that can reach no other stream or pollable (no clock subscription, socket or
//! file: `loader` checks) these operations complete on their first poll and can be plain
//! calls. Such a plugin then runs without a fiber (docs/plugin-runtime.md has the
//! measurement). These
//! definitions live only in the runtime's immediate linker.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{Linker, Resource, ResourceTable, ResourceType};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable};
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    self as wit, Host as _, HostInputStream, HostOutputStream,
};
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream, StreamError};

use super::state::StoreState;

/// The interfaces as wasmtime-wasi's linker names them; components importing an older 0.2
/// version are matched to them by semver.
const STREAMS: &str = "wasi:io/streams@0.2.12";
const POLL: &str = "wasi:io/poll@0.2.12";

const WOULD_WAIT: &str = "a plugin stream would wait: plugin stdio is defined to never wait";

/// Polls once. Everything such a plugin can reach is ready at once; anything else would
/// need the async path, and failing loudly says so rather than blocking a worker thread.
fn poll_once<T>(operation: impl Future<Output = T>) -> Option<T> {
    match pin!(operation).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => Some(result),
        Poll::Pending => None,
    }
}

fn at_once<T>(operation: impl Future<Output = Result<T, StreamError>>) -> Result<T, StreamError> {
    poll_once(operation).unwrap_or_else(|| Err(StreamError::trap(WOULD_WAIT)))
}

fn ready_at_once<T>(
    operation: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<(T,)> {
    poll_once(operation)
        .unwrap_or_else(|| Err(wasmtime::format_err!("{WOULD_WAIT}")))
        .map(|value| (value,))
}

/// A stream result as the guest sees it (`result<T, stream-error>`); a trap stays a trap.
fn answer<T>(
    table: &mut ResourceTable,
    result: Result<T, StreamError>,
) -> wasmtime::Result<(Result<T, wit::StreamError>,)> {
    match result {
        Ok(value) => Ok((Ok(value),)),
        Err(error) => Ok((Err(table.convert_stream_error(error)?),)),
    }
}

/// Replaces wasmtime-wasi's async definitions in `linker` (which must already hold them).
pub fn define_sync(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut streams = linker.instance(STREAMS)?;
    streams.resource(
        "output-stream",
        ResourceType::host::<DynOutputStream>(),
        |mut cx, rep| {
            let mut stream = cx
                .data_mut()
                .table
                .delete(Resource::<DynOutputStream>::new_own(rep))?;
            // Cancelling a discarding stream has nothing to wait for.
            let _ = poll_once(stream.cancel());
            Ok(())
        },
    )?;
    streams.resource(
        "input-stream",
        ResourceType::host::<DynInputStream>(),
        |mut cx, rep| {
            let mut stream = cx
                .data_mut()
                .table
                .delete(Resource::<DynInputStream>::new_own(rep))?;
            let _ = poll_once(stream.cancel());
            Ok(())
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-write-and-flush",
        |mut cx, (stream, bytes): (Resource<DynOutputStream>, Vec<u8>)| {
            let table = &mut cx.data_mut().table;
            let result = at_once(HostOutputStream::blocking_write_and_flush(
                table, stream, bytes,
            ));
            answer(table, result)
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-write-zeroes-and-flush",
        |mut cx, (stream, len): (Resource<DynOutputStream>, u64)| {
            let table = &mut cx.data_mut().table;
            let result = at_once(HostOutputStream::blocking_write_zeroes_and_flush(
                table, stream, len,
            ));
            answer(table, result)
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-flush",
        |mut cx, (stream,): (Resource<DynOutputStream>,)| {
            let table = &mut cx.data_mut().table;
            let result = at_once(HostOutputStream::blocking_flush(table, stream));
            answer(table, result)
        },
    )?;
    streams.func_wrap(
        "[method]output-stream.blocking-splice",
        |mut cx,
         (stream, source, len): (
            Resource<DynOutputStream>,
            Resource<DynInputStream>,
            u64,
        )| {
            let table = &mut cx.data_mut().table;
            let result = at_once(HostOutputStream::blocking_splice(
                table, stream, source, len,
            ));
            answer(table, result)
        },
    )?;
    streams.func_wrap(
        "[method]input-stream.blocking-read",
        |mut cx, (stream, len): (Resource<DynInputStream>, u64)| {
            let table = &mut cx.data_mut().table;
            let result = at_once(HostInputStream::blocking_read(table, stream, len));
            answer(table, result)
        },
    )?;
    streams.func_wrap(
        "[method]input-stream.blocking-skip",
        |mut cx, (stream, len): (Resource<DynInputStream>, u64)| {
            let table = &mut cx.data_mut().table;
            let result = at_once(HostInputStream::blocking_skip(table, stream, len));
            answer(table, result)
        },
    )?;
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap(
        "poll",
        |mut cx, (pollables,): (Vec<Resource<DynPollable>>,)| {
            ready_at_once(cx.data_mut().table.poll(pollables))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut cx, (pollable,): (Resource<DynPollable>,)| {
            ready_at_once(HostPollable::block(&mut cx.data_mut().table, pollable)).map(|_| ())
        },
    )?;
    poll.func_wrap(
        "[method]pollable.ready",
        |mut cx, (pollable,): (Resource<DynPollable>,)| {
            ready_at_once(HostPollable::ready(&mut cx.data_mut().table, pollable))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

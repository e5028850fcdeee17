//! The gateway's global allocator: mimalloc, asked for an aligned block only when a layout
//! needs more alignment than every block of its size already has.
//!
//! `mimalloc::MiMalloc` calls `mi_malloc_aligned` for every layout. In mimalloc 3 that call
//! has a fast path only for sizes up to 1 KiB, and only while the size class's page has a
//! free block ready; otherwise it takes a generic path which, for a size whose block is not a
//! power of two, over-allocates (size plus alignment) from a larger size class. The size
//! class's own page then never collects the blocks freed to it, and every later allocation of
//! that size takes the slow path again. On the plain proxy route that was five of the fifteen
//! allocations of each request, about 1,500 instructions of a proxied request's 27,000
//! (docs/development.md, "Counting instructions").
//!
//! The rule is the one std's `System` allocator applies to `malloc` on Unix: an alignment of
//! at most 16 bytes that is no larger than the size is what `malloc` guarantees (mimalloc's
//! size classes are whole multiples of 16 bytes beyond 8 bytes), so `mi_malloc` serves it.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// What `mi_malloc` aligns every block of at least this size to (mimalloc's
/// `MI_MAX_ALIGN_SIZE`, `max_align_t` on x86-64 and aarch64).
const MALLOC_ALIGN: usize = 16;

/// mimalloc as the global allocator.
pub struct MiMalloc;

/// Whether a plain `mi_malloc` block satisfies `layout`.
#[inline]
fn plain(layout: &Layout) -> bool {
    layout.align() <= MALLOC_ALIGN && layout.align() <= layout.size()
}

// SAFETY: every method forwards to mimalloc, which returns blocks of at least the requested
// size with the requested alignment (plain blocks only where `plain` says malloc's alignment
// covers it), or null; `dealloc` and `realloc` receive only pointers this allocator returned,
// which `mi_free` and `mi_realloc*` accept whichever entry point allocated them.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(&layout) {
            // SAFETY: mi_malloc has no preconditions.
            unsafe { mi::mi_malloc(layout.size()) }.cast()
        } else {
            // SAFETY: Layout guarantees a power-of-two alignment.
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()) }.cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(&layout) {
            // SAFETY: mi_zalloc has no preconditions.
            unsafe { mi::mi_zalloc(layout.size()) }.cast()
        } else {
            // SAFETY: Layout guarantees a power-of-two alignment.
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()) }.cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator returned.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = Layout::from_size_align(new_size, layout.align());
        if grown.as_ref().is_ok_and(plain) && plain(&layout) {
            // SAFETY: the caller passes a block this allocator returned.
            unsafe { mi::mi_realloc(ptr.cast::<c_void>(), new_size) }.cast()
        } else {
            // SAFETY: the caller passes a block this allocator returned, and Layout guarantees
            // a power-of-two alignment.
            unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()) }.cast()
        }
    }
}

#[cfg(test)]
mod tests;

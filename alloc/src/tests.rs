use super::*;

#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

fn is_aligned(ptr: *const u8, align: usize) -> bool {
    (ptr as usize).is_multiple_of(align)
}

#[test]
fn every_size_and_alignment_gets_a_block_aligned_as_asked() {
    for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
        for size in (1..=600).chain([1000, 1024, 1025, 1500, 2048, 4097, 70_000, 1 << 20]) {
            let layout = Layout::from_size_align(size, align).expect("a valid layout");
            // SAFETY: the layout has a non-zero size; the block is freed with it.
            unsafe {
                let block = ALLOCATOR.alloc(layout);
                assert!(!block.is_null(), "size {size} align {align}");
                assert!(
                    is_aligned(block, align),
                    "size {size} align {align}: {block:p}"
                );
                block.write_bytes(0xa5, size);
                ALLOCATOR.dealloc(block, layout);
            }
        }
    }
}

#[test]
fn zeroed_blocks_are_zero_and_aligned() {
    for (size, align) in [(24, 8), (24, 16), (1500, 8), (100, 64), (3, 1)] {
        let layout = Layout::from_size_align(size, align).expect("a valid layout");
        // SAFETY: as above.
        unsafe {
            let block = ALLOCATOR.alloc_zeroed(layout);
            assert!(is_aligned(block, align));
            assert!(
                std::slice::from_raw_parts(block, size)
                    .iter()
                    .all(|&byte| byte == 0)
            );
            ALLOCATOR.dealloc(block, layout);
        }
    }
}

#[test]
fn reallocation_keeps_contents_and_alignment_across_the_plain_limit() {
    // From plain to aligned and back: 8 bytes at 16 is not plain, 64 at 16 is; 100 at 128
    // never is.
    for (from, to, align) in [
        (8, 64, 16),
        (64, 8, 16),
        (24, 5000, 8),
        (5000, 24, 8),
        (100, 300, 128),
    ] {
        let layout = Layout::from_size_align(from, align).expect("a valid layout");
        // SAFETY: as above; the block is freed with the layout of its last size.
        unsafe {
            let block = ALLOCATOR.alloc(layout);
            for at in 0..from {
                block.add(at).write(at as u8);
            }
            let moved = ALLOCATOR.realloc(block, layout, to);
            assert!(is_aligned(moved, align), "{from} -> {to} at {align}");
            for at in 0..from.min(to) {
                assert_eq!(moved.add(at).read(), at as u8, "{from} -> {to} at {align}");
            }
            ALLOCATOR.dealloc(moved, Layout::from_size_align(to, align).expect("valid"));
        }
    }
}

#[test]
fn collections_work_on_it() {
    let mut map = std::collections::HashMap::new();
    for key in 0..10_000u32 {
        map.insert(key, vec![key; (key % 37) as usize]);
    }
    assert_eq!(map[&36].len(), 36);
    let text: String = (0..1000).map(|n| n.to_string()).collect();
    assert!(text.starts_with("0123"));
}

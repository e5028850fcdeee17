//! What the gateway process asks of the kernel's memory management.

use crate::{body_of, static_route};

/// The heap is built with mimalloc's `no_thp`: advised for transparent huge pages, the heap
/// would grow in 2 MiB pieces, and an idle keep-alive connection cost about half as much
/// again in RSS (docs/development.md). `hg` in a mapping's VmFlags is the kernel's mark of
/// `madvise(MADV_HUGEPAGE)`. Where the kernel offers no THP at all, mimalloc advises nothing
/// either way, and this holds trivially.
#[cfg(target_os = "linux")]
#[test]
fn the_heap_is_not_advised_for_transparent_huge_pages() {
    let (_config, gateway) = ferrogate_e2e::serve(&[("a.json", static_route(None, None, "a"))]);
    // Some requests, so that the heap has grown past what start-up allocated.
    for _ in 0..20 {
        assert_eq!(body_of(&gateway, "/"), "a");
    }
    let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", gateway.pid()))
        .expect("the gateway's /proc/PID/smaps");
    let mut mapping = "";
    let mut advised = Vec::new();
    for line in smaps.lines() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if flags.split_whitespace().any(|flag| flag == "hg") {
                advised.push(mapping.to_owned());
            }
        } else if line
            .split_whitespace()
            .next()
            .is_some_and(|range| range.contains('-') && !range.ends_with(':'))
        {
            mapping = line;
        }
    }
    assert!(
        advised.is_empty(),
        "mappings advised for huge pages: {advised:?}"
    );
}

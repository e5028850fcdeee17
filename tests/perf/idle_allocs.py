#!/usr/bin/env python3
"""Reads the allocation trace of tests/perf/idle_allocs: what is still allocated at its end,
per connection, grouped by size and alignment, and how the mimalloc arena's resident memory
grew meanwhile.

The trace is `perf script -F tid,event,trace` of uprobes on mimalloc's entry points and
returns (GROUP:malloc, malloc_ret, zalloc, zalloc_ret, realloc, realloc_ret for the aligned
forms; pmalloc, pzalloc, prealloc and their returns for the plain ones, which carry no
alignment and are listed with 0; free; perf adds "__return" to the names of return probes). An entry
and its return are paired by thread. Standard library only.
"""

import argparse
import collections
import json
import re

EVENT = re.compile(r"\s*(\d+)\s+(\w+):(\w+):\s*\([^)]*\)\s*(.*)")
ARGUMENT = re.compile(r"(\w+)=(0x[0-9a-f]+|\d+)")
MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")
FIELD = re.compile(r"^(\w+):\s+(\d+) kB")


def mimalloc_size_class(size: int) -> int:
    """The block size mimalloc serves `size` from: one word, then pairs of words up to 8 words
    (its minimal alignment is 16 bytes on 64-bit targets, `MI_ALIGN2W`), then four classes per
    doubling (mimalloc's `_mi_bin`), for the sizes small objects have."""
    words = max(1, (size + 7) // 8)
    if words <= 8:
        return 8 if words == 1 else (words + 1) // 2 * 16
    high = words.bit_length() - 1
    step = 1 << (high - 2)
    return ((words + step - 1) // step) * step * 8


def live_allocations(trace_lines, group):
    """Allocations made during the trace and not freed by its end: address -> (size, align).
    Also counts frees and reallocations of blocks older than the trace."""
    live = {}
    pending = {}
    older = collections.Counter()
    for line in trace_lines:
        match = EVENT.match(line)
        if not match or match.group(2) != group:
            continue
        thread, arguments = match.group(1), match.group(4)
        # perf names a return probe after the name it was given, plus "__return".
        event = match.group(3).removesuffix("__return")
        values = {name: int(value, 0) for name, value in ARGUMENT.findall(arguments)}
        if event.endswith("_ret"):
            call = pending.pop(thread, None)
            if call is None:
                continue
            size, align, old = call
            if old:
                if old in live:
                    del live[old]
                else:
                    older["reallocated"] += 1
            if values.get("ret"):
                live[values["ret"]] = (size, align)
        elif event in ("malloc", "zalloc", "pmalloc", "pzalloc"):
            pending[thread] = (values["size"], values.get("align", 0), 0)
        elif event in ("realloc", "prealloc"):
            pending[thread] = (values["size"], values.get("align", 0), values["p"])
        elif event == "free" and values.get("p"):
            if values["p"] in live:
                del live[values["p"]]
            else:
                older["freed"] += 1
    return live, older


def resident_growth_kb(before_path, after_path):
    """Per mapping whose resident size changed: (start address, name, before, after) in KiB."""

    def load(path):
        mappings = {}
        current = None
        with open(path) as smaps:
            for line in smaps:
                mapping = MAPPING.match(line)
                if mapping:
                    current = (mapping.group(1), mapping.group(3))
                    mappings[current] = 0
                    continue
                field = FIELD.match(line)
                if field and current and field.group(1) == "Rss":
                    mappings[current] = int(field.group(2))
        return mappings

    before, after = load(before_path), load(after_path)
    return [
        (start, name or "[anonymous]", before.get(key, 0), after.get(key, 0))
        for key in sorted(set(before) | set(after))
        for start, name in [key]
        if before.get(key, 0) != after.get(key, 0)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--smaps-before", required=True)
    parser.add_argument("--smaps-after", required=True)
    parser.add_argument("--ready", required=True, help="the idle client's first line")
    args = parser.parse_args()

    opened = json.loads(args.ready).get("opened", 0)
    if not opened:
        raise SystemExit("no connection was opened")
    with open(args.trace) as trace:
        live, older = live_allocations(trace, args.group)
    groups = collections.Counter(live.values())
    requested = sum(size * count for (size, _), count in groups.items())
    in_classes = sum(mimalloc_size_class(size) * count for (size, _), count in groups.items())
    print(f"{opened} idle connections; allocations made meanwhile and still live:")
    print(f"{'size':>8} {'align':>5} {'class':>6} {'count':>8} {'per conn':>8} {'bytes/conn':>10}")
    for (size, align), count in sorted(groups.items(), key=lambda kv: -kv[0][0] * kv[1]):
        share = mimalloc_size_class(size) * count / opened
        if share < 1:
            continue
        print(f"{size:>8} {align:>5} {mimalloc_size_class(size):>6} {count:>8} "
              f"{count / opened:>8.2f} {share:>10.1f}")
    print(f"requested {requested / opened:.0f} bytes per connection, "
          f"{in_classes / opened:.0f} in mimalloc's size classes; "
          f"blocks older than the trace freed {older['freed']}, "
          f"reallocated {older['reallocated']}")
    for start, name, before, after in resident_growth_kb(args.smaps_before, args.smaps_after):
        print(f"resident {name} at {start}: {before} -> {after} KiB, "
              f"{(after - before) * 1024 / opened:.0f} bytes per connection")


if __name__ == "__main__":
    main()

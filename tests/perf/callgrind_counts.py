#!/usr/bin/env python3
"""Instructions per request from the callgrind dumps of tests/perf/instructions, and where a
target's instructions go, by function (self cost, inlined code counted where it ran: callgrind
names inlined code by the function it was inlined into). With --locked (dumps made with
--dump-instr=yes), the atomic read-modify-write instructions each target executes per request,
found by disassembling its objects with objdump. With --cache (dumps made with --cache-sim=yes
--branch-sim=yes), the simulated cache misses and mispredicted branches per request, which the
instruction count leaves out. Standard library only."""

import argparse
import collections
import os
import re
import subprocess

NAMED = re.compile(r"\((\d+)\)(?: (.*))?")
# objdump's lines: "  84b4e2:\tlock incq (%rax)". A lock prefix, or xchg with a memory
# operand (locked without one), makes a read-modify-write atomic: each costs some twenty
# cycles and orders the core's memory accesses, whatever the instruction count says.
DISASSEMBLED = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")


def totals(lines):
    """The dump's total of instructions executed."""
    return event_totals(lines)["Ir"]


def event_names(lines):
    """The dump's events (the `events:` header), in the order of its cost columns."""
    for line in lines:
        if line.startswith("events:"):
            return line.split()[1:]
    raise ValueError("no events: line in the dump")


def event_totals(lines):
    """Every event's total by name (the `events:` header and the `totals:` or `summary:`
    line): Ir alone by default; the cache and branch simulations add their events."""
    names, values = event_names(lines), None
    for line in lines:
        if line.startswith(("totals:", "summary:")):
            values = [int(value) for value in line.split()[1:]]
    if values is None:
        raise ValueError("no totals: or summary: line in the dump")
    # callgrind leaves out trailing zeros.
    values += [0] * (len(names) - len(values))
    return dict(zip(names, values))


# What the cache and branch simulations add up to, and callgrind_annotate's estimate of the
# cycles they cost: an L1 miss served by the last level about 10 cycles, a last-level miss
# about 100, a mispredicted branch about 10. Rough, but the same for every target.
MISSES = {
    "I1 misses": ("I1mr",),
    "D1 misses": ("D1mr", "D1mw"),
    "LL misses": ("ILmr", "DLmr", "DLmw"),
    "mispredicts": ("Bcm", "Bim"),
}
CYCLE_WEIGHTS = {"I1 misses": 10, "D1 misses": 10, "LL misses": 100, "mispredicts": 10}


def miss_counts(events):
    """The misses of a dump's event totals, grouped as MISSES, and the estimated cycles
    (instructions plus the weighted misses); None without the simulations' events."""
    if not all(name in events for group in MISSES.values() for name in group):
        return None
    counts = {group: sum(events[name] for name in names) for group, names in MISSES.items()}
    counts["estimated cycles"] = events["Ir"] + sum(
        CYCLE_WEIGHTS[group] * counts[group] for group in CYCLE_WEIGHTS)
    return counts


def own_costs(lines):
    """Each cost line that counts instructions executed in a function itself (not a call's
    inclusive cost), as (object, function, first position, cost), with callgrind's name
    compression resolved and its relative positions made absolute. The first position is an
    instruction address when the dump was made with --dump-instr=yes, else a line number."""
    for obj, function, first, values in own_event_costs(lines):
        yield obj, function, first, values[0]


def own_event_costs(lines):
    """As own_costs, with every event's cost of the line (in the `events:` order, trailing
    zeros left out as callgrind leaves them out)."""
    names = {"ob": {}, "fn": {}}
    columns = 1
    last = []
    current = {"ob": None, "fn": None}
    after_calls = False

    def resolve(kind, spec):
        match = NAMED.match(spec)
        if not match:
            return spec
        if match.group(2):
            names[kind][match.group(1)] = match.group(2)
        return names[kind].get(match.group(1), match.group(1))

    def position(spec, previous):
        if spec == "*":
            return previous
        if spec[0] in "+-":
            return previous + int(spec, 0)
        return int(spec, 0)

    for line in lines:
        if line.startswith("positions:"):
            columns = len(line.split()) - 1
            last = [0] * columns
        elif line.startswith(("ob=", "fn=")):
            current[line[:2]] = resolve(line[:2], line[3:].strip())
        elif line.startswith(("cob=", "cfn=")):
            resolve(line[1:3], line[4:].strip())
        elif line.startswith("calls="):
            # The next cost line is the call's inclusive cost, not the caller's own.
            after_calls = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            fields = line.split()
            if len(fields) <= columns:
                continue
            if not last:
                last = [0] * columns
            last = [position(spec, previous) for spec, previous in zip(fields, last)]
            if after_calls:
                after_calls = False
            elif current["fn"] is not None:
                yield current["ob"], current["fn"], last[0], [int(v) for v in fields[columns:]]


def self_misses(lines, group):
    """One of MISSES's groups counted in each function itself, by name."""
    names = event_names(lines)
    wanted = [names.index(name) for name in MISSES[group]]
    costs = collections.Counter()
    for _, function, _, values in own_event_costs(lines):
        costs[function] += sum(values[i] for i in wanted if i < len(values))
    return costs


def self_costs(lines):
    """Instructions executed in each function itself, by name."""
    costs = collections.Counter()
    for _, function, _, cost in own_costs(lines):
        costs[function] += cost
    return costs


def locked_addresses(disassembly):
    """The addresses of atomic read-modify-write instructions in objdump -d's output."""
    addresses = set()
    for line in disassembly.splitlines():
        match = DISASSEMBLED.match(line)
        if not match:
            continue
        instruction = match.group(2).split("#")[0]
        if instruction.startswith("lock ") or (
            instruction.startswith("xchg") and "(" in instruction
        ):
            addresses.add(int(match.group(1), 16))
    return addresses


def disassemble(path):
    """The disassembly of an object file, or None when it cannot be read."""
    if not os.path.isfile(path):
        return None
    result = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path],
                            capture_output=True, text=True, errors="replace")
    return result.stdout if result.returncode == 0 else None


def locked_costs(lines, locked_of):
    """Atomic read-modify-writes executed, by function, from a dump with instruction
    addresses; `locked_of(object)` gives an object's locked addresses (empty if unknown).
    callgrind gives addresses relative to each object's file, as objdump does."""
    counts = collections.Counter()
    for obj, function, address, cost in own_costs(lines):
        if obj and address in locked_of(obj):
            counts[function] += cost
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True,
                        help="TSV: target, requests, callgrind dump")
    parser.add_argument("--top", type=int, default=0,
                        help="list this many functions per target")
    parser.add_argument("--locked", action="store_true",
                        help="count atomic read-modify-writes too (dumps with instruction addresses)")
    parser.add_argument("--cache", action="store_true",
                        help="report simulated cache misses and mispredicts (dumps with the simulations)")
    args = parser.parse_args()
    rows = []
    with open(args.results) as results:
        for line in results:
            target, requests, dump = line.rstrip("\n").split("\t")
            with open(dump, errors="replace") as data:
                lines = data.read().splitlines()
            rows.append((target, int(requests), totals(lines), lines))
    reference = next((row for row in rows if row[0].startswith("nginx-")), None)
    print(f"{'target':<24} {'requests':>9} {'instructions/request':>21} {'/ nginx':>8}")
    for target, requests, total, _ in rows:
        per_request = total / requests
        ratio = ""
        if reference:
            ratio = f"{per_request / (reference[2] / reference[1]):.2f}x"
        print(f"{target:<24} {requests:>9} {per_request:>21,.0f} {ratio:>8}")
    for target, requests, total, lines in rows:
        if args.top <= 0:
            break
        print(f"\n{target}: instructions per request by function (self)")
        for name, cost in self_costs(lines).most_common(args.top):
            print(f"{cost / requests:>9,.0f} {100 * cost / total:5.1f} %  {name[:140]}")
    if args.locked:
        print_locked(rows, args.top)
    if args.cache:
        print_misses(rows, args.top)


def print_misses(rows, top):
    columns = list(MISSES) + ["estimated cycles"]
    print(f"\n{'target':<24}" + "".join(f" {name + '/request':>24}" for name in columns))
    for target, requests, _, lines in rows:
        counts = miss_counts(event_totals(lines))
        if counts is None:
            print(f"{target:<24} (no cache simulation in the dump)")
            continue
        print(f"{target:<24}" + "".join(f" {counts[name] / requests:>24,.1f}" for name in columns))
    for target, requests, _, lines in rows:
        if top <= 0:
            break
        for group in ("D1 misses", "I1 misses"):
            print(f"\n{target}: {group} per request by function (self)")
            for name, count in self_misses(lines, group).most_common(top):
                print(f"{count / requests:>9.1f}  {name[:140]}")


def print_locked(rows, top):
    disassembled = {}

    def locked_of(obj):
        if obj not in disassembled:
            text = disassemble(obj)
            disassembled[obj] = locked_addresses(text) if text else set()
        return disassembled[obj]

    counted = [(target, requests, locked_costs(lines, locked_of))
               for target, requests, _, lines in rows]
    print(f"\n{'target':<24} {'atomic read-modify-writes/request':>34}")
    for target, requests, counts in counted:
        print(f"{target:<24} {sum(counts.values()) / requests:>34.1f}")
    for target, requests, counts in counted:
        if top <= 0:
            break
        print(f"\n{target}: atomic read-modify-writes per request by function")
        for name, count in counts.most_common(top):
            if count / requests < 0.05:
                break
            print(f"{count / requests:>9.2f}  {name[:140]}")


if __name__ == "__main__":
    main()

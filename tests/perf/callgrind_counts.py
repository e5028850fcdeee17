#!/usr/bin/env python3
"""Instructions per request from the callgrind dumps of tests/perf/instructions, and where a
target's instructions go, by function (self cost, inlined code counted where it ran: callgrind
names inlined code by the function it was inlined into). Standard library only."""

import argparse
import collections
import re

NAMED = re.compile(r"\((\d+)\)(?: (.*))?")


def totals(lines):
    """The dump's event total (the `totals:` or `summary:` line), instructions executed."""
    total = None
    for line in lines:
        if line.startswith(("totals:", "summary:")):
            total = int(line.split()[1])
    if total is None:
        raise ValueError("no totals: or summary: line in the dump")
    return total


def self_costs(lines):
    """Instructions executed in each function itself, by name (name compression resolved)."""
    names = {}
    costs = collections.Counter()
    current = None
    after_calls = False

    def resolve(spec):
        match = NAMED.match(spec)
        if not match:
            return spec
        if match.group(2):
            names[match.group(1)] = match.group(2)
        return names.get(match.group(1), match.group(1))

    for line in lines:
        if line.startswith("fn="):
            current = resolve(line[3:].strip())
        elif line.startswith("cfn="):
            resolve(line[4:].strip())
        elif line.startswith("calls="):
            # The next cost line is the call's inclusive cost, not the caller's own.
            after_calls = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            fields = line.split()
            if len(fields) < 2:
                continue
            if after_calls:
                after_calls = False
            elif current is not None:
                costs[current] += int(fields[1])
    return costs


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True,
                        help="TSV: target, requests, callgrind dump")
    parser.add_argument("--top", type=int, default=0,
                        help="list this many functions per target")
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


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Prints the mean and 99th percentile request time, in milliseconds, of an h2load
--log-file (tab-separated: start time, status, duration in microseconds), since h2load's
own summary has no percentiles."""

import sys


def main() -> None:
    durations = []
    with open(sys.argv[1], encoding="ascii") as log:
        for line in log:
            fields = line.split("\t")
            if len(fields) >= 3:
                durations.append(int(fields[2]))
    if not durations:
        print("0 0")
        return
    durations.sort()
    # Nearest rank, as wrk reports its percentiles.
    p99 = durations[min(len(durations) - 1, -(-99 * len(durations) // 100) - 1)]
    print(f"{sum(durations) / len(durations) / 1000:.3f} {p99 / 1000:.3f}")


if __name__ == "__main__":
    main()

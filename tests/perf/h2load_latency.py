#!/usr/bin/env python3
"""Prints the mean, the 50th, 90th and 99th percentiles and the longest request time, in
milliseconds, of an h2load --log-file (tab-separated: start time, status, duration in
microseconds), since h2load's own summary has no percentiles."""

import sys

PERCENTILES = (50, 90, 99)


def nearest_rank(ordered, percent):
    """The percentile as wrk reports it: the value at the nearest rank, no interpolation."""
    return ordered[min(len(ordered) - 1, -(-percent * len(ordered) // 100) - 1)]


def latency_stats(durations_us):
    """Mean, the PERCENTILES and the maximum, in milliseconds; zeros for an empty log."""
    if not durations_us:
        return [0.0] * (len(PERCENTILES) + 2)
    ordered = sorted(durations_us)
    mean = sum(ordered) / len(ordered)
    picked = [nearest_rank(ordered, p) for p in PERCENTILES]
    return [value / 1000 for value in [mean, *picked, ordered[-1]]]


def main() -> None:
    durations = []
    with open(sys.argv[1], encoding="ascii") as log:
        for line in log:
            fields = line.split("\t")
            if len(fields) >= 3:
                durations.append(int(fields[2]))
    print(" ".join(f"{value:.3f}" for value in latency_stats(durations)))


if __name__ == "__main__":
    main()

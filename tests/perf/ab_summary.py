#!/usr/bin/env python3
"""The repetitions of tests/perf/ab and their medians: CPU µs per request of each build (user
time apart) and the per-repetition ratio new / old, paired by report.py's own pairing so
that both tools read repetitions alike.

Input, one line per repetition: REP, then for the old build and the new one each
utime+stime and stime in clock ticks before the run, the same after, and the requests
served.

    python3 ab_summary.py RESULTS CLK_TCK
"""

import sys

from report import paired, summary


def read_repetitions(lines, ticks_per_second):
    """{"old"|"new": [{"rep", "cpu", "user"}]}: µs per request of each repetition."""
    builds = {"old": [], "new": []}
    for line in lines:
        fields = [int(x) for x in line.split()]
        if not fields:
            continue
        rep = fields[0]
        for build, (before, before_system, after, after_system, requests) in (
                ("old", fields[1:6]), ("new", fields[6:11])):
            cpu = (after - before) * 1e6 / ticks_per_second / requests
            system = (after_system - before_system) * 1e6 / ticks_per_second / requests
            builds[build].append({"rep": rep, "cpu": cpu, "user": cpu - system})
    return builds


def report_lines(builds):
    lines = []
    for old, new in zip(builds["old"], builds["new"]):
        lines.append(f"rep {old['rep']:2}: old {old['cpu']:6.2f} µs (user {old['user']:5.2f})  "
                     f"new {new['cpu']:6.2f} µs (user {new['user']:5.2f})  "
                     f"new/old {new['cpu'] / old['cpu']:.3f}")

    def median(build, figure):
        return summary([r[figure] for r in builds[build]])["median"]

    ratios = {figure: summary(paired("ratio", builds["new"], builds["old"], figure, figure))
              for figure in ("cpu", "user")}
    lines.append(f"median: old {median('old', 'cpu'):.2f} µs (user {median('old', 'user'):.2f}), "
                 f"new {median('new', 'cpu'):.2f} µs (user {median('new', 'user'):.2f})")
    lines.append(f"new/old CPU per request: {ratios['cpu']['median']:.3f} (repetitions "
                 f"{ratios['cpu']['min']:.3f} - {ratios['cpu']['max']:.3f}); user time alone: "
                 f"{ratios['user']['median']:.3f}")
    return lines


def main():
    results, ticks_per_second = sys.argv[1], int(sys.argv[2])
    with open(results, encoding="utf-8") as f:
        print("\n".join(report_lines(read_repetitions(f, ticks_per_second))))


if __name__ == "__main__":
    main()

"""Unit tests of callgrind_counts.py's dump reading (python3 -m unittest, from tests/perf)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind_counts  # noqa: E402

# A dump in callgrind's format with name compression: `main` (40 of its own) calls `work`
# twice (the call lines' cost, 70, is inclusive and not main's own), `work` costs 30 and 40
# in two places, and `(2)` is reused without its name.
DUMP = """\
version: 1
creator: callgrind-3.19.0
events: Ir
summary: 110
fl=(1) main.c
fn=(1) main
10 25
+1 15
cfn=(2) work
calls=2 0
+1 70
fn=(2)
20 30
* 40
totals: 110
"""


class DumpTest(unittest.TestCase):
    def test_totals_prefers_the_last_total(self):
        self.assertEqual(callgrind_counts.totals(DUMP.splitlines()), 110)

    def test_a_dump_without_totals_is_refused(self):
        with self.assertRaises(ValueError):
            callgrind_counts.totals(["events: Ir", "fn=(1) main", "10 5"])

    def test_self_costs_leave_out_what_calls_cost(self):
        costs = callgrind_counts.self_costs(DUMP.splitlines())
        self.assertEqual(dict(costs), {"main": 40, "work": 70})


if __name__ == "__main__":
    unittest.main()

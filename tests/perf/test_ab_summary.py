"""Unit tests of ab_summary.py (python3 -m unittest, from tests/perf)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab_summary  # noqa: E402


class AbSummaryTest(unittest.TestCase):
    def test_each_repetition_pairs_the_builds_measured_over_the_same_seconds(self):
        # 100 ticks per second; 10,000 requests each. Repetition 2 ran on a machine twice
        # as slow, and the new build stays 10 % and 20 % dearer than the old one beside it.
        builds = ab_summary.read_repetitions([
            "1 100 10 200 20 10000 100 10 210 21 10000",
            "2 300 30 500 50 10000 300 30 540 54 10000",
        ], 100)
        self.assertEqual([r["cpu"] for r in builds["old"]], [100.0, 200.0])
        self.assertEqual([round(r["user"], 6) for r in builds["new"]], [99.0, 216.0])
        lines = ab_summary.report_lines(builds)
        self.assertEqual(lines[1], "rep  2: old 200.00 µs (user 180.00)  "
                                   "new 240.00 µs (user 216.00)  new/old 1.200")
        self.assertEqual(lines[-1], "new/old CPU per request: 1.150 (repetitions 1.100 - "
                                    "1.200); user time alone: 1.150")


if __name__ == "__main__":
    unittest.main()

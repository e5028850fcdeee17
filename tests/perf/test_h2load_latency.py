"""Unit tests of h2load_latency.py (python3 -m unittest, from tests/perf)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2load_latency  # noqa: E402


class LatencyStatsTest(unittest.TestCase):
    def test_percentiles_take_the_nearest_rank_as_wrk_does(self):
        # 1..100 ms in µs, shuffled: the p-th percentile of 100 values is the p-th value.
        durations = [((i * 37) % 100 + 1) * 1000 for i in range(100)]
        mean, p50, p90, p99, longest = h2load_latency.latency_stats(durations)
        self.assertEqual((p50, p90, p99, longest), (50.0, 90.0, 99.0, 100.0))
        self.assertEqual(mean, 50.5)

    def test_a_small_log_rounds_the_rank_up(self):
        # Of 3 values the 50th percentile is the 2nd (rank 1.5 rounds up), the 90th the 3rd.
        mean, p50, p90, p99, longest = h2load_latency.latency_stats([3000, 1000, 2000])
        self.assertEqual((p50, p90, p99, longest), (2.0, 3.0, 3.0, 3.0))
        self.assertEqual(mean, 2.0)

    def test_an_empty_log_gives_zeros(self):
        self.assertEqual(h2load_latency.latency_stats([]), [0.0] * 5)


if __name__ == "__main__":
    unittest.main()

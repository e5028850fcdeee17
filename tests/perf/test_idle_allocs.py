"""Unit tests of idle_allocs.py's trace reading (python3 -m unittest, from tests/perf)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idle_allocs  # noqa: E402

TRACE = """\
 100  g:malloc: (55d2) size=256 align=128
 100  g:malloc_ret__return: (55d2 <- 55d3) ret=4096
 100  g:malloc: (55d2) size=48 align=8
 100  g:malloc_ret__return: (55d2 <- 55d3) ret=8192
 100  g:zalloc: (55d2) size=88 align=8
 100  g:zalloc_ret__return: (55d2 <- 55d3) ret=12288
 100  g:free: (55d4) p=8192
 100  g:free: (55d4) p=77
 100  g:realloc: (55d5) p=12288 size=176 align=8
 100  g:realloc_ret__return: (55d5 <- 55d3) ret=16384
 100  other:malloc: (55d2) size=999 align=8
 100  other:malloc_ret__return: (55d2 <- 55d3) ret=20480
 101  g:pmalloc: (55d6) size=56
 101  g:pmalloc_ret__return: (55d6 <- 55d3) ret=24576
 101  g:pzalloc: (55d7) size=40
 101  g:pzalloc_ret__return: (55d7 <- 55d3) ret=28672
 101  g:prealloc: (55d8) p=28672 size=72
 101  g:prealloc_ret__return: (55d8 <- 55d3) ret=32768
"""


class LiveAllocationsTest(unittest.TestCase):
    def test_what_is_freed_or_moved_is_no_longer_live(self):
        live, older = idle_allocs.live_allocations(TRACE.splitlines(), "g")
        # Plain allocations carry no alignment: 0.
        self.assertEqual(live, {4096: (256, 128), 16384: (176, 8), 24576: (56, 0),
                                32768: (72, 0)})
        self.assertEqual(older["freed"], 1)
        self.assertEqual(older["reallocated"], 0)

    def test_a_return_without_its_entry_is_ignored(self):
        live, _ = idle_allocs.live_allocations([" 7  g:malloc_ret__return: (1 <- 2) ret=64"], "g")
        self.assertEqual(live, {})


class SizeClassTest(unittest.TestCase):
    def test_mimalloc_classes(self):
        classes = {size: idle_allocs.mimalloc_size_class(size)
                   for size in (1, 8, 9, 24, 48, 56, 57, 88, 96, 100, 256, 257)}
        self.assertEqual(classes, {1: 8, 8: 8, 9: 16, 24: 32, 48: 48, 56: 64, 57: 64, 88: 96,
                                   96: 96, 100: 112, 256: 256, 257: 320})


if __name__ == "__main__":
    unittest.main()

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


# A dump made with --dump-instr=yes: positions are an instruction address and a line, given
# absolute (hex), relative (+n, -n) or unchanged (*). `run` in /bin/proxy executes 0x1000
# (5 times), 0x1004 (5), 0x1010 (2, relative to 0x1004 by +12) and calls into libc, whose
# inclusive cost is not its own; libc's `free` executes 0x20 and 0x28 once each.
INSTR_DUMP = """\
version: 1
positions: instr line
events: Ir
ob=(1) /bin/proxy
fl=(1) run.rs
fn=(1) run
0x1000 10 5
+4 * 5
cob=(2) /lib/libc.so
cfn=(2) free
calls=1 0x20 0
+12 12 9
-12 +1 2
ob=(2)
fn=(2)
0x20 0 1
+8 * 1
totals: 14
"""

DISASSEMBLY = """\
/bin/proxy:     file format elf64-x86-64

0000000000001000 <run>:
    1000:\tlock incq (%rax)
    1004:\tmov    %rax,%rbx
    1008:\txchg   %rax,%rbx
    1010:\txchg   %eax,(%r14)
    1014:\tmov    0x10(%rip),%rax        # 2000 <lock_table>
"""


class LockedTest(unittest.TestCase):
    def test_positions_are_made_absolute_and_calls_left_out(self):
        costs = list(callgrind_counts.own_costs(INSTR_DUMP.splitlines()))
        self.assertEqual(costs, [
            ("/bin/proxy", "run", 0x1000, 5),
            ("/bin/proxy", "run", 0x1004, 5),
            ("/bin/proxy", "run", 0x1004, 2),
            ("/lib/libc.so", "free", 0x20, 1),
            ("/lib/libc.so", "free", 0x28, 1),
        ])
        self.assertEqual(dict(callgrind_counts.self_costs(INSTR_DUMP.splitlines())),
                         {"run": 12, "free": 2})

    def test_locked_instructions_are_lock_prefixed_or_exchanges_with_memory(self):
        self.assertEqual(callgrind_counts.locked_addresses(DISASSEMBLY), {0x1000, 0x1010})

    def test_locked_costs_count_each_objects_own_addresses(self):
        locked = {"/bin/proxy": {0x1000, 0x1004}, "/lib/libc.so": {0x28}}
        counts = callgrind_counts.locked_costs(INSTR_DUMP.splitlines(),
                                               lambda obj: locked.get(obj, set()))
        self.assertEqual(dict(counts), {"run": 12, "free": 1})

    def test_a_missing_object_is_not_disassembled(self):
        self.assertIsNone(callgrind_counts.disassemble("/nonexistent/object"))


# A dump made with --cache-sim=yes --branch-sim=yes: the totals line leaves out its trailing
# zeros (no indirect-branch mispredicts here).
CACHE_DUMP = """\
version: 1
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim
fn=(1) main
10 1000 300 100 2 20 5 1 3 1 200 12 4
totals: 1000 300 100 2 20 5 1 3 1 200 12 4
"""


class CacheTest(unittest.TestCase):
    def test_event_totals_name_every_event_and_fill_trailing_zeros(self):
        events = callgrind_counts.event_totals(CACHE_DUMP.splitlines())
        self.assertEqual(events["Ir"], 1000)
        self.assertEqual(events["D1mw"], 5)
        self.assertEqual(events["Bi"], 4)
        self.assertEqual(events["Bim"], 0)

    def test_misses_are_grouped_and_weighted_into_estimated_cycles(self):
        counts = callgrind_counts.miss_counts(
            callgrind_counts.event_totals(CACHE_DUMP.splitlines()))
        self.assertEqual(counts, {
            "I1 misses": 2, "D1 misses": 25, "LL misses": 5, "mispredicts": 12,
            "estimated cycles": 1000 + 10 * 2 + 10 * 25 + 100 * 5 + 10 * 12,
        })

    def test_misses_are_counted_by_function(self):
        lines = (CACHE_DUMP.replace("totals:", "fn=(2) work\n20 50 0 0 7 1\n+1 50 0 0 0 2 4\ntotals:")
                 .splitlines())
        self.assertEqual(dict(callgrind_counts.self_misses(lines, "D1 misses")),
                         {"main": 25, "work": 7})
        self.assertEqual(dict(callgrind_counts.self_misses(lines, "I1 misses")),
                         {"main": 2, "work": 7})

    def test_a_dump_without_the_simulations_has_no_misses(self):
        events = callgrind_counts.event_totals(DUMP.splitlines())
        self.assertEqual(events, {"Ir": 110})
        self.assertIsNone(callgrind_counts.miss_counts(events))

    def test_a_dump_without_events_is_refused(self):
        with self.assertRaises(ValueError):
            callgrind_counts.event_totals(["totals: 5"])


if __name__ == "__main__":
    unittest.main()

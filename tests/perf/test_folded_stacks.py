"""Unit tests of folded_stacks.py (python3 -m unittest, from tests/perf)."""

import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import folded_stacks  # noqa: E402

# As inferno-collapse-perf --all writes them: the main thread in user space and in a
# system call, a worker thread of glibc's, and a stack perf could not unwind to its start
# (its outermost frames were beyond the stack bytes it copied).
FOLDED = """\
proxy;_start;__libc_start_main_impl;main;serve;parse 3000
proxy;_start;__libc_start_main_impl;main;serve;__libc_recv;tcp_recvmsg_k_[k];_copy_to_iter_[k] 5000
proxy;clone3;start_thread;worker;poll_i_[i] 1000
proxy;[unknown];main;serve;memcpy 1000
"""

# Host functions a plugin's WebAssembly called: perf cannot unwind through the compiled
# code, without its map (first) or with it (second).
JIT = """\
proxy;[perf-2132.map]_[j];cabi_entrypoint;header_get 600
proxy;wasm[0]::function[12]::filter_[j];cabi_entrypoint;resource_drop 200
"""


def summarize(text):
    return folded_stacks.summarize(folded_stacks.parse(text.splitlines()))


class SummarizeTest(unittest.TestCase):
    def test_counts_the_kernel_by_the_leaf_frame(self):
        summary = summarize(FOLDED)
        self.assertEqual(summary.nanoseconds, 10000)
        self.assertEqual(summary.kernel_nanoseconds, 5000)

    def test_a_stack_is_complete_when_it_starts_at_a_thread_root(self):
        summary = summarize(FOLDED)
        self.assertEqual(summary.complete_nanoseconds, 9000)
        self.assertAlmostEqual(summary.cut_short_share(), 0.1)

    def test_stacks_cut_at_compiled_webassembly_are_not_cut_short(self):
        summary = summarize(FOLDED + JIT)
        self.assertEqual(summary.jit_cut_nanoseconds, 800)
        self.assertAlmostEqual(summary.cut_short_share(), 1000 / 10800)
        self.assertIn("7.4 % to a plugin's compiled code", summary.line(requests=1))

    def test_an_annotated_root_still_counts(self):
        summary = summarize("proxy;clone3_[k];start_thread 10")
        self.assertEqual(summary.complete_nanoseconds, 10)

    def test_the_command_alone_is_not_a_complete_stack(self):
        summary = summarize("_start 10")
        self.assertEqual(summary.complete_nanoseconds, 0)

    def test_a_line_without_a_count_names_its_place(self):
        with self.assertRaisesRegex(ValueError, "p.folded:2"):
            list(folded_stacks.parse(["proxy;_start 1", "proxy;_start;main"], "p.folded"))

    def test_per_request_counts_are_picoseconds(self):
        lines = list(folded_stacks.per_request(folded_stacks.parse(FOLDED.splitlines()), 3))
        self.assertEqual(lines[0], "proxy;_start;__libc_start_main_impl;main;serve;parse 1000000\n")
        self.assertEqual(lines[2], "proxy;clone3;start_thread;worker;poll_i_[i] 333333\n")

    def test_rename_gives_one_thread_another_name(self):
        entries = [("fg-old;_start;main", 1000), ("tokio-rt-worker;clone3;work", 1000)]
        lines = list(folded_stacks.per_request(entries, 1, ("fg-old", "ferrogate")))
        self.assertEqual(
            lines, ["ferrogate;_start;main 1000000\n", "tokio-rt-worker;clone3;work 1000000\n"]
        )

    def test_per_request_leaves_out_what_rounds_to_nothing(self):
        lines = folded_stacks.per_request([("proxy;_start;a", 1), ("proxy;_start;b", 2000)], 4000)
        self.assertEqual(list(lines), ["proxy;_start;b 500\n"])

    def test_frame_names_lose_only_inferno_annotations(self):
        self.assertEqual(folded_stacks.frame_name("tcp_ack_[k]"), "tcp_ack")
        self.assertEqual(folded_stacks.frame_name("array[i]"), "array[i]")
        self.assertEqual(folded_stacks.frame_name("_[k]"), "_[k]")

    def test_the_line_is_per_request(self):
        summary = summarize(FOLDED)
        self.assertEqual(
            summary.line(requests=2),
            "5.00 µs of CPU per request sampled, 50 % in the kernel; "
            "90.0 % of the samples unwound to the thread's start",
        )


class MainTest(unittest.TestCase):
    def run_main(self, text, requests="4", *options):
        with tempfile.NamedTemporaryFile("w", suffix=".folded", delete=False) as folded:
            folded.write(text)
        self.addCleanup(os.unlink, folded.name)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = folded_stacks.main(["folded_stacks.py", folded.name, requests, *options])
        return status, out.getvalue(), err.getvalue()

    def test_per_request_writes_the_scaled_stacks(self):
        with tempfile.TemporaryDirectory() as directory:
            scaled = os.path.join(directory, "scaled.folded")
            status, _, _ = self.run_main("proxy;_start;main 3000\n", "2", "--per-request", scaled)
            with open(scaled, encoding="utf-8") as written:
                self.assertEqual(written.read(), "proxy;_start;main 1500000\n")
        self.assertEqual(status, 0)

    def test_a_malformed_line_is_reported_not_raised(self):
        status, _, err = self.run_main("proxy;_start;main\n")
        self.assertEqual(status, 1)
        self.assertIn(":1: not 'stack count'", err)

    def test_truncated_stacks_are_warned_about(self):
        status, out, err = self.run_main(FOLDED)
        self.assertEqual(status, 0)
        self.assertIn("2.50 µs of CPU per request", out)
        self.assertIn("Raise PROFILE_STACK", err)

    def test_complete_stacks_need_no_warning(self):
        status, _, err = self.run_main("proxy;_start;main 100\n")
        self.assertEqual(status, 0)
        self.assertEqual(err, "")

    def test_stacks_cut_at_compiled_code_need_no_warning(self):
        status, out, err = self.run_main("proxy;_start;main 100\n" + JIT)
        self.assertEqual(status, 0)
        self.assertIn("88.9 % to a plugin's compiled code", out)
        self.assertEqual(err, "")

    def test_no_samples_is_an_error(self):
        status, _, err = self.run_main("")
        self.assertEqual(status, 1)
        self.assertIn("no samples", err)

    def test_requests_must_be_a_positive_count(self):
        status, _, err = self.run_main("proxy;_start 1\n", requests="0")
        self.assertEqual(status, 2)
        self.assertIn("not a positive count of requests: '0'", err)


if __name__ == "__main__":
    unittest.main()

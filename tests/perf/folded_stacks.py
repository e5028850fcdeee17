#!/usr/bin/env python3
"""What a profile's folded call stacks say before anyone opens the flame graph.

    folded_stacks.py FOLDED REQUESTS [--per-request OUT [--rename THREAD AS]]

FOLDED is inferno-collapse-perf's output for a `perf record` of one proxy (one line per
distinct stack: `comm;root;...;leaf COUNT`, kernel frames marked `_[k]`); the counts are
nanoseconds, the period of perf's cpu-clock samples. REQUESTS is the number of requests
served while it was recorded. With --per-request, OUT gets the same stacks with their counts
in picoseconds per request (integers, as folded counts must be): what the flame graphs
draw, and what makes two runs that served different numbers of requests comparable
stack by stack (tests/perf/ab's difference graph, where --rename gives the main threads
of two binaries one name). Prints one line for the log and the flame graph's subtitle:
CPU per request as sampled, the kernel's share of it, and the share of the samples whose
stack perf unwound all the way to the thread's start. The others were cut short, and a
flame graph draws their upper part as a tower of its own, at one of two places:
- at just-in-time compiled code, a plugin's WebAssembly: perf has no unwind information
  for it (its root frame is perf's `[perf-PID.map]`, or a name from that map, marked _[j]);
- anywhere else, when the stack was deeper than the bytes perf copied per sample
  (PROFILE_STACK). When these are more than 5 %, a warning on stderr says so.
"""

import argparse
import sys
from dataclasses import dataclass

# The outermost frame of a thread: the main thread's entry point, and glibc's for the
# threads it creates (clone3 on current glibc, clone on older ones).
THREAD_ROOTS = frozenset({"_start", "clone", "clone3", "__clone", "__clone3", "start_thread"})
KERNEL_MARK = "_[k]"
JIT_MARK = "_[j]"
CUT_SHORT_TOLERATED = 0.05


@dataclass
class Summary:
    nanoseconds: int
    kernel_nanoseconds: int
    complete_nanoseconds: int
    jit_cut_nanoseconds: int

    def line(self, requests: int) -> str:
        total = self.nanoseconds or 1
        line = (
            f"{self.nanoseconds / requests / 1000:.2f} µs of CPU per request sampled, "
            f"{100 * self.kernel_nanoseconds / total:.0f} % in the kernel; "
            f"{100 * self.complete_nanoseconds / total:.1f} % of the samples unwound to "
            "the thread's start"
        )
        if self.jit_cut_nanoseconds:
            line += f", {100 * self.jit_cut_nanoseconds / total:.1f} % to a plugin's compiled code"
        return line

    def cut_short_share(self) -> float:
        """The share of the samples cut short by the stack bytes perf copied."""
        if not self.nanoseconds:
            return 0.0
        cut = self.nanoseconds - self.complete_nanoseconds - self.jit_cut_nanoseconds
        return cut / self.nanoseconds


def frame_name(frame: str) -> str:
    """A frame without inferno's annotation (_[k] kernel, _[i] inlined, _[j] JIT)."""
    if len(frame) > 4 and frame[-4:-2] == "_[" and frame[-1] == "]":
        return frame[:-4]
    return frame


def is_jit_root(frame: str) -> bool:
    return frame.endswith(JIT_MARK) or (frame.startswith("[perf-") and frame.endswith(".map]"))


def parse(lines, source: str = "folded stacks"):
    """(stack, count) of each line; the stack keeps the command's name as its first frame."""
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise ValueError(f"{source}:{number}: not 'stack count': {line[:120]!r}")
        yield stack, int(count)


def summarize(entries) -> Summary:
    total = kernel = complete = jit_cut = 0
    for stack, nanoseconds in entries:
        frames = stack.split(";")
        total += nanoseconds
        if frames[-1].endswith(KERNEL_MARK):
            kernel += nanoseconds
        # frames[0] is the command's name; a stack of the command alone has no frames.
        if len(frames) > 1 and frame_name(frames[1]) in THREAD_ROOTS:
            complete += nanoseconds
        elif len(frames) > 1 and is_jit_root(frames[1]):
            jit_cut += nanoseconds
    return Summary(total, kernel, complete, jit_cut)


def per_request(entries, requests: int, rename=None):
    """Folded lines with picosecond-per-request counts; stacks that round to 0 are left out.

    rename, a (from, to) pair, replaces a thread's name (the first frame): the main thread
    is named after its binary, and two builds compared stack by stack are two binaries.
    """
    for stack, nanoseconds in entries:
        picoseconds = round(nanoseconds * 1000 / requests)
        if not picoseconds:
            continue
        if rename:
            thread, separator, frames = stack.partition(";")
            if thread == rename[0]:
                stack = rename[1] + separator + frames
        yield f"{stack} {picoseconds}\n"


def positive_count(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"not a positive count of requests: {text!r}")
    return int(text)


def main(argv) -> int:
    parser = argparse.ArgumentParser(prog="folded_stacks.py")
    parser.add_argument("folded", metavar="FOLDED")
    parser.add_argument("requests", metavar="REQUESTS", type=positive_count)
    parser.add_argument("--per-request", metavar="OUT")
    parser.add_argument("--rename", nargs=2, metavar=("THREAD", "AS"),
                        help="in OUT, name the thread THREAD AS")
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit as exit:
        return exit.code
    with open(args.folded, encoding="utf-8", errors="replace") as folded:
        try:
            entries = list(parse(folded, args.folded))
        except ValueError as error:
            print(error, file=sys.stderr)
            return 1
    summary = summarize(entries)
    if summary.nanoseconds == 0:
        print(f"{args.folded}: no samples", file=sys.stderr)
        return 1
    if args.per_request:
        with open(args.per_request, "w", encoding="utf-8") as out:
            out.writelines(per_request(entries, args.requests, args.rename))
    print(summary.line(args.requests))
    if summary.cut_short_share() > CUT_SHORT_TOLERATED:
        print(
            f"warning: {args.folded}: {100 * summary.cut_short_share():.1f} % of the stacks were "
            "deeper than the bytes perf copied per sample and stop short of the thread's start. "
            "Raise PROFILE_STACK (at most 65528) for a flame graph with one tower per call path.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

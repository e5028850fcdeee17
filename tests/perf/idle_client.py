#!/usr/bin/env python3
"""Holds many idle HTTP/1.1 keep-alive connections to a proxy, for tests/perf/run.

Opens --connections connections to 127.0.0.1:--port, at most --concurrency at a time, sends
one GET on each and reads the answer, and keeps every connection open. Then it prints one
JSON line ({"requested", "opened", "failed", "errors", "seconds"}) and waits for a line on
standard input; the harness reads the proxy's memory meanwhile. On that line it sends a
second GET on every connection it holds, to find out whether the proxy closed any while they
were idle, prints {"still_open", "closed", "errors"} and exits.

Standard library only. The requests are spread over time (bounded concurrency) so that the
proxy's upstream pool stays as small as under the other scenarios: only the client side
grows.
"""

import argparse
import asyncio
import json
import resource
import sys
import time


def raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        sys.exit(f"idle_client: {needed} open files needed, the hard limit is {hard}")
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Reads one response; returns its status and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    keep = headers.get("connection") != "close"
    return status, keep


async def exchange(reader, writer, request: bytes, timeout: float) -> None:
    writer.write(request)
    await writer.drain()
    status, keep = await asyncio.wait_for(read_response(reader), timeout)
    if status != 200:
        raise RuntimeError(f"status {status}")
    if not keep:
        raise RuntimeError("connection: close")


def reason(error: BaseException) -> str:
    if isinstance(error, asyncio.IncompleteReadError):
        return "closed by the server"
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    return type(error).__name__ if not isinstance(error, RuntimeError) else str(error)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    raise_open_files(args.connections + 64)
    request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n\r\n".encode()
    slots = asyncio.Semaphore(args.concurrency)
    errors: dict[str, int] = {}
    held = []

    async def open_one() -> None:
        async with slots:
            writer = None
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(args.host, args.port), args.timeout)
                await exchange(reader, writer, request, args.timeout)
                held.append((reader, writer))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, TimeoutError,
                    RuntimeError, ValueError, IndexError, asyncio.LimitOverrunError) as error:
                errors[reason(error)] = errors.get(reason(error), 0) + 1
                if writer is not None:
                    writer.close()

    start = time.monotonic()
    await asyncio.gather(*(open_one() for _ in range(args.connections)))
    print(json.dumps({"requested": args.connections, "opened": len(held),
                      "failed": args.connections - len(held), "errors": errors,
                      "seconds": round(time.monotonic() - start, 2)}), flush=True)

    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    check_errors: dict[str, int] = {}

    async def check_one(reader, writer) -> bool:
        async with slots:
            try:
                await exchange(reader, writer, request, args.timeout)
                return True
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, TimeoutError,
                    RuntimeError, ValueError, IndexError, asyncio.LimitOverrunError) as error:
                check_errors[reason(error)] = check_errors.get(reason(error), 0) + 1
                return False

    results = await asyncio.gather(*(check_one(r, w) for r, w in held))
    print(json.dumps({"still_open": sum(results), "closed": len(results) - sum(results),
                      "errors": check_errors}), flush=True)
    for _, writer in held:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main())

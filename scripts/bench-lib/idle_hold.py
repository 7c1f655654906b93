#!/usr/bin/env python3
"""Holds idle HTTP/1.1 keep-alive connections for the benchmark's memory figure.

usage: idle_hold.py PORT COUNT PATH HOLD_SECONDS
Opens COUNT connections to 127.0.0.1:PORT, makes one GET PATH on each and reads the whole
response, then prints "open=N errors=E" and keeps them all open and silent for HOLD_SECONDS
(or until killed). Exits 1 if no connection could be opened.
"""
import asyncio
import resource
import sys

IN_FLIGHT = 256
STEP_TIMEOUT = 15


async def one_request(port, path, held):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    held.append(writer)


async def hold(port, count, path, seconds):
    held = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def guarded():
        async with gate:
            await asyncio.wait_for(one_request(port, path, held), STEP_TIMEOUT)

    results = await asyncio.gather(*(guarded() for _ in range(count)), return_exceptions=True)
    errors = sum(isinstance(r, BaseException) for r in results)
    print(f"open={len(held)} errors={errors}", flush=True)
    await asyncio.sleep(seconds)
    return len(held)


def main():
    port, count, path, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 64
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return 0 if asyncio.run(hold(port, count, path, seconds)) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

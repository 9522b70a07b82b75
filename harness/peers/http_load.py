"""Closed-loop HTTP load from its own process (`python -m harness.peers.http_load URL`).

Used to measure the mock HTTP peer's capacity, so the report can show the peer was not the
bottleneck. Prints {"requests": n, "errors": e, "seconds": t}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def load(url: str, seconds: float, concurrency: int) -> dict[str, float]:
    done = errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                try:
                    async with session.get(url) as response:
                        await response.read()
                        done += 1
                except aiohttp.ClientError:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"requests": done, "errors": errors, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(load(args.url, args.seconds, args.concurrency))
    except ImportError:
        result = asyncio.run(load(args.url, args.seconds, args.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""http_fetch: the web-scraping case — fetch N URLs from the mock HTTP peer, checksum the bodies.

Every twin keeps connections alive and is limited to C connections (requests' adapter pool,
httpx limits, aiohttp's connector), so the only difference between twins is the I/O model.
"""

from __future__ import annotations

import aiohttp
import httpx
import requests
from requests.adapters import HTTPAdapter

from harness import (
    BenchContext,
    Params,
    Scenario,
    Sweep,
    Twin,
    Workload,
    client_twin,
    fold,
    payload,
)


def urls(ctx: BenchContext) -> list[str]:
    """The work list, built outside the timed region."""
    p = ctx.params
    base = ctx.peers["http"].url
    query = f"delay_ms={p['latency_ms']}&size={p['size']}"
    return [f"{base}/item/{i}?{query}" for i in range(p["n"])]


def expected(params: Params) -> int:
    return fold(payload(i, params["size"]) for i in range(params["n"]))


# --- sync twins -------------------------------------------------------------------------------

class RequestsClient:
    def open(self, ctx: BenchContext) -> None:
        self.session = requests.Session()
        size = ctx.params["concurrency"]
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, pool_block=True)
        self.session.mount("http://", adapter)

    def op(self, url: str) -> bytes:
        response = self.session.get(url)
        response.raise_for_status()
        return response.content

    def close(self) -> None:
        self.session.close()


class HttpxClient:
    def open(self, ctx: BenchContext) -> None:
        size = ctx.params["concurrency"]
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.client = httpx.Client(limits=limits, timeout=30)

    def op(self, url: str) -> bytes:
        response = self.client.get(url)
        response.raise_for_status()
        return response.content

    def close(self) -> None:
        self.client.close()


# --- async twins ------------------------------------------------------------------------------

class AiohttpClient:
    async def open(self, ctx: BenchContext) -> None:
        connector = aiohttp.TCPConnector(limit=ctx.params["concurrency"])
        self.session = aiohttp.ClientSession(connector=connector)

    async def op(self, url: str) -> bytes:
        async with self.session.get(url) as response:
            response.raise_for_status()
            return await response.read()

    async def close(self) -> None:
        await self.session.close()


class HttpxAsyncClient:
    async def open(self, ctx: BenchContext) -> None:
        size = ctx.params["concurrency"]
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.client = httpx.AsyncClient(limits=limits, timeout=30)

    async def op(self, url: str) -> bytes:
        response = await self.client.get(url)
        response.raise_for_status()
        return response.content

    async def close(self) -> None:
        await self.client.aclose()


def _twins() -> tuple[Twin, ...]:
    return (
        client_twin("requests", "sync", "requests (sequential)", RequestsClient, urls),
        client_twin("requests-threads", "threads", "requests + {concurrency} threads",
                    RequestsClient, urls),
        client_twin("httpx-threads", "threads", "httpx + {concurrency} threads",
                    HttpxClient, urls),
        client_twin("aiohttp", "async", "aiohttp ({concurrency} in flight)",
                    AiohttpClient, urls),
        # Not in the quick smoke run: httpcore 1.0's async pool costs ~10 ms of CPU per
        # request at 100 in flight (encode/httpcore#924, #1035), a third of the run alone.
        client_twin("httpx-async", "async", "httpx async ({concurrency} in flight)",
                    HttpxAsyncClient, urls, profiles=frozenset({"default", "full"})),
    )


WORKLOAD = Workload(
    name="http_fetch",
    description="Fetch N URLs from a local HTTP server with injected latency (web scraping).",
    twins=_twins(),
    scenarios=(
        Scenario("latency-bound", {"n": 200, "concurrency": 50, "latency_ms": 20, "size": 1024},
                 "each request waits 20 ms at the server; concurrency should pay"),
        Scenario("many-quick", {"n": 1000, "concurrency": 100, "latency_ms": 2, "size": 1024},
                 "many short calls; per-request overhead starts to matter"),
        Scenario("overhead", {"n": 2000, "concurrency": 50, "latency_ms": 0, "size": 1024},
                 "no latency: pure client overhead, where async may lose"),
    ),
    peers=("http",),
    tiny={"n": 12, "concurrency": 4, "latency_ms": 1, "size": 256},
    expected=expected,
    # The map: latency x concurrency, 16 waves of C requests per point (2 under quick). The
    # sequential twin would need N·L at every point (the thread pools are the sync contenders)
    # and httpx-async, never the best async twin, would take two thirds of the time.
    sweeps=(Sweep("latency-bound", {"latency_ms": (0, 1, 2, 5, 10, 20, 50),
                                    "concurrency": (1, 4, 16, 64, 256)},
                  twins=("requests-threads", "httpx-threads", "aiohttp"),
                  waves=16),),
)

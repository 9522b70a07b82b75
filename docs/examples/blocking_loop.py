"""A deliberately blocking async twin, for the README's worked example of `--stalls`.

    bench run blocking --workloads docs/examples/blocking_loop.py --stalls

`requests-in-async` is the commonest mistake after a port to asyncio: a synchronous client
call left inside a coroutine. Every operation then holds the event loop for the whole request
(20 ms here), every other task waits, and the "async" twin runs one request at a time.
`aiohttp` is the fix: the same request, awaited.
"""

from __future__ import annotations

import aiohttp
import requests

from harness import BenchContext, Scenario, Workload, client_twin, fold, payload


def urls(ctx: BenchContext) -> list[str]:
    p = ctx.params
    return [f"{ctx.peers['http'].url}/item/{i}?delay_ms={p['latency_ms']}&size={p['size']}"
            for i in range(p["n"])]


class RequestsClient:
    def open(self, ctx: BenchContext) -> None:
        self.session = requests.Session()

    def op(self, url: str) -> bytes:
        return self.session.get(url).content

    def close(self) -> None:
        self.session.close()


class BlockingAsyncClient:
    async def open(self, ctx: BenchContext) -> None:
        self.session = requests.Session()

    async def op(self, url: str) -> bytes:
        return self.session.get(url).content  # blocks the loop: nothing else runs meanwhile

    async def close(self) -> None:
        self.session.close()


class AiohttpClient:
    async def open(self, ctx: BenchContext) -> None:
        self.session = aiohttp.ClientSession()

    async def op(self, url: str) -> bytes:
        async with self.session.get(url) as response:  # awaited: the loop serves others
            return await response.read()

    async def close(self) -> None:
        await self.session.close()


WORKLOAD = Workload(
    name="blocking",
    description="A sync HTTP call left inside a coroutine, and the fix.",
    twins=(
        client_twin("requests-threads", "threads", "requests + {concurrency} threads",
                    RequestsClient, urls),
        client_twin("requests-in-async", "async", "requests called inside a coroutine",
                    BlockingAsyncClient, urls),
        client_twin("aiohttp", "async", "aiohttp ({concurrency} in flight)", AiohttpClient,
                    urls),
    ),
    scenarios=(Scenario("fetch", {"n": 100, "concurrency": 10, "latency_ms": 20,
                                  "size": 1024}),),
    peers=("http",),
    tiny={"n": 8, "concurrency": 4, "latency_ms": 20, "size": 64},
    expected=lambda p: fold(payload(i, p["size"]) for i in range(p["n"])),
)

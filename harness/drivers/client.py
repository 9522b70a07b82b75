"""The harness-owned loop for client-side workloads (HTTP fetches, database queries).

A twin supplies `open`, `op(item)` and `close` (plain or async); the harness drives the same
work list sequentially (`sync`), on a thread pool of C workers (`threads`) or as C worker tasks
on one event loop (`async`), and folds each result into an order-independent checksum. The I/O
call is then the only difference between twins, which is exactly what is being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from harness.drivers.aio import Bridge, close_loop, new_loop
from harness.drivers.cpuwork import burn, iterations_for
from harness.drivers.health import LoopHealth
from harness.model.checksum import MASK, combine, digest
from harness.model.workload import ALL_PROFILES, BenchContext, Kind, Params, Twin, check_core


class SyncClient(Protocol):
    def open(self, ctx: BenchContext) -> None: ...
    def op(self, item: Any) -> Any: ...
    def close(self) -> None: ...


class AsyncClient(Protocol):
    async def open(self, ctx: BenchContext) -> None: ...
    async def op(self, item: Any) -> Any: ...
    async def close(self) -> None: ...


Items = Callable[[BenchContext], Sequence[Any]]
# May return measurements taken then (name -> number, e.g. how much of what the round reads
# is in the page cache): the bench reports each one's mean over the timed rounds.
Reset = Callable[[BenchContext], Mapping[str, float] | None]
OpsPerItem = int | Callable[[Params], int]


class _Frontier:
    """A crawl's work list: each item is queued once (the seeds, then whatever ops find)."""

    def __init__(self, seeds: Iterable[Any]):
        self.seen: set[Any] = set()
        self.queue: deque[Any] = deque(self.unseen(seeds))

    def unseen(self, found: Iterable[Any]) -> list[Any]:
        """The items not seen before, now marked seen."""
        new = [item for item in dict.fromkeys(found) if item not in self.seen]
        self.seen.update(new)
        return new


class _ClientBench:
    """Shared state of the three drivers: the work list, its size and the untimed reset."""

    def __init__(self, ctx: BenchContext, items: Items, reset: Reset | None,
                 ops_per_item: OpsPerItem, crawl: bool = False):
        self.ctx = ctx
        self.items = list(items(ctx))
        self.per_item = ops_per_item(ctx.params) if callable(ops_per_item) else ops_per_item
        self.ops = len(self.items) * self.per_item  # a crawl's: what its last round visited
        self.crawl = crawl
        self._reset = reset
        self._observed: dict[str, list[float]] = {}
        self._resets = 0
        self._opened = False
        self.loop: str | None = None
        # `cpu_us`: CPU work after every op (drivers.cpuwork); 0 keeps the plain loops below.
        self.burn_steps = iterations_for(float(ctx.params.get("cpu_us") or 0))
        self.proofs: list[int] = []

    def _digest_and_burn(self, result: Any) -> tuple[int, int]:
        """An op's digest and the proof of the CPU work done after it."""
        d = digest(result)
        return d, burn(d, self.burn_steps)

    def _finish(self, pairs: Iterable[tuple[int, int]]) -> int:
        total = proof = 0
        for d, b in pairs:
            total += d
            proof += b
        self.proofs.append(proof & MASK)
        return total & MASK

    def _burned(self, d: int) -> int:
        """The proof of the CPU work after an op whose result's digest is `d` (0: none)."""
        return burn(d, self.burn_steps) if self.burn_steps else 0

    def reset(self) -> None:
        if self._reset is None:
            return
        observed = self._reset(self.ctx)
        self._resets += 1
        # Warm-up rounds come first; their observations say nothing about the timed rounds.
        if observed and self._resets > self.ctx.warmup_rounds:
            for key, value in observed.items():
                self._observed.setdefault(key, []).append(float(value))

    def round(self) -> int:
        raise NotImplementedError

    def warmup_round(self, share: float) -> None:
        """An untimed round over the head of the work list: `share` of it, and at least two
        waves of the concurrency, so every worker has opened its connection and been through
        the op's first-call paths before the timed rounds (a crawl has no head to take: it
        warms up on a whole round). Its checksum is nobody's: only whole rounds are checked."""
        if self.crawl:
            self.round()
            return
        waves = 2 * int(self.ctx.params.get("concurrency") or 1)
        head = min(len(self.items), max(math.ceil(share * len(self.items)), waves))
        items, proofs = self.items, len(self.proofs)
        self.items = items[:head]
        try:
            self.round()
        finally:
            self.items = items
            del self.proofs[proofs:]

    def _crawled(self, frontier: _Frontier) -> None:
        self.ops = len(frontier.seen) * self.per_item

    def _close_client(self, close: Callable[[], Any]) -> None:
        """Close the client; after an `open` that failed half-way, close what it got to."""
        if self._opened:
            close()
        else:
            with contextlib.suppress(Exception):
                close()

    def extra_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {key: sum(values) / len(values)
                                for key, values in self._observed.items()}
        if self.burn_steps:
            if len(set(self.proofs)) > 1:
                raise RuntimeError("the CPU work after each op differed between rounds")
            info.update(cpu_work_steps=self.burn_steps, cpu_proof=f"{self.proofs[-1]:016x}")
        return info


class SequentialBench(_ClientBench):
    def __init__(self, client: SyncClient, ctx: BenchContext, items: Items, reset: Reset | None,
                 ops_per_item: OpsPerItem, crawl: bool = False):
        super().__init__(ctx, items, reset, ops_per_item, crawl)
        self.client = client

    def setup(self) -> None:
        self.client.open(self.ctx)
        self._opened = True

    def round(self) -> int:
        op = self.client.op
        if self.crawl:
            return self._crawl()
        if self.burn_steps:
            return self._finish(self._digest_and_burn(op(item)) for item in self.items)
        return combine(digest(op(item)) for item in self.items)

    def _crawl(self) -> int:
        """Breadth-first: one page at a time, in the order they were found."""
        frontier, pairs = _Frontier(self.items), []
        while frontier.queue:
            result, found = self.client.op(frontier.queue.popleft())
            d = digest(result)
            pairs.append((d, self._burned(d)))
            frontier.queue.extend(frontier.unseen(found))
        self._crawled(frontier)
        return self._finish(pairs)

    def teardown(self) -> None:
        self._close_client(self.client.close)


class ThreadPoolBench(SequentialBench):
    """The same sync client shared by C worker threads (its pools sized C by the twin)."""

    pool: ThreadPoolExecutor | None = None

    def setup(self) -> None:
        super().setup()
        self.pool = ThreadPoolExecutor(max_workers=self.ctx.params["concurrency"])

    def _op_digest(self, item: Any) -> int:
        return digest(self.client.op(item))

    def _op_burn(self, item: Any) -> tuple[int, int]:
        return self._digest_and_burn(self.client.op(item))

    def round(self) -> int:
        assert self.pool is not None
        if self.crawl:
            return self._crawl()
        if self.burn_steps:  # in the worker thread, with the GIL held, as parsing would be
            return self._finish(self.pool.map(self._op_burn, self.items))
        return combine(self.pool.map(self._op_digest, self.items))

    def _crawl(self) -> int:
        """Up to C ops in flight; each finished one queues what it found and frees a worker."""
        assert self.pool is not None
        frontier, pairs = _Frontier(self.items), []
        running: set[Future[Any]] = set()
        try:
            while frontier.queue or running:
                while frontier.queue and len(running) < self.ctx.params["concurrency"]:
                    running.add(self.pool.submit(self._crawl_op, frontier.queue.popleft()))
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    d, b, found = future.result()
                    pairs.append((d, b))
                    frontier.queue.extend(frontier.unseen(found))
        finally:
            for future in running:  # after a failure: nothing of this round outlives it
                future.cancel()
            wait(running)
        self._crawled(frontier)
        return self._finish(pairs)

    def _crawl_op(self, item: Any) -> tuple[int, int, Any]:
        """In the worker thread: the op, its digest and CPU work, and what it found."""
        result, found = self.client.op(item)
        d = digest(result)
        return d, self._burned(d), found

    def teardown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        super().teardown()


class AsyncTasksBench(_ClientBench):
    """C worker tasks on one event loop, pulling from the work list like a thread pool would."""

    def __init__(self, client: AsyncClient, ctx: BenchContext, items: Items, reset: Reset | None,
                 ops_per_item: OpsPerItem, crawl: bool = False):
        super().__init__(ctx, items, reset, ops_per_item, crawl)
        self.client = client

    event_loop: asyncio.AbstractEventLoop | None = None
    bridge: Bridge | None = None
    health: LoopHealth | None = None
    _rounds = 0

    def setup(self) -> None:
        self.loop = self.ctx.loop
        self.event_loop = new_loop(self.ctx.loop)
        # Ctrl-C-safe from here to teardown; opening a pool is long enough for a Ctrl-C to
        # land in a driver's protocol callback.
        self.bridge = Bridge(self.event_loop).__enter__()
        self.bridge.run(self.client.open(self.ctx))
        self._opened = True
        if self.ctx.loop_health:
            self.health = LoopHealth(self.ctx.stall_threshold_s, self.ctx.stalls)

    async def _crawl(self) -> int:
        """C worker tasks sharing a queue; the round ends when every queued item is done."""
        frontier, pairs = _Frontier(self.items), []
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for item in frontier.queue:
            queue.put_nowait(item)
        op = self.client.op

        async def worker() -> None:
            while True:
                item = await queue.get()
                try:
                    result, found = await op(item)
                    d = digest(result)
                    pairs.append((d, self._burned(d)))  # on the loop's thread
                    for new in frontier.unseen(found):
                        queue.put_nowait(new)
                finally:
                    queue.task_done()

        # A failing worker makes the TaskGroup cancel this body (the join) and the others.
        try:
            async with asyncio.TaskGroup() as group:
                workers = [group.create_task(worker())
                           for _ in range(self.ctx.params["concurrency"])]
                await queue.join()
                for task in workers:
                    task.cancel()
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
        self._crawled(frontier)
        return self._finish(pairs)

    async def _round(self) -> int:
        """One round, its loop's health watched when it is a timed one."""
        self._rounds += 1
        health = self.health if self._rounds > self.ctx.warmup_rounds else None
        if health is None:
            return await self._work()
        assert self.event_loop is not None
        health.start(self.event_loop)
        try:
            return await self._work()
        finally:
            health.stop()

    async def _work(self) -> int:
        if self.crawl:
            return await self._crawl()
        work = iter(self.items)
        op = self.client.op

        steps = self.burn_steps

        async def worker() -> tuple[int, int]:
            total = proof = 0
            for item in work:  # shared iterator: each item is taken by exactly one worker
                d = digest(await op(item))
                total += d
                if steps:  # on the loop's thread, as parsing would be
                    proof += burn(d, steps)
            return total, proof

        workers = min(self.ctx.params["concurrency"], len(self.items)) or 1
        # A TaskGroup cancels the other workers when one op fails, so none outlives its round;
        # the op's own exception is re-raised, as a thread pool's map would.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(worker()) for _ in range(workers)]
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
        if steps:
            return self._finish(task.result() for task in tasks)
        return combine(task.result()[0] for task in tasks)

    def round(self) -> int:
        assert self.bridge is not None
        return self.bridge.run(self._round())

    def extra_info(self) -> dict[str, Any]:
        info = super().extra_info()
        if self.health is not None:
            info.update(self.health.info())
        return info

    def teardown(self) -> None:
        if self.event_loop is None or self.bridge is None:
            return
        loop, bridge = self.event_loop, self.bridge
        if self.health is not None:
            self.health.close()
        try:
            # Only the round's own tasks are gone by now (the bridge and the TaskGroup saw to
            # that); a client's pool keeps background tasks its close() still needs.
            self._close_client(lambda: bridge.run(self.client.close()))
        finally:
            try:
                close_loop(loop)
            finally:
                bridge.__exit__(None, None, None)


def client_twin(
    name: str,
    kind: Kind,
    label: str,
    client: Callable[[], SyncClient | AsyncClient],
    items: Items,
    *,
    reset: Reset | None = None,
    ops_per_item: OpsPerItem = 1,
    crawl: bool = False,
    profiles: frozenset[str] = ALL_PROFILES,
    io_differs: Mapping[str, str] | None = None,
    core: str = "",
    library: str = "",
    missing: Callable[[], str | None] | None = None,
) -> Twin:
    """Declare a client-side twin: `client()` builds a fresh client for each benchmark.

    `reset` runs untimed before every round (give every twin of a workload the same one); a
    mapping it returns is reported per benchmark as the mean over the timed rounds.
    `ops_per_item` counts operations when one item is several (e.g. 20 queries per request).
    `crawl`: `items` are the seeds and `op(item)` returns `(result, found_items)`; every item
    found is visited once, and the checksum folds the results. `profiles`, `io_differs`,
    `core`, `library`, `missing`: see `Twin`.
    """
    drivers: dict[str, type[Any]] = {
        "sync": SequentialBench, "threads": ThreadPoolBench, "async": AsyncTasksBench,
    }
    if kind not in drivers:
        raise ValueError(f"twin {name!r}: kind must be one of {', '.join(drivers)}, not {kind!r}")
    driver = drivers[kind]

    def bind(ctx: BenchContext) -> Any:
        return driver(client(), ctx, items, reset, ops_per_item, crawl)

    check_core(name, core)
    return Twin(name=name, kind=kind, label=label, bind=bind, impl=client, profiles=profiles,
                io_differs=dict(io_differs or {}), core=core, library=library,
                missing=missing)

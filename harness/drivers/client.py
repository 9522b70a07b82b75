"""The harness-owned loop for client-side workloads (HTTP fetches, database queries).

A twin supplies `open`, `op(item)` and `close` (plain or async); the harness drives the same
work list sequentially (`sync`), on a thread pool of C workers (`threads`) or as C worker tasks
on one event loop (`async`), and folds each result into an order-independent checksum. The I/O
call is then the only difference between twins, which is exactly what is being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from harness.drivers.aio import close_loop, new_loop, run_interruptibly
from harness.model.checksum import combine, digest
from harness.model.workload import BenchContext, Kind, Params, Twin


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

    def reset(self) -> None:
        if self._reset is None:
            return
        observed = self._reset(self.ctx)
        self._resets += 1
        # Warm-up rounds come first; their observations say nothing about the timed rounds.
        if observed and self._resets > self.ctx.warmup_rounds:
            for key, value in observed.items():
                self._observed.setdefault(key, []).append(float(value))

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
        return {key: sum(values) / len(values) for key, values in self._observed.items()}


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
        return combine(digest(op(item)) for item in self.items)

    def _crawl(self) -> int:
        """Breadth-first: one page at a time, in the order they were found."""
        frontier, total = _Frontier(self.items), 0
        while frontier.queue:
            result, found = self.client.op(frontier.queue.popleft())
            total += digest(result)
            frontier.queue.extend(frontier.unseen(found))
        self._crawled(frontier)
        return combine([total])

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

    def round(self) -> int:
        assert self.pool is not None
        if self.crawl:
            return self._crawl()
        return combine(self.pool.map(self._op_digest, self.items))

    def _crawl(self) -> int:
        """Up to C ops in flight; each finished one queues what it found and frees a worker."""
        assert self.pool is not None
        frontier, total = _Frontier(self.items), 0
        running: set[Future[Any]] = set()
        try:
            while frontier.queue or running:
                while frontier.queue and len(running) < self.ctx.params["concurrency"]:
                    running.add(self.pool.submit(self.client.op, frontier.queue.popleft()))
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    result, found = future.result()
                    total += digest(result)
                    frontier.queue.extend(frontier.unseen(found))
        finally:
            for future in running:  # after a failure: nothing of this round outlives it
                future.cancel()
            wait(running)
        self._crawled(frontier)
        return combine([total])

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

    def setup(self) -> None:
        self.loop = self.ctx.loop
        self.event_loop = new_loop(self.ctx.loop)
        # Opening a pool is long enough for a Ctrl-C to land in a driver's protocol callback.
        run_interruptibly(self.event_loop, self.client.open(self.ctx))
        self._opened = True

    async def _crawl(self) -> int:
        """C worker tasks sharing a queue; the round ends when every queued item is done."""
        frontier, total = _Frontier(self.items), 0
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for item in frontier.queue:
            queue.put_nowait(item)
        op = self.client.op

        async def worker() -> None:
            nonlocal total
            while True:
                item = await queue.get()
                try:
                    result, found = await op(item)
                    total += digest(result)
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
        return combine([total])

    async def _round(self) -> int:
        if self.crawl:
            return await self._crawl()
        work = iter(self.items)
        op = self.client.op

        async def worker() -> int:
            total = 0
            for item in work:  # shared iterator: each item is taken by exactly one worker
                total += digest(await op(item))
            return total

        workers = min(self.ctx.params["concurrency"], len(self.items)) or 1
        # A TaskGroup cancels the other workers when one op fails, so none outlives its round;
        # the op's own exception is re-raised, as a thread pool's map would.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(worker()) for _ in range(workers)]
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
        return combine(task.result() for task in tasks)

    def round(self) -> int:
        assert self.event_loop is not None
        return run_interruptibly(self.event_loop, self._round())

    def teardown(self) -> None:
        if self.event_loop is None:
            return
        loop = self.event_loop
        try:
            # Only the round's own tasks are gone by now (run_interruptibly and the TaskGroup
            # saw to that); a client's pool keeps background tasks its close() still needs.
            self._close_client(lambda: run_interruptibly(loop, self.client.close()))
        finally:
            close_loop(loop)


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
) -> Twin:
    """Declare a client-side twin: `client()` builds a fresh client for each benchmark.

    `reset` runs untimed before every round (give every twin of a workload the same one); a
    mapping it returns is reported per benchmark as the mean over the timed rounds.
    `ops_per_item` counts operations when one item is several (e.g. 20 queries per request).
    `crawl`: `items` are the seeds and `op(item)` returns `(result, found_items)`; every item
    found is visited once, and the checksum folds the results.
    """
    drivers: dict[str, type[Any]] = {
        "sync": SequentialBench, "threads": ThreadPoolBench, "async": AsyncTasksBench,
    }
    if kind not in drivers:
        raise ValueError(f"twin {name!r}: kind must be one of {', '.join(drivers)}, not {kind!r}")
    driver = drivers[kind]

    def bind(ctx: BenchContext) -> Any:
        return driver(client(), ctx, items, reset, ops_per_item, crawl)

    return Twin(name=name, kind=kind, label=label, bind=bind, impl=client)

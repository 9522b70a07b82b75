"""The harness-owned client loop's crawl mode and reset observations, on synthetic clients:
every driver visits each reachable item exactly once, and failures end the round."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import pytest

from harness.drivers.client import client_twin
from harness.model.checksum import fold
from harness.model.workload import BenchContext

# A small graph with a cycle, a self-loop, duplicate links and one node nothing links to.
GRAPH = {0: [1, 2, 2], 1: [3, 0], 2: [3, 4, 2], 3: [5], 4: [], 5: [1], 6: [0]}
REACHABLE = {0, 1, 2, 3, 4, 5}
KINDS = ("sync", "threads", "async")


class Visits:
    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    def enter(self, node: int) -> None:
        with self.lock:
            self.counts[node] += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


VISITS = Visits()


class GraphClient:
    def open(self, ctx: BenchContext) -> None:
        self.fail_at = ctx.params.get("fail_at")

    def op(self, node: int) -> tuple[Any, list[int]]:
        VISITS.enter(node)
        try:
            time.sleep(0.005)
            if node == self.fail_at:
                raise ConnectionError(f"node {node} went away")
            return ("node", node), GRAPH[node]
        finally:
            VISITS.leave()

    def close(self) -> None:
        pass


class AsyncGraphClient:
    async def open(self, ctx: BenchContext) -> None:
        self.fail_at = ctx.params.get("fail_at")

    async def op(self, node: int) -> tuple[Any, list[int]]:
        VISITS.enter(node)
        try:
            await asyncio.sleep(0.005)
            if node == self.fail_at:
                raise ConnectionError(f"node {node} went away")
            return ("node", node), GRAPH[node]
        finally:
            VISITS.leave()

    async def close(self) -> None:
        pass


def crawler(kind: str) -> Any:
    client = AsyncGraphClient if kind == "async" else GraphClient
    return client_twin(f"graph-{kind}", kind, kind, client, lambda ctx: [0], crawl=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_a_crawl_visits_every_reachable_item_once(kind: str) -> None:
    VISITS.counts.clear()
    VISITS.most_in_flight = 0
    bench = crawler(kind).bind(BenchContext(params={"concurrency": 3}, peers={}))
    bench.setup()
    try:
        checksums = [bench.round(), bench.round()]
    finally:
        bench.teardown()
    assert checksums == [fold(("node", n) for n in REACHABLE)] * 2
    assert VISITS.counts == Counter({n: 2 for n in REACHABLE})  # once per round, never 6
    assert bench.ops == len(REACHABLE)
    if kind != "sync":
        assert VISITS.most_in_flight > 1  # the frontier was worked on concurrently
    else:
        assert VISITS.most_in_flight == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_op_ends_the_crawl_with_its_error_and_nothing_left_running(kind: str) -> None:
    bench = crawler(kind).bind(BenchContext(params={"concurrency": 3, "fail_at": 2}, peers={}))
    bench.setup()
    try:
        with pytest.raises(ConnectionError, match="node 2 went away"):
            bench.round()
        assert VISITS.in_flight == 0
    finally:
        bench.teardown()


class Noop:
    def open(self, ctx: BenchContext) -> None:
        pass

    def op(self, item: int) -> int:
        return item

    def close(self) -> None:
        pass


def test_what_reset_observes_is_reported_as_the_mean_of_the_timed_rounds() -> None:
    seen = iter([0.0, 0.5, 1.0, None, 0.75])  # the first reset precedes the warm-up round

    def reset(ctx: BenchContext) -> dict[str, float] | None:
        value = next(seen)
        return None if value is None else {"cached": value}

    twin = client_twin("noop", "sync", "noop", Noop, lambda ctx: [1, 2], reset=reset)
    bench = twin.bind(BenchContext(params={}, peers={}, warmup_rounds=1))
    bench.setup()
    try:
        for _ in range(5):
            bench.reset()
            bench.round()
        assert bench.extra_info() == {"cached": pytest.approx(0.75)}  # (0.5 + 1.0 + 0.75) / 3
    finally:
        bench.teardown()


class Counting:
    """Counts the ops it served; with `cpu_us`, the driver's CPU proof is kept per round."""

    served = 0

    def open(self, ctx: BenchContext) -> None:
        pass

    def op(self, item: int) -> int:
        Counting.served += 1
        return item

    def close(self) -> None:
        pass


class AsyncCounting(Counting):
    async def open(self, ctx: BenchContext) -> None:  # type: ignore[override]
        pass

    async def op(self, item: int) -> int:  # type: ignore[override]
        Counting.served += 1
        return item

    async def close(self) -> None:  # type: ignore[override]
        pass


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n", "share", "head"), [(200, 0.1, 20), (20, 0.1, 8), (5, 0.5, 5)])
def test_a_warm_up_runs_the_head_of_the_work_list_and_leaves_whole_rounds_alike(
        kind: str, n: int, share: float, head: int) -> None:
    client = AsyncCounting if kind == "async" else Counting
    twin = client_twin(f"count-{kind}", kind, kind, client, lambda ctx: list(range(n)))  # type: ignore[arg-type]
    # C=4: at least two waves (8 ops), at most the whole list
    bench = twin.bind(BenchContext(params={"concurrency": 4, "cpu_us": 1}, peers={}))
    bench.setup()
    try:
        Counting.served = 0
        bench.warmup_round(share)
        assert Counting.served == head
        whole = [bench.round(), bench.round()]
    finally:
        bench.teardown()
    assert Counting.served == head + 2 * n
    assert whole[0] == whole[1] and bench.ops == n
    bench.extra_info()  # the CPU proofs of whole rounds agree: the warm-up's is not among them

"""What each twin costs, measured by the plugin over the timed rounds: plausible by
construction (CPU inside the wall-clock window) and checked against physics — a twin that only
sleeps costs next to no CPU, one that spins costs about its wall time."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from harness.drivers.client import client_twin
from harness.model.registry import Selection
from harness.model.workload import BenchContext, Scenario, Workload
from harness.run.runner import RunRequest, execute

OP_S = 0.004


def items(ctx: BenchContext) -> list[int]:
    return list(range(ctx.params["n"]))


def spin(seconds: float) -> None:
    """Burn `seconds` of this thread's CPU (not of wall time: a busy machine only stretches
    the wall time around it)."""
    deadline = time.thread_time() + seconds
    while time.thread_time() < deadline:
        pass


class Sleeper:
    def open(self, ctx: BenchContext) -> None:
        pass

    def op(self, item: int) -> int:
        time.sleep(OP_S)
        return item

    def close(self) -> None:
        pass


class Spinner(Sleeper):
    def op(self, item: int) -> int:
        spin(OP_S)
        return item


class AsyncSleeper:
    async def open(self, ctx: BenchContext) -> None:
        pass

    async def op(self, item: int) -> int:
        await asyncio.sleep(OP_S)
        return item

    async def close(self) -> None:
        pass


WORKLOAD = Workload(
    name="cost", description="sleeps and spins",
    twins=(client_twin("sleeper", "sync", "sleeps", Sleeper, items),
           client_twin("spinner", "sync", "spins", Spinner, items),
           client_twin("pool", "threads", "{concurrency} threads", Sleeper, items),
           client_twin("tasks", "async", "{concurrency} tasks", AsyncSleeper, items)),
    scenarios=(Scenario("s", {"n": 100, "concurrency": 8}),),
    tiny={"n": 4},
)


@pytest.fixture(scope="module")
def records() -> dict[str, Any]:
    result = execute(RunRequest(Selection(("cost",)), profile="quick"),
                     registry={"cost": WORKLOAD})
    assert result.run is not None and result.exit_code == 0
    return {r.twin: r for r in result.run.benchmarks}


def test_cpu_is_counted_inside_each_timed_round(records: dict[str, Any]) -> None:
    for twin in ("sleeper", "spinner"):  # single-threaded: CPU can never exceed wall
        record = records[twin]
        cpu = record.extra["cpu_s_per_round"]
        assert len(cpu) == len(record.data) == 3  # the timed rounds only
        for cpu_s, timed_s, window_s in zip(cpu, record.data, record.extra["wall_s_per_round"],
                                            strict=True):
            assert 0 <= cpu_s <= timed_s <= window_s
        assert record.cpu_per_op <= record.median / record.ops


def test_a_twin_that_only_sleeps_shows_near_zero_cpu(records: dict[str, Any]) -> None:
    sleeper = records["sleeper"]
    assert sleeper.cpu_per_op < 0.1 * OP_S  # the rest of each op is spent asleep
    assert records["tasks"].cpu_per_op < 0.1 * OP_S


def test_a_twin_that_spins_costs_about_its_wall_time(records: dict[str, Any]) -> None:
    spinner = records["spinner"]
    wall_per_op = spinner.median / spinner.ops
    # It burns OP_S of CPU per op, and the meter sees that; its wall time is at least that
    # (about the same on an idle machine).
    assert spinner.cpu_per_op == pytest.approx(OP_S, rel=0.1)
    assert spinner.cpu_per_op <= wall_per_op


def test_threads_and_memory_of_the_measuring_process(records: dict[str, Any]) -> None:
    assert records["pool"].extra["threads_peak"] >= 8 + 1  # the pool's workers and main
    assert records["sleeper"].extra["threads_peak"] < records["pool"].extra["threads_peak"]
    for record in records.values():
        assert record.extra["rss_delta_bytes"] >= 0
    assert threading.active_count() < 8  # the pools are gone again


def test_warm_up_and_resets_are_not_metered(records: dict[str, Any]) -> None:
    # quick: 1 warm-up + 3 timed rounds; only the timed ones have a window.
    assert all(len(r.extra["wall_s_per_round"]) == 3 for r in records.values())


WEB = Workload(
    name="web", description="sleeps, with the HTTP peer started for it",
    twins=(client_twin("sleeper", "sync", "sleeps", Sleeper, items),),
    scenarios=(Scenario("s", {"n": 20, "concurrency": 1}),), peers=("http",),
)


def test_only_the_peers_a_workload_uses_are_charged_to_it() -> None:
    """The pool keeps the HTTP peer started for `web` running while `cost` is measured; its
    idle ticks belong to no twin of `cost`."""
    result = execute(RunRequest(Selection(("web", "cost"), ("sleeper",)), profile="quick"),
                     registry={"web": WEB, "cost": WORKLOAD})
    assert result.run is not None and result.exit_code == 0
    charged = {r.workload: set(r.peer_cpu_per_op()) for r in result.run.benchmarks}
    assert charged == {"web": {"http"}, "cost": set()}

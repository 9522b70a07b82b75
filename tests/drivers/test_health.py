"""An async twin's loop health (harness.drivers.health): lag, stalls, leaked tasks, and with
`--stalls` the line that held the loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from harness.drivers.aio import close_loop, new_loop
from harness.drivers.health import LoopHealth
from harness.model.registry import Selection
from harness.run.runner import RunRequest, execute

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "blocking_loop.py"


def run_rounds(health: LoopHealth, body: object, rounds: int = 1) -> None:
    loop = new_loop()

    async def one() -> None:
        health.start(loop)
        try:
            await body()  # type: ignore[operator]
        finally:
            health.stop()

    try:
        for _ in range(rounds):
            loop.run_until_complete(one())
    finally:
        close_loop(loop)


def test_a_blocking_call_is_a_stall_and_the_watchdog_finds_its_line() -> None:
    health = LoopHealth(threshold_s=0.010, where=True)

    async def blocks() -> None:
        await asyncio.sleep(0.02)
        time.sleep(0.06)  # the line the report must point at
        await asyncio.sleep(0.02)

    run_rounds(health, blocks)
    info = health.info()
    assert info["loop_stalls"] == 1
    assert info["loop_lag_max_s"] >= 0.05 and info["loop_lag_p50_s"] < 0.01
    (site,) = info["stall_sites"]
    assert "test_health.py:" in site["where"] and "in blocks" in site["where"]
    assert "time.sleep(0.06)" in site["where"]


def test_awaiting_is_no_stall_and_nothing_is_sampled_without_where() -> None:
    health = LoopHealth(threshold_s=0.010)

    async def awaits() -> None:
        for _ in range(10):
            await asyncio.sleep(0.005)

    run_rounds(health, awaits, rounds=2)
    info = health.info()
    assert info["loop_stalls"] == 0 and info["tasks_leaked"] == 0
    assert len(health.lags) >= 4 and "stall_sites" not in info


def test_a_task_left_pending_after_the_rounds_is_a_leak() -> None:
    health = LoopHealth()
    leaked: list[asyncio.Task[None]] = []

    async def leaks() -> None:
        leaked.append(asyncio.get_running_loop().create_task(asyncio.sleep(60)))
        await asyncio.sleep(0.01)

    run_rounds(health, leaks, rounds=2)
    assert health.info()["tasks_leaked"] == 2


@pytest.fixture(scope="module")
def blocking_run() -> object:
    request = RunRequest(selection=Selection(("blocking",)), profile="quick",
                         sources=(str(EXAMPLE),), stalls=True)
    return execute(request)


def test_the_worked_example_points_at_the_blocking_call(blocking_run: object) -> None:
    """README's example: requests called inside a coroutine stalls the loop on every request,
    the report names the line; aiohttp does not stall."""
    run = blocking_run.run  # type: ignore[attr-defined]
    assert run is not None
    by = {b.twin: b for b in run.benchmarks}
    bad, good = by["requests-in-async"], by["aiohttp"]
    assert bad.extra["loop_stalls"] >= 1 and good.extra["loop_stalls"] == 0
    top = bad.extra["stall_sites"][0]["where"]
    assert "blocking_loop.py:" in top and "in op" in top and "self.session.get(url)" in top
    assert "(blocked in " in top  # and where, inside requests, it was when sampled
    assert [w["kind"] for w in bad.warnings] == ["loop"]
    assert not [w for w in good.warnings if w["kind"] == "loop"]
    assert "requests-threads" in by and "loop_stalls" not in by["requests-threads"].extra

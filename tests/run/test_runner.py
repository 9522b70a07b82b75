"""The runner and plugin end to end on synthetic workloads (no peers): fast and exact."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import pytest

from harness.drivers.client import client_twin
from harness.errors import BadInput
from harness.model.checksum import fold
from harness.model.registry import Selection
from harness.model.workload import BenchContext, Scenario, Workload
from harness.run.runner import RunRequest, execute


def items(ctx: BenchContext) -> list[int]:
    return list(range(ctx.params["n"]))


class SleepyClient:
    def open(self, ctx: BenchContext) -> None:
        self.delay = ctx.params["latency_ms"] / 1000

    def op(self, item: int) -> int:
        time.sleep(self.delay)
        return item * item

    def close(self) -> None:
        pass


class AsyncSleepyClient:
    async def open(self, ctx: BenchContext) -> None:
        self.delay = ctx.params["latency_ms"] / 1000

    async def op(self, item: int) -> int:
        await asyncio.sleep(self.delay)
        return item * item

    async def close(self) -> None:
        pass


class WrongClient(AsyncSleepyClient):
    async def op(self, item: int) -> int:
        return item + 1  # does different work: must be caught


class CrashingClient(SleepyClient):
    def op(self, item: int) -> int:
        raise ConnectionError("peer went away")


def fake_workload(*extra_twins: Any) -> Workload:
    return Workload(
        name="sleepy",
        description="sleeps instead of I/O",
        twins=(
            client_twin("seq", "sync", "seq", SleepyClient, items),
            client_twin("pool", "threads", "{concurrency} threads", SleepyClient, items),
            client_twin("tasks", "async", "{concurrency} tasks", AsyncSleepyClient, items),
            *extra_twins,
        ),
        scenarios=(Scenario("small", {"n": 20, "concurrency": 10, "latency_ms": 2}),),
        tiny={"n": 4},
        expected=lambda p: fold(i * i for i in range(p["n"])),
    )


def run(workload: Workload, **kwargs: Any) -> Any:
    request = RunRequest(selection=Selection(**kwargs), profile="quick")
    return execute(request, registry={workload.name: workload})


@pytest.fixture(scope="module")
def plain_run() -> Any:
    """A run of fake_workload() as it is, read by the tests that only look at what it made."""
    return run(fake_workload())


def test_run_records_everything_the_report_needs(plain_run: Any) -> None:
    result = plain_run
    assert result.exit_code == 0
    records = {r.twin: r for r in result.run.benchmarks}
    assert set(records) == {"seq", "pool", "tasks"}
    quick_n = 2  # quick profile: 10% of n=20
    for record in records.values():
        assert record.ops == quick_n
        assert len(record.data) == 3  # quick profile rounds, warm-up excluded
        assert record.group == "sleepy:small"
        assert record.params["n"] == quick_n
        # ideal = ceil(N/C)·L = 1 · 2 ms
        assert record.ideal_s == pytest.approx(0.002)
        assert record.efficiency == pytest.approx(0.002 / record.median)
    assert records["pool"].label == "10 threads"
    assert len({r.checksum for r in records.values()}) == 1
    meta = result.run.meta
    assert meta["profile"] == "quick" and meta["complete"] is True
    assert meta["outcomes"]["sleepy-small-tasks"]["outcome"] == "passed"


def test_sequential_twin_pays_for_latency(plain_run: Any) -> None:
    result = plain_run
    records = {r.twin: r for r in result.run.benchmarks}
    # Physics, not tuning: 2 sequential 2 ms sleeps take at least 4 ms.
    assert min(records["seq"].data) >= 0.004


def test_twin_doing_different_work_fails_the_run() -> None:
    wrong = client_twin("wrong", "async", "wrong", WrongClient, items)
    result = run(fake_workload(wrong))
    assert result.exit_code == 1
    assert [o.case_id for o in result.failed] == ["sleepy-small-wrong"]
    assert "expected" in result.failed[0].detail


def test_crashing_twin_fails_but_others_still_run() -> None:
    crash = client_twin("crash", "sync", "crash", CrashingClient, items)
    result = run(fake_workload(crash))
    assert result.exit_code == 1
    assert {r.twin for r in result.run.benchmarks} == {"seq", "pool", "tasks"}
    (failure,) = result.failed
    assert failure.case_id == "sleepy-small-crash"
    assert "peer went away" in failure.detail


def test_selection_filters_twins() -> None:
    result = run(fake_workload(), twins=("tasks",))
    assert [r.twin for r in result.run.benchmarks] == ["tasks"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workloads": ("nope",)}, "unknown workload nope; choose from: sleepy"),
        ({"twins": ("nope",)}, "unknown twin nope; choose from: pool, seq, tasks"),
        ({"scenarios": ("nope",)}, "unknown scenario nope; choose from: small"),
    ],
)
def test_unknown_names_list_the_valid_choices(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        run(fake_workload(), **kwargs)


def test_unknown_profile_and_loop() -> None:
    workload = fake_workload()
    with pytest.raises(BadInput, match="unknown profile 'huge'; choose from: quick, default"):
        execute(RunRequest(profile="huge"), registry={workload.name: workload})
    with pytest.raises(BadInput, match="unknown event loop 'trio'"):
        execute(RunRequest(profile="quick", loop="trio"), registry={workload.name: workload})


def test_uvloop_runs_async_twins() -> None:
    pytest.importorskip("uvloop")
    request = RunRequest(selection=Selection(twins=("tasks",)), profile="quick", loop="uvloop")
    workload = fake_workload()
    result = execute(request, registry={workload.name: workload})
    (record,) = result.run.benchmarks
    assert record.extra["loop"] == "uvloop"
    assert result.run.meta["loop"] == "uvloop"


def test_two_twins_that_disagree_both_fail() -> None:
    """Without an expected checksum, 1 vs 1 cannot say who is right: neither is reported."""
    workload = Workload(
        name="split", description="",
        twins=(client_twin("seq", "sync", "seq", SleepyClient, items),
               client_twin("wrong", "async", "wrong", WrongClient, items)),
        scenarios=(Scenario("small", {"n": 20, "concurrency": 10, "latency_ms": 1}),),
        tiny={"n": 4},
    )
    result = execute(RunRequest(profile="quick"), registry={"split": workload})
    assert result.exit_code == 1
    assert {o.case_id for o in result.failed} == {"split-small-seq", "split-small-wrong"}
    assert result.run.benchmarks == ()


class AsyncCrashingClient(AsyncSleepyClient):
    async def op(self, item: int) -> int:
        if item == 1:
            raise ConnectionResetError("connection reset by peer")
        return await super().op(item)


class HalfOpenClient(SleepyClient):
    """Acquires a resource, then fails to open: teardown must still release it."""

    released: ClassVar[list[bool]] = []

    def open(self, ctx: BenchContext) -> None:
        self.resource = True
        raise TimeoutError("pool did not fill")

    def close(self) -> None:
        HalfOpenClient.released.append(self.resource)


def test_async_twin_failing_reports_the_op_error_not_a_task_group() -> None:
    crash = client_twin("async-crash", "async", "crash", AsyncCrashingClient, items)
    result = run(fake_workload(crash))
    (failure,) = result.failed
    assert failure.case_id == "sleepy-small-async-crash"
    assert "connection reset by peer" in failure.detail


def test_a_twin_whose_open_fails_is_still_torn_down() -> None:
    HalfOpenClient.released.clear()
    half = client_twin("half", "threads", "half", HalfOpenClient, items)
    result = run(fake_workload(half))
    (failure,) = result.failed
    assert "pool did not fill" in failure.detail
    # set up beside its scenario's other twins, then (a set-up that failed there may have
    # been crowded out) alone: torn down both times
    assert HalfOpenClient.released == [True, True]
    assert {r.twin for r in result.run.benchmarks} == {"seq", "pool", "tasks"}

"""Twins of a client scenario measured in turn, round by round, as many rounds as needed."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from harness.analysis.matchup import judge
from harness.analysis.sequential import RoundsPlan
from harness.analysis.summary import summarize
from harness.drivers.client import client_twin
from harness.model.checksum import fold
from harness.model.registry import Selection
from harness.model.workload import BenchContext, Scenario, Workload
from harness.run.events import Listener
from harness.run.interleave import measure_group
from harness.run.runner import RunRequest, execute

LOG: list[str] = []


def items(ctx: BenchContext) -> list[int]:
    return list(range(ctx.params["n"]))


class Recorder:
    """Sleeps per op like I/O would, and logs which twin starts a round (item 0 comes first
    off every driver's work list) and when its client closes."""

    def __init__(self, name: str, delay_s: float = 0.001, fail_in_round: int | None = None):
        self.name, self.delay, self.fail_in_round = name, delay_s, fail_in_round
        self.rounds = 0

    def open(self, ctx: BenchContext) -> None:
        pass

    def op(self, item: int) -> int:
        if item == 0:
            self.rounds += 1
            LOG.append(self.name)
            if self.rounds == self.fail_in_round:
                raise ConnectionError(f"{self.name} lost its peer")
        time.sleep(self.delay)
        return item * item

    def close(self) -> None:
        LOG.append(f"{self.name} closed")


class AsyncRecorder(Recorder):
    async def open(self, ctx: BenchContext) -> None:  # type: ignore[override]
        pass

    async def op(self, item: int) -> int:  # type: ignore[override]
        if item == 0:
            LOG.append(self.name)
        await asyncio.sleep(self.delay)
        return item * item

    async def close(self) -> None:  # type: ignore[override]
        LOG.append(f"{self.name} closed")


def workload(*twins: Any) -> Workload:
    return Workload(
        name="turns", description="twins that log their turns", twins=tuple(twins),
        scenarios=(Scenario("s", {"n": 6, "concurrency": 3, "latency_ms": 1}),),
        tiny={"n": 6}, expected=lambda p: fold(i * i for i in range(p["n"])))


def run(w: Workload, rule: Any = None) -> Any:
    LOG.clear()
    return execute(RunRequest(selection=Selection(), profile="quick"),
                   registry={w.name: w}, rounds_rule=rule)


def test_round_i_of_every_twin_before_round_i_plus_1_of_any_in_rotated_order() -> None:
    result = run(workload(
        client_twin("a", "sync", "a", lambda: Recorder("a"), items),
        client_twin("b", "threads", "b", lambda: Recorder("b"), items),
        client_twin("c", "threads", "c", lambda: Recorder("c"), items)))
    assert result.exit_code == 0
    # one warm-up turn, then three timed turns (quick), each rotated by one
    assert LOG == ["a", "b", "c", "a", "b", "c", "b", "c", "a", "c", "a", "b",
                   "a closed", "b closed", "c closed"]
    for record in result.run.benchmarks:  # each twin its own entry, with its own rounds
        assert len(record.data) == 3
        assert record.extra["interleaved"]["rounds"] == 3


def test_the_verdict_pairs_round_i_with_round_i() -> None:
    result = run(workload(
        client_twin("a", "sync", "a", lambda: Recorder("a", 0.004), items),
        client_twin("b", "async", "b", lambda: AsyncRecorder("b", 0.001), items)))
    (summary,) = summarize(result.run)
    m = judge(summary)
    assert m is not None and m.speedup is not None and m.speedup.paired
    assert m.speedup.pairs == 3


def test_a_twin_that_fails_is_torn_down_at_once_and_the_others_go_on() -> None:
    result = run(workload(
        client_twin("a", "sync", "a", lambda: Recorder("a"), items),
        client_twin("b", "threads", "b", lambda: Recorder("b", fail_in_round=2), items),
        client_twin("c", "threads", "c", lambda: Recorder("c"), items)))
    assert result.exit_code == 1
    failed = {o.case_id: o.detail for o in result.failed}
    assert list(failed) == ["turns-s-b"] and "b lost its peer" in failed["turns-s-b"]
    # b's first timed round failed: closed there and then, before c's turn of that round
    assert LOG == ["a", "b", "c", "a", "b", "b closed", "c", "c", "a", "a", "c",
                   "a closed", "c closed"]
    assert {r.twin: len(r.data) for r in result.run.benchmarks} == {"a": 3, "c": 3}


def test_rounds_as_the_answer_needs_and_a_twin_that_cannot_be_best_stops_early() -> None:
    rule = RoundsPlan(looks=(3, 6), min_effect=0.05)
    result = run(workload(
        client_twin("seq", "sync", "seq", lambda: Recorder("seq", 0.02), items),
        client_twin("pool", "threads", "pool", lambda: Recorder("pool", 0.001), items),
        client_twin("tasks", "async", "tasks", lambda: AsyncRecorder("tasks", 0.001), items)),
        rule)
    assert result.exit_code == 0
    rounds = {r.twin: len(r.data) for r in result.run.benchmarks}
    stopped = {r.twin: r.extra["interleaved"]["stopped"] for r in result.run.benchmarks}
    # 20x slower than the pool in its warm-up and its first timed round: it stops there
    assert rounds["seq"] == 1 and stopped["seq"] == "cannot be its side's best"
    assert rounds["pool"] >= 3 and rounds["pool"] == rounds["tasks"]
    # the level of the look it stopped at: the first (an interim look, 99.5%) or the last
    # (which spends what the first left: 95.5%)
    level = result.run.benchmarks[1].extra["interleaved"]["level"]
    assert level == pytest.approx(0.995 if rounds["pool"] == 3 else 0.955)


def test_server_twins_and_lone_twins_are_measured_one_at_a_time() -> None:
    result = run(workload(client_twin("a", "sync", "a", lambda: Recorder("a"), items)))
    assert "interleaved" not in result.run.benchmarks[0].extra


class OneAtATime(Recorder):
    """A client of a server that takes one client at a time (a connection limit)."""

    open_now = 0

    def open(self, ctx: BenchContext) -> None:
        if OneAtATime.open_now:
            raise ConnectionError("sorry, too many clients already")
        OneAtATime.open_now += 1
        self.opened = True

    def close(self) -> None:  # also called after an open that failed: close what it got to
        if getattr(self, "opened", False):
            OneAtATime.open_now -= 1
        super().close()


def test_a_twin_that_cannot_be_set_up_beside_the_others_is_measured_alone() -> None:
    OneAtATime.open_now = 0
    result = run(workload(
        client_twin("a", "sync", "a", lambda: OneAtATime("a"), items),
        client_twin("b", "threads", "b", lambda: OneAtATime("b"), items)))
    assert result.exit_code == 0
    records = {r.twin: r for r in result.run.benchmarks}
    assert len(records["b"].data) == 3 and "interleaved" not in records["b"].extra
    (warning,) = records["b"].warnings
    assert "too many clients already" in warning["message"]
    assert "measured alone" in warning["message"]
    assert "interleaved" in records["a"].extra


class FakeRun:
    """A case for the scheduler alone: its rounds take the times given, on a fake clock."""

    def __init__(self, name: str, kind: str, times: list[float], clock: list[float]):
        self.case = SimpleNamespace(id=name, twin=SimpleNamespace(kind=kind))
        self.warmup, self.times, self.clock = 1, iter(times), clock
        self.bench = SimpleNamespace(extra_info=dict)
        self.last = 0.0

    def start(self, rounds: int) -> None:
        pass

    def reset(self) -> None:
        pass

    def warmup_round(self) -> None:
        self.last = next(self.times)
        self.clock[0] += self.last

    timed_round = warmup_round

    def after_round(self) -> None:
        pass

    def teardown(self) -> None:
        pass


def _fake_runner(fn: Any) -> Any:
    """pytest-benchmark's runner, timing on the fake clock: a round takes what its run says."""
    def run(_: Any) -> tuple[float, None]:
        fn()
        return fn.__self__.last, None
    return run


def test_the_time_cap_counts_the_rounds_of_the_twins_still_in_contention() -> None:
    clock = [0.0]
    noisy = [1.0, 1.3, 0.8, 1.25, 0.85, 1.2, 0.9, 1.3, 0.8, 1.1]  # never settles
    runs = [FakeRun("seq", "sync", [10.0] * 11, clock),  # far behind from its warm-up on
            FakeRun("pool", "threads", [1.0] * 11, clock),
            FakeRun("aio", "async", [1.0, *noisy], clock)]
    result = measure_group(
        runs, RoundsPlan(looks=(3, 5, 8, 10), seconds=12.0),
        runner=_fake_runner, finish=lambda *a: None, listener=Listener(),
        clock=lambda: clock[0])
    rounds = {cid: len(o.durations) for cid, o in result.outcomes.items()}
    # seq's 10 s round is spent whatever happens; pool and aio take 2 s a turn, so the cap of
    # 12 s stops them after 6 turns, not at the first look (where 3 turns with seq's round
    # counted would already be past it)
    assert rounds == {"seq": 1, "pool": 6, "aio": 6}
    assert result.outcomes["pool"].stopped == "time cap"

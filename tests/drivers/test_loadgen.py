"""The load generator's shared pieces: the request driver, the open-loop schedule, connecting."""

from __future__ import annotations

import asyncio
from array import array
from pathlib import Path
from typing import Any, cast

import pytest

from harness.drivers.loadgen import (
    LoadSession,
    RequestLoad,
    Schedule,
    _command,
    connect_all,
)
from harness.model.data import payload
from harness.procs import nofile_shortfall
from workloads.tcp_server import answer


def test_request_load_counts_failures_instead_of_raising() -> None:
    class Fake:
        def __init__(self, mode: str):
            self.mode, self.closed = mode, False

        def request(self, index: int) -> asyncio.Future[bytes]:
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            if self.mode == "ok":
                future.set_result(answer(payload(index, 8)))
            elif self.mode == "wrong":
                future.set_result(b"nope")
            return future  # "hang": never answered

        def close(self) -> None:
            self.closed = True

    conns = iter([Fake("ok"), Fake("wrong"), Fake("hang")])

    async def open_conn(port: int) -> Fake:
        return next(conns)

    load = RequestLoad({"n": 9, "concurrency": 3, "timeout_s": 0.2}, open_conn,
                       lambda i: answer(payload(i, 8)))

    async def go() -> dict[str, Any]:
        await load.connect(0)
        return await load.run()

    result = asyncio.run(go())
    assert result["ok"] == 3 and result["answered"] == 6
    assert result["counts"] == {"timeouts": 1, "conn_errors": 0, "wrong": 3, "unsent": 2}
    assert result["full_checksum"] is None  # a wrong answer never passes as the full work


def test_open_loop_latency_counts_from_the_due_time_only_when_held_back() -> None:
    """One rule for every load generator: a request whose connection was still busy with the
    server past its due time is charged from the due time, and its lateness is not the load
    generator's own lag; otherwise latency counts from the send, whose lateness is the lag."""
    schedule = Schedule(rate=100.0)  # one request every 10 ms

    async def go() -> tuple[float, float, float, float]:
        t0 = schedule.begin()
        due = await schedule.wait(1)
        free = schedule.start(due, busy_until=t0)  # the connection was idle: send time
        held = schedule.start(schedule.due(2), busy_until=schedule.due(2) + 0.05)
        return t0, due, free, held

    t0, due, free, held = asyncio.run(go())
    assert due == pytest.approx(t0 + 0.01)
    assert free >= due  # never before it was due
    assert held == pytest.approx(t0 + 0.02)  # charged from its due time
    assert len(schedule.lags) == 1 and schedule.lags[0] == pytest.approx(free - due, abs=1e-3)
    assert schedule.lag_p99() == schedule.lags[0]


def test_connect_all_counts_refused_and_timed_out_connections() -> None:
    attempts = iter(["ok", "refused", "slow", "ok"])

    async def open_one() -> str:
        kind = next(attempts)
        if kind == "refused":
            raise ConnectionRefusedError
        if kind == "slow":
            await asyncio.sleep(1)
        return kind

    conns, reply = asyncio.run(connect_all(open_one, 4, timeout=0.05))
    assert conns.count("ok") == 2 and conns.count(None) == 2
    assert reply["connected"] == 2
    assert reply["counts"] == {"refused": 1, "connect_timeouts": 1, "connect_errors": 0}


def test_nofile_shortfall_is_one_line() -> None:
    problem = nofile_shortfall(10**12)
    if problem is None:
        pytest.skip("no finite hard RLIMIT_NOFILE here")
    assert "RLIMIT_NOFILE" in problem and "\n" not in problem


def test_stats_summarise_other_sample_series_over_the_kept_rounds(tmp_path: Path) -> None:
    """A session's extra `series` (e.g. a game's input-to-visible latency beside its tick
    lateness) is pooled over the rounds kept, like the latencies, and summarised."""
    class Session:
        def __init__(self) -> None:
            self.round = 0
            self.latencies: array[float] = array("d")
            self.series: dict[str, array[float]] = {}

        async def run(self) -> dict[str, Any]:
            self.round += 1
            self.latencies = array("d", [0.001 * self.round])
            self.series = {"input": array("d", [self.round * 1.0, self.round * 2.0])}
            return {}

    loop, session = asyncio.new_event_loop(), Session()
    rounds: list[Any] = []
    try:
        for _ in range(3):
            _command(loop, cast(LoadSession, session), {"cmd": "run"}, rounds)
        reply = _command(loop, cast(LoadSession, session),
                         {"cmd": "stats", "path": str(tmp_path / "lat.bin"), "skip": 1}, rounds)
    finally:
        loop.close()
    assert reply["count"] == 2  # the first round is a warm-up
    assert reply["series"] == {"input": {"count": 4, "p50": 3.0, "p99": 6.0, "max": 6.0}}

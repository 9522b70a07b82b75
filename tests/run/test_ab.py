"""Interleaved A/B measurement: two workers, one acting at a time, rounds in ABBA order, each
side's run an ordinary run file paired with the other's."""

from __future__ import annotations

import itertools
import json
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.compare import compare_runs
from harness.analysis.gate import to_confirm
from harness.model.registry import Selection
from harness.run.ab import Side, interleave, measure_ab
from harness.run.runner import RunRequest

# A team's twins (no peer needed): every round appends (side, twin, start, end) to a log, so
# the test sees exactly when each side's rounds ran. NAP_MS differs between the sides when a
# test makes one side slower.
TWINS = '''
import asyncio
import json
import os
import time

from harness import BenchContext, Scenario, Workload, client_twin, fold

SIDE = {side!r}
NAP_S = {nap_ms} / 1000
LOG = {log!r}


def items(ctx: BenchContext) -> list[int]:
    return list(range(ctx.params["n"]))


class Nap:
    def open(self, ctx: BenchContext) -> None:
        self.rounds = 0

    def op(self, item: int) -> int:
        if item == 0:
            self.started = time.monotonic()
        time.sleep(NAP_S)
        if item == 3:
            with open(LOG, "a") as log:
                log.write(json.dumps([SIDE, "nap", self.started, time.monotonic()]) + "\\n")
        return item

    def close(self) -> None:
        pass


class AsyncNap:
    async def open(self, ctx: BenchContext) -> None:
        self.rounds = 0

    async def op(self, item: int) -> int:
        if item == 0:
            self.started = time.monotonic()
        await asyncio.sleep(NAP_S)
        if item == 3:
            with open(LOG, "a") as log:
                log.write(json.dumps([SIDE, "tasks", self.started, time.monotonic()]) + "\\n")
        return item

    async def close(self) -> None:
        pass


WORKLOAD = Workload(
    name="naps", description="sleeps, logged",
    twins=(client_twin("nap", "sync", "nap", Nap, items),
           client_twin("tasks", "async", "tasks", AsyncNap, items)),
    scenarios=(Scenario("s", {{"n": 4, "concurrency": 1}}),),
    tiny={{"n": 4}}, expected=lambda p: fold(range(p["n"])),
)
'''


def side(tmp: Path, name: str, nap_ms: float, log: Path) -> Side:
    root = tmp / name
    root.mkdir()
    (root / "naps.py").write_text(TWINS.format(side=name, nap_ms=nap_ms, log=str(log)))
    return Side(name, root, sys.executable, name)


def request(rounds: int = 4) -> RunRequest:
    # default profile: N stays 4 (quick would scale it); the rounds are the session's own
    return RunRequest(Selection(("naps",)), profile="default", sources=("naps.py",),
                      rounds=rounds, warmup_rounds=1)


def logged(log: Path) -> list[list[Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_one_side_at_a_time_in_abba_order(tmp_path: Path) -> None:
    log = tmp_path / "rounds.log"
    base, current = side(tmp_path, "base", 2, log), side(tmp_path, "current", 2, log)
    result = interleave(base, current, request(rounds=4))
    assert not result.interrupted and result.base is not None and result.current is not None
    rounds = logged(log)
    for twin in ("nap", "tasks"):
        order = "".join("A" if r[0] == "base" else "B" for r in rounds if r[1] == twin)
        assert order == "ABBAABBAAB"  # warm-up pair, then 4 pairs, alternating who leads
    spans = sorted((r[2], r[3]) for r in rounds)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start  # never two sides' rounds at once
    for run, name in ((result.base, "base"), (result.current, "current")):
        assert run.meta["ab"]["side"] == name and run.meta["ab"]["order"] == "ABBA"
        assert all(len(r.data) == 4 for r in run.benchmarks)  # warm-ups dropped by both
    assert result.base.meta["ab"]["session"] == result.current.meta["ab"]["session"]


def test_pairs_see_a_slower_side_and_not_an_identical_one(tmp_path: Path) -> None:
    log = tmp_path / "rounds.log"
    same = measure_ab(side(tmp_path, "base", 2, log), side(tmp_path, "current", 2, log),
                      request(), pairs=12, warmup=1, confirm=0,
                      suspects=lambda b, c: ((), ""))
    assert same is not None
    comparison = compare_runs(same.base, same.current)
    assert comparison.paired
    assert all(d.comparison.method == "pairs" and d.comparison.pairs == 12
               for d in comparison.absolute)
    assert not comparison.regressions
    other = tmp_path / "other"
    other.mkdir()
    slow = measure_ab(side(other, "base", 2, log), side(other, "current", 3, log), request(),
                      pairs=12, warmup=1, confirm=0, suspects=lambda b, c: ((), ""))
    assert slow is not None
    verdicts = {d.twin: d for d in compare_runs(slow.base, slow.current).absolute}
    for twin in ("nap", "tasks"):
        c = verdicts[twin].comparison
        assert verdicts[twin].verdict == "slower", (twin, c)
        assert 1.2 < c.ratio < 1.8 and c.ci_low > 1 and c.detectable < c.change


def test_suspects_get_more_pairs_before_the_verdict(tmp_path: Path) -> None:
    log = tmp_path / "rounds.log"
    announced: list[str] = []

    def suspects(b: Any, c: Any) -> tuple[tuple[str, ...], str]:
        return to_confirm(compare_runs(b, c, estimate=True))

    result = measure_ab(side(tmp_path, "base", 2, log), side(tmp_path, "current", 3, log),
                        request(), pairs=5, warmup=1, confirm=2, suspects=suspects,
                        announce=announced.append)
    assert result is not None and set(result.confirmed) == {"naps-s-nap", "naps-s-tasks"}
    assert "confirming with 10 more pairs of 2 benchmark(s)" in announced[0]
    for run in (result.base, result.current):
        assert all(r.pass_rounds == (5, 10) for r in run.benchmarks)
    deltas = compare_runs(result.base, result.current).absolute
    assert all(d.comparison.pairs == 15 for d in deltas)


def test_a_case_gate_sets_that_cases_rounds_on_both_sides(tmp_path: Path) -> None:
    log = tmp_path / "rounds.log"
    base, current = side(tmp_path, "base", 2, log), side(tmp_path, "current", 2, log)
    result = interleave(base, current, request(rounds=4), case_rounds={"naps-s-tasks": 7})
    assert result.base is not None and result.current is not None
    for run in (result.base, result.current):
        assert {r.twin: len(r.data) for r in run.benchmarks} == {"nap": 4, "tasks": 7}
    tasks = "".join("A" if r[0] == "base" else "B" for r in logged(log) if r[1] == "tasks")
    assert tasks == "AB" + "BAAB" * 3 + "BA"  # warm-up pair, then 7 pairs, still ABBA


def test_a_side_that_cannot_set_rounds_per_case_gets_the_most_asked(tmp_path: Path) -> None:
    """A REF from before per-case rounds (worker protocol 1): both sides time every case the
    largest count asked, so the pairs still line up."""
    log = tmp_path / "rounds.log"
    old = replace(side(tmp_path, "base", 2, log), command=(
        sys.executable, "-c", "import harness.run.worker as w; w.PROTOCOL = 1; w.main()"))
    result = interleave(old, side(tmp_path, "current", 2, log), request(rounds=4),
                        case_rounds={"naps-s-tasks": 6})
    assert result.base is not None and result.current is not None
    for run in (result.base, result.current):
        assert {r.twin: len(r.data) for r in run.benchmarks} == {"nap": 6, "tasks": 6}


def test_noisy_benchmarks_get_the_pairs_extend_asks_for(tmp_path: Path) -> None:
    """`extend` (the analysis' plan, passed in) adds pairs to the cases it names, in the same
    second session as confirmation; the rest keep their first-stage pairs."""
    log = tmp_path / "rounds.log"
    announced: list[str] = []
    asked: list[tuple[int, int]] = []

    def extend(b: Any, c: Any) -> tuple[dict[str, int], str]:
        asked.append((len(b.benchmarks), len(c.benchmarks)))
        return {"naps-s-nap": 6}, "1 benchmark too noisy yet"

    result = measure_ab(side(tmp_path, "base", 2, log), side(tmp_path, "current", 2, log),
                        request(), pairs=8, warmup=1, confirm=0,
                        suspects=lambda b, c: ((), ""), extend=extend,
                        announce=announced.append)
    assert result is not None and asked == [(2, 2)] and announced == ["1 benchmark too noisy yet"]
    assert result.confirmed == ("naps-s-nap",) and result.first is not None
    for run in (result.base, result.current):
        rounds = {r.twin: r.pass_rounds or (len(r.data),) for r in run.benchmarks}
        assert rounds == {"nap": (8, 6), "tasks": (8,)}
    deltas = {d.twin: d for d in compare_runs(result.base, result.current).absolute}
    assert deltas["nap"].comparison.pairs == 14 and deltas["tasks"].comparison.pairs == 8


def test_a_case_only_one_side_has_runs_alone(tmp_path: Path) -> None:
    log = tmp_path / "rounds.log"
    base, current = side(tmp_path, "base", 2, log), side(tmp_path, "current", 2, log)
    extra = textwrap.dedent('''
        WORKLOAD = Workload(
            name="naps", description="sleeps, logged",
            twins=(client_twin("nap", "sync", "nap", Nap, items),
                   client_twin("tasks", "async", "tasks", AsyncNap, items)),
            scenarios=(Scenario("s", {"n": 4, "concurrency": 1}),
                       Scenario("t", {"n": 4, "concurrency": 1})),
            tiny={"n": 4}, expected=lambda p: fold(range(p["n"])),
        )
    ''')
    path = current.root / "naps.py"
    path.write_text(path.read_text() + extra)  # the current version adds a scenario
    result = interleave(base, current, request(rounds=3))
    assert {r.scenario for r in result.current.benchmarks} == {"s", "t"}
    assert {r.scenario for r in result.base.benchmarks} == {"s"}
    comparison = compare_runs(result.base, result.current)
    assert {d.status.value for d in comparison.absolute if d.scenario == "t"} == {"added"}


@pytest.mark.parametrize("twins", [("nope",)])
def test_a_side_that_cannot_run_the_request_is_bad_input(tmp_path: Path,
                                                         twins: tuple[str, ...]) -> None:
    from harness.errors import BadInput

    log = tmp_path / "rounds.log"
    bad = RunRequest(Selection(("naps",), twins), profile="quick", sources=("naps.py",),
                     rounds=3, warmup_rounds=1)
    with pytest.raises(BadInput, match=r"base.*unknown twin nope"):
        interleave(side(tmp_path, "base", 2, log), side(tmp_path, "current", 2, log), bad)

"""The map a sweep draws: the async-over-best-sync verdict at every grid point, and the
crossover — where along the grid async starts (or stops) paying. `analyse(run, model=True)`
draws the same map for the async model alone (`matchup.judge_model`: a library's async twin
over its own sync twin), where the swept workload has such pairs.

Each point's verdict is the scenario verdict of `analysis.matchup` (best async twin against
best sync twin, the statistics `bench compare` uses); where the rounds are too few for a
verdict (e.g. a file of 3-round points) the point estimate stands in, and the line says so.

Along the *primary* axis — latency if swept over several values, else CPU per operation,
else the first axis that is — each row of the grid (one value of every other axis) is
scanned in ascending order for points where the verdict turns to or from "faster". The
crossover lies between two grid points; when their speedups straddle 1 its place is
interpolated where the speedup crosses 1, linearly in log(speedup) against log(value) (or
against the value when one end is 0). A row without a change says "async wins everywhere
swept" or "never".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise, product
from typing import Any

from harness.analysis.matchup import Matchup, judge, judge_model
from harness.analysis.sequential import Call
from harness.analysis.summary import summarize
from harness.results.runfile import Run

PRIMARY_ORDER = ("latency_ms", "cpu_us")


@dataclass(frozen=True)
class PointResult:
    values: dict[str, Any]
    scenario: str | None  # None: skipped
    matchup: Matchup | None = None
    reason: str = ""  # why skipped, or why there is no verdict

    @property
    def faster(self) -> bool:
        """Async pays here: the verdict says faster, or — where the rounds are too few for any
        verdict (the quick profile) — the point estimate is above 1 (see `untested`)."""
        m = self.matchup
        if m is None:
            return False
        return m.call is Call.FASTER or (m.call is Call.CANNOT_TELL and m.point > 1)

    @property
    def untested(self) -> bool:
        return self.matchup is not None and self.matchup.call is Call.CANNOT_TELL


@dataclass(frozen=True)
class Change:
    starts: bool  # True: async starts paying here (going up the axis); False: stops
    low: Any  # the last grid value before the change
    high: Any  # the first grid value after it
    at: float | None  # where the speedup crosses 1, when the two ends straddle it


@dataclass(frozen=True)
class Crossover:
    fixed: dict[str, Any]  # the other axes' values: which row of the grid
    axis: str
    values: tuple[Any, ...]  # the primary axis values, ascending, that have a verdict
    changes: tuple[Change, ...]
    everywhere: bool
    never: bool
    untested: bool = False  # some verdict of the row is a point estimate (too few rounds)


@dataclass(frozen=True)
class SweepResult:
    workload: str
    scenario: str
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    primary: str
    points: tuple[PointResult, ...]
    crossovers: tuple[Crossover, ...] = field(default=())
    model: bool = False  # the async model alone (one library both ways), not the headline

    def point(self, values: Mapping[str, Any]) -> PointResult | None:
        key = tuple(values[a] for a, _ in self.axes)
        for p in self.points:
            if tuple(p.values[a] for a, _ in self.axes) == key:
                return p
        return None


def primary_axis(axes: Sequence[tuple[str, Sequence[Any]]]) -> str:
    """Latency, else CPU per op, else the first axis — among those swept over more than one
    value (`--vary latency_ms=2` fixes the latency; a crossover needs a line to run along)."""
    swept = [a for a, v in axes if len(v) > 1] or [a for a, _ in axes]
    return next((name for name in PRIMARY_ORDER if name in swept), swept[0])


def analyse(run: Run, model: bool = False) -> SweepResult | None:
    """The map of a sweep run; None for a run that is not a sweep. `model`: the map of the
    async model alone, None when no point has a same-library pair."""
    block = run.meta.get("sweep")
    if not isinstance(block, dict):
        return None
    axes = tuple((str(a["name"]), tuple(a["values"])) for a in block["axes"])
    matchups = {s.scenario: (judge_model if model else judge)(s) for s in summarize(run)}
    if model and not any(matchups.values()):
        return None
    measured = {s.scenario for s in summarize(run)}
    points: list[PointResult] = []
    for raw in block.get("points", []):
        name = str(raw["scenario"])
        if name not in measured:
            points.append(PointResult(dict(raw["values"]), name,
                                      reason="not measured (a twin failed or was skipped)"))
            continue
        m = matchups.get(name)
        points.append(PointResult(dict(raw["values"]), name, m,
                                  "" if m else "no library's sync and async twins both did "
                                  "the work" if model else
                                  "no sync and async twin both did the work"))
    for raw in block.get("skipped", []):
        points.append(PointResult(dict(raw["values"]), None, reason=str(raw["reason"])))
    result = SweepResult(str(block["workload"]), str(block["scenario"]), axes,
                         primary_axis(axes), tuple(points), model=model)
    return replace(result, crossovers=tuple(crossovers(result)))


def _position(x0: float, x1: float, s0: float, s1: float) -> float | None:
    """Where the speedup crosses 1 between (x0, s0) and (x1, s1), or None if it does not."""
    if s0 <= 0 or s1 <= 0 or (s0 - 1) * (s1 - 1) > 0 or s0 == s1:
        return None
    t = (0 - math.log(s0)) / (math.log(s1) - math.log(s0))
    if x0 > 0 and x1 > 0:
        return math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))
    return x0 + t * (x1 - x0)


def crossovers(result: SweepResult) -> list[Crossover]:
    """One per row of the grid: every other axis fixed, the primary axis scanned upwards."""
    others = [(a, v) for a, v in result.axes if a != result.primary]
    primary_values = dict(result.axes)[result.primary]
    out = []
    for combo in product(*(v for _, v in others)):
        fixed = dict(zip((a for a, _ in others), combo, strict=True))
        row = []
        for x in sorted(primary_values):
            p = result.point({**fixed, result.primary: x})
            if p is not None and p.matchup is not None:
                row.append((x, p))
        if not row:
            continue
        changes = []
        for (x0, p0), (x1, p1) in pairwise(row):
            if p0.faster == p1.faster:
                continue
            assert p0.matchup is not None and p1.matchup is not None
            at = _position(float(x0), float(x1), p0.matchup.point, p1.matchup.point)
            changes.append(Change(starts=p1.faster, low=x0, high=x1, at=at))
        out.append(Crossover(fixed, result.primary, tuple(x for x, _ in row), tuple(changes),
                             everywhere=all(p.faster for _, p in row),
                             never=not any(p.faster for _, p in row),
                             untested=any(p.untested for _, p in row)))
    return out

"""Many runs of the same benchmarks, in the order given (e.g. one per version): each
benchmark's score in every run, so a trend across versions can be seen.

No test here: a trend is for looking at. Whether one version differs from another is what
`bench compare` (two runs, with statistics) answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.analysis.summary import score_spread
from harness.errors import BadInput
from harness.results.runfile import BenchRecord, Run


@dataclass(frozen=True)
class TrendPoint:
    value: float  # the median wall time, or the metric the scenario is judged by
    low: float  # its first and third quartile over the rounds
    high: float


@dataclass(frozen=True)
class TrendSeries:
    twin: str
    kind: str
    points: tuple[TrendPoint | None, ...]  # one per run; None: not in that run

    @property
    def change(self) -> float | None:
        """Last run over first run, minus 1, when the twin is in both."""
        first, last = self.points[0], self.points[-1]
        if first is None or last is None or first.value <= 0:
            return None
        return last.value / first.value - 1


@dataclass(frozen=True)
class TrendGroup:
    """One scenario of one workload across the runs."""

    workload: str
    scenario: str
    judged_by: str | None
    series: tuple[TrendSeries, ...]
    params_differ: bool  # the scenario's parameters are not the same in every run


def trend(runs: Sequence[Run]) -> list[TrendGroup]:
    """Scenarios and twins in the order they first appear; BadInput when the runs share no
    benchmark at all (a trend of unrelated runs would be empty lines)."""
    by_run = [{r.key: r for r in run.benchmarks} for run in runs]
    keys = list(dict.fromkeys(k for index in by_run for k in index))
    shared = [k for k in keys if sum(k in index for index in by_run) >= 2]
    if len(runs) >= 2 and not shared:
        raise BadInput("these runs share no benchmark (workload:scenario:twin): nothing to "
                       "follow from run to run")
    groups: dict[tuple[str, str], list[list[BenchRecord | None]]] = {}
    for key in keys:
        records = [index.get(key) for index in by_run]
        probe = next(r for r in records if r is not None)
        groups.setdefault((probe.workload, probe.scenario), []).append(records)
    out = []
    for (workload, scenario), rows in groups.items():
        present = [r for row in rows for r in row if r is not None]
        judged_by = present[0].extra.get("judged_by")
        series = []
        for row in rows:
            probe = next(r for r in row if r is not None)
            spreads = [None if r is None else score_spread(r, judged_by) for r in row]
            points = tuple(None if s is None else TrendPoint(*s) for s in spreads)
            series.append(TrendSeries(probe.twin, probe.kind, points))
        params = {repr(sorted(r.params.items())) for r in present}
        out.append(TrendGroup(workload, scenario, judged_by, tuple(series), len(params) > 1))
    return out

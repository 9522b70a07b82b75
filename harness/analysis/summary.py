"""Per-scenario arithmetic of one run: the best sync and best async twin and the speedups.

Speedups are ratios of the scenario's score (the median wall time, or the metric it is judged
by). "vs seq" compares with the sequential sync twin, "vs best sync" with the fastest of the
sync and thread-pool twins: async has to beat the best sync code, not only the naive one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.analysis.sequential import DEFAULT_MIN_EFFECT
from harness.analysis.stats import quartiles
from harness.model.case import CaseKey
from harness.model.workload import SYNC_KINDS
from harness.results.runfile import STOPPED_BEHIND, BenchRecord, Run


@dataclass(frozen=True)
class Row:
    record: BenchRecord
    vs_sequential: float | None
    vs_best_sync: float | None


@dataclass(frozen=True)
class ScenarioSummary:
    workload: str
    scenario: str
    params: dict[str, Any]
    rows: tuple[Row, ...]
    best_sync: BenchRecord | None
    best_async: BenchRecord | None
    judged_by: str | None = None  # an extra_info key; None means wall time
    # Same-library pairs the run selected here that have no "async model alone" figure, and
    # why (one line each: a side skipped, failed or did not do all the work).
    unpaired: tuple[str, ...] = ()
    # The smallest speedup that matters, either way (analysis.sequential.call_of).
    min_effect: float = DEFAULT_MIN_EFFECT

    def score(self, record: BenchRecord) -> float:
        return score(record, self.judged_by)

    @property
    def async_speedup(self) -> float | None:
        """Best sync twin's score over best async twin's (> 1: async is better)."""
        if self.best_sync is None or self.best_async is None:
            return None
        denominator = self.score(self.best_async)
        return self.score(self.best_sync) / denominator if denominator > 0 else None

    @property
    def pair(self) -> tuple[str, str] | None:
        """(best async twin, best sync twin), when both exist."""
        if self.best_async is None or self.best_sync is None:
            return None
        return self.best_async.twin, self.best_sync.twin


def score(record: BenchRecord, judged_by: str | None) -> float:
    """What a verdict compares (lower is better): wall time, or the scenario's chosen metric."""
    if judged_by is None:
        return record.median
    value = record.extra.get(judged_by)
    return float(value) if isinstance(value, int | float) else float("inf")


def score_spread(record: BenchRecord, judged_by: str | None
                 ) -> tuple[float, float, float] | None:
    """(score, first quartile, third quartile) over the rounds: the median wall time and its
    IQR, or the judged metric and the quartiles of its per-round values (the value alone when
    the file has none). None when the record lacks the metric. For charts and trends, which
    draw the spread a table prints as IQR."""
    if judged_by is None:
        return record.median, record.q1, record.q3
    value = score(record, judged_by)
    if not math.isfinite(value):
        return None
    per_round = record.per_round(f"{judged_by}_per_round")
    if per_round is None:
        return value, value, value
    low, high = quartiles([x for p in per_round for x in p])
    return value, low, high


def stopped_behind(record: BenchRecord) -> bool:
    """The twin stopped its rounds early, behind its side's best (harness.run.interleave)."""
    info = record.extra.get("interleaved")
    return isinstance(info, dict) and info.get("stopped") == STOPPED_BEHIND


def did_all_the_work(record: BenchRecord) -> bool:
    """Overload scenarios record dropped work as a result; such a twin cannot be "best",
    since failing fast looks quick."""
    served = record.extra.get("served", 1)
    return served is None or served >= 1


def summarize(run: Run, min_effect: float | None = None) -> list[ScenarioSummary]:
    """Group a run's benchmarks by workload and scenario, in the order they ran. Verdicts
    use `min_effect`, else the one the run was measured for, else the default."""
    groups: dict[tuple[str, str], list[BenchRecord]] = {}
    for record in run.benchmarks:
        groups.setdefault((record.workload, record.scenario), []).append(record)
    effect = min_effect if min_effect is not None else run_min_effect(run)
    return [_summarize_group(records, _unpaired(run, records), effect)
            for records in groups.values()]


def run_min_effect(run: Run) -> float:
    """The smallest effect a run was measured for (its rounds stopped by it)."""
    value = run.meta.get("min_effect")
    return float(value) if isinstance(value, int | float) else DEFAULT_MIN_EFFECT


def _unpaired(run: Run, records: list[BenchRecord]) -> tuple[str, ...]:
    """A line per library the run selected in both models for this scenario whose sync or
    async side has no twin that did all the work: its model-alone figure is missing, and is
    never made against another library."""
    workload, scenario = records[0].workload, records[0].scenario
    twins = (run.meta.get("workloads", {}).get(workload) or {}).get("twins") or {}
    outcomes = run.outcomes
    done = {r.twin for r in records if did_all_the_work(r)}
    by_library: dict[str, list[tuple[str, bool]]] = {}
    for name, twin in twins.items():
        case = CaseKey(workload, scenario, name).test_id
        if twin.get("library") and (case in outcomes or any(r.twin == name for r in records)):
            by_library.setdefault(twin["library"], []).append((name, twin["kind"] in SYNC_KINDS))
    lines = []
    for library, members in by_library.items():
        for sync in (True, False):
            side = [name for name, is_sync in members if is_sync == sync]
            if not side or len(side) == len(members) or done.intersection(side):
                continue
            name = side[0]
            outcome = outcomes.get(CaseKey(workload, scenario, name).test_id)
            why = (f"{outcome.outcome} ({outcome.detail})" if outcome is not None
                   and outcome.outcome != "passed" and outcome.detail
                   else outcome.outcome if outcome is not None and outcome.outcome != "passed"
                   else "did not do all the work")
            lines.append(f"no async-model-alone figure for {library}: its "
                         f"{'sync' if sync else 'async'} twin {name} {why}")
            break
    return tuple(lines)


def _summarize_group(records: list[BenchRecord], unpaired: tuple[str, ...] = (),
                     min_effect: float = DEFAULT_MIN_EFFECT) -> ScenarioSummary:
    judged_by = records[0].extra.get("judged_by")

    def best(candidates: list[BenchRecord]) -> BenchRecord | None:
        complete = [r for r in candidates if did_all_the_work(r)]
        # A twin measured in turn that stopped early because it could not be its side's best
        # (analysis.sequential) stays out: the machine may slow down later in the scenario,
        # and its few early rounds must not then pass for the best twin's.
        contenders = [r for r in complete if not stopped_behind(r)] or complete
        return min(contenders, key=lambda r: score(r, judged_by)) if contenders else None

    sequential = next((r for r in records if r.kind == "sync"), None)
    best_sync = best([r for r in records if r.kind in SYNC_KINDS])
    best_async = best([r for r in records if r.kind not in SYNC_KINDS])

    def ratio(base: BenchRecord | None, record: BenchRecord) -> float | None:
        if base is None:
            return None
        mine = score(record, judged_by)
        return score(base, judged_by) / mine if 0 < mine < float("inf") else None

    rows = tuple(Row(r, ratio(sequential, r), ratio(best_sync, r)) for r in records)
    first = records[0]
    return ScenarioSummary(first.workload, first.scenario, first.params, rows, best_sync,
                           best_async, judged_by, unpaired, min_effect)


BUSY_WARNING = 0.8


def busiest(run: Run, peer: str) -> tuple[float, BenchRecord | None]:
    """The highest CPU share a peer used during any one benchmark, and which one."""
    best: tuple[float, BenchRecord | None] = (0.0, None)
    for record in run.benchmarks:
        busy = (record.extra.get("peer_busy") or {}).get(peer)
        if busy is not None and busy > best[0]:
            best = (busy, record)
    return best

"""A scenario's answer: its best async twin against its best sync twin, with the uncertainty.

Twins measured interleaved (client scenarios: harness.run.interleave) are compared round by
round, the paired interval of `analysis.sequential` at the level their rounds were planned
for. Twins measured one after another (server scenarios, runs from before interleaving) are
compared as `bench compare` compares two runs (`stats.compare_passes`): with several passes
the replicate is the pass, with one the round.

Either way the verdict is the one rule (`sequential.call_of`): "faster" or "slower" when the
whole interval lies beyond the smallest effect that matters (`--min-effect`, 5% by default),
"tie" when it lies within it, "cannot tell" otherwise, and "cannot tell" too when the rounds
are too few to have an interval.

CPU per operation is compared the same way, on each round's CPU; a verdict mentions it only
when that difference is significant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.analysis.sequential import CONFIDENCE, Call, call_of, paired_speedup
from harness.analysis.stats import Comparison, Verdict, compare_passes, min_detectable_p
from harness.analysis.summary import ScenarioSummary, did_all_the_work
from harness.model.workload import SYNC_KINDS
from harness.results.runfile import BenchRecord

ALPHA = 0.01

Passes = Sequence[Sequence[float]]


def rounds_for_verdict() -> int:
    """The fewest rounds per twin with which one pass can still be called when one round of
    one twin falls among the other's rounds: 2 orderings per tail (U = 0 or 1) must stay
    below alpha, i.e. 2 * min_detectable_p < ALPHA (6 rounds at alpha 0.01)."""
    n = 2
    while 2 * min_detectable_p(n, n) >= ALPHA:
        n += 1
    return n


@dataclass(frozen=True)
class Interval:
    """A ratio (> 1: the async twin does better) and its confidence interval."""

    value: float
    low: float
    high: float
    significant: bool  # the interval excludes no change
    p: float | None = None  # the test's two-sided p (none for a paired interval)
    pairs: int = 0  # rounds compared pairwise (0: unpaired)
    level: float = CONFIDENCE

    @classmethod
    def of(cls, comparison: Comparison) -> Interval:
        """From a comparison of async (current) against sync (base) times: invert, so that
        the ratio reads "how many times better async is"."""
        significant = comparison.verdict is not Verdict.UNCHANGED
        return cls(1 / comparison.ratio, 1 / comparison.ci_high, 1 / comparison.ci_low,
                   significant, comparison.p_value)

    @property
    def paired(self) -> bool:
        return self.pairs > 0


@dataclass(frozen=True)
class Matchup:
    summary: ScenarioSummary
    sync: BenchRecord
    async_: BenchRecord
    metric: str | None  # what is compared: None = wall time, else an extra_info key
    speedup: Interval | None  # None: no replicates to test (one value per run)
    point: float  # the speedup's point estimate, even when it cannot be tested
    call: Call
    reason: str  # why "cannot tell", else ""
    cpu: Interval | None  # sync CPU/op over async CPU/op, when both were recorded

    @property
    def cpu_call(self) -> str | None:
        """"less" or "more" CPU per op for the async twin, when the difference is real."""
        if self.cpu is None or not self.cpu.significant:
            return None
        return "less" if self.cpu.value > 1 else "more"


def _samples(record: BenchRecord, metric: str | None) -> tuple[tuple[float, ...], ...] | None:
    return record.passes if metric is None else record.per_round(f"{metric}_per_round")


def _compare(sync: Passes, async_: Passes) -> Comparison:
    return compare_passes(sync, async_, threshold=0.0, alpha=ALPHA, confidence=CONFIDENCE)


def _too_few(a: Passes, b: Passes) -> str:
    """Why no difference could be significant with these replicates, or "" when one could."""
    if len(a) == 1 and len(b) == 1:
        n, m = len(a[0]), len(b[0])
        if min_detectable_p(n, m) >= ALPHA:
            return f"{n} and {m} rounds cannot show any difference is not noise"
    elif len(a) + len(b) < 3:
        return "too few passes to measure their spread"
    return ""


def judge(summary: ScenarioSummary) -> Matchup | None:
    """The matchup of a scenario, or None when it lacks a sync or an async twin that did all
    the work."""
    sync, async_ = summary.best_sync, summary.best_async
    if sync is None or async_ is None or summary.async_speedup is None:
        return None
    return _matchup(summary, sync, async_)


def same_library_pairs(summary: ScenarioSummary) -> dict[str, tuple[BenchRecord, BenchRecord]]:
    """Per library with twins of both models in the scenario (that did all the work): its best
    sync twin and its best async twin."""
    records = [r.record for r in summary.rows if r.record.library and did_all_the_work(r.record)]
    out = {}
    for library in dict.fromkeys(r.library for r in records):
        mine = [r for r in records if r.library == library]
        syncs = [r for r in mine if r.kind in SYNC_KINDS]
        asyncs = [r for r in mine if r.kind not in SYNC_KINDS]
        if syncs and asyncs:
            out[library] = (min(syncs, key=summary.score), min(asyncs, key=summary.score))
    return out


def judge_model(summary: ScenarioSummary) -> Matchup | None:
    """What the async model alone buys, the library held fixed: among the libraries with a
    twin in both models here (httpx, curl-cffi, psycopg...), the best async twin against its
    own library's best sync twin. None when no library has both (never a ratio across
    libraries: that is the headline's, which mixes the model and the implementation)."""
    pairs = same_library_pairs(summary)
    if not pairs:
        return None
    sync, async_ = min(pairs.values(), key=lambda pair: summary.score(pair[1]))
    return _matchup(summary, sync, async_)


def _matchup(summary: ScenarioSummary, sync: BenchRecord, async_: BenchRecord) -> Matchup:
    denominator = summary.score(async_)
    point = summary.score(sync) / denominator if denominator > 0 else float("nan")
    metric = summary.judged_by
    speedup: Interval | None = None
    reason = ""
    if metric is None and _paired(sync, async_):
        level = float(sync.extra["interleaved"].get("level") or CONFIDENCE)
        paired = paired_speedup(sync.passes, async_.passes, level)
        if paired is None:
            call, reason = Call.CANNOT_TELL, "fewer than two paired rounds"
        else:
            speedup = Interval(paired.value, paired.low, paired.high,
                               not paired.low <= 1 <= paired.high, pairs=paired.pairs,
                               level=level)
            point = speedup.value
            call = call_of(speedup.low, speedup.high, summary.min_effect)
    else:
        a, b = _samples(sync, metric), _samples(async_, metric)
        if a is None or b is None:
            call, reason = Call.CANNOT_TELL, "one value per run: nothing to test it against"
        else:
            try:
                comparison = _compare(a, b)
            except ValueError as exc:  # e.g. a zero-time round
                call, reason = Call.CANNOT_TELL, str(exc)
            else:
                speedup = Interval.of(comparison)
                point = speedup.value
                reason = _too_few(a, b)
                call = (Call.CANNOT_TELL if reason or not math.isfinite(speedup.high)
                        else call_of(speedup.low, speedup.high, summary.min_effect))
    if call is Call.CANNOT_TELL and not reason and speedup is not None:
        reason = (f"its interval ({speedup.low:.2f}x-{speedup.high:.2f}x) reaches across "
                  f"the smallest effect that matters (±{summary.min_effect:.0%})")
    return Matchup(summary, sync, async_, metric, speedup, point, call, reason,
                   _cpu(sync, async_))


def _paired(sync: BenchRecord, async_: BenchRecord) -> bool:
    """Both twins were measured in turn in the same scenario, pass by pass."""
    return ("interleaved" in sync.extra and "interleaved" in async_.extra
            and len(sync.passes) == len(async_.passes))


def _cpu(sync: BenchRecord, async_: BenchRecord) -> Interval | None:
    a, b = sync.cpu_per_op_passes(), async_.cpu_per_op_passes()
    if a is None or b is None:
        return None
    try:
        return Interval.of(_compare(a, b))
    # No CPU at all in some round (a twin that only waits), or so little that the ratio or
    # an end of its interval is 0 (a server's CPU is read in 10 ms ticks): nothing to invert.
    except (ValueError, ZeroDivisionError):
        return None

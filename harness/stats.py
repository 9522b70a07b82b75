"""Statistics for comparing two runs of one benchmark (``base`` vs ``current``).

Inputs are raw per-round wall times in seconds, typically 3-30 rounds per side.
That is too few rounds, and wall times are too skewed, for means and t-tests,
so everything here is rank- or median-based: medians and IQRs to describe,
a Mann-Whitney U test for "is there any difference", and a bootstrap CI of the
median ratio for "how big is it". Pure standard library, so the harness does
not drag numpy/scipy into the environment it is measuring.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Comparison",
    "Verdict",
    "bootstrap_ratio_ci",
    "compare_samples",
    "efficiency",
    "ideal_time",
    "iqr",
    "mann_whitney_p",
    "median",
    "min_detectable_p",
    "quartiles",
    "speedup",
]

#: Largest per-side sample size for which the exact U distribution is used.
#: The table costs O(min(m, n) * m * n) integer additions, i.e. ~0.1 s at 50x50
#: once, then cached; beyond that the normal approximation is accurate anyway.
EXACT_MAX_N = 50


def _checked(xs: Sequence[float], name: str = "sample") -> list[float]:
    """Return ``xs`` as a list, rejecting empty/non-finite data early.

    A NaN would silently poison sorting and ranks, so fail loudly instead.
    """
    data = [float(x) for x in xs]
    if not data:
        raise ValueError(f"{name} must not be empty")
    if not all(math.isfinite(x) for x in data):
        raise ValueError(f"{name} must contain only finite numbers")
    return data


def quantile_sorted(s: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of sorted data (``method="inclusive"``).

    Position ``q * (n - 1)``; unlike ``statistics.quantiles`` it accepts n == 1.
    """
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _median_unchecked(xs: Sequence[float]) -> float:
    """Median without validation: the bootstrap calls it thousands of times."""
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def median(xs: Sequence[float]) -> float:
    """Median: the robust centre, insensitive to the odd GC/scheduler outlier."""
    return _median_unchecked(_checked(xs))


def quartiles(xs: Sequence[float]) -> tuple[float, float]:
    """(Q1, Q3), interpolated like ``statistics.quantiles(method="inclusive")``.

    The inclusive method treats the rounds as the whole population, which keeps
    Q1/Q3 inside the observed range even for 3 rounds.
    """
    s = sorted(_checked(xs))
    return quantile_sorted(s, 0.25), quantile_sorted(s, 0.75)


def iqr(xs: Sequence[float]) -> float:
    """Interquartile range: a spread measure that outliers cannot inflate."""
    q1, q3 = quartiles(xs)
    return q3 - q1


def _ranks(pooled: Sequence[float]) -> tuple[list[float], float]:
    """Average ranks (1-based) of ``pooled`` and the tie term sum(t**3 - t)."""
    order = sorted(range(len(pooled)), key=pooled.__getitem__)
    ranks = [0.0] * len(pooled)
    tie_term = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and pooled[order[j + 1]] == pooled[order[i]]:
            j += 1
        t = j - i + 1
        tie_term += t**3 - t
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks, tie_term


@lru_cache(maxsize=256)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """Number of rankings giving U = 0..m*n under H0 (no ties).

    These are the coefficients of the Gaussian binomial [m+n choose m](q),
    built as prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i) on a power series
    truncated at degree m*n (exact, because the result is a polynomial).
    """
    if m > n:
        m, n = n, m
    top = m * n
    c = [1] + [0] * top
    for i in range(1, m + 1):
        k = n + i
        for u in range(top, k - 1, -1):  # multiply by (1 - q^k)
            c[u] -= c[u - k]
        for u in range(i, top + 1):  # divide by (1 - q^i)
            c[u] += c[u - i]
    return tuple(c)


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test of ``a`` vs ``b``.

    Rank-based, so it needs no normality and is not fooled by outliers.
    With no ties and both sizes <= EXACT_MAX_N the exact null distribution is
    used, which matters at 3-10 rounds where the normal approximation is
    poor; otherwise the normal approximation with tie and continuity
    correction. Identical samples (and any U at the null mean) give 1.0.
    """
    xa, xb = _checked(a, "a"), _checked(b, "b")
    m, n = len(xa), len(xb)
    ranks, tie_term = _ranks(xa + xb)
    u = sum(ranks[:m]) - m * (m + 1) / 2
    if tie_term == 0 and max(m, n) <= EXACT_MAX_N:
        return _exact_p(round(u), m, n)
    return _normal_p(u, m, n, tie_term)


def _exact_p(u: int, m: int, n: int) -> float:
    """Exact two-sided p: twice the smaller tail, capped at 1."""
    counts = _u_counts(m, n)
    tail = min(sum(counts[: u + 1]), sum(counts[u:]))
    return min(1.0, 2 * tail / math.comb(m + n, m))


def _normal_p(u: float, m: int, n: int, tie_term: float) -> float:
    """Normal-approximation two-sided p with tie and continuity correction."""
    big_n = m + n
    var = m * n / 12 * ((big_n + 1) - tie_term / (big_n * (big_n - 1)))
    if var <= 0:  # every value tied: no evidence of any difference
        return 1.0
    z = max(0.0, abs(u - m * n / 2) - 0.5) / math.sqrt(var)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def min_detectable_p(n_base: int, n_current: int) -> float:
    """Smallest two-sided p the exact test can give: 2 / C(n1+n2, n1).

    Reached only by complete separation of the samples. If it is not below
    alpha, no change can ever be called significant (3 vs 3 rounds: 0.1),
    so the CLI should warn instead of reporting a reassuring "unchanged".
    """
    if n_base < 1 or n_current < 1:
        raise ValueError("sample sizes must be >= 1")
    return min(1.0, 2 / math.comb(n_base + n_current, n_base))


def bootstrap_ratio_ci(
    base: Sequence[float],
    current: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of median(current) / median(base).

    The two samples are resampled independently (the runs are unpaired).
    A private seeded ``random.Random`` makes reports reproducible and leaves
    the global RNG untouched. With few rounds the CI is coarse (only a handful
    of distinct medians exist), which is honest rather than a defect.
    """
    xb, xc = _checked(base, "base"), _checked(current, "current")
    if min(xb) <= 0:
        raise ValueError("base times must be positive")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    rng = random.Random(seed)
    med, pick = _median_unchecked, rng.choices
    ratios = sorted(med(pick(xc, k=len(xc))) / med(pick(xb, k=len(xb))) for _ in range(resamples))
    tail = (1 - confidence) / 2
    return quantile_sorted(ratios, tail), quantile_sorted(ratios, 1 - tail)


class Verdict(enum.StrEnum):
    """Outcome of a comparison; time is "lower is better"."""

    FASTER = "faster"
    SLOWER = "slower"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything a report needs about one base-vs-current comparison."""

    base_median: float
    current_median: float
    ratio: float  # current_median / base_median; > 1 means slower
    change: float  # ratio - 1, as a fraction (0.2 == 20% slower)
    ci_low: float  # bootstrap CI of ratio
    ci_high: float
    p_value: float  # two-sided Mann-Whitney U
    verdict: Verdict
    significant: bool  # p_value < alpha, regardless of effect size


def compare_samples(
    base: Sequence[float],
    current: Sequence[float],
    *,
    threshold: float = 0.05,
    alpha: float = 0.01,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare two runs and classify the change.

    Modelled on asv, which requires both a minimum factor and a Mann-Whitney
    test, plus a CI check so the effect direction is also robust:

    * SLOWER    if ratio > 1 + threshold and p < alpha and ci_low > 1;
    * FASTER    if ratio < 1 / (1 + threshold) and p < alpha and ci_high < 1;
    * UNCHANGED otherwise.

    The factor alone would flag noise; the test alone would flag tiny but
    real changes nobody cares about. The FASTER bound is the reciprocal so
    that "x% slower" and its undo are treated symmetrically. ``significant``
    reports p < alpha on its own, e.g. for "real but below threshold".
    """
    if threshold < 0:
        raise ValueError("threshold must be >= 0")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    base_med, cur_med = median(base), median(current)
    ci_low, ci_high = bootstrap_ratio_ci(
        base, current, confidence=confidence, resamples=resamples, seed=seed
    )
    ratio = cur_med / base_med
    p = mann_whitney_p(base, current)
    significant = p < alpha
    if significant and ratio > 1 + threshold and ci_low > 1:
        verdict = Verdict.SLOWER
    elif significant and ratio < 1 / (1 + threshold) and ci_high < 1:
        verdict = Verdict.FASTER
    else:
        verdict = Verdict.UNCHANGED
    return Comparison(
        base_median=base_med,
        current_median=cur_med,
        ratio=ratio,
        change=ratio - 1,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p,
        verdict=verdict,
        significant=significant,
    )


def speedup(sync_median: float, async_median: float) -> float:
    """How many times faster the async twin is (> 1 means async wins)."""
    if async_median <= 0:
        raise ValueError("async_median must be positive")
    return sync_median / async_median


def ideal_time(n_ops: int, concurrency: int, latency_s: float) -> float:
    """Lower bound ceil(N / C) * L for N ops of latency L, C at a time.

    Integer ceiling avoids float rounding turning e.g. 3.0000000001 into 4.
    """
    if n_ops < 0 or concurrency < 1 or latency_s < 0:
        raise ValueError("need n_ops >= 0, concurrency >= 1, latency_s >= 0")
    return -(-n_ops // concurrency) * latency_s


def efficiency(ideal: float, measured: float) -> float:
    """Fraction of the ideal achieved: ideal / measured (1.0 is perfect).

    Returns ``math.nan`` when ``ideal`` is 0 (latency 0 or no ops): the model
    then predicts no waiting at all, so there is nothing to be efficient
    against and 0.0 would wrongly read as "totally inefficient".
    """
    if measured <= 0:
        raise ValueError("measured must be positive")
    if ideal == 0:
        return math.nan
    return ideal / measured

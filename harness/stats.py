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
    "classify",
    "compare_passes",
    "compare_ratios",
    "compare_samples",
    "efficiency",
    "ideal_time",
    "iqr",
    "mann_whitney_p",
    "median",
    "min_detectable_p",
    "quartiles",
    "speedup",
    "t_quantile",
    "t_sf",
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
    p_value: float  # two-sided: Mann-Whitney U on rounds, or t on pass medians
    verdict: Verdict
    significant: bool  # p_value < alpha, regardless of effect size
    method: str = "rounds"  # "rounds" (one pass each side) or "passes"
    passes: tuple[int, int] = (1, 1)
    # Smallest slowdown this much between-pass noise lets the test call significant; None
    # when the noise between runs is unmeasured (one pass on each side).
    detectable: float | None = None


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
    verdict = classify(ratio, p, ci_low, ci_high, threshold, alpha)
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


def classify(ratio: float, p: float, ci_low: float, ci_high: float, threshold: float,
             alpha: float) -> Verdict:
    """The three-part rule: effect beyond threshold, p < alpha, and the CI excluding 1."""
    if p < alpha and ratio > 1 + threshold and ci_low > 1:
        return Verdict.SLOWER
    if p < alpha and ratio < 1 / (1 + threshold) and ci_high < 1:
        return Verdict.FASTER
    return Verdict.UNCHANGED


def compare_ratios(base_twin: Sequence[float], base_ref: Sequence[float],
                   current_twin: Sequence[float], current_ref: Sequence[float], *,
                   threshold: float = 0.10, alpha: float = 0.01,
                   confidence: float = 0.95, resamples: int = 2000, seed: int = 0
                   ) -> Comparison:
    """Compare the in-run ratio median(twin)/median(reference) between two one-pass runs.

    Returns a `Comparison` whose medians are the two runs' ratios (dimensionless) and whose
    `ratio` is their quotient: > 1 means the twin lost ground against its reference.

    Rounds of two twins are not paired (all rounds of one twin run, then the next), so
    per-round ratios would pair arbitrary rounds. Instead the CI is a percentile bootstrap of
    the double ratio, resampling the four samples independently so the reference's own noise
    is in it; p is the larger of Mann-Whitney on the twin's rounds over its run's reference
    median (a test on raw rounds that treats that median as exact) and the bootstrap p of the
    double ratio (which carries the reference's noise): significant means both agree.
    """
    med_base_ref, med_cur_ref = median(base_ref), median(current_ref)
    if min(med_base_ref, med_cur_ref, median(base_twin)) <= 0:
        raise ValueError("medians must be positive")
    q_base = median(base_twin) / med_base_ref
    q_cur = median(current_twin) / med_cur_ref
    ratio = q_cur / q_base
    p = mann_whitney_p([x / med_base_ref for x in base_twin],
                       [x / med_cur_ref for x in current_twin])
    rng = random.Random(seed)

    def resampled_median(xs: Sequence[float]) -> float:
        return _median_unchecked(rng.choices(xs, k=len(xs)))

    draws = []
    for _ in range(resamples):
        denominator = resampled_median(base_twin) * resampled_median(current_ref)
        if denominator > 0:
            draws.append(resampled_median(current_twin) * resampled_median(base_ref)
                         / denominator)
    draws.sort()
    tail = (1 - confidence) / 2
    ci_low, ci_high = quantile_sorted(draws, tail), quantile_sorted(draws, 1 - tail)
    below = sum(d <= 1 for d in draws) / len(draws)
    above = sum(d >= 1 for d in draws) / len(draws)
    p = max(p, min(1.0, 2 * min(below, above)))
    return Comparison(
        base_median=q_base, current_median=q_cur, ratio=ratio, change=ratio - 1,
        ci_low=ci_low, ci_high=ci_high, p_value=p,
        verdict=classify(ratio, p, ci_low, ci_high, threshold, alpha),
        significant=p < alpha,
    )


# -- several passes per side: the test is on pass medians --------------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 3e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1 - math.exp(log_front) * _betacf(b, a, 1 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    if df <= 0:
        raise ValueError("df must be positive")
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1 - tail


def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q (bisection on `t_sf`; q in (0, 1))."""
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    hi = 1.0
    while t_sf(hi, df) > min(q, 1 - q):  # heavy tails at df ~ 1 reach far out
        hi *= 2
    lo = -hi
    for _ in range(200):
        mid = (lo + hi) / 2
        if 1 - t_sf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _log_pass_values(passes: Sequence[Sequence[float]],
                     refs: Sequence[Sequence[float]] | None) -> list[float]:
    out = []
    for i, rounds in enumerate(passes):
        value = median(rounds) / (median(refs[i]) if refs is not None else 1.0)
        if value <= 0:
            raise ValueError("pass medians must be positive")
        out.append(math.log(value))
    return out


def compare_passes(
    base: Sequence[Sequence[float]],
    current: Sequence[Sequence[float]],
    *,
    base_ref: Sequence[Sequence[float]] | None = None,
    current_ref: Sequence[Sequence[float]] | None = None,
    threshold: float = 0.10,
    alpha: float = 0.01,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare a benchmark between two runs, each given as its passes' raw rounds.

    With a reference (`base_ref`, `current_ref`: the scenario's yardstick twin, same passes)
    the compared value is the in-run ratio twin / reference, pass by pass; otherwise the time.

    One pass on each side: rounds are all there is, so `compare_samples` / `compare_ratios`
    decide — and noise shared by a whole run is invisible to them (see harness.passes). With
    more passes the replicate is the pass: each pass gives log(median) (or log of the pass's
    ratio), and a two-sample t-test with pooled variance on those values gives p; the CI is the
    matching t interval, exp(mean difference ± t·SE). (A bootstrap over 3 passes sees only 10
    distinct resamples and is too narrow.) The point estimate is the ratio of the geometric
    means of the pass values, the quantity the test is about. `detectable` is the smallest
    slowdown this noise and these pass counts could ever call significant: a threshold below it
    cannot be enforced, whatever the code does.
    """
    if not base or not current:
        raise ValueError("need at least one pass on each side")
    if (base_ref is None) != (current_ref is None):
        raise ValueError("a reference is needed on both sides or neither")
    if (base_ref is not None and current_ref is not None
            and (len(base_ref) != len(base) or len(current_ref) != len(current))):
        raise ValueError("twin and reference must have the same number of passes")
    if len(base) == 1 and len(current) == 1:
        options = {"threshold": threshold, "alpha": alpha, "confidence": confidence,
                   "resamples": resamples, "seed": seed}
        if base_ref is not None and current_ref is not None:
            return compare_ratios(base[0], base_ref[0], current[0], current_ref[0], **options)
        return compare_samples(base[0], current[0], **options)
    xs = _log_pass_values(base, base_ref)
    ys = _log_pass_values(current, current_ref)
    nb, nc = len(xs), len(ys)
    df = nb + nc - 2
    mean_b, mean_c = sum(xs) / nb, sum(ys) / nc
    squares = sum((x - mean_b) ** 2 for x in xs) + sum((y - mean_c) ** 2 for y in ys)
    se = math.sqrt(squares / df * (1 / nb + 1 / nc))
    diff = mean_c - mean_b
    # Identical pass values leave no noise to test against: any difference at all is real.
    no_noise = 1.0 if diff == 0 else 0.0
    p = min(1.0, 2 * t_sf(abs(diff) / se, df)) if se > 0 else no_noise
    half = t_quantile(1 - (1 - confidence) / 2, df) * se
    ratio = math.exp(diff)
    ci_low, ci_high = math.exp(diff - half), math.exp(diff + half)
    return Comparison(
        base_median=math.exp(mean_b), current_median=math.exp(mean_c), ratio=ratio,
        change=ratio - 1, ci_low=ci_low, ci_high=ci_high, p_value=p,
        verdict=classify(ratio, p, ci_low, ci_high, threshold, alpha),
        significant=p < alpha, method="passes", passes=(nb, nc),
        detectable=math.exp(t_quantile(1 - alpha / 2, df) * se) - 1,
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

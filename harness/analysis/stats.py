"""Statistics for comparing two sets of measurements of one benchmark (``base`` vs ``current``).

Inputs are raw per-round wall times in seconds, typically 3-30 rounds per side, grouped in
passes when a run was made of several. Rounds are too few and too skewed for means, so within
one pass everything is rank- or median-based: medians and IQRs to describe, a Mann-Whitney U
test for "is there any difference", and a bootstrap CI of the median ratio for "how big is it".
Across passes the replicate is the pass, and a t-test on the log of pass medians decides.

The numerics are scipy's (`scipy.stats.mannwhitneyu`, `t`, `bootstrap`), imported inside the
functions that need them: the analysis runs after measuring, and the measuring process never
loads scipy (or numpy, whose BLAS starts threads at import).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

__all__ = [
    "Comparison",
    "Verdict",
    "bootstrap_ratio_ci",
    "classify",
    "compare_count_replicates",
    "compare_counts",
    "compare_pairs",
    "compare_passes",
    "compare_ratios",
    "compare_samples",
    "estimate_pairs",
    "estimate_passes",
    "iqr",
    "mann_whitney_p",
    "median",
    "min_detectable_p",
    "pairs_needed",
    "quartiles",
    "speedup",
    "t_quantile",
    "t_sf",
]

#: Largest per-side sample size for which the exact U distribution is used; beyond it the
#: normal approximation is accurate anyway.
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


def median(xs: Sequence[float]) -> float:
    """Median: the robust centre, insensitive to the odd GC/scheduler outlier."""
    s = sorted(_checked(xs))
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


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


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test of ``a`` vs ``b``.

    Rank-based, so it needs no normality and is not fooled by outliers. With no ties and both
    sizes <= EXACT_MAX_N the exact null distribution is used, which matters at 3-10 rounds
    where the normal approximation is poor; otherwise the normal approximation with tie and
    continuity correction. Identical samples (every value tied) give 1.0.
    """
    from scipy import stats

    xa, xb = _checked(a, "a"), _checked(b, "b")
    pooled = xa + xb
    if len(set(pooled)) == 1:  # no ranks to compare: no evidence of any difference
        return 1.0
    ties = len(set(pooled)) < len(pooled)
    method = "exact" if not ties and max(len(xa), len(xb)) <= EXACT_MAX_N else "asymptotic"
    result = stats.mannwhitneyu(xa, xb, alternative="two-sided", method=method,
                                use_continuity=True)
    return min(1.0, float(result.pvalue))


def min_detectable_p(n_base: int, n_current: int) -> float:
    """Smallest two-sided p the exact test can give: 2 / C(n1+n2, n1).

    Reached only by complete separation of the samples. If it is not below
    alpha, no change can ever be called significant (3 vs 3 rounds: 0.1),
    so the CLI should warn instead of reporting a reassuring "unchanged".
    """
    if n_base < 1 or n_current < 1:
        raise ValueError("sample sizes must be >= 1")
    return min(1.0, 2 / math.comb(n_base + n_current, n_base))


def _bootstrap(samples: Sequence[Sequence[float]], statistic: Callable[..., Any], *,
               confidence: float, resamples: int, seed: int) -> tuple[float, float, Any]:
    """Percentile-bootstrap CI of `statistic` over independently resampled samples (the runs
    are unpaired), and the bootstrap distribution. Seeded: reports are reproducible."""
    import numpy as np
    from scipy import stats

    result = stats.bootstrap([np.asarray(s, dtype=float) for s in samples], statistic,
                             n_resamples=resamples, confidence_level=confidence,
                             method="percentile", paired=False, vectorized=True,
                             rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return float(interval.low), float(interval.high), result.bootstrap_distribution


def bootstrap_ratio_ci(
    base: Sequence[float],
    current: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of median(current) / median(base).

    With few rounds the CI is coarse (only a handful of distinct medians exist), which is
    honest rather than a defect.
    """
    import numpy as np

    xb, xc = _checked(base, "base"), _checked(current, "current")
    if min(xb) <= 0:
        raise ValueError("base times must be positive")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if resamples < 1:
        raise ValueError("resamples must be >= 1")

    def ratio(b: Any, c: Any, axis: int = -1) -> Any:
        return np.median(c, axis=axis) / np.median(b, axis=axis)

    low, high, _ = _bootstrap([xb, xc], ratio, confidence=confidence, resamples=resamples,
                              seed=seed)
    return low, high


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
    ci_low: float  # CI of ratio
    ci_high: float
    p_value: float  # two-sided: Mann-Whitney U on rounds, or t on pass medians
    verdict: Verdict
    significant: bool  # p_value < alpha, regardless of effect size
    method: str = "rounds"  # "rounds" (one pass each side) or "passes"
    passes: tuple[int, int] = (1, 1)
    # Smallest slowdown this much between-pass noise lets the test call significant; None
    # when the noise between runs is unmeasured (one pass on each side).
    detectable: float | None = None
    pairs: int = 0  # method "pairs": how many neighbouring rounds were compared


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
    return Comparison(
        base_median=base_med,
        current_median=cur_med,
        ratio=ratio,
        change=ratio - 1,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p,
        verdict=classify(ratio, p, ci_low, ci_high, threshold, alpha),
        significant=p < alpha,
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
    import numpy as np

    med_base_ref, med_cur_ref = median(base_ref), median(current_ref)
    if min(med_base_ref, med_cur_ref, median(base_twin)) <= 0:
        raise ValueError("medians must be positive")
    q_base = median(base_twin) / med_base_ref
    q_cur = median(current_twin) / med_cur_ref
    ratio = q_cur / q_base
    p = mann_whitney_p([x / med_base_ref for x in base_twin],
                       [x / med_cur_ref for x in current_twin])

    def double_ratio(bt: Any, br: Any, ct: Any, cr: Any, axis: int = -1) -> Any:
        med = np.median
        return (med(ct, axis=axis) * med(br, axis=axis)
                / (med(bt, axis=axis) * med(cr, axis=axis)))

    ci_low, ci_high, draws = _bootstrap(
        [_checked(base_twin), _checked(base_ref), _checked(current_twin),
         _checked(current_ref)], double_ratio, confidence=confidence, resamples=resamples,
        seed=seed)
    below = float(np.mean(draws <= 1))
    above = float(np.mean(draws >= 1))
    p = max(p, min(1.0, 2 * min(below, above)))
    return Comparison(
        base_median=q_base, current_median=q_cur, ratio=ratio, change=ratio - 1,
        ci_low=ci_low, ci_high=ci_high, p_value=p,
        verdict=classify(ratio, p, ci_low, ci_high, threshold, alpha),
        significant=p < alpha,
    )


# -- several passes per side: the test is on pass medians --------------------------------------

def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    from scipy import stats

    if df <= 0:
        raise ValueError("df must be positive")
    return float(stats.t.sf(t, df))


def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q (q in (0, 1))."""
    from scipy import stats

    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    if df <= 0:
        raise ValueError("df must be positive")
    return float(stats.t.ppf(q, df))


def _log_pass_values(passes: Sequence[Sequence[float]],
                     refs: Sequence[Sequence[float]] | None) -> list[float]:
    out = []
    for i, rounds in enumerate(passes):
        value = median(rounds) / (median(refs[i]) if refs is not None else 1.0)
        if value <= 0:
            raise ValueError("pass medians must be positive")
        out.append(math.log(value))
    return out


def estimate_passes(
    base: Sequence[Sequence[float]],
    current: Sequence[Sequence[float]],
    *,
    base_ref: Sequence[Sequence[float]] | None = None,
    current_ref: Sequence[Sequence[float]] | None = None,
) -> Comparison:
    """The point estimate `compare_passes` reports, without any test or interval (which stay
    at "no evidence": p = 1, CI = the estimate). Pure Python: deciding which benchmarks to
    re-measure happens between measurements, in the measuring process, where scipy must not
    be imported.

    One pass each side: the ratio of medians (of the in-run ratios, with a reference); more:
    the ratio of geometric means of the pass medians (pass ratios)."""
    if not base or not current:
        raise ValueError("need at least one pass on each side")
    if len(base) == 1 and len(current) == 1:
        def value(rounds: Sequence[float], ref: Sequence[Sequence[float]] | None) -> float:
            return median(rounds) / (median(ref[0]) if ref is not None else 1.0)
        b, c = value(base[0], base_ref), value(current[0], current_ref)
        if b <= 0:
            raise ValueError("medians must be positive")
        method, passes = "rounds", (1, 1)
    else:
        xs, ys = _log_pass_values(base, base_ref), _log_pass_values(current, current_ref)
        b, c = math.exp(sum(xs) / len(xs)), math.exp(sum(ys) / len(ys))
        method, passes = "passes", (len(xs), len(ys))
    ratio = c / b
    return Comparison(base_median=b, current_median=c, ratio=ratio, change=ratio - 1,
                      ci_low=ratio, ci_high=ratio, p_value=1.0, verdict=Verdict.UNCHANGED,
                      significant=False, method=method, passes=passes)


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
    decide — and noise shared by a whole run is invisible to them (see harness.results.merge).
    With more passes the replicate is the pass: each pass gives log(median) (or log of the
    pass's ratio), and a two-sample t-test with pooled variance on those values gives p; the CI
    is the matching t interval, exp(mean difference ± t·SE). (A bootstrap over 3 passes sees
    only 10 distinct resamples and is too narrow.) The point estimate is the ratio of the
    geometric means of the pass values, the quantity the test is about. `detectable` is the
    smallest slowdown this noise and these pass counts could ever call significant: a threshold
    below it cannot be enforced, whatever the code does.
    """
    if not base or not current:
        raise ValueError("need at least one pass on each side")
    if (base_ref is None) != (current_ref is None):
        raise ValueError("a reference is needed on both sides or neither")
    if (base_ref is not None and current_ref is not None
            and (len(base_ref) != len(base) or len(current_ref) != len(current))):
        raise ValueError("twin and reference must have the same number of passes")
    if len(base) == 1 and len(current) == 1:
        options: dict[str, Any] = {"threshold": threshold, "alpha": alpha,
                                   "confidence": confidence, "resamples": resamples,
                                   "seed": seed}
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


# -- interleaved sides: the test is on neighbouring rounds ----------------------------------------

def _log_ratios(base: Sequence[Sequence[float]], current: Sequence[Sequence[float]]
                ) -> list[float]:
    if len(base) != len(current) or any(len(b) != len(c) for b, c in zip(base, current,
                                                                            strict=True)):
        raise ValueError("paired sides must have the same rounds in every pass")
    out = []
    for b_pass, c_pass in zip(base, current, strict=True):
        for b, c in zip(b_pass, c_pass, strict=True):
            if b <= 0 or c <= 0:
                raise ValueError("round times must be positive")
            out.append(math.log(c / b))
    return out


def _walsh(d: Sequence[float]) -> list[float]:
    """The n(n+1)/2 pairwise means (d_i + d_j) / 2, i <= j, sorted: the Hodges-Lehmann
    estimate of the shift is their median, its interval two of them."""
    return sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))


def estimate_pairs(base: Sequence[Sequence[float]], current: Sequence[Sequence[float]]
                   ) -> Comparison:
    """`compare_pairs`' point estimate alone (pure Python: picks suspects between
    measurements, where scipy must not be loaded)."""
    d = _log_ratios(base, current)
    ratio = math.exp(median(_walsh(d)))
    return Comparison(base_median=median([x for p in base for x in p]),
                      current_median=median([x for p in current for x in p]), ratio=ratio,
                      change=ratio - 1, ci_low=ratio, ci_high=ratio, p_value=1.0,
                      verdict=Verdict.UNCHANGED, significant=False, method="pairs",
                      passes=(len(base), len(current)), pairs=len(d))


def pairs_needed(base: Sequence[Sequence[float]], current: Sequence[Sequence[float]], *,
                 goal: float, alpha: float = 0.01) -> int:
    """How many pairs `compare_pairs` would need, at this spread, for a `detectable` slowdown
    of at most `goal`: planning between measurements (how many more pairs to measure), so
    pure Python. The width is the signed-rank interval's own at 1 - alpha, its ends taken
    with the normal approximation of the test's critical value (Hollander & Wolfe), and it
    narrows as 1/sqrt(pairs)."""
    d = _log_ratios(base, current)
    n = len(d)
    walsh = _walsh(d)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    k = math.floor(len(walsh) / 2 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24))
    if k < 0 or goal <= 0:  # too few pairs to have an interval yet: ask for the minimum
        return max(n, 8)
    half = (walsh[len(walsh) - 1 - k] - walsh[k]) / 2
    if half <= 0:
        return n
    return max(n, math.ceil(n * (half / math.log1p(goal)) ** 2))


def _signed_rank_p(d: Sequence[float]) -> float:
    """Two-sided p of the Wilcoxon signed-rank test that the d are centred on 0 (scipy's:
    exact up to 50 values without ties or zeros, the normal approximation beyond)."""
    from scipy import stats

    if not any(d):
        return 1.0
    return min(1.0, float(stats.wilcoxon(d, alternative="two-sided").pvalue))


def _shift_interval(d: Sequence[float], walsh: Sequence[float], level: float
                    ) -> tuple[float, float]:
    """The shifts the signed-rank test does not reject at 1 - level, found by inverting
    scipy's test: its ends are Walsh averages (Hollander & Wolfe, ch. 3). The test's p only
    changes at Walsh averages and rises towards the estimate, so each end is a bisection over
    the points between them; -inf/inf when too few pairs can ever reject (n < 8 at 0.01)."""
    alpha = 1 - level
    points = sorted(set(walsh))
    mids = [(a + b) / 2 for a, b in itertools.pairwise(points)]

    def accepted(delta: float) -> bool:
        return _signed_rank_p([x - delta for x in d]) >= alpha

    if accepted(points[0] - 1.0):
        return -math.inf, math.inf  # even every pair on one side would not be significant
    if not mids:  # every pair the same: that shift and no other
        return points[0], points[0]
    centre = median(list(walsh))
    below = [i for i, m in enumerate(mids) if m <= centre] or [0]
    above = [i for i, m in enumerate(mids) if m >= centre] or [len(mids) - 1]
    # Rejected far below the estimate, accepted near it: the first accepted point.
    lo, hi = 0, below[-1]
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if accepted(mids[mid]) else (mid + 1, hi)
    first = lo
    # Accepted near the estimate, rejected far above it: the last accepted point.
    lo, hi = above[0], len(mids) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if accepted(mids[mid]) else (lo, mid - 1)
    last = lo
    return points[first], points[last + 1]


def compare_pairs(
    base: Sequence[Sequence[float]],
    current: Sequence[Sequence[float]],
    *,
    threshold: float = 0.10,
    alpha: float = 0.01,
    confidence: float = 0.95,
) -> Comparison:
    """Compare two versions measured round by round next to each other (harness.run.ab).

    Round i of the base and round i of the current version ran back to back (A B B A ...), so
    d_i = log(current_i / base_i) carries the difference between the versions and only the
    noise of two neighbouring rounds; drift of the machine, common to both, cancels. Which side
    leads alternates, so with no difference the two sides are exchangeable and each d_i is as
    likely to be +x as -x: the Wilcoxon signed-rank test on the d_i is then exact, needs no
    normality, and is not thrown by the rare round that a stall made 30% slower (measured
    here: such rounds doubled the t-test's interval on otherwise steady benchmarks). The
    estimate is the Hodges-Lehmann shift (median of the Walsh averages), the interval the
    shifts the test does not reject, and `detectable` the smallest slowdown these pairs could
    call significant: half the width of the 1 - alpha interval. The verdict rule is
    `classify`'s, as everywhere: beyond the threshold, significant, and the CI above 1.
    """
    d = _log_ratios(base, current)
    n = len(d)
    if n < 3:
        raise ValueError("need at least 3 pairs of rounds")
    walsh = _walsh(d)
    shift = median(walsh)
    p = _signed_rank_p(d)
    lo, hi = _shift_interval(d, walsh, confidence)
    lo_a, hi_a = _shift_interval(d, walsh, 1 - alpha)
    ratio = math.exp(shift)
    ci_low, ci_high = math.exp(lo), (math.exp(hi) if hi < math.inf else math.inf)
    return Comparison(
        base_median=median([x for p_ in base for x in p_]),
        current_median=median([x for p_ in current for x in p_]), ratio=ratio,
        change=ratio - 1, ci_low=ci_low, ci_high=ci_high, p_value=p,
        verdict=classify(ratio, p, ci_low, ci_high, threshold, alpha),
        significant=p < alpha, method="pairs", passes=(len(base), len(current)), pairs=n,
        detectable=(math.exp((hi_a - lo_a) / 2) - 1 if hi_a < math.inf else math.inf),
    )


# -- counted rounds: instructions per operation ------------------------------------------------

def compare_counts(base: Sequence[float], current: Sequence[float], *, threshold: float,
                   alpha: float = 0.01, confidence: float = 0.95) -> Comparison:
    """Instructions per operation of counted rounds (harness.run.count), round i of one run
    against round i of the other: both count the same rounds after the same warm-up at the
    same sizes, so whatever makes round 2 differ from round 3 (a garbage collection falling in
    it, a pool still filling) does so on both sides and cancels in their ratio, which the
    rounds' own spread would not. Measured here: an aiohttp twin's three rounds differed by
    1.6%, the same rounds of two separate processes by 0.02%.

    The test is a t-test on the log ratios of the pairs (method "counts"), the interval its t
    interval, `detectable` the smallest change it can call significant (half the width of the
    1 - alpha interval). With three pairs t has two degrees of freedom, so a twin whose counts
    depend on thread scheduling (rounds 20% apart) gets a wide interval, honestly, and one
    that repeats to 0.02% a narrow one. Identical pairs (a deterministic twin) have no spread:
    any change is then significant, and its size is what the threshold judges."""
    k = min(len(base), len(current))
    if k < 2:
        raise ValueError("counted comparisons need at least two rounds on each side")
    b, c = _checked(base[:k], "base"), _checked(current[:k], "current")
    if min(b) <= 0 or min(c) <= 0:
        raise ValueError("instruction counts must be positive")
    d = [math.log(y / x) for x, y in zip(b, c, strict=True)]
    mean = math.fsum(d) / k
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (k - 1))
    return _log_t(b, c, mean, sd / math.sqrt(k), k - 1, threshold=threshold, alpha=alpha,
                  confidence=confidence, method="counts", passes=(1, 1), pairs=k)


def compare_count_replicates(base: Sequence[Sequence[float]],
                             current: Sequence[Sequence[float]], *, threshold: float,
                             alpha: float = 0.01, confidence: float = 0.95) -> Comparison:
    """Instructions per operation counted in replicates: each a fresh set-up of the twin,
    counted for a few rounds (harness.run.profiles). A replicate's value is the mean of its
    rounds, and the test is a two-sample t-test on the log of those values (method
    "replicates"): a change must stand out from how much a fresh set-up moves the count,
    which for a thread pool under valgrind is far more than its rounds move within one
    (measured: 2% within, 2.8x between). With two replicates a side t has two degrees of
    freedom, so a twin whose replicates disagree gets a wide interval and "cannot tell",
    never a false alarm; one whose replicates agree to 0.02% sees a change of well under 1%."""
    b = [_replicate(r, "base") for r in base]
    c = [_replicate(r, "current") for r in current]
    if len(b) < 2 or len(c) < 2:
        raise ValueError("a replicate comparison needs two replicates on each side")
    lb, lc = [math.log(x) for x in b], [math.log(x) for x in c]
    mb, mc = math.fsum(lb) / len(lb), math.fsum(lc) / len(lc)
    df = len(lb) + len(lc) - 2
    pooled = (math.fsum((x - mb) ** 2 for x in lb) + math.fsum((x - mc) ** 2 for x in lc)) / df
    se = math.sqrt(pooled * (1 / len(lb) + 1 / len(lc)))
    return _log_t(b, c, mc - mb, se, df, threshold=threshold, alpha=alpha,
                  confidence=confidence, method="replicates", passes=(len(b), len(c)),
                  pairs=0)


def _log_t(b: Sequence[float], c: Sequence[float], diff: float, se: float, df: int, *,
           threshold: float, alpha: float, confidence: float, method: str,
           passes: tuple[int, int], pairs: int) -> Comparison:
    """The Comparison of a t-test on logs: `diff` the estimated log ratio, `se` its standard
    error with `df` degrees of freedom. No spread at all (identical counts) makes any change
    significant, and its size is what the threshold judges."""
    if se > 0:
        p = 2 * t_sf(abs(diff) / se, df)
        half = t_quantile(0.5 + confidence / 2, df) * se
        detectable = math.expm1(t_quantile(1 - alpha / 2, df) * se)
    else:
        p, half, detectable = (0.0 if diff else 1.0), 0.0, 0.0
    ratio = math.exp(diff)
    low, high = math.exp(diff - half), math.exp(diff + half)
    return Comparison(
        base_median=median(b), current_median=median(c), ratio=ratio, change=ratio - 1,
        ci_low=low, ci_high=high, p_value=p,
        verdict=classify(ratio, p, low, high, threshold, alpha), significant=p < alpha,
        method=method, passes=passes, detectable=detectable, pairs=pairs)


def _replicate(rounds: Sequence[float], name: str) -> float:
    values = _checked(rounds, name)
    if min(values) <= 0:
        raise ValueError("instruction counts must be positive")
    return math.fsum(values) / len(values)


def speedup(sync_median: float, async_median: float) -> float:
    """How many times faster the async twin is (> 1 means async wins)."""
    if async_median <= 0:
        raise ValueError("async_median must be positive")
    return sync_median / async_median

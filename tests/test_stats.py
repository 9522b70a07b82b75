"""Tests for harness.stats: known answers plus error-rate checks of the verdict rule."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence

import pytest

from harness.stats import (
    Comparison,
    Verdict,
    bootstrap_ratio_ci,
    compare_samples,
    efficiency,
    ideal_time,
    iqr,
    mann_whitney_p,
    median,
    min_detectable_p,
    quartiles,
    speedup,
)


def enumerated_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided Mann-Whitney p by brute force over all group assignments.

    Independent of the module's generating-function table, so it checks it.
    """
    pooled = [*a, *b]
    m = len(a)

    def u_of(group: Sequence[float], other: Sequence[float]) -> int:
        return sum(x > y for x in group for y in other)

    u_obs = u_of(a, b)
    us = []
    for idx in itertools.combinations(range(len(pooled)), m):
        chosen = set(idx)
        group = [pooled[i] for i in idx]
        other = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        us.append(u_of(group, other))
    low = sum(u <= u_obs for u in us)
    high = sum(u >= u_obs for u in us)
    return min(1.0, 2 * min(low, high) / len(us))


def lognormal(rng: random.Random, n: int, scale: float, sigma: float) -> list[float]:
    return [scale * rng.lognormvariate(0.0, sigma) for _ in range(n)]


# --- descriptive ---------------------------------------------------------------


def test_median_matches_statistics() -> None:
    rng = random.Random(1)
    for n in range(1, 12):
        xs = [rng.random() for _ in range(n)]
        assert median(xs) == statistics.median(xs)


def test_quartiles_match_statistics_inclusive() -> None:
    rng = random.Random(2)
    for n in range(2, 31):
        xs = [rng.lognormvariate(0, 0.5) for _ in range(n)]
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
        assert quartiles(xs) == pytest.approx((q1, q3), rel=1e-12)
        assert iqr(xs) == pytest.approx(q3 - q1, rel=1e-12, abs=1e-15)


def test_quartiles_small_and_known() -> None:
    assert quartiles([7.0]) == (7.0, 7.0)
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)
    assert quartiles([4.0, 1.0, 3.0, 2.0]) == (1.75, 3.25)
    assert iqr([3.0, 3.0, 3.0]) == 0.0


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf]])
def test_invalid_samples_rejected(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        median(bad)
    with pytest.raises(ValueError):
        mann_whitney_p(bad, [1.0, 2.0])


# --- Mann-Whitney ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1, 2, 3], [4, 5, 6], 2 / 20),  # complete separation, C(6,3) = 20
        ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 2 / 252),  # C(10,5) = 252
        ([1.0, 2.5, 4, 7], [3, 5, 6, 8, 9], 24 / 126),  # U=4: 12 of 126 rankings <= 4
        ([1], [2], 1.0),
    ],
)
def test_exact_known_values(a: list[float], b: list[float], expected: float) -> None:
    assert mann_whitney_p(a, b) == pytest.approx(expected, rel=1e-12)
    assert enumerated_p(a, b) == pytest.approx(expected, rel=1e-12)


def test_exact_matches_enumeration_on_random_samples() -> None:
    rng = random.Random(3)
    for _ in range(25):
        m, n = rng.randint(1, 6), rng.randint(1, 6)
        a = [rng.random() for _ in range(m)]
        b = [rng.random() + rng.choice([0.0, 0.4]) for _ in range(n)]
        assert mann_whitney_p(a, b) == pytest.approx(enumerated_p(a, b), rel=1e-12)


def test_ties_use_normal_approximation() -> None:
    # Reference: scipy.stats.mannwhitneyu(a, b, method="asymptotic") (scipy 1.17).
    a, b = [1, 2, 2, 3, 4], [2, 3, 3, 5, 6]
    assert mann_whitney_p(a, b) == pytest.approx(0.19882894401644247, rel=1e-9)


def test_large_samples_use_normal_approximation() -> None:
    # 60 > EXACT_MAX_N; reference value from scipy's asymptotic method.
    a = [float(i) for i in range(60)]
    b = [i + 7.5 for i in range(60)]
    assert mann_whitney_p(a, b) == pytest.approx(0.02694585619564296, rel=1e-9)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1.0, 2.5, 4, 7], [3, 5, 6, 8, 9]),  # exact path
        ([1, 2, 2, 3, 4], [2, 3, 3, 5, 6, 7]),  # ties
        ([float(i) for i in range(55)], [i + 3.5 for i in range(70)]),  # large
    ],
)
def test_symmetry(a: list[float], b: list[float]) -> None:
    assert mann_whitney_p(a, b) == pytest.approx(mann_whitney_p(b, a), rel=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
        ([5.0, 5.0, 5.0], [5.0, 5.0]),
        ([0.1] * 20, [0.1] * 20),
        ([1.0, 4.0], [2.0, 3.0]),  # U exactly at its null mean, no ties
    ],
)
def test_degenerate_gives_one(a: list[float], b: list[float]) -> None:
    assert mann_whitney_p(a, b) == 1.0


def test_p_value_in_unit_interval() -> None:
    rng = random.Random(4)
    for _ in range(50):
        a = [round(rng.random(), 1) for _ in range(rng.randint(1, 20))]
        b = [round(rng.random(), 1) for _ in range(rng.randint(1, 20))]
        assert 0.0 < mann_whitney_p(a, b) <= 1.0


def test_min_detectable_p() -> None:
    assert min_detectable_p(3, 3) == pytest.approx(0.1)
    assert min_detectable_p(1, 1) == 1.0
    assert min_detectable_p(4, 6) == min_detectable_p(6, 4)
    for m, n in [(2, 3), (3, 3), (4, 5), (5, 5), (10, 10)]:
        separated = mann_whitney_p(range(m), [100.0 + i for i in range(n)])
        assert separated == pytest.approx(min_detectable_p(m, n), rel=1e-12)
    with pytest.raises(ValueError):
        min_detectable_p(0, 3)


# --- bootstrap -------------------------------------------------------------------


def test_bootstrap_ci_contains_true_ratio_and_is_reproducible() -> None:
    rng = random.Random(5)
    base = lognormal(rng, 15, 0.010, 0.03)
    current = lognormal(rng, 15, 0.015, 0.03)
    state = random.getstate()
    low, high = bootstrap_ratio_ci(base, current, seed=42)
    assert random.getstate() == state  # private RNG only
    assert 1.0 < low < 1.5 < high
    assert bootstrap_ratio_ci(base, current, seed=42) == (low, high)
    assert bootstrap_ratio_ci(base, current, seed=43) != (low, high)
    narrow = bootstrap_ratio_ci(base, current, confidence=0.5, seed=42)
    assert low <= narrow[0] <= narrow[1] <= high


def test_bootstrap_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([0.0, 1.0], [1.0])
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([1.0], [1.0], confidence=1.0)
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([1.0], [1.0], resamples=0)


# --- verdict ---------------------------------------------------------------------


def test_verdict_is_str_enum() -> None:
    assert Verdict.SLOWER == "slower"
    assert f"{Verdict.FASTER}" == "faster"


def test_compare_clear_slowdown_fields() -> None:
    rng = random.Random(6)
    base = lognormal(rng, 15, 0.010, 0.03)
    current = lognormal(rng, 15, 0.013, 0.03)
    c = compare_samples(base, current)
    assert isinstance(c, Comparison)
    assert c.verdict is Verdict.SLOWER
    assert c.significant
    assert c.base_median == median(base)
    assert c.current_median == median(current)
    assert c.ratio == pytest.approx(c.current_median / c.base_median)
    assert c.change == pytest.approx(c.ratio - 1)
    assert 1.0 < c.ci_low <= c.ci_high
    assert c.p_value == mann_whitney_p(base, current)
    assert compare_samples(current, base).verdict is Verdict.FASTER


def test_compare_identical_is_unchanged() -> None:
    xs = [0.010, 0.011, 0.012, 0.013]
    c = compare_samples(xs, xs)
    assert (c.verdict, c.significant, c.p_value, c.ratio) == (Verdict.UNCHANGED, False, 1.0, 1.0)


def test_three_rounds_can_never_be_significant() -> None:
    c = compare_samples([1.0, 1.01, 1.02], [2.0, 2.01, 2.02])
    assert c.p_value == pytest.approx(min_detectable_p(3, 3)) == pytest.approx(0.1)
    assert not c.significant
    assert c.verdict is Verdict.UNCHANGED


def test_real_but_small_change_is_significant_yet_unchanged() -> None:
    base = [1.0 + i * 1e-4 for i in range(15)]
    current = [x * 1.02 for x in base]
    c = compare_samples(base, current)
    assert c.significant
    assert c.verdict is Verdict.UNCHANGED


def test_compare_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        compare_samples([1.0], [1.0], threshold=-0.1)
    with pytest.raises(ValueError):
        compare_samples([1.0], [1.0], alpha=0.0)


# --- statistical quality of the verdict rule ---------------------------------------
# Resamples are reduced so the loops stay fast; the CI only gates the verdict.

ROUNDS = 15
RESAMPLES = 200


def verdict_rates(shift: float, sigma: float, trials: int, seed: int) -> dict[Verdict, float]:
    rng = random.Random(seed)
    counts = dict.fromkeys(Verdict, 0)
    for i in range(trials):
        base = lognormal(rng, ROUNDS, 0.010, sigma)
        current = lognormal(rng, ROUNDS, 0.010 * shift, sigma)
        c = compare_samples(base, current, threshold=0.05, alpha=0.01, resamples=RESAMPLES, seed=i)
        counts[c.verdict] += 1
    return {v: k / trials for v, k in counts.items()}


def test_false_positive_rate_under_no_change() -> None:
    rates = verdict_rates(shift=1.0, sigma=0.10, trials=300, seed=7)
    assert rates[Verdict.SLOWER] <= 0.02
    assert rates[Verdict.FASTER] <= 0.02


def test_detects_twenty_percent_shift() -> None:
    assert verdict_rates(shift=1.20, sigma=0.03, trials=150, seed=8)[Verdict.SLOWER] >= 0.95
    assert verdict_rates(shift=1 / 1.20, sigma=0.03, trials=50, seed=9)[Verdict.FASTER] >= 0.95


def test_sub_threshold_shift_is_not_flagged() -> None:
    # The threshold is applied to the *observed* median ratio, so a 2% change
    # can only be "never SLOWER" when noise is small relative to the 3% margin.
    # At sigma 1% the margin is > 6 standard errors of the log-ratio:
    assert verdict_rates(shift=1.02, sigma=0.01, trials=150, seed=10)[Verdict.SLOWER] == 0.0
    # At sigma 3% about 1% of runs overshoot 5% by chance; bound it, not forbid it.
    assert verdict_rates(shift=1.02, sigma=0.03, trials=200, seed=11)[Verdict.SLOWER] <= 0.03


# --- twin metrics ------------------------------------------------------------------


def test_speedup() -> None:
    assert speedup(2.0, 0.5) == 4.0
    with pytest.raises(ValueError):
        speedup(1.0, 0.0)


def test_ideal_time_and_efficiency() -> None:
    assert ideal_time(10, 3, 0.1) == pytest.approx(0.4)  # ceil(10/3) = 4 waves
    assert ideal_time(9, 3, 0.1) == pytest.approx(0.3)
    assert ideal_time(0, 4, 0.1) == 0.0
    assert efficiency(0.4, 0.5) == pytest.approx(0.8)
    assert math.isnan(efficiency(ideal_time(10, 4, 0.0), 0.2))  # undefined at L = 0
    with pytest.raises(ValueError):
        ideal_time(10, 0, 0.1)
    with pytest.raises(ValueError):
        efficiency(0.4, 0.0)

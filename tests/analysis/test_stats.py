"""Tests for harness.analysis.stats: known answers plus error-rate checks of the verdict rule."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence

import pytest

from harness.analysis.stats import (
    Comparison,
    Verdict,
    bootstrap_ratio_ci,
    compare_pairs,
    compare_passes,
    compare_ratios,
    compare_samples,
    iqr,
    mann_whitney_p,
    median,
    min_detectable_p,
    quartiles,
    speedup,
    t_quantile,
    t_sf,
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


# --- Student t ----------------------------------------------------------------------
# Reference values: standard t tables / scipy.stats.t (sf, ppf).


@pytest.mark.parametrize(
    ("t", "df", "expected"),
    [
        (2.0, 10, 0.036694017385370),
        (2.228138851986274, 10, 0.025),
        (1.0, 1, 0.25),  # Cauchy: 0.5 - atan(1) / pi
        (0.0, 7, 0.5),
        (3.0, 2, 0.5 - 3.0 / (2 * math.sqrt(11.0))),  # df=2 closed form
    ],
)
def test_t_sf_known_values(t: float, df: float, expected: float) -> None:
    assert t_sf(t, df) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("q", "df", "expected"),
    [
        (0.975, 2, 4.302652729749464),
        (0.995, 4, 4.604094871415897),
        (0.975, 10, 2.228138851986274),
        (0.95, 1, 6.313751514675043),
        (0.975, 1e6, 1.959965),  # tends to the normal quantile
    ],
)
def test_t_quantile_known_values(q: float, df: float, expected: float) -> None:
    assert t_quantile(q, df) == pytest.approx(expected, rel=1e-6)
    assert t_quantile(1 - q, df) == pytest.approx(-expected, rel=1e-6)


@pytest.mark.parametrize("df", [1, 2, 3.5, 10, 40])
@pytest.mark.parametrize("t", [0.1, 0.7, 1.5, 3.0, 8.0])
def test_t_sf_symmetry_and_round_trip(t: float, df: float) -> None:
    assert t_sf(-t, df) == pytest.approx(1 - t_sf(t, df), rel=1e-12)
    assert t_quantile(1 - t_sf(t, df), df) == pytest.approx(t, rel=1e-7)
    # df=2 has a closed form too: P(T > t) = 1/2 - t / (2 sqrt(2 + t^2)).
    assert t_sf(t, 2) == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)), rel=1e-10)


@pytest.mark.parametrize("t", [-20.0, -1.0, -0.2, 0.0, 0.5, 2.0, 50.0])
def test_t_sf_df_one_is_cauchy(t: float) -> None:
    assert t_sf(t, 1) == pytest.approx(0.5 - math.atan(t) / math.pi, rel=1e-10, abs=1e-15)


def test_t_sf_is_decreasing_and_heavier_tailed_than_normal() -> None:
    ts = [i / 4 for i in range(-20, 21)]
    values = [t_sf(t, 5) for t in ts]
    assert all(a > b for a, b in itertools.pairwise(values))
    normal_tail = 0.5 * math.erfc(3 / math.sqrt(2))
    assert t_sf(3.0, 3) > t_sf(3.0, 30) > normal_tail


def test_t_functions_reject_bad_arguments() -> None:
    with pytest.raises(ValueError):
        t_sf(1.0, 0)
    for q in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            t_quantile(q, 5)


# --- compare_passes: known answers -------------------------------------------------------


def one_round_passes(values: Sequence[float]) -> list[list[float]]:
    """Passes of one round each: a pass's median is exactly the given value."""
    return [[v] for v in values]


def test_compare_passes_identical_passes_are_unchanged() -> None:
    passes = [[0.010, 0.011, 0.012], [0.013, 0.012, 0.014], [0.009, 0.010, 0.011]]
    c = compare_passes(passes, passes, threshold=0.0, alpha=0.05)
    assert c.method == "passes" and c.passes == (3, 3)
    assert c.ratio == 1.0 and c.change == 0.0
    assert c.p_value == 1.0 and not c.significant
    assert c.verdict is Verdict.UNCHANGED
    assert c.ci_low < 1.0 < c.ci_high


def test_compare_passes_geometric_means_of_pass_medians() -> None:
    base = [[1.0, 100.0, 2.0], [3.0, 4.0, 5.0], [8.0]]  # pass medians 2, 4, 8
    current = [[2.0], [2.0, 2.0]]
    c = compare_passes(base, current)
    assert c.base_median == pytest.approx(4.0)  # (2 * 4 * 8) ** (1/3)
    assert c.current_median == pytest.approx(2.0)
    assert c.ratio == pytest.approx(0.5)
    assert c.passes == (3, 2)


def test_compare_passes_t_statistic_known_answer() -> None:
    # log pass values: base +-d around 0, current +-d around m; 6 + 6 passes, df = 10.
    # Pooled variance = 12 d^2 / 10, SE = d sqrt(1.2 / 3) = d sqrt(0.4); m = 2 SE gives t = 2.
    d = 0.05
    se = d * math.sqrt(0.4)
    m = 2 * se
    base = one_round_passes([math.exp(s * d) for s in (-1, -1, -1, 1, 1, 1)])
    current = one_round_passes([math.exp(m + s * d) for s in (-1, -1, -1, 1, 1, 1)])
    c = compare_passes(base, current, alpha=0.05, confidence=0.95, threshold=0.0)
    assert c.p_value == pytest.approx(2 * 0.036694017385370, rel=1e-6)
    assert not c.significant and c.verdict is Verdict.UNCHANGED
    assert c.ratio == pytest.approx(math.exp(m))
    half = 2.228138851986274 * se  # t(0.975, 10) * SE
    assert c.ci_low == pytest.approx(math.exp(m - half), rel=1e-9)
    assert c.ci_high == pytest.approx(math.exp(m + half), rel=1e-9)
    assert c.detectable == pytest.approx(math.exp(half) - 1, rel=1e-9)  # alpha 0.05 = 1 - conf
    # Swapping the sides mirrors everything.
    back = compare_passes(current, base, alpha=0.05, confidence=0.95, threshold=0.0)
    assert back.p_value == pytest.approx(c.p_value, rel=1e-12)
    assert back.ratio == pytest.approx(1 / c.ratio)
    assert back.ci_low == pytest.approx(1 / c.ci_high)


def test_compare_passes_detectable_uses_alpha_quantile() -> None:
    # 3 + 3 passes, df = 4, alpha 0.01: detectable = exp(t(0.995, 4) * SE) - 1.
    d = 0.02
    base = one_round_passes([math.exp(-d), 1.0, math.exp(d)])
    current = one_round_passes([math.exp(-d), 1.0, math.exp(d)])
    se = math.sqrt((4 * d * d) / 4 * (2 / 3))
    c = compare_passes(base, current, alpha=0.01)
    assert c.detectable == pytest.approx(math.exp(4.604094871415897 * se) - 1, rel=1e-9)
    noisier = compare_passes([[x * 1.1] for x in (0.9, 1.0, 1.1)], current, alpha=0.01)
    assert noisier.detectable is not None and noisier.detectable > c.detectable


def test_compare_passes_consistent_slowdown_is_slower() -> None:
    rng = random.Random(21)
    base = [[0.010 * rng.uniform(0.99, 1.01) for _ in range(10)] for _ in range(3)]
    current = [[x * 1.3 * rng.uniform(0.99, 1.01) for x in p] for p in base]
    c = compare_passes(base, current, threshold=0.10, alpha=0.01)
    assert c.method == "passes" and c.passes == (3, 3)
    assert c.verdict is Verdict.SLOWER and c.significant
    assert c.ratio == pytest.approx(1.3, rel=0.02)
    assert 1.2 < c.ci_low < 1.3 < c.ci_high < 1.4
    assert c.detectable is not None and 0 < c.detectable < 0.05
    assert compare_passes(current, base, threshold=0.10, alpha=0.01).verdict is Verdict.FASTER


def test_compare_passes_one_pass_each_delegates_to_rounds() -> None:
    rng = random.Random(22)
    base = lognormal(rng, 12, 0.010, 0.03)
    current = lognormal(rng, 12, 0.013, 0.03)
    options = {"threshold": 0.05, "alpha": 0.01, "resamples": 100, "seed": 3}
    c = compare_passes([base], [current], **options)
    assert c == compare_samples(base, current, **options)
    assert c.method == "rounds" and c.passes == (1, 1) and c.detectable is None
    assert c.verdict is Verdict.SLOWER
    ref_b = lognormal(rng, 12, 0.020, 0.03)
    ref_c = lognormal(rng, 12, 0.020, 0.03)
    r = compare_passes([base], [current], base_ref=[ref_b], current_ref=[ref_c], **options)
    assert r == compare_ratios(base, ref_b, current, ref_c, **options)
    assert r.method == "rounds" and r.detectable is None


def test_compare_passes_one_versus_several_uses_passes() -> None:
    c = compare_passes([[1.0, 1.1, 0.9]], [[1.0], [1.02], [0.98]])
    assert c.method == "passes" and c.passes == (1, 3)


def passes_with_offsets(rng: random.Random, n: int, centre: float, between: float,
                        within: float = 0.01, rounds: int = 8) -> list[list[float]]:
    """`n` passes; each pass shares a log-normal offset (sd `between`) across its rounds."""
    out = []
    for _ in range(n):
        level = centre * rng.lognormvariate(0.0, between)
        out.append([level * rng.lognormvariate(0.0, within) for _ in range(rounds)])
    return out


def test_compare_passes_ratio_mode_machine_twice_slower_is_unchanged() -> None:
    rng = random.Random(23)
    twin_b = passes_with_offsets(rng, 3, 0.020, 0.01)
    ref_b = passes_with_offsets(rng, 3, 0.010, 0.01)
    twin_c = passes_with_offsets(rng, 3, 0.040, 0.01)  # everything 2x slower
    ref_c = passes_with_offsets(rng, 3, 0.020, 0.01)
    c = compare_passes(twin_b, twin_c, base_ref=ref_b, current_ref=ref_c, alpha=0.05)
    assert c.method == "passes" and c.passes == (3, 3)
    assert c.verdict is Verdict.UNCHANGED
    assert c.ratio == pytest.approx(1.0, abs=0.03)
    assert c.base_median == pytest.approx(2.0, rel=0.03)  # the in-run ratio twin / ref
    # Without the reference the same data is a 2x slowdown.
    assert compare_passes(twin_b, twin_c, alpha=0.05).verdict is Verdict.SLOWER


def test_compare_passes_ratio_mode_twin_only_slower_is_slower() -> None:
    rng = random.Random(24)
    ref_b = passes_with_offsets(rng, 3, 0.010, 0.01)
    twin_b = passes_with_offsets(rng, 3, 0.020, 0.01)
    ref_c = passes_with_offsets(rng, 3, 0.010, 0.01)
    twin_c = passes_with_offsets(rng, 3, 0.030, 0.01)  # only the twin 1.5x slower
    c = compare_passes(twin_b, twin_c, base_ref=ref_b, current_ref=ref_c, alpha=0.05)
    assert c.verdict is Verdict.SLOWER
    assert c.ratio == pytest.approx(1.5, rel=0.03)
    assert c.ci_low > 1.3


def test_compare_passes_ratio_mode_cancels_shared_pass_noise() -> None:
    # A big per-pass machine offset hits twin and reference alike: the ratio removes it.
    rng = random.Random(25)

    def side(twin_centre: float) -> tuple[list[list[float]], list[list[float]]]:
        twins, refs = [], []
        for _ in range(3):
            machine = rng.lognormvariate(0.0, 0.3)
            twins.append([twin_centre * machine * rng.lognormvariate(0, 0.01) for _ in range(8)])
            refs.append([0.010 * machine * rng.lognormvariate(0, 0.01) for _ in range(8)])
        return twins, refs

    twin_b, ref_b = side(0.020)
    twin_c, ref_c = side(0.024)  # twin 1.2x slower
    c = compare_passes(twin_b, twin_c, base_ref=ref_b, current_ref=ref_c, alpha=0.01)
    assert c.verdict is Verdict.SLOWER and c.ratio == pytest.approx(1.2, rel=0.03)
    assert c.detectable is not None and c.detectable < 0.1


def test_compare_passes_rejects_mismatched_reference_passes() -> None:
    three = [[1.0], [1.1], [0.9]]
    with pytest.raises(ValueError, match="passes"):
        compare_passes(three, three, base_ref=three[:2], current_ref=three)
    with pytest.raises(ValueError, match="passes"):
        compare_passes(three, three, base_ref=three, current_ref=[*three, [1.0]])


def test_compare_passes_rejects_empty_sides() -> None:
    with pytest.raises(ValueError):
        compare_passes([], [[1.0]])
    with pytest.raises(ValueError):
        compare_passes([[1.0], [1.1]], [])


# --- why passes: noise shared by a whole run -----------------------------------------------
# Each simulated run (pass) gets its own log-normal offset (sd BETWEEN) shared by its rounds,
# plus round noise (sd WITHIN). Nothing changes between base and current.

BETWEEN, WITHIN, PASS_ROUNDS = 0.10, 0.03, 10


def test_rounds_only_comparison_flags_run_to_run_noise() -> None:
    rng = random.Random(31)
    trials, flagged = 60, 0
    for i in range(trials):
        base, current = (passes_with_offsets(rng, 1, 0.010, BETWEEN, WITHIN, PASS_ROUNDS)[0]
                         for _ in range(2))
        c = compare_samples(base, current, threshold=0.0, alpha=0.05, resamples=50, seed=i)
        flagged += c.verdict is not Verdict.UNCHANGED
    # Nominal alpha is 5%; the rounds cannot see the offset, so most trials are "significant".
    assert flagged / trials > 0.5


def test_passes_comparison_keeps_false_positives_near_alpha() -> None:
    rng = random.Random(32)
    trials = 200
    counts = dict.fromkeys(Verdict, 0)
    for _ in range(trials):
        base = passes_with_offsets(rng, 3, 0.010, BETWEEN, WITHIN, PASS_ROUNDS)
        current = passes_with_offsets(rng, 3, 0.010, BETWEEN, WITHIN, PASS_ROUNDS)
        c = compare_passes(base, current, threshold=0.0, alpha=0.05, confidence=0.95)
        assert c.method == "passes"
        counts[c.verdict] += 1
    false_positive = (counts[Verdict.SLOWER] + counts[Verdict.FASTER]) / trials
    # The t-test is exact for normal log pass values: expect ~5% (10 of 200). A normal (z)
    # interval at df = 4 would give ~12%; a rounds-based test gives > 50%.
    assert 0.01 <= false_positive <= 0.08


def test_passes_comparison_detects_a_large_shift() -> None:
    rng = random.Random(33)
    trials, detected = 50, 0
    for _ in range(trials):
        base = passes_with_offsets(rng, 3, 0.010, 0.05, WITHIN, PASS_ROUNDS)
        current = passes_with_offsets(rng, 3, 0.015, 0.05, WITHIN, PASS_ROUNDS)
        c = compare_passes(base, current, threshold=0.10, alpha=0.05)
        detected += c.verdict is Verdict.SLOWER
    assert detected / trials >= 0.9


# -- interleaved sides: pairs of neighbouring rounds ----------------------------------------

def drifting_pairs(rng: random.Random, n: int, ratio: float, drift: float = 0.3,
                   noise: float = 0.01) -> tuple[list[list[float]], list[list[float]]]:
    """n ABBA neighbours on a machine whose speed wanders by up to ±`drift` over the run
    (slowly, as these VMs do), each round with `noise` of its own; current = ratio × base."""
    phase = rng.uniform(0, 2 * math.pi)
    base, current = [], []
    for i in range(n):
        machine = math.exp(drift * math.sin(phase + i / 3))
        base.append(0.1 * machine * math.exp(rng.gauss(0, noise)))
        current.append(0.1 * ratio * machine * math.exp(rng.gauss(0, noise)))
    return [base], [current]


def test_pairs_cancel_the_drift_both_sides_share() -> None:
    """A 10% slowdown under ±30% drift: invisible to unpaired passes, plain to the pairs."""
    base, current = drifting_pairs(random.Random(41), 24, 1.10)
    paired = compare_pairs(base, current, threshold=0.05, alpha=0.01)
    assert paired.verdict is Verdict.SLOWER and paired.method == "pairs"
    assert paired.ratio == pytest.approx(1.10, abs=0.01)
    assert paired.ci_low > 1.05 and paired.detectable is not None and paired.detectable < 0.03
    as_passes = compare_passes([base[0][i::3] for i in range(3)],
                               [current[0][i::3] for i in range(3)],
                               threshold=0.05, alpha=0.01)
    assert as_passes.verdict is Verdict.UNCHANGED


def test_pairs_of_identical_versions_keep_false_alarms_near_alpha() -> None:
    rng = random.Random(42)
    trials = 400
    alarms = sum(compare_pairs(*drifting_pairs(rng, 12, 1.0), threshold=0.0, alpha=0.01
                               ).verdict is not Verdict.UNCHANGED for _ in range(trials))
    assert alarms / trials <= 0.025  # nominal 1%: the signed-rank test is exact here


def test_paired_p_is_scipys_signed_rank_and_the_interval_its_inversion() -> None:
    """p is scipy's Wilcoxon signed-rank p; the interval's ends are Walsh averages, the last
    shifts the test does not reject: just inside accepted, just outside rejected."""
    from scipy import stats as sps

    rng = random.Random(7)
    base = [[0.1 * math.exp(rng.gauss(0, 0.05)) for _ in range(20)]]
    current = [[b * 1.04 * math.exp(rng.gauss(0, 0.05)) for b in base[0]]]
    c = compare_pairs(base, current, threshold=0.05, alpha=0.01, confidence=0.95)
    d = [math.log(x / y) for x, y in zip(current[0], base[0], strict=True)]
    assert c.p_value == pytest.approx(sps.wilcoxon(d).pvalue, rel=1e-12)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(20) for j in range(i, 20))
    assert c.ratio == pytest.approx(math.exp(statistics.median(walsh)), rel=1e-12)
    lo, hi = math.log(c.ci_low), math.log(c.ci_high)
    assert min(abs(lo - w) for w in walsh) < 1e-12 and min(abs(hi - w) for w in walsh) < 1e-12
    eps = 1e-9
    for end, inward in ((lo, eps), (hi, -eps)):
        assert sps.wilcoxon([x - (end + inward) for x in d]).pvalue >= 0.05
        assert sps.wilcoxon([x - (end - inward) for x in d]).pvalue < 0.05


def test_a_stalled_round_does_not_hide_a_slowdown() -> None:
    """Steady rounds (1% noise), 6% slower, and three rounds a stall made 40% slower on
    either side: the t interval widens past the threshold, the signed-rank one barely."""
    from scipy import stats as sps

    rng = random.Random(3)
    base = [0.1 * math.exp(rng.gauss(0, 0.01)) for _ in range(24)]
    current = [b * 1.06 * math.exp(rng.gauss(0, 0.01)) for b in base]
    base[4] *= 1.4
    current[11] *= 1.4
    current[19] *= 1.4
    c = compare_pairs([base], [current], threshold=0.05, alpha=0.01)
    assert c.verdict is Verdict.SLOWER and c.ratio == pytest.approx(1.06, abs=0.01)
    assert c.detectable is not None and c.detectable < 0.02
    d = [math.log(x / y) for x, y in zip(current, base, strict=True)]
    t_detectable = math.exp(sps.t.ppf(0.995, 23) * statistics.stdev(d) / math.sqrt(24)) - 1
    assert t_detectable > 3 * c.detectable


def test_too_few_pairs_can_never_be_significant() -> None:
    """5 pairs, all 50% slower: 2/2**5 > 0.01, so no verdict but "unchanged" and no bound."""
    c = compare_pairs([[0.1] * 5], [[0.15, 0.151, 0.149, 0.152, 0.148]], alpha=0.01)
    assert c.verdict is Verdict.UNCHANGED and not c.significant
    assert c.detectable == math.inf and c.ratio == pytest.approx(1.5, abs=0.02)


def test_pairs_need_matching_sides_and_three_pairs() -> None:
    with pytest.raises(ValueError, match="same rounds"):
        compare_pairs([[1.0, 1.0, 1.0]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="at least 3 pairs"):
        compare_pairs([[1.0, 1.0]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="positive"):
        compare_pairs([[1.0, 0.0, 1.0]], [[1.0, 1.0, 1.0]])

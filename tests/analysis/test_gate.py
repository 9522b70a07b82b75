"""The gate's pure decisions: which benchmarks are suspects and what confirmation re-measures."""

from __future__ import annotations

import math
import random

from harness.analysis.compare import compare_runs
from harness.analysis.gate import confirmation_cases, extra_pairs, suspects, to_confirm
from harness.analysis.stats import pairs_needed
from harness.config import Thresholds
from tests.helpers.runfiles import benches, make_run, paired_runs


def test_confirmation_re_measures_suspects_and_their_references() -> None:
    base = make_run(benches())
    current = make_run(benches({"aiohttp": 1.5, "requests-threads": 1.02}, seed=3))
    absolute = compare_runs(base, current, mode="absolute")
    assert [d.key for d in suspects(absolute)] == ["wl:s1:aiohttp"]
    assert confirmation_cases(absolute, suspects(absolute)) == ("wl-s1-aiohttp",)
    ratio = compare_runs(base, current, mode="ratio")
    assert confirmation_cases(ratio, suspects(ratio)) == ("wl-s1-aiohttp", "wl-s1-requests")
    # Between measurements the point estimates alone pick the same suspects, without scipy.
    estimated = compare_runs(base, current, mode="absolute", estimate=True)
    assert to_confirm(estimated)[0] == ("wl-s1-aiohttp",)
    assert to_confirm(estimated)[1] == "1 benchmark(s) beyond threshold: wl:s1:aiohttp"




def test_extra_pairs_go_where_the_noise_is_and_the_rounds_are_cheap() -> None:
    """Quiet: no more pairs. Noisy and cheap: as many as its noise needs (within the time).
    Noisy and expensive: only what the seconds pay for, or none when that is too few."""
    noise = {"quiet": 0.005, "cheap": 0.15, "slow": 0.15, "tight": 0.15}
    seconds = {"quiet": 0.1, "cheap": 0.01, "slow": 0.5, "tight": 5.0}
    base, current = paired_runs(noise, seconds)
    result = compare_runs(base, current, thresholds=Thresholds(0.05), estimate=True)
    more, line = extra_pairs(result, base, current, seconds=10.0)
    assert "wl-s1-quiet" not in more and "wl-s1-tight" not in more  # 10 s buy 1 pair of 10 s
    b, c = ({r.key: r for r in run.benchmarks}["wl:s1:cheap"] for run in (base, current))
    need = pairs_needed(b.passes, c.passes, goal=0.05)
    assert more["wl-s1-cheap"] == need - 12 > 20
    sb, sc = ({r.key: r for r in run.benchmarks}["wl:s1:slow"] for run in (base, current))
    assert more["wl-s1-slow"] == int(10.0 / (sb.median + sc.median)) in (9, 10)  # ~1 s a pair
    assert line.startswith("2 benchmark(s) too noisy yet to see a change at their threshold")
    assert extra_pairs(result, base, current, seconds=0) == ({}, "")


def test_pairs_needed_reaches_the_goal_it_was_asked_for() -> None:
    """Measured with as many pairs as planned, the detectable slowdown is near the goal."""
    from harness.analysis.stats import compare_pairs

    rng = random.Random(11)

    def sample(n: int) -> tuple[list[list[float]], list[list[float]]]:
        b = [0.1 * math.exp(rng.gauss(0, 0.01)) for _ in range(n)]
        return [b], [[x * math.exp(rng.gauss(0, 0.12)) for x in b]]

    planned = pairs_needed(*sample(12), goal=0.05)
    assert 30 < planned < 150  # asymptotically (2.58 * 0.12 / 0.049)^2 * pi/3 = 42
    detectable = compare_pairs(*sample(planned), alpha=0.01).detectable
    assert detectable is not None and 0.03 < detectable < 0.08

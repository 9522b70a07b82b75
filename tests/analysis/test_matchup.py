"""The scenario's answer carries its uncertainty: two twins drawn from one distribution are a
tie, a clear 1.5x difference names the winner with its interval, and too few rounds say so."""

from __future__ import annotations

import random
from typing import Any

import pytest

from harness.analysis.matchup import judge, judge_model, rounds_for_verdict
from harness.analysis.sequential import Call
from harness.analysis.summary import summarize
from harness.results.runfile import parse_run
from tests.helpers.runfiles import lognormal, run_doc


def scenario(sync_scale: float, async_scale: float, n: int = 10, seed: int = 1,
             cpu: tuple[float, float] | None = None, sigma: float = 0.05,
             interleaved: bool = False) -> Any:
    rng = random.Random(seed)
    doc = run_doc([("wl", "s", "threads", "threads", lognormal(rng, n, sync_scale, sigma)),
                   ("wl", "s", "tasks", "async", lognormal(rng, n, async_scale, sigma))])
    if interleaved:
        for bench in doc["benchmarks"]:
            bench["extra_info"]["interleaved"] = {"level": 0.99, "rounds": n}
    if cpu is not None:
        for bench, per_op in zip(doc["benchmarks"], cpu, strict=True):
            ops = bench["extra_info"]["ops"]
            bench["extra_info"]["cpu_s_per_round"] = [
                per_op * ops * x for x in lognormal(rng, n, 1.0)]
    (summary,) = summarize(parse_run(doc))
    return judge(summary)


def test_two_twins_from_one_distribution_are_a_tie_when_the_interval_shows_it() -> None:
    matchup = scenario(0.1, 0.1, seed=3, sigma=0.01)
    assert matchup.call is Call.TIE
    assert 1 / 1.05 <= matchup.speedup.low < 1 < matchup.speedup.high <= 1.05
    assert not matchup.speedup.significant
    # noisier rounds: the interval reaches past ±5%, which is no evidence of a tie
    noisy = scenario(0.1, 0.1, seed=3, sigma=0.2)
    assert noisy.call is Call.CANNOT_TELL and "smallest effect" in noisy.reason


def test_a_significant_difference_below_the_smallest_effect_is_a_tie() -> None:
    matchup = scenario(0.102, 0.1, n=20, sigma=0.002)
    assert matchup.speedup.significant and matchup.speedup.low > 1
    assert matchup.call is Call.TIE


def test_twins_measured_in_turn_are_compared_round_by_round() -> None:
    matchup = scenario(0.15, 0.1, interleaved=True)
    assert matchup.speedup.paired and matchup.speedup.pairs == 10
    assert matchup.speedup.level == 0.99
    assert matchup.call is Call.FASTER
    assert matchup.speedup.low < 1.5 < matchup.speedup.high


def test_a_clear_difference_names_the_winner_with_its_interval() -> None:
    faster = scenario(0.15, 0.1)
    assert faster.call is Call.FASTER
    assert faster.speedup.value == pytest.approx(1.5, rel=0.1)
    assert 1 < faster.speedup.low < 1.5 < faster.speedup.high
    slower = scenario(0.1, 0.15)
    assert slower.call is Call.SLOWER and slower.speedup.high < 1


def test_three_rounds_cannot_tell_rather_than_tie() -> None:
    matchup = scenario(0.2, 0.1, n=3)
    assert matchup.call is Call.CANNOT_TELL
    assert "3 and 3 rounds" in matchup.reason
    assert matchup.point == pytest.approx(2.0, rel=0.15)


def one_round_among_the_others(n: int) -> Any:
    """Async twice as fast in every round but one, which lands among the sync rounds."""
    sync = [0.200 + 0.001 * i for i in range(n)]
    async_ = [0.100 + 0.001 * i for i in range(n - 1)] + [0.2005]
    doc = run_doc([("wl", "s", "threads", "threads", sync), ("wl", "s", "tasks", "async", async_)])
    (summary,) = summarize(parse_run(doc))
    return judge(summary)


def test_a_sweep_point_gets_the_fewest_rounds_that_survive_one_stray_round() -> None:
    n = rounds_for_verdict()
    assert n == 6
    assert one_round_among_the_others(n).call is Call.FASTER
    assert one_round_among_the_others(n - 1).call is Call.CANNOT_TELL


def test_cpu_is_compared_only_when_recorded_and_called_only_when_significant() -> None:
    assert scenario(0.15, 0.1).cpu is None  # schema-2 files have no CPU
    lean = scenario(0.15, 0.1, cpu=(400e-6, 100e-6))
    assert lean.cpu_call == "less" and lean.cpu.value == pytest.approx(4.0, rel=0.15)
    same = scenario(0.15, 0.1, cpu=(100e-6, 100e-6), seed=5)
    assert same.cpu_call is None


def test_cpu_too_small_to_read_in_most_rounds_is_no_cpu_comparison() -> None:
    """A server's CPU is read in 10 ms ticks: an async server that used less than a tick in
    most rounds has a median CPU of 0, whose ratio cannot be inverted. The verdict on time
    stands; the CPU comparison is left out rather than crashing `bench run`."""
    rng = random.Random(5)
    doc = run_doc([("wl", "s", "threads", "threads", lognormal(rng, 10, 0.15)),
                   ("wl", "s", "tasks", "async", lognormal(rng, 10, 0.1))])
    doc["benchmarks"][0]["extra_info"]["cpu_s_per_round"] = [0.01] * 10
    doc["benchmarks"][1]["extra_info"]["cpu_s_per_round"] = [0.0] * 7 + [0.01] * 3
    (summary,) = summarize(parse_run(doc))
    matchup = judge(summary)
    assert matchup is not None and matchup.call is Call.FASTER
    assert matchup.cpu is None and matchup.cpu_call is None


# -- the async model alone: a library's own twins, never a ratio across libraries ---------------

LIBRARY_TWINS = {  # twin: (kind, library, scale of its rounds)
    "requests-threads": ("threads", "requests", 0.30),
    "curl-threads": ("threads", "curl", 0.20),
    "aiohttp": ("async", "aiohttp", 0.05),
    "curl-async": ("async", "curl", 0.10),
}


def library_run(twins: dict[str, tuple[str, str, float]] = LIBRARY_TWINS,
                outcomes: dict[str, dict[str, str]] | None = None) -> Any:
    rng = random.Random(5)
    doc = run_doc([("wl", "s", twin, kind, lognormal(rng, 10, scale))
                   for twin, (kind, _, scale) in twins.items()], outcomes=outcomes)
    for bench in doc["benchmarks"]:
        bench["extra_info"]["library"] = twins[bench["extra_info"]["twin"]][1]
    doc["twinbench"]["workloads"] = {"wl": {"description": "", "metrics": [], "twins": {
        twin: {"kind": kind, "library": library}
        for twin, (kind, library, _) in {**LIBRARY_TWINS, **twins}.items()}}}
    (summary,) = summarize(parse_run(doc))
    return summary


def test_the_model_alone_holds_the_library_fixed() -> None:
    summary = library_run()
    headline, model = judge(summary), judge_model(summary)
    assert (headline.sync.twin, headline.async_.twin) == ("curl-threads", "aiohttp")
    assert headline.point == pytest.approx(4.0, rel=0.1)
    # curl against curl: the model's share of the 4x, about 2x
    assert (model.sync.twin, model.async_.twin) == ("curl-threads", "curl-async")
    assert model.call is Call.FASTER and model.speedup.value == pytest.approx(2.0, rel=0.1)
    assert summary.unpaired == ()


def test_no_model_figure_without_a_pair_and_the_missing_side_is_named() -> None:
    # curl's async twin was skipped: no ratio against another library's async twin
    twins = {k: v for k, v in LIBRARY_TWINS.items() if k != "curl-async"}
    outcomes = {f"wl-s-{t}": {"outcome": "passed"} for t in twins}
    outcomes["wl-s-curl-async"] = {"outcome": "skipped", "detail": "curl is not installed"}
    summary = library_run(twins, outcomes)
    assert judge_model(summary) is None
    assert judge(summary) is not None
    assert summary.unpaired == ("no async-model-alone figure for curl: its async twin "
                                "curl-async skipped (curl is not installed)",)
    # a twin not selected for this scenario (no outcome, no record) is no missing side
    assert library_run(twins).unpaired == ()


def test_a_twin_that_stopped_behind_its_sides_best_is_never_called_best() -> None:
    """Measured: a sequential twin stopped after 2 rounds (twice as slow as the pool then);
    the machine slowed later and the pool's median over 8 rounds ended above the sequential
    twin's 2-round median. The headline must stay the pool's, not a 2-round twin's."""
    doc = run_doc([("wl", "s", "seq", "sync", [0.40, 0.40]),
                   ("wl", "s", "threads", "threads", [0.15, 0.15, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]),
                   ("wl", "s", "tasks", "async", [0.1] * 8)])
    for bench in doc["benchmarks"]:
        twin = bench["extra_info"]["twin"]
        bench["extra_info"]["interleaved"] = {
            "level": 0.99, "stopped": "cannot be its side's best" if twin == "seq" else "decided"}
    (summary,) = summarize(parse_run(doc))
    assert summary.best_sync is not None and summary.best_sync.twin == "threads"

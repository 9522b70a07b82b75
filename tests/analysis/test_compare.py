"""compare_runs: matching, verdicts, cross-machine ratios, pass-level tests, on synthetic run
files with known answers."""

from __future__ import annotations

import random

import pytest

from harness.analysis.compare import Mode, Status, compare_runs, machine_differences
from harness.analysis.gate import decide
from harness.analysis.stats import Verdict, compare_ratios
from harness.config import Thresholds
from harness.errors import BadInput
from harness.render.compare import to_markdown
from harness.results.runfile import parse_run
from tests.helpers.runfiles import (
    BASE_TIMES,
    MACHINE,
    PARAMS,
    TWINS,
    benches,
    by_key,
    lognormal,
    make_run,
    passes_doc,
    rounds,
    run_doc,
    with_extra,
)

# -- compare_runs: known answers --------------------------------------------------------------

def test_unchanged_runs_give_unchanged_verdicts_on_the_same_machine() -> None:
    result = compare_runs(make_run(benches(seed=0)), make_run(benches(seed=100)))
    assert result.same_machine and result.mode is Mode.ABSOLUTE
    assert [d.verdict for d in result.absolute] == ["unchanged"] * 3
    assert not result.regressions
    assert [w.split(":")[0] for w in result.warnings] == ["one pass on each side"]
    assert decide(result, Thresholds()).exit_code == 0


def test_a_real_slowdown_beyond_threshold_is_slower_and_fails_the_gate() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"aiohttp": 1.3}, seed=50)))
    delta = by_key(result.absolute)["wl:s1:aiohttp"]
    assert delta.verdict == "slower" and delta.regression
    assert delta.comparison.change == pytest.approx(0.3, abs=0.03)
    assert delta.comparison.ci_low > 1.2
    gate = decide(result, Thresholds())
    assert gate.exit_code == 1 and "wl:s1:aiohttp is +" in gate.reasons[0]


def test_significant_but_below_threshold_passes() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"aiohttp": 1.05}, seed=50)))
    delta = by_key(result.absolute)["wl:s1:aiohttp"]
    assert delta.comparison.significant and delta.verdict == "unchanged"
    assert decide(result, Thresholds()).passed


def test_per_benchmark_threshold_decides() -> None:
    base, cur = make_run(benches()), make_run(benches({"aiohttp": 1.3}, seed=50))
    loose = Thresholds(0.10, (("wl:*:aiohttp", 0.5),))
    assert decide(compare_runs(base, cur, thresholds=loose), loose).passed
    strict = Thresholds(0.50, (("wl:s1:aiohttp", 0.2), ("wl:*", 0.9)))  # exact key wins
    assert strict.for_key("wl:s1:aiohttp") == 0.2 and strict.for_key("wl:s1:requests") == 0.9
    assert not decide(compare_runs(base, cur, thresholds=strict), strict).passed


def test_faster_is_reported_and_passes() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"requests": 0.7}, seed=9)))
    assert by_key(result.absolute)["wl:s1:requests"].verdict == "faster"
    assert decide(result, Thresholds()).passed


def test_added_and_removed_benchmarks_are_listed_not_gated() -> None:
    base = make_run(benches()[:2])
    cur = make_run([*benches()[1:], *benches(scenario="s2")[:1]])
    deltas = by_key(compare_runs(base, cur).absolute)
    assert deltas["wl:s1:requests"].status is Status.REMOVED
    assert deltas["wl:s1:aiohttp"].status is Status.ADDED
    assert deltas["wl:s2:requests"].status is Status.ADDED
    assert deltas["wl:s1:requests-threads"].status is Status.COMPARED


def test_a_failed_twin_fails_the_gate_and_a_skipped_one_is_removed() -> None:
    outcomes = {"wl-s1-aiohttp": {"outcome": "failed", "detail": "checksum 1 != 2"},
                "wl-s1-requests-threads": {"outcome": "skipped", "detail": "no peer"}}
    cur = make_run(benches()[:1], outcomes=outcomes)
    result = compare_runs(make_run(benches()), cur)
    deltas = by_key(result.absolute)
    assert deltas["wl:s1:aiohttp"].status is Status.FAILED
    assert deltas["wl:s1:requests-threads"].status is Status.REMOVED
    assert "skipped: no peer" in deltas["wl:s1:requests-threads"].detail
    gate = decide(result, Thresholds())
    assert gate.exit_code == 1 and gate.reasons == ["failed: wl-s1-aiohttp: checksum 1 != 2"]


def test_changed_parameters_are_marked_not_compared() -> None:
    cur = make_run(benches({"aiohttp": 3.0}), params={**PARAMS, "n": 50})
    result = compare_runs(make_run(benches()), cur)
    assert {d.status for d in result.absolute} == {Status.PARAMS_DIFFER}
    assert "n 100 → 50" in result.absolute[0].detail
    assert any("different parameters" in w for w in result.warnings)
    assert all(s.params_differ and s.change is None for s in result.speedups)
    with pytest.raises(BadInput, match="share no comparable benchmark"):
        decide(result, Thresholds())


def test_too_few_rounds_warns_and_never_calls_a_change() -> None:
    result = compare_runs(make_run(benches(n=3), profile="quick"),
                          make_run(benches({"aiohttp": 2.0}, n=3, seed=4), profile="quick"))
    aio = by_key(result.absolute)["wl:s1:aiohttp"]
    assert aio.underpowered and aio.verdict == "unchanged"
    assert any("too few rounds" in w and "p = 0.1" in w for w in result.warnings)


def test_profile_loop_incomplete_and_library_changes_are_reported() -> None:
    base = make_run(benches(), profile="full")
    cur = make_run(benches(seed=3), complete=False,
                   libraries={"aiohttp": "3.10.0", "requests": "2.31.0"})
    result = compare_runs(base, cur, base_name="b", current_name="c")
    text = " ".join(result.warnings)
    assert "profiles differ (full vs default)" in text
    assert "c is an incomplete run" in text
    assert "library versions changed: aiohttp 3.9.0 → 3.10.0" in result.notes


def test_async_speedup_per_run_and_its_change() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"aiohttp": 2.0}, seed=8)))
    (s,) = result.speedups
    assert s.base_pair == ("aiohttp", "requests-threads")
    assert s.base == pytest.approx(0.040 / 0.025, rel=0.02)
    assert s.current == pytest.approx(0.040 / 0.050, rel=0.02)
    assert s.change == pytest.approx(-0.5, abs=0.02)


# -- machines and in-run ratios ---------------------------------------------------------------

def test_machine_differences() -> None:
    assert machine_differences(MACHINE, dict(MACHINE)) == []
    wobble = {**MACHINE, "memory_bytes": int(MACHINE["memory_bytes"] * 0.99)}
    assert machine_differences(MACHINE, wobble) == []
    other = {**MACHINE, "cpu": "Other CPU", "cores": 4}
    assert machine_differences(MACHINE, other) == ["cpu 'Test CPU 3000' vs 'Other CPU'",
                                                   "cores 2 vs 4"]


def test_a_uniformly_slower_machine_fails_absolute_but_not_ratio_gating() -> None:
    other = {**MACHINE, "cpu": "Slow CPU"}
    slow = {t: 2.0 for t, _ in TWINS}
    result = compare_runs(make_run(benches()), make_run(benches(slow, seed=7), machine=other))
    assert not result.same_machine and result.mode is Mode.RATIO
    assert any("different machines" in w and "in-run ratios" in w for w in result.warnings)
    assert all(d.verdict == "slower" for d in result.absolute)
    ratios = by_key(result.ratios)
    assert ratios["wl:s1:requests"].status is Status.REFERENCE
    assert ratios["wl:s1:aiohttp"].verdict == "unchanged"
    assert ratios["wl:s1:aiohttp"].comparison.ratio == pytest.approx(1.0, abs=0.03)
    assert decide(result, Thresholds()).passed
    forced = compare_runs(make_run(benches()), make_run(benches(slow, seed=7), machine=other),
                          mode="absolute")
    assert not decide(forced, Thresholds()).passed


def test_ratio_gating_catches_an_async_regression_across_machines() -> None:
    other = {**MACHINE, "cpu": "Slow CPU"}
    slower_machine_and_regression = {"requests": 2.0, "requests-threads": 2.0, "aiohttp": 2.6}
    cur = make_run(benches(slower_machine_and_regression, seed=7), machine=other)
    result = compare_runs(make_run(benches()), cur)
    delta = by_key(result.ratios)["wl:s1:aiohttp"]
    assert delta.verdict == "slower" and delta.reference == "requests"
    assert delta.comparison.change == pytest.approx(0.3, abs=0.04)
    assert [d.key for d in result.regressions] == ["wl:s1:aiohttp"]


def test_reference_falls_back_to_fastest_sync_twin_by_name() -> None:
    items = [b for b in benches() if b[3] != "sync"]
    result = compare_runs(make_run(items), make_run(items), mode="ratio")
    deltas = by_key(result.ratios)
    assert deltas["wl:s1:requests-threads"].status is Status.REFERENCE
    assert deltas["wl:s1:aiohttp"].reference == "requests-threads"


def test_compare_ratios_known_answers() -> None:
    twin, ref = rounds(0.05, seed=1), rounds(0.2, seed=2)
    same = compare_ratios(twin, ref, [x * 3 for x in twin], [x * 3 for x in ref])
    assert same.ratio == pytest.approx(1.0) and same.verdict is Verdict.UNCHANGED
    assert same.ci_low <= 1.0 <= same.ci_high
    worse = compare_ratios(twin, ref, [x * 1.5 for x in rounds(0.05, seed=3)], ref)
    assert worse.ratio == pytest.approx(1.5, rel=0.03) and worse.verdict is Verdict.SLOWER


def test_ratio_test_error_rates_on_synthetic_samples() -> None:
    """False positives under no change stay below alpha; a 30% shift is found nearly always."""
    rng = random.Random(42)
    trials, false_pos, found = 60, 0, 0
    for _ in range(trials):
        def sample(scale: float) -> list[float]:
            return lognormal(rng, 10, scale)

        null = compare_ratios(sample(1), sample(4), sample(1), sample(4), resamples=400)
        false_pos += null.verdict is not Verdict.UNCHANGED
        shifted = compare_ratios(sample(1), sample(4), sample(1.3), sample(4), resamples=400)
        found += shifted.verdict is Verdict.SLOWER
    assert false_pos <= 1  # alpha 0.01 and a 10% effect floor: expect ~0
    assert found >= trials * 0.9


def test_open_loop_scenarios_are_shown_not_gated() -> None:
    """Open-loop wall time is the schedule's; a p99 that is one value per run cannot be
    tested on rounds, so the gate must not pretend to have checked it."""
    base, cur = run_doc(benches()), run_doc(benches({"aiohttp": 3.0}))
    for doc, p99 in ((base, 0.002), (cur, 0.2)):
        for bench in doc["benchmarks"]:
            bench["extra_info"].update(judged_by="p99_s", p99_s=p99)
    result = compare_runs(parse_run(base), parse_run(cur))
    deltas = by_key(result.absolute)
    assert {d.status for d in deltas.values()} == {Status.NOT_GATED}
    assert deltas["wl:s1:aiohttp"].current_value == pytest.approx(0.2)
    assert not result.regressions


def test_an_overload_twin_that_served_less_fails_the_gate() -> None:
    base = with_extra(run_doc(benches()), "aiohttp", served=1.0)
    cur = with_extra(run_doc(benches({"aiohttp": 0.5})), "aiohttp", served=0.7)
    result = compare_runs(base, cur)
    delta = by_key(result.absolute)["wl:s1:aiohttp"]
    assert delta.status is Status.LOST_WORK and delta.regression
    gate = decide(result, Thresholds())
    assert gate.exit_code == 1
    assert any("served 70% of the work" in reason for reason in gate.reasons)


# -- passes and confirmation ----------------------------------------------------------------------

def test_pass_to_pass_drift_is_not_a_regression_but_a_consistent_slowdown_is() -> None:
    """Each pass drifts by up to 8% as a whole (the machine), rounds within a pass are tight:
    a rounds-only test calls that drift significant, the pass-level test does not."""
    drift = [{t: f for t in BASE_TIMES} for f in (1.0, 1.08, 0.95)]
    base = parse_run(passes_doc(drift))
    shifted = parse_run(passes_doc([{t: 1.08 for t in BASE_TIMES}], seed=99))
    result = compare_runs(base, shifted, thresholds=Thresholds(default=0.05), mode="absolute")
    assert all(d.comparison.method == "passes" for d in result.compared)
    assert all(d.comparison.passes == (3, 1) for d in result.compared)
    assert not result.regressions  # +8% is within the baseline's own pass-to-pass spread
    rounds_only = compare_runs(make_run(benches()), shifted,
                               thresholds=Thresholds(default=0.05), mode="absolute")
    assert len(rounds_only.regressions) == 3  # ...which a one-pass baseline cannot know
    slow = parse_run(passes_doc([{t: f * 1.6 for t in BASE_TIMES} for f in (1.0, 1.05, 0.97)],
                                seed=50))
    caught = compare_runs(base, slow, mode="absolute")
    assert {d.key for d in caught.regressions} == {f"wl:s1:{t}" for t in BASE_TIMES}
    assert all(d.comparison.detectable is not None and d.comparison.detectable < 0.6
               for d in caught.compared)


def test_noisy_passes_are_flagged_as_unable_to_see_the_threshold() -> None:
    base = parse_run(passes_doc([{t: f for t in BASE_TIMES} for f in (1.0, 1.4, 0.7)]))
    result = compare_runs(base, parse_run(passes_doc([{}], seed=7)), mode="absolute")
    assert all(d.underpowered and d.comparison.detectable > 0.10 for d in result.compared)
    assert any("vary too much from pass to pass" in w for w in result.warnings)
    assert not any(w.startswith("one pass on each side") for w in result.warnings)
    md = to_markdown(result)
    assert "| 3/1 |" in md and "≥" in md



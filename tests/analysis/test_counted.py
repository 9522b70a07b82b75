"""The counted channels of a comparison: instructions per operation judged by their own
repeatability, and I/O per operation judged as behaviour (harness.analysis.counted)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.analysis.compare import compare_runs
from harness.analysis.counted import CountStatus
from harness.analysis.gate import decide
from harness.analysis.stats import Verdict, compare_count_replicates, compare_counts
from harness.config import Thresholds
from harness.results.runfile import Run, parse_run
from tests.helpers.runfiles import benches, run_doc

# Three counted rounds of an aiohttp twin as measured here: round 2 is 1.3% above the others,
# in every process (a collection falls in it), while the same round of two processes differs
# by 0.02%.
PATTERN = (37_662_890, 38_131_693, 37_522_060)
OPS = 100


def counted(doc: dict[str, Any], twin: str, rounds: list[float], *,
            io: dict[str, float] | None = None, params: dict[str, Any] | None = None,
            timed: bool = True) -> dict[str, Any]:
    """`doc` with `twin` counted: its instructions per round (and I/O per op)."""
    doc = copy.deepcopy(doc)
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        if info["twin"] != twin:
            continue
        info["instructions_per_round"] = [round(r) for r in rounds]
        info["instructions_per_op"] = round(sorted(rounds)[1] / OPS)
        info["counted"] = {"ops": OPS, "params": params or {"n": OPS},
                           "io_per_op": io or {"requests": 1.0}}
        if io is not None:
            info["io_per_op"] = dict(io)
    doc["twinbench"]["count"] = {"tool": "callgrind", "rounds": 3, "warmup_rounds": 1,
                                 "timed": timed, "valgrind": "3.19.0", "failures": {}}
    return doc


def pair(base_rounds: list[float], current_rounds: list[float], **kw: Any) -> tuple[Run, Run]:
    doc = run_doc(benches())
    return (parse_run(counted(doc, "aiohttp", base_rounds, **kw)),
            parse_run(counted(doc, "aiohttp", current_rounds, **kw)))


def scaled(rounds: tuple[int, ...], factor: float, jitter: float = 0.0) -> list[float]:
    return [r * factor * (1 + jitter * (-1) ** i) for i, r in enumerate(rounds)]


def instruction_delta(base: Run, current: Run, threshold: float = 0.02) -> Any:
    result = compare_runs(base, current, instructions=Thresholds(threshold))
    (delta,) = [d for d in result.counted.instructions if d.twin == "aiohttp"]
    return delta, result


def test_round_i_against_round_i_cancels_the_rounds_own_pattern() -> None:
    """The rounds of one run differ by 1.3%, the same rounds of two runs by 0.02%: pairing
    them by index sees the 0.02%, so 2% is plain and nothing is called costlier by noise."""
    base = list(PATTERN)
    same = scaled(PATTERN, 1.0, jitter=0.0002)
    costlier = scaled(PATTERN, 1.02, jitter=0.0002)
    c = compare_counts(base, same, threshold=0.02)
    assert c.verdict is Verdict.UNCHANGED
    assert c.detectable is not None and c.detectable < 0.005
    c = compare_counts(base, costlier, threshold=0.015)
    assert c.verdict is Verdict.SLOWER and c.ci_low > 1
    # Unpaired, the rounds' own 1.3% spread would hide a 2% change: the test must pair.
    shuffled = [costlier[1], costlier[2], costlier[0]]
    assert compare_counts(base, shuffled, threshold=0.015).verdict is Verdict.UNCHANGED


def test_replicates_that_disagree_cannot_tell_and_never_false_alarm() -> None:
    """An httpx thread pool under valgrind, measured: rounds 2% apart within a set-up, 2.8x
    apart between two set-ups. On rounds alone the second set-up reads as a regression; on
    replicates it reads as what it is, noise too wide to see 2% through."""
    first, second = [315e6, 302e6, 297e6], [878e6, 890e6, 876e6]
    assert compare_counts(first, second, threshold=0.02).verdict is Verdict.SLOWER
    c = compare_count_replicates([first, second], [[447e6, 446e6, 439e6], [823e6, 823e6,
                                                                           822e6]],
                                 threshold=0.02)
    assert c.verdict is Verdict.UNCHANGED and c.method == "replicates"
    assert c.detectable is not None and c.detectable > 1


def test_replicates_that_agree_see_two_percent() -> None:
    base = [[37_562_529, 38_009_845], [37_561_139, 38_016_439]]
    same = [[37_570_000, 38_001_000], [37_555_000, 38_020_000]]
    costlier = [[r * 1.02 for r in rep] for rep in same]
    assert compare_count_replicates(base, same, threshold=0.01).verdict is Verdict.UNCHANGED
    c = compare_count_replicates(base, costlier, threshold=0.01)
    assert c.verdict is Verdict.SLOWER
    assert c.detectable is not None and c.detectable < 0.005


def test_loose_rounds_are_underpowered_not_unchanged_with_confidence() -> None:
    """A thread pool's counts move with valgrind's scheduling (rounds 20% apart measured):
    "detects" says it cannot see 2%, and nothing is called costlier."""
    base = [289e6, 231e6, 202e6]
    current = [277e6, 275e6, 210e6]
    c = compare_counts(base, current, threshold=0.02)
    assert c.verdict is Verdict.UNCHANGED
    assert c.detectable is not None and c.detectable > 0.02


def test_identical_counts_make_any_change_significant_and_the_threshold_decide() -> None:
    base = [1000.0, 1000.0, 1000.0]
    assert compare_counts(base, [1010.0] * 3, threshold=0.02).verdict is Verdict.UNCHANGED
    assert compare_counts(base, [1030.0] * 3, threshold=0.02).verdict is Verdict.SLOWER
    assert compare_counts(base, [960.0] * 3, threshold=0.02).verdict is Verdict.FASTER
    with pytest.raises(ValueError):
        compare_counts([1.0], [1.0], threshold=0.02)


def test_a_costlier_twin_fails_the_gate_on_the_instructions_channel() -> None:
    base, current = pair(list(PATTERN), scaled(PATTERN, 1.05, jitter=0.0002))
    delta, result = instruction_delta(base, current)
    assert delta.verdict == "costlier" and delta.regression
    gate = decide(result, Thresholds())
    assert not gate.passed
    assert [channel for channel, _ in gate.caught] == ["instructions"]
    assert gate.reasons[0].startswith("instructions: wl:s1:aiohttp costs +5.")


def test_a_run_without_counts_is_no_baseline_not_unchanged() -> None:
    doc = run_doc(benches())
    base = parse_run(doc)
    current = parse_run(counted(doc, "aiohttp", list(PATTERN)))
    delta, result = instruction_delta(base, current)
    assert delta.status is CountStatus.NO_BASELINE and delta.verdict == "no baseline"
    assert any("no baseline" in w for w in result.warnings)
    assert decide(result, Thresholds()).passed
    delta, _ = instruction_delta(current, base)
    assert delta.status is CountStatus.NOT_COUNTED


def test_counts_at_other_sizes_are_not_compared() -> None:
    doc = run_doc(benches())
    base = parse_run(counted(doc, "aiohttp", list(PATTERN), params={"n": 100}))
    current = parse_run(counted(doc, "aiohttp", list(PATTERN), params={"n": 200}))
    delta, _ = instruction_delta(base, current)
    assert delta.status is CountStatus.PARAMS_DIFFER


def io_deltas(base_io: dict[str, float], current_io: dict[str, float],
              accept: bool = False) -> tuple[list[Any], Any]:
    doc = run_doc(benches())
    base = parse_run(counted(doc, "aiohttp", list(PATTERN), io=base_io))
    current = parse_run(counted(doc, "aiohttp", list(PATTERN), io=current_io))
    result = compare_runs(base, current, accept_io=lambda key: accept)
    return [d for d in result.counted.io if d.key == "wl:s1:aiohttp"], result


def test_a_change_of_requests_per_operation_is_a_behaviour_change() -> None:
    """keep-alive turned off: one connection per request where there were none."""
    same = {"requests": 1.0, "connections": 0.0, "bytes_sent": 155.0}
    deltas, result = io_deltas(same, {"requests": 1.0, "connections": 1.0, "bytes_sent": 176.0})
    by = {d.counter: d for d in deltas}
    assert by["connections"].regression and by["connections"].verdict == "behaviour change"
    assert not by["requests"].changed
    assert by["bytes_sent"].changed and not by["bytes_sent"].regression  # listed, not gated
    gate = decide(result, Thresholds())
    assert [channel for channel, _ in gate.caught] == ["I/O"]
    assert "connections opened per op 0 → 1" in gate.reasons[0]


def test_an_accepted_io_change_passes_and_says_so() -> None:
    deltas, result = io_deltas({"statements": 1.0}, {"statements": 5.0}, accept=True)
    (delta,) = deltas
    assert delta.behaviour_change and not delta.regression
    assert delta.verdict == "behaviour change (accepted)"
    assert decide(result, Thresholds()).passed


def test_a_pool_filling_in_another_round_is_not_a_behaviour_change() -> None:
    """A pool of C=10 may open its connections in whichever round: up to C per round is the
    same behaviour (100 ops per round here), one per op is not."""
    deltas, _ = io_deltas({"connections": 0.0}, {"connections": 0.05})
    assert not deltas[0].changed
    deltas, _ = io_deltas({"connections": 0.0}, {"connections": 0.5})
    assert deltas[0].regression


def test_a_counted_only_run_compares_no_times() -> None:
    doc = run_doc(benches())
    base = parse_run(counted(doc, "aiohttp", list(PATTERN)))
    current = parse_run(counted(doc, "aiohttp", list(PATTERN), timed=False))
    result = compare_runs(base, current)
    assert not result.timed and not result.compared
    assert all(d.verdict == "not timed" for d in result.absolute)
    gate = decide(result, Thresholds())  # the counted channels are enough to check
    assert gate.passed

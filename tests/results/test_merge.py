"""harness.passes.merge_passes and the pass split of a run file (BenchRecord.passes), on
synthetic pytest-benchmark-shaped documents with known answers."""

from __future__ import annotations

import copy
import statistics
from typing import Any

import pytest

from harness.results.merge import first_pass, merge_passes
from harness.results.runfile import SCHEMA_VERSION, RunFileError, parse_run

# Per pass: twin -> raw rounds. Two benchmarks, different round counts per pass.
PASS_1 = {"a": [0.010, 0.012, 0.011], "b": [0.020, 0.021, 0.022, 0.019]}
PASS_2 = {"a": [0.013, 0.014], "b": [0.025, 0.024, 0.026]}


def bench(twin: str, data: list[float], **extra: Any) -> dict[str, Any]:
    """One pytest-benchmark entry of workload "wl", scenario "s"; `extra` goes to extra_info."""
    s = sorted(data)
    med = statistics.median(s)
    info = {"workload": "wl", "twin": twin, "kind": "async", "label": twin, "scenario": "s",
            "params": {"n": 10}, "ops": 10, "checksum": "00", "ideal_s": None,
            "efficiency": None, **extra}
    return {
        "group": "wl:s", "name": f"test_twin[wl-s-{twin}]",
        "fullname": f"::test_twin[wl-s-{twin}]", "extra_info": info,
        "stats": {"data": list(data), "median": med, "q1": s[0], "q3": s[-1], "min": s[0],
                  "max": s[-1], "mean": statistics.fmean(s), "stddev": 0.0,
                  "rounds": len(s), "iterations": 1, "ops": 1 / med},
    }


def doc(benches: list[dict[str, Any]], outcomes: dict[str, dict[str, str]] | None = None,
        *, complete: bool = True, created: str = "2026-01-01T00:00:00+00:00") -> dict[str, Any]:
    """A run document of one pass. Outcomes default to "passed" for every benchmark."""
    if outcomes is None:
        outcomes = {}
    for b in benches:
        case = f"wl-s-{b['extra_info']['twin']}"
        outcomes.setdefault(case, {"outcome": "passed", "detail": ""})
    return {
        "machine_info": {}, "commit_info": {}, "datetime": "2026-01-01T00:00:00",
        "version": "5.1.0", "benchmarks": benches,
        "twinbench": {"schema": SCHEMA_VERSION, "harness_version": "0.1.0", "created": created,
                      "profile": "quick", "loop": "asyncio", "passes": 1,
                      "selection": {}, "outcomes": outcomes, "complete": complete},
    }


def pass_doc(rounds: dict[str, list[float]], **kw: Any) -> dict[str, Any]:
    return doc([bench(twin, data) for twin, data in rounds.items()], **kw)


def by_twin(merged: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["extra_info"]["twin"]: b for b in merged["benchmarks"]}


# -- data and stats -----------------------------------------------------------------------------

def test_two_passes_concatenate_rounds_and_recompute_stats() -> None:
    merged = merge_passes([pass_doc(PASS_1), pass_doc(PASS_2)])
    benches = by_twin(merged)
    assert set(benches) == {"a", "b"}
    for twin in ("a", "b"):
        data = PASS_1[twin] + PASS_2[twin]
        stats = benches[twin]["stats"]
        assert stats["data"] == data
        assert benches[twin]["extra_info"]["pass_rounds"] == [len(PASS_1[twin]),
                                                              len(PASS_2[twin])]
        assert stats["rounds"] == len(data)
        assert stats["median"] == pytest.approx(statistics.median(data), rel=1e-12)
        assert stats["min"] == min(data) and stats["max"] == max(data)
        assert stats["mean"] == pytest.approx(statistics.fmean(data), rel=1e-12)
    # The median is over all rounds, not the first pass's median carried over.
    assert benches["a"]["stats"]["median"] != statistics.median(PASS_1["a"])


def test_first_pass_undoes_a_merge() -> None:
    """What a check saw before it confirmed: the first pass's rounds, samples and stats."""
    one = pass_doc(PASS_1)
    for b in one["benchmarks"]:
        b["extra_info"]["cpu_s_per_round"] = [0.001] * len(b["stats"]["data"])
    two = pass_doc(PASS_2)
    for b in two["benchmarks"]:
        b["extra_info"]["cpu_s_per_round"] = [0.002] * len(b["stats"]["data"])
    merged = merge_passes([one, two])
    merged["twinbench"]["confirmation"] = {"passes": 1, "cases": ["wl-s-a"]}
    back = first_pass(merged)
    assert "confirmation" not in back["twinbench"] and back["twinbench"]["passes"] == 1
    for twin, bench_ in by_twin(back).items():
        assert bench_["stats"]["data"] == PASS_1[twin]
        assert bench_["stats"]["median"] == pytest.approx(statistics.median(PASS_1[twin]))
        assert bench_["extra_info"]["cpu_s_per_round"] == [0.001] * len(PASS_1[twin])
    record = {r.twin: r for r in parse_run(back).benchmarks}["b"]
    assert record.passes == (tuple(PASS_1["b"]),)
    assert by_twin(merged)["a"]["stats"]["data"] == PASS_1["a"] + PASS_2["a"]  # not mutated


def test_merge_does_not_modify_its_inputs() -> None:
    first, second = pass_doc(PASS_1), pass_doc(PASS_2)
    before = copy.deepcopy([first, second])
    merge_passes([first, second])
    assert [first, second] == before


def test_parse_run_splits_merged_rounds_back_into_passes() -> None:
    run = parse_run(merge_passes([pass_doc(PASS_1), pass_doc(PASS_2)]))
    records = {r.twin: r for r in run.benchmarks}
    for twin in ("a", "b"):
        assert records[twin].passes == (tuple(PASS_1[twin]), tuple(PASS_2[twin]))
        assert records[twin].pass_rounds == (len(PASS_1[twin]), len(PASS_2[twin]))
        assert records[twin].data == tuple(PASS_1[twin] + PASS_2[twin])
        assert "pass_rounds" not in records[twin].extra


def test_a_merged_run_merges_again_pass_by_pass() -> None:
    pass_3 = {"a": [0.015, 0.016, 0.017, 0.018], "b": [0.030]}
    merged = merge_passes([merge_passes([pass_doc(PASS_1), pass_doc(PASS_2)]),
                           pass_doc(pass_3)])
    records = {r.twin: r for r in parse_run(merged).benchmarks}
    for twin in ("a", "b"):
        assert records[twin].passes == (tuple(PASS_1[twin]), tuple(PASS_2[twin]),
                                         tuple(pass_3[twin]))


def test_single_pass_reads_as_one_pass() -> None:
    single = pass_doc(PASS_1)
    assert merge_passes([single]) is single
    record = {r.twin: r for r in parse_run(single).benchmarks}["a"]
    assert record.pass_rounds == ()
    assert record.passes == (tuple(PASS_1["a"]),)


def test_no_documents_is_an_error() -> None:
    with pytest.raises(ValueError):
        merge_passes([])


def test_metadata_comes_from_the_first_pass_and_complete_needs_every_pass() -> None:
    first = pass_doc(PASS_1, created="2026-01-01T00:00:00+00:00")
    second = pass_doc(PASS_2, created="2026-01-01T00:10:00+00:00", complete=False)
    merged = merge_passes([first, second])
    assert merged["twinbench"]["created"] == "2026-01-01T00:00:00+00:00"
    assert merged["twinbench"]["complete"] is False
    assert merge_passes([first, pass_doc(PASS_2)])["twinbench"]["complete"] is True


# -- outcomes -------------------------------------------------------------------------------------

def test_case_failing_in_pass_two_is_dropped_and_failed() -> None:
    failed = {"wl-s-b": {"outcome": "failed", "detail": "boom"}}
    merged = merge_passes([pass_doc(PASS_1), pass_doc(PASS_2, outcomes=failed)])
    assert set(by_twin(merged)) == {"a"}
    outcomes = merged["twinbench"]["outcomes"]
    assert outcomes["wl-s-b"]["outcome"] == "failed"
    assert outcomes["wl-s-b"]["detail"].startswith("pass 2:")
    assert "boom" in outcomes["wl-s-b"]["detail"]
    assert outcomes["wl-s-a"] == {"outcome": "passed", "detail": ""}
    assert {r.twin for r in parse_run(merged).benchmarks} == {"a"}


def test_case_failing_in_pass_one_without_an_entry_is_dropped() -> None:
    failed = {"wl-s-b": {"outcome": "failed", "detail": "crashed"}}
    first = pass_doc({"a": PASS_1["a"]}, outcomes=failed)
    merged = merge_passes([first, pass_doc(PASS_2)])
    assert set(by_twin(merged)) == {"a"}
    assert merged["twinbench"]["outcomes"]["wl-s-b"]["detail"].startswith("pass 1:")


def test_skip_in_one_pass_keeps_the_other_passes_rounds() -> None:
    skipped = {"wl-s-b": {"outcome": "skipped", "detail": "no peer"}}
    first = pass_doc({"a": PASS_1["a"]}, outcomes=skipped)
    merged = merge_passes([first, pass_doc(PASS_2)])
    outcome = merged["twinbench"]["outcomes"]["wl-s-b"]
    assert outcome["outcome"] == "skipped" and outcome["detail"].startswith("pass 1:")
    assert by_twin(merged)["b"]["stats"]["data"] == PASS_2["b"]


def test_checksum_change_between_passes_fails_the_case() -> None:
    first = doc([bench("a", PASS_1["a"]), bench("b", PASS_1["b"], checksum="00")])
    second = doc([bench("a", PASS_2["a"]), bench("b", PASS_2["b"], checksum="ff")])
    merged = merge_passes([first, second])
    assert set(by_twin(merged)) == {"a"}
    outcome = merged["twinbench"]["outcomes"]["wl-s-b"]
    assert outcome["outcome"] == "failed"
    assert "checksum" in outcome["detail"]
    assert "00" in outcome["detail"] and "ff" in outcome["detail"]


# -- extra_info --------------------------------------------------------------------------------

def three_passes(**per_pass: list[Any]) -> dict[str, Any]:
    """Merged extra_info of twin "a" over three passes with the given per-pass values."""
    docs = []
    for index, data in enumerate(([0.010, 0.011], [0.012, 0.013], [0.014, 0.015])):
        extra = {key: values[index] for key, values in per_pass.items()}
        docs.append(doc([bench("a", data, **extra)]))
    return merge_passes(docs)["benchmarks"][0]["extra_info"]


def test_numeric_extra_info_combines_worst_or_median() -> None:
    info = three_passes(errors=[0, 5, 2], timeouts=[1, 0, 0], served=[100, 97, 99],
                        latency_p99=[2.0, 10.0, 1.0])
    assert info["errors"] == 5  # worst: max
    assert info["timeouts"] == 1
    assert info["served"] == 97  # worst: min
    assert info["latency_p99"] == 2.0  # median: not the mean (4.33), not the last (1.0)


def test_loop_health_adds_up_over_the_passes_and_stays_a_valid_file() -> None:
    info = three_passes(loop_stalls=[1, 0, 2], tasks_leaked=[0, 0, 1],
                        loop_lag_max_s=[0.002, 0.030, 0.004], loop_lag_p99_s=[1.0, 3.0, 2.0],
                        stall_sites=[[{"where": "a.py:1", "count": 1}], [],
                                     [{"where": "b.py:2", "count": 1},
                                      {"where": "a.py:1", "count": 1}]])
    assert info["loop_stalls"] == 3 and isinstance(info["loop_stalls"], int)
    assert info["tasks_leaked"] == 1
    assert info["loop_lag_max_s"] == 0.030  # the worst pass
    assert info["loop_lag_p99_s"] == 2.0
    assert info["stall_sites"] == [{"where": "a.py:1", "count": 2},
                                   {"where": "b.py:2", "count": 1}]
    # what `bench check` re-reads after merging (a median of 1 and 2 stalls, 1.5, was refused)
    stalls = [doc([bench("a", [0.01, 0.02], loop_stalls=n)]) for n in (1, 2)]
    assert parse_run(merge_passes(stalls)).benchmarks[0].extra["loop_stalls"] == 3


def test_peer_busy_is_max_per_peer() -> None:
    info = three_passes(peer_busy=[{"http": 0.2, "pg": 0.9}, {"http": 0.7}, {"http": 0.4,
                                                                          "ws": 0.1}])
    assert info["peer_busy"] == {"http": 0.7, "pg": 0.9, "ws": 0.1}


def test_non_numeric_and_unmerged_extra_info_keep_the_last_value() -> None:
    info = three_passes(loop=["asyncio", "uvloop", "asyncio-x"], ops=[10, 20, 30],
                        flag=[True, False, True])
    assert info["loop"] == "asyncio-x"
    assert info["ops"] == 30
    assert info["flag"] is True  # a bool is not a number to take the median of


def test_efficiency_is_recomputed_from_the_merged_median() -> None:
    info = three_passes(ideal_s=[0.006, 0.006, 0.006], efficiency=[0.9, 0.1, 0.2])
    all_rounds = [0.010, 0.011, 0.012, 0.013, 0.014, 0.015]
    assert info["efficiency"] == pytest.approx(0.006 / statistics.median(all_rounds))
    assert info["pass_rounds"] == [2, 2, 2]


# -- parse_run validates pass_rounds --------------------------------------------------------------

@pytest.mark.parametrize("pass_rounds", [[2, 2], [3, 3], [5, 0], [2.0, 3.0], [True, 4],
                                         "5", [-1, 6]])
def test_parse_run_rejects_pass_rounds_not_adding_up(pass_rounds: Any) -> None:
    bad = pass_doc({"a": [0.1, 0.2, 0.3, 0.4, 0.5]})
    bad["benchmarks"][0]["extra_info"]["pass_rounds"] = pass_rounds
    with pytest.raises(RunFileError, match="pass_rounds"):
        parse_run(bad)


def test_parse_run_accepts_pass_rounds_adding_up() -> None:
    good = pass_doc({"a": [0.1, 0.2, 0.3, 0.4, 0.5]})
    good["benchmarks"][0]["extra_info"]["pass_rounds"] = [2, 3]
    assert parse_run(good).benchmarks[0].passes == ((0.1, 0.2), (0.3, 0.4, 0.5))

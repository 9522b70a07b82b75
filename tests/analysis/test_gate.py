"""The gate's pure decisions: which benchmarks are suspects and what confirmation re-measures."""

from __future__ import annotations

from harness.analysis.compare import compare_runs
from harness.analysis.gate import confirmation_cases, suspects, to_confirm
from tests.helpers.runfiles import benches, make_run


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



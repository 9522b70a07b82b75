"""Many runs in the order given: each benchmark's score in every run, a gap where a run lacks
it, and the runs' parameters compared."""

from __future__ import annotations

import pytest

from harness.analysis.trend import trend
from harness.errors import BadInput
from harness.results.runfile import parse_run
from tests.helpers.runfiles import benches, make_run, run_doc, summary_bench, summary_run


def test_each_benchmark_in_the_order_given_with_gaps() -> None:
    first = make_run(benches())
    slower = make_run(benches({"aiohttp": 1.5}, seed=20))
    without = make_run([b for b in benches(seed=30) if b[2] != "aiohttp"])
    (group,) = trend([first, without, slower])
    assert (group.workload, group.scenario, group.params_differ) == ("wl", "s1", False)
    assert [s.twin for s in group.series] == ["requests", "requests-threads", "aiohttp"]
    aiohttp = group.series[-1]
    assert aiohttp.points[1] is None  # not in the second run
    assert aiohttp.change == pytest.approx(0.5, abs=0.03)
    first_point = aiohttp.points[0]
    assert first_point is not None
    assert first_point.value == first.benchmarks[2].median
    assert (first_point.low, first_point.high) == (first.benchmarks[2].q1,
                                                    first.benchmarks[2].q3)


def test_a_scenario_judged_by_a_metric_follows_that_metric() -> None:
    run = summary_run(summary_bench("t", "threads", 1.0, judged_by="p99_s", p99_s=0.02,
                                    p99_s_per_round=[0.01, 0.02, 0.03]),
                      summary_bench("a", "async", 1.0, judged_by="p99_s", p99_s=0.005))
    (group,) = trend([run, run])
    assert group.judged_by == "p99_s"
    t, a = (s.points[0] for s in group.series)
    assert t is not None and (t.value, t.low, t.high) == (0.02, 0.015, 0.025)
    assert a is not None and (a.value, a.low, a.high) == (0.005, 0.005, 0.005)


def test_changed_parameters_are_flagged() -> None:
    a = make_run(benches())
    b = parse_run(run_doc(benches(seed=5), params={"n": 200, "concurrency": 10,
                                                   "latency_ms": 2}))
    (group,) = trend([a, b])
    assert group.params_differ


def test_runs_with_nothing_in_common_are_refused() -> None:
    other = make_run([("other", "s", "t", "sync", [0.1, 0.1])])
    with pytest.raises(BadInput, match="share no benchmark"):
        trend([make_run(benches()), other])

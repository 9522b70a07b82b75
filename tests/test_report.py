"""Report arithmetic on hand-made runs whose answers are known."""

from __future__ import annotations

from typing import Any

import pytest

from harness.report import describe_params, fmt_seconds, summarize
from harness.results import SCHEMA_VERSION, parse_run

PARAMS = {"n": 200, "concurrency": 50, "latency_ms": 20}


def bench(twin: str, kind: str, median: float, scenario: str = "latency",
          **extra: Any) -> dict[str, Any]:
    data = [median * 0.9, median, median * 1.1]
    return {
        "name": f"test_twin[w-{scenario}-{twin}]", "group": f"w:{scenario}",
        "stats": {"median": median, "q1": median * 0.95, "q3": median * 1.05, "data": data},
        "extra_info": {"workload": "w", "twin": twin, "kind": kind, "label": f"{twin} label",
                       "scenario": scenario, "params": PARAMS, "ops": 200, "checksum": "ab",
                       "ideal_s": 0.08, "efficiency": 0.08 / median, **extra},
    }


def make_run(*benches: dict[str, Any]) -> Any:
    return parse_run({"benchmarks": list(benches),
                      "twinbench": {"schema": SCHEMA_VERSION, "profile": "default"}})


def test_speedups_against_sequential_and_best_sync() -> None:
    run = make_run(bench("seq", "sync", 4.0), bench("threads", "threads", 0.2),
                   bench("aio", "async", 0.1), bench("slow-aio", "async", 0.4))
    (summary,) = summarize(run)
    rows = {row.record.twin: row for row in summary.rows}
    assert rows["aio"].vs_sequential == pytest.approx(40.0)
    assert rows["aio"].vs_best_sync == pytest.approx(2.0)
    assert rows["slow-aio"].vs_best_sync == pytest.approx(0.5)
    assert rows["seq"].vs_best_sync == pytest.approx(0.05)
    assert summary.best_sync.twin == "threads"
    assert summary.best_async.twin == "aio"
    assert summary.async_speedup == pytest.approx(2.0)
    assert summary.verdict() == ("aio label is 2.00x faster than the best sync twin "
                                 "(threads label) at N=200, C=50, L=20 ms")


def test_verdict_says_when_async_loses() -> None:
    run = make_run(bench("seq", "sync", 1.0), bench("aio", "async", 1.25))
    (summary,) = summarize(run)
    assert summary.async_speedup == pytest.approx(0.8)
    assert summary.verdict().startswith("aio label is 1.25x slower than the best sync twin")


def test_groups_by_scenario_in_run_order() -> None:
    run = make_run(bench("seq", "sync", 1.0, "b"), bench("aio", "async", 0.5, "b"),
                   bench("seq", "sync", 2.0, "a"))
    summaries = summarize(run)
    assert [s.scenario for s in summaries] == ["b", "a"]
    assert summaries[1].verdict().startswith("no verdict")


def test_ops_per_second_and_formatting() -> None:
    run = make_run(bench("seq", "sync", 0.5))
    assert run.benchmarks[0].ops_per_s == pytest.approx(400.0)
    assert run.benchmarks[0].iqr == pytest.approx(0.05)
    assert fmt_seconds(2.5) == "2.50 s"
    assert fmt_seconds(0.0125) == "12.5 ms"
    assert fmt_seconds(0.000042) == "42 µs"
    assert describe_params(PARAMS) == "N=200, C=50, L=20 ms"


def test_open_loop_scenarios_are_judged_by_their_metric() -> None:
    """Wall time is fixed by the schedule; p99 tells the twins apart."""
    run = make_run(bench("threaded", "threads", 1.50, judged_by="p99_s", p99_s=0.020),
                   bench("aio", "async", 1.51, judged_by="p99_s", p99_s=0.005))
    (summary,) = summarize(run)
    assert summary.async_speedup == pytest.approx(4.0)
    assert summary.verdict().startswith("aio label is 4.00x lower p99_s than the best sync")
    rows = {row.record.twin: row for row in summary.rows}
    assert rows["aio"].vs_best_sync == pytest.approx(4.0)


def test_twin_that_dropped_work_cannot_be_best() -> None:
    run = make_run(bench("threaded", "threads", 0.5, served=0.7),
                   bench("seq", "sync", 2.0), bench("aio", "async", 1.0, served=1.0))
    (summary,) = summarize(run)
    assert summary.best_sync.twin == "seq"
    assert summary.async_speedup == pytest.approx(2.0)

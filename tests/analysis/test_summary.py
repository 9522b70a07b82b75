"""Per-scenario arithmetic on hand-made runs whose answers are known."""

from __future__ import annotations

import pytest

from harness.analysis.summary import summarize
from tests.helpers.runfiles import summary_bench as bench
from tests.helpers.runfiles import summary_run as make_run


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


def test_async_can_lose() -> None:
    run = make_run(bench("seq", "sync", 1.0), bench("aio", "async", 1.25))
    (summary,) = summarize(run)
    assert summary.async_speedup == pytest.approx(0.8)


def test_groups_by_scenario_in_run_order() -> None:
    run = make_run(bench("seq", "sync", 1.0, "b"), bench("aio", "async", 0.5, "b"),
                   bench("seq", "sync", 2.0, "a"))
    summaries = summarize(run)
    assert [s.scenario for s in summaries] == ["b", "a"]
    assert summaries[1].async_speedup is None and summaries[1].best_async is None


def test_ops_per_second() -> None:
    run = make_run(bench("seq", "sync", 0.5))
    assert run.benchmarks[0].ops_per_s == pytest.approx(400.0)
    assert run.benchmarks[0].iqr == pytest.approx(0.05)


def test_open_loop_scenarios_are_judged_by_their_metric() -> None:
    """Wall time is fixed by the schedule; p99 tells the twins apart."""
    run = make_run(bench("threaded", "threads", 1.50, judged_by="p99_s", p99_s=0.020),
                   bench("aio", "async", 1.51, judged_by="p99_s", p99_s=0.005))
    (summary,) = summarize(run)
    assert summary.async_speedup == pytest.approx(4.0)
    rows = {row.record.twin: row for row in summary.rows}
    assert rows["aio"].vs_best_sync == pytest.approx(4.0)


def test_twin_that_dropped_work_cannot_be_best() -> None:
    run = make_run(bench("threaded", "threads", 0.5, served=0.7),
                   bench("seq", "sync", 2.0), bench("aio", "async", 1.0, served=1.0))
    (summary,) = summarize(run)
    assert summary.best_sync.twin == "seq"
    assert summary.async_speedup == pytest.approx(2.0)

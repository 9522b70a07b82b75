"""The terminal rendering of a run: the verdict line and the number formats."""

from __future__ import annotations

from harness.analysis.summary import summarize
from harness.render.fmt import describe_params, fmt_seconds
from harness.render.run import verdict_line
from tests.helpers.runfiles import SUMMARY_PARAMS
from tests.helpers.runfiles import summary_bench as bench
from tests.helpers.runfiles import summary_run as make_run


def test_verdict_names_the_winner_against_the_best_sync_twin() -> None:
    run = make_run(bench("seq", "sync", 4.0), bench("threads", "threads", 0.2),
                   bench("aio", "async", 0.1), bench("slow-aio", "async", 0.4))
    (summary,) = summarize(run)
    assert verdict_line(summary) == ("aio label is 2.00x faster than the best sync twin "
                                     "(threads label) at N=200, C=50, L=20 ms")


def test_verdict_says_when_async_loses() -> None:
    run = make_run(bench("seq", "sync", 1.0), bench("aio", "async", 1.25))
    (summary,) = summarize(run)
    assert verdict_line(summary).startswith("aio label is 1.25x slower than the best sync twin")


def test_no_verdict_without_both_kinds() -> None:
    (summary,) = summarize(make_run(bench("seq", "sync", 2.0, "a")))
    assert verdict_line(summary).startswith("no verdict")


def test_open_loop_verdict_names_the_metric() -> None:
    run = make_run(bench("threaded", "threads", 1.50, judged_by="p99_s", p99_s=0.020),
                   bench("aio", "async", 1.51, judged_by="p99_s", p99_s=0.005))
    (summary,) = summarize(run)
    assert verdict_line(summary).startswith("aio label is 4.00x lower p99_s than the best sync")


def test_formatting() -> None:
    assert fmt_seconds(2.5) == "2.50 s"
    assert fmt_seconds(0.0125) == "12.5 ms"
    assert fmt_seconds(0.000042) == "42 µs"
    assert describe_params(SUMMARY_PARAMS) == "N=200, C=50, L=20 ms"

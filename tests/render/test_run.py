"""The terminal rendering of a run: verdict lines that carry their uncertainty, the summary,
the number formats."""

from __future__ import annotations

import io
import random
import re
from typing import Any

from rich.console import Console

from harness.analysis.summary import summarize
from harness.render.fmt import describe_params, fmt_seconds
from harness.render.run import metric_name, summary_table, verdict_line
from harness.results.runfile import parse_run
from tests.helpers.runfiles import SUMMARY_PARAMS, lognormal, summary_bench


def run_of(*twins: tuple[str, str, float], n: int = 10, seed: int = 1, **extra: Any) -> Any:
    """A one-scenario run whose twins' rounds scatter 5% around the given medians."""
    rng = random.Random(seed)
    benches = []
    for twin, kind, median in twins:
        bench = summary_bench(twin, kind, median, **extra)
        data = lognormal(rng, n, median)
        s = sorted(data)
        bench["stats"].update(data=data, median=(s[(n - 1) // 2] + s[n // 2]) / 2,
                              q1=s[(n - 1) // 4], q3=s[(3 * n) // 4])
        benches.append(bench)
    return parse_run({"benchmarks": benches,
                      "twinbench": {"schema": 3, "profile": "default"}})


def line(run: Any) -> str:
    (summary,) = summarize(run)
    return verdict_line(summary)


def test_a_winner_is_named_with_its_interval() -> None:
    text = line(run_of(("seq", "sync", 4.0), ("threads", "threads", 0.2),
                       ("aio", "async", 0.1), ("slow-aio", "async", 0.4)))
    assert re.fullmatch(r"aio label is 2\.0\dx faster than the best sync twin \(threads label, "
                        r"95% CI 1\.\d\d\u20132\.\d\dx\) at N=200, C=50, L=20 ms", text), text


def test_a_loss_is_named_as_one() -> None:
    text = line(run_of(("seq", "sync", 1.0), ("aio", "async", 1.25)))
    assert (text.startswith("aio label is 1.2") and " slower than the best sync twin " \
        "(seq label, 95% CI 1.1" in text) or "(seq label, 95% CI 1.2" in text, text


def test_a_tie_says_within_the_smallest_effect() -> None:
    text = line(run_of(("seq", "sync", 1.0), ("aio", "async", 1.0), seed=4))
    assert text.startswith("aio label and seq label are within 5% of each other (1.00x, ")
    assert re.search(r"95% CI 0\.9\d\u20131\.0\dx\) at N=200", text), text


def test_after_a_tie_the_cpu_clause_names_its_twin() -> None:
    run = run_of(("seq", "sync", 1.0), ("aio", "async", 1.0), seed=4)
    rng = random.Random(9)
    for bench, per_op in zip(run.doc["benchmarks"], (400e-6, 100e-6), strict=True):
        bench["extra_info"]["cpu_s_per_round"] = [per_op * 200 * x
                                                  for x in lognormal(rng, 10, 1.0)]
    text = line(parse_run(run.doc))
    assert "within 5% of each other" in text
    assert re.search(r"; aio label uses [34]\.\d\dx less CPU per op$", text), text


def test_three_rounds_cannot_tell() -> None:
    text = line(run_of(("seq", "sync", 2.0), ("aio", "async", 1.0), n=3))
    assert re.search(r"looks [12]\.\d\dx faster", text), text
    assert "3 and 3 rounds cannot show any difference is not noise" in text


def test_open_loop_verdict_names_the_metric_naturally() -> None:
    run = run_of(("threaded", "threads", 1.50), ("aio", "async", 1.51), judged_by="p99_s",
                 p99_s=0.020)
    for bench, p99 in zip(run.doc["benchmarks"], (0.020, 0.005), strict=True):
        bench["extra_info"]["p99_s"] = p99
        bench["extra_info"]["p99_s_per_round"] = lognormal(random.Random(p99), 10, p99)
    text = line(parse_run(run.doc))
    assert "lower p99 latency than the best sync twin" in text and "p99_s" not in text
    assert metric_name("p50_s") == "p50 latency" and metric_name(None) == "time"


def test_the_cpu_comparison_joins_the_line_when_significant() -> None:
    run = run_of(("seq", "sync", 0.2), ("aio", "async", 0.1))
    rng = random.Random(9)
    for bench, per_op in zip(run.doc["benchmarks"], (400e-6, 100e-6), strict=True):
        bench["extra_info"]["cpu_s_per_round"] = [per_op * 200 * x
                                                  for x in lognormal(rng, 10, 1.0)]
    text = line(parse_run(run.doc))
    assert re.search(r", and uses [34]\.\d\dx less CPU per op$", text), text


def test_the_summary_has_one_row_per_scenario() -> None:
    table = summary_table(run_of(("seq", "sync", 0.2), ("aio", "async", 0.1)))
    assert table is not None
    out = io.StringIO()
    Console(file=out, width=160).print(table)
    assert "w · latency" in out.getvalue() and "faster" in out.getvalue()


def test_formatting() -> None:
    assert fmt_seconds(2.5) == "2.50 s"
    assert fmt_seconds(0.0125) == "12.5 ms"
    assert fmt_seconds(0.000042) == "42 µs"
    assert describe_params(SUMMARY_PARAMS) == "N=200, C=50, L=20 ms"


def library_of(run: Any, libraries: dict[str, tuple[str, str]]) -> Any:
    """The run again with each twin's library and core declared."""
    doc = run.doc
    for bench in doc["benchmarks"]:
        library, core = libraries[bench["extra_info"]["twin"]]
        bench["extra_info"].update(library=library, core=core)
    return parse_run(doc)


def test_the_answer_splits_the_model_from_the_library() -> None:
    run = library_of(run_of(("py-threads", "threads", 0.4), ("c-threads", "threads", 0.3),
                            ("c-aio", "async", 0.15), ("fast-aio", "async", 0.05)),
                     {"py-threads": ("py", "Python"), "c-threads": ("curl", "C"),
                      "c-aio": ("curl", "C"), "fast-aio": ("fastlib", "C")})
    text = line(run)
    assert text.startswith("fast-aio label is 6.")  # the headline: another library
    assert re.search(r"\. With the library held fixed \(curl: c-aio against c-threads\), "
                     r"async is 2\.\d\dx faster \(95% CI 1\.\d\d\u20132\.\d\dx\)$", text), text
    table = summary_table(run)
    assert table is not None
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    assert "async model alone" in out.getvalue()
    assert re.search(r"2\.\d\dx \(1\.\d\d\u20132\.\d\d\) │ ", out.getvalue()), out.getvalue()
    assert re.search(r"│ +curl │", out.getvalue()), out.getvalue()  # the cell's second line


def test_the_kind_column_shows_what_does_the_io() -> None:
    from harness.render.run import scenario_texts

    run = library_of(run_of(("c-threads", "threads", 0.3), ("c-aio", "async", 0.15)),
                     {"c-threads": ("curl", "C"), "c-aio": ("curl", "Cython")})
    (summary,) = summarize(run)
    texts = scenario_texts(summary, [], True)
    kinds = [row[1] for row in texts[0].rows]
    assert kinds == ["threads · C", "async · Cython"]
    # the best pair is the same library: the line does not say the same thing twice
    assert "held fixed" not in line(run)

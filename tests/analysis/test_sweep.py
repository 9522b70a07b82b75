"""The crossover on synthetic sweeps with known answers: where the verdict changes along the
primary axis, interpolated on the log scale, and the rows where it never does."""

from __future__ import annotations

import pytest

from harness.analysis.sweep import analyse, primary_axis
from harness.render.sweep import crossover_line, grids
from harness.results.runfile import parse_run
from tests.helpers.runfiles import LATENCIES, sweep_run


def test_the_crossover_is_interpolated_on_the_log_scale_between_its_grid_points() -> None:
    result = analyse(sweep_run({
        4: {0: 0.5, 1: 0.7, 2: 2.0, 5: 3.0, 10: 4.0},  # loses below 2 ms, wins from 2 ms
        16: {0: 2.0, 1: 2.5, 2: 3.0, 5: 4.0, 10: 5.0},  # wins everywhere
        64: {0: 0.5, 1: 0.5, 2: 0.6, 5: 0.5, 10: 0.6},  # never
    }))
    assert result is not None and result.primary == "latency_ms"
    rows = {c.fixed["concurrency"]: c for c in result.crossovers}
    (change,) = rows[4].changes
    assert change.starts and (change.low, change.high) == (1, 2)
    # log s goes from log 0.7 to log 2 as log L goes from log 1 to log 2: s = 1 at
    # L = 2 ** (-log 0.7 / (log 2 - log 0.7)) ~ 1.27 ms (the measured speedups scatter a bit)
    assert change.at == pytest.approx(1.266, rel=0.05)
    assert crossover_line(rows[4]) == ("C=4: async starts to pay between L=1 ms and 2 ms "
                                       "(speedup crosses 1 at about 1.25 ms)")
    assert rows[16].everywhere and crossover_line(rows[16]) == \
        "C=16: async wins everywhere swept (L=0 ms to 10 ms)"
    assert rows[64].never and "async never wins in the swept range" in crossover_line(rows[64])
    assert [p.reason for p in result.points if p.scenario is None] == ["too big"]


def test_async_stops_paying_as_the_cpu_per_operation_grows() -> None:
    run = sweep_run({16: {0: 3.0, 1: 2.0, 2: 1.5, 5: 0.8, 10: 0.5}})
    for axis in run.doc["twinbench"]["sweep"]["axes"]:
        if axis["name"] == "latency_ms":
            axis["name"] = "cpu_us"
    for point in run.doc["twinbench"]["sweep"]["points"]:
        point["values"]["cpu_us"] = point["values"].pop("latency_ms")
    result = analyse(parse_run(run.doc))
    assert result.primary == "cpu_us"
    (change,) = result.crossovers[0].changes
    assert not change.starts and (change.low, change.high) == (2, 5)
    assert "async stops paying between cpu_us=2 µs and 5 µs" in crossover_line(
        result.crossovers[0])


def test_an_interval_without_a_straddle_has_no_interpolated_point() -> None:
    # Quiet rounds: at L=0 the async twin is 2% faster, a tie at the smallest effect of 5%;
    # from L=1 on it is clearly faster. Both ends are above 1: nothing to interpolate.
    result = analyse(sweep_run({4: {0: 1.02, 1: 1.1, 2: 4.0, 5: 4.0, 10: 4.0}}, sigma=0.005))
    points = {p.values["latency_ms"]: p.matchup for p in result.points if p.matchup}
    assert points[0].call.value == "tie" and points[0].point > 1
    assert points[1].call.value == "faster"
    (change,) = result.crossovers[0].changes
    assert (change.low, change.high) == (0, 1) and change.at is None


def test_the_grid_has_a_row_per_concurrency_and_a_column_per_latency() -> None:
    result = analyse(sweep_run({4: dict.fromkeys(LATENCIES, 2.0),
                                16: dict.fromkeys(LATENCIES, 0.5)}))
    (table,) = grids(result)
    assert [c.header for c in table.columns] == ["concurrency", "L=0 ms", "L=1 ms", "L=2 ms",
                                                 "L=5 ms", "L=10 ms"]
    assert table.row_count == 2


def test_primary_axis_prefers_latency_then_cpu() -> None:
    assert primary_axis([("concurrency", (1, 2)), ("latency_ms", (1, 2))]) == "latency_ms"
    assert primary_axis([("concurrency", (1, 2)), ("cpu_us", (1, 2))]) == "cpu_us"
    assert primary_axis([("size", (1,)), ("concurrency", (1, 2))]) == "concurrency"
    # `--vary latency_ms=2` fixes the latency: the line runs along the CPU work
    assert primary_axis([("cpu_us", (0, 50, 200)), ("concurrency", (16,)),
                         ("latency_ms", (2,))]) == "cpu_us"


def test_the_async_model_alone_gets_its_own_map_where_a_library_has_both_models() -> None:
    import io

    from rich.console import Console

    from harness.render.sweep import render_sweep

    run = sweep_run({10: {latency: 2.0 for latency in LATENCIES}})
    assert analyse(run, model=True) is None  # no library declared: no pair, no second map
    doc = run.doc
    for bench in doc["benchmarks"]:
        bench["extra_info"]["library"] = "lib"
    run = parse_run(doc)
    headline, model = analyse(run), analyse(run, model=True)
    assert headline is not None and model is not None and model.model
    assert [p.matchup.point for p in model.points if p.matchup] == pytest.approx(
        [p.matchup.point for p in headline.points if p.matchup])
    out = io.StringIO()
    render_sweep(headline, Console(file=out, width=200), model)
    text = out.getvalue()
    assert "wl · base: best async twin over best sync twin" in text
    assert "wl · base: the async model alone (a library's async twin over its own sync twin)" \
        in text

"""Sweeps: parsing the grid, planning its points, and a sweep being an ordinary run."""

from __future__ import annotations

import pytest

from harness.errors import BadInput
from harness.model.registry import Selection, discover
from harness.run.profiles import PROFILES
from harness.run.runner import RunRequest, execute, request_like
from harness.run.sweep import Axis, SweepSpec, default_spec, parse_vary, plan
from tests.run.test_cost import WORKLOAD as NAPS

REGISTRY = discover()


@pytest.mark.parametrize(("text", "values"), [
    ("concurrency=1,4,16", (1, 4, 16)),
    ("concurrency=1..256*4", (1, 4, 16, 64, 256)),
    ("latency_ms=0..50+10", (0, 10, 20, 30, 40, 50)),
    ("cpu_us=0,12.5, 50", (0, 12.5, 50)),
    ("latency_ms=2.0", (2,)),
])
def test_vary_is_a_list_or_a_range(text: str, values: tuple[float, ...]) -> None:
    axis = parse_vary(text)
    assert axis.values == values and axis.name == text.split("=")[0]


@pytest.mark.parametrize(("text", "message"), [
    ("concurrency", "write NAME=V1,V2"),
    ("=1,2", "write NAME=V1,V2"),
    ("concurrency=1,x", "'x' is not a number"),
    ("concurrency=1,1", "a value repeats"),
    ("concurrency=8..1*2", "runs backwards"),
    ("concurrency=1..8*1", "never reaches 8"),
    ("concurrency=0..8*2", "never reaches 8"),
    ("latency_ms=-1,2", "must not be negative"),
    ("latency_ms=nan", "not a finite number"),
    ("n=1..100000+1", "more than 64 values"),
])
def test_bad_grids_are_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_vary(text)


def test_names_are_checked_against_the_workloads_parameters() -> None:
    http = REGISTRY["http_fetch"]
    spec = SweepSpec("http_fetch", "latency-bound", (Axis("latncy_ms", (1, 2)),))
    with pytest.raises(BadInput, match="no such parameter; choose from: n, concurrency, "
                                       "latency_ms, size, tls, keepalive, cpu_us"):
        plan(http, spec, PROFILES["quick"])
    tcp = REGISTRY["tcp_server"]
    with pytest.raises(BadInput, match="twins are servers"):
        plan(tcp, SweepSpec("tcp_server", "c10", (Axis("cpu_us", (1,)),)), PROFILES["quick"])
    big = SweepSpec("http_fetch", "overhead", (Axis("n", tuple(range(1, 12))),
                                               Axis("concurrency", tuple(range(1, 11)))))
    with pytest.raises(BadInput, match="110 points, more than --max-points 100"):
        plan(http, big, PROFILES["quick"], max_points=100)
    with pytest.raises(BadInput, match="unknown scenario 'nope' of http_fetch"):
        default_spec(http, "nope", [])


def test_the_declared_map_sizes_points_in_waves_and_names_them() -> None:
    http = REGISTRY["http_fetch"]
    spec, twins = default_spec(http, None, [])
    assert spec.scenario == "latency-bound" and spec.waves == 16
    assert [a.name for a in spec.axes] == ["latency_ms", "concurrency"]
    assert "requests" not in twins and "aiohttp" in twins
    planned = plan(http, spec, PROFILES["default"])
    assert len(planned.points) == 35 and not planned.skipped
    point = planned.workload.scenario("latency-bound[latency_ms=2,concurrency=16]")
    assert point.params["n"] == 16 * 16 and point.params["latency_ms"] == 2
    # An explicit N is the user's: no waves, and a point with C > N cannot run.
    spec, _ = default_spec(http, None, [Axis("n", (8,)), Axis("concurrency", (4, 16))])
    planned = plan(http, spec, PROFILES["default"])
    assert [p.values for p in planned.points] == [{"n": 8, "concurrency": 4}]
    assert "concurrency 16 > N 8" in planned.skipped[0][1]


@pytest.mark.parametrize("name", [n for n, w in REGISTRY.items()
                                  if w.sweeps and any(s.waves for s in w.sweeps)])
def test_a_profile_scales_the_waves_so_every_declared_point_runs(name: str) -> None:
    """quick's 10% of pg_queries' 8 waves was 0.8 of a wave, N < C: 15 of 25 points were
    skipped. The profile scales the waves, to at least one, and N is not scaled again."""
    workload = REGISTRY[name]
    spec, _ = default_spec(workload, None, [])
    assert spec.waves
    for profile in PROFILES.values():
        planned = plan(workload, spec, profile)
        assert not planned.skipped, planned.skipped
        waves = max(1, round(spec.waves * profile.scale))
        for scenario in planned.workload.scenarios:
            measured = planned.workload.params_for(scenario, profile.scale)
            assert measured["n"] == waves * measured["concurrency"]


def test_a_sweep_is_an_ordinary_run_with_a_sweep_block() -> None:
    spec = SweepSpec("cost", "s", (Axis("concurrency", (2, 4)), Axis("cpu_us", (0, 200))),
                     rounds=4)
    request = RunRequest(Selection(("cost",), ("pool", "tasks")), profile="quick", sweep=spec)
    result = execute(request, registry={"cost": NAPS})
    assert result.exit_code == 0 and result.run is not None
    run = result.run
    scenarios = {r.scenario for r in run.benchmarks}
    assert scenarios == {"s[concurrency=2,cpu_us=0]", "s[concurrency=2,cpu_us=200]",
                         "s[concurrency=4,cpu_us=0]", "s[concurrency=4,cpu_us=200]"}
    block = run.meta["sweep"]
    assert block["workload"] == "cost" and len(block["points"]) == 4
    # the spec's rounds beat quick's 3, and the file keeps them for `check` to re-measure so
    assert {len(r.data) for r in run.benchmarks} == {4} and block["rounds"] == 4
    burning = [r for r in run.benchmarks if r.params["cpu_us"] == 200]
    # Every twin did the same CPU work after each op, proven like the checksum...
    assert len({r.extra["cpu_proof"] for r in burning}) == 1
    assert all(r.extra["cpu_work_steps"] > 0 for r in burning)
    # ...and it shows: 200 µs per op on top of a 4 ms sleep.
    for r in burning:
        assert r.cpu_per_op >= 150e-6
    # bench check re-measures the same points.
    again = request_like(run.meta)
    assert again.sweep == spec

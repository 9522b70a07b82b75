"""`bench sweep` end to end against the real HTTP peer at a tiny size: the map, the crossover
lines, the saved file, physics at every point, and bad input before anything runs."""

from __future__ import annotations

import json
import math

import pytest

from tests.helpers.cli import Swept, bench, invoke


def test_the_map_and_the_crossover_lines(swept: Swept) -> None:
    result, _, _ = swept
    assert result.stderr.startswith("sweeping http_fetch · latency-bound over latency_ms (2) "
                                    "× concurrency (2): 4 points × 3 twins = 12 benchmarks, "
                                    "6 rounds each; about ")
    assert "http_fetch · latency-bound: best async twin over best sync twin" in result.stdout
    assert "L=0 ms" in result.stdout and "L=5 ms" in result.stdout
    crossover = result.stdout[result.stdout.index("crossover along latency_ms:"):]
    assert "  C=2: " in crossover and "  C=4: " in crossover


def test_the_sweep_wrote_its_html_report(swept: Swept) -> None:
    result, _, page = swept
    assert f"wrote the report {page} (" in result.stderr
    text = page.read_text()
    assert "<h2>Where async starts to pay: http_fetch · latency-bound</h2>" in text
    assert text.count("<figure>") == 2  # the heatmap and the speedup lines: one grid
    assert "Crossover along latency_ms" in text and "C=2: " in text


def test_physics_holds_at_every_point(swept: Swept) -> None:
    """No twin beats ceil(N/C)·L, the sequential one never beats N·L: a faster-than-physics
    number would mean the latency was not applied."""
    _, path, _ = swept
    doc = json.loads(path.read_text())
    assert len(doc["twinbench"]["sweep"]["points"]) == 4
    assert len(doc["benchmarks"]) == 12
    # quick's 3 rounds could never give a point a verdict; the sweep measures the 6 it needs
    assert {len(b["stats"]["data"]) for b in doc["benchmarks"]} == {6}
    for b in doc["benchmarks"]:
        info = b["extra_info"]
        p = info["params"]
        n, c, latency = p["n"], p["concurrency"], p["latency_ms"] / 1000
        fastest = min(b["stats"]["data"])
        assert fastest >= math.ceil(n / c) * latency
        assert info["ideal_s"] == (pytest.approx(math.ceil(n / c) * latency) if latency
                                   else None)
        if info["kind"] == "sync":
            assert fastest >= n * latency


def test_show_draws_a_saved_sweep_and_compare_goes_point_by_point(swept: Swept) -> None:
    _, path, _ = swept
    shown = bench("show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "crossover along latency_ms:" in shown.stdout
    assert "http_fetch · latency-bound[latency_ms=5,concurrency=4] —" not in shown.stdout
    detailed = bench("show", str(path), "--details")
    assert "http_fetch · latency-bound[latency_ms=5,concurrency=4] —" in detailed.stdout
    compared = bench("compare", str(path), str(path), "--format", "json")
    assert compared.returncode == 0, compared.stderr
    keys = {b["key"] for b in json.loads(compared.stdout)["benchmarks"]}
    assert "http_fetch:latency-bound[latency_ms=5,concurrency=4]:aiohttp" in keys
    assert len(keys) == 12


@pytest.mark.parametrize(("args", "message"), [
    (("sweep", "nope"), "unknown workload nope; choose from: "),
    (("sweep", "http_fetch", "--vary", "latncy=1,2"),
     "--vary latncy: http_fetch has no such parameter; choose from: n, concurrency, "
     "latency_ms, size, tls, keepalive, cpu_us"),
    (("sweep", "http_fetch", "--vary", "concurrency=1..8*1"), "never reaches 8"),
    (("sweep", "tcp_server", "--vary", "cpu_us=10,20"), "twins are servers"),
    (("sweep", "http_fetch", "--max-points", "10"), "35 points, more than --max-points 10"),
    (("sweep", "http_fetch", "--twin", "curl"), "unknown twin curl; choose from: "),
    (("sweep", "http_fetch", "--scenario", "nope"), "unknown scenario 'nope' of http_fetch"),
])
def test_bad_input_is_one_line_before_anything_runs(args: tuple[str, ...], message: str
                                                    ) -> None:
    result = invoke(*args)  # in this process: test_cli checks the command's own refusal
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr

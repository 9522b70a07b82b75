"""The reports open in a real browser: the page of results/baseline.json, of a real sweep
(`bench sweep --html`) and of a real `bench check --html`, each in headless Chromium, which
must draw something (the screenshot is not blank), draw every chart, make no request that
leaves the page, have none fail and log no error (a refused load would be logged).

Skipped, saying so, where Chromium is not installed; `.ci/run` installs it, so CI runs it.
Set TWINBENCH_SCREENSHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers.browser import chromium, not_blank, visit
from tests.helpers.cli import Swept, bench

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="chromium is not installed (apt-get install chromium): the HTML reports are not "
           "opened in a real browser here")


def opened(page: Path, name: str, charts: int) -> None:
    seen = visit(page)
    keep = os.environ.get("TWINBENCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{name}.png").write_bytes(seen.screenshot)
        shutil.copy(page, Path(keep) / f"{name}.html")
    assert seen.left_the_page == [], "the page asked for something beyond itself"
    assert seen.failed == []
    assert seen.console_errors == []
    assert len(seen.chart_sizes) == charts
    assert all(w > 200 and h > 100 for w, h in seen.chart_sizes), seen.chart_sizes
    share, colours = not_blank(seen.screenshot)
    assert share > 0.05 and colours > 50, (share, colours)
    assert seen.left_running == [], "chromium left running"


def test_the_baseline_report_in_a_browser(baseline_report: Path) -> None:
    scenarios = {(b["extra_info"]["workload"], b["extra_info"]["scenario"])
                 for b in json.loads((ROOT / "results" / "baseline.json").read_text())
                 ["benchmarks"]}
    opened(baseline_report, "baseline", charts=len(scenarios))


def test_a_sweep_report_in_a_browser(swept: Swept) -> None:
    _, _, page = swept
    opened(page, "sweep", charts=2)


def test_a_check_report_in_a_browser(tmp_path: Path) -> None:
    """`bench check` of the baseline against a copy of it in which one twin's rounds were
    made 30% slower: the gate fails, and its page says so and draws it."""
    doc = json.loads((ROOT / "results" / "baseline.json").read_text())
    for b in doc["benchmarks"]:
        info = b["extra_info"]
        if (info["workload"], info["scenario"], info["twin"]) == ("http_fetch", "latency-bound",
                                                                   "aiohttp"):
            b["stats"]["data"] = [x * 1.3 for x in b["stats"]["data"]]
            for key in ("median", "q1", "q3", "min", "max", "mean"):
                b["stats"][key] *= 1.3
    current = tmp_path / "slower.json"
    current.write_text(json.dumps(doc))
    page = tmp_path / "check.html"
    result = bench("check", "--baseline", str(ROOT / "results" / "baseline.json"),
                   "--current", str(current), "--html", str(page))
    assert result.returncode == 1, result.stdout + result.stderr
    text = page.read_text()
    assert "<h1>twinbench check: failed</h1>" in text
    assert "http_fetch:latency-bound:aiohttp is +30.0% slower" in text
    opened(page, "check", charts=1)


def test_a_counted_check_report_in_a_browser(tmp_path: Path) -> None:
    """A counted check (`--count`: instructions and I/O per operation) that fails on both
    counted channels: its page names the channel of each reason and draws the instructions'
    forest beside the times'."""
    from tests.analysis.test_counted import PATTERN, counted, scaled
    from tests.helpers.runfiles import benches, run_doc

    doc = run_doc(benches())
    base = counted(doc, "aiohttp", list(PATTERN), io={"requests": 1.0, "connections": 0.0})
    current = counted(doc, "aiohttp", scaled(PATTERN, 1.05, 0.0002),
                      io={"requests": 1.0, "connections": 1.0})
    paths = []
    for name, run in (("base", base), ("current", current)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(run))
    page = tmp_path / "counted.html"
    result = bench("check", "--baseline", str(paths[0]), "--current", str(paths[1]),
                   "--html", str(page))
    assert result.returncode == 1, result.stdout + result.stderr
    text = page.read_text()
    assert "instructions: wl:s1:aiohttp costs +5.0" in text
    assert "I/O: wl:s1:aiohttp: connections opened per op 0 → 1" in text
    assert "<h2>What was counted</h2>" in text
    opened(page, "counted-check", charts=2)

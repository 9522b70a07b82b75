"""`--count` as a user meets it: one line and exit 2 when it cannot count or is asked
something that makes no sense, and a check that names the channel that caught a change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import harness.cli
from tests.analysis.test_counted import PATTERN, counted, scaled
from tests.helpers.cli import one_line_error
from tests.helpers.runfiles import benches, run_doc


def invoke(*args: str) -> Any:
    return CliRunner().invoke(harness.cli.app, list(args))


@pytest.mark.parametrize("args", [
    ("run", "http_fetch", "--count"),
    ("all", "--count"),
    ("sweep", "http_fetch", "--count"),
    ("check", "--against", "HEAD", "--count", "--no-time"),
])
def test_without_valgrind_count_is_one_line_saying_how_to_get_it(
        args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nowhere to find valgrind
    line = one_line_error(invoke(*args))
    assert "valgrind" in line and "apt install valgrind" in line


def test_no_time_needs_something_to_count() -> None:
    line = one_line_error(invoke("check", "--against", "HEAD", "--no-time"))
    assert "--no-time" in line and "--count" in line


def test_count_with_a_saved_current_run_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    run.write_text(json.dumps(run_doc(benches())))
    line = one_line_error(invoke("check", "--baseline", str(run), "--current", str(run),
                                 "--count"))
    assert "--count measures now" in line


def test_bad_instruction_threshold_is_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    run.write_text(json.dumps(run_doc(benches())))
    line = one_line_error(invoke("check", "--baseline", str(run), "--current", str(run),
                                 "--max-instructions-regression", "two"))
    assert "--max-instructions-regression" in line


def test_check_of_counted_runs_names_the_channel_that_caught_it(tmp_path: Path) -> None:
    """A 5% costlier twin and a twin that now opens a connection per request: exit 1, and the
    markdown for the job summary says which channel caught which; JSON lists both channels."""
    doc = run_doc(benches())
    base = counted(doc, "aiohttp", list(PATTERN), io={"requests": 1.0, "connections": 0.0})
    base = counted(base, "requests", list(PATTERN), io={"requests": 1.0, "connections": 0.0})
    current = counted(doc, "aiohttp", scaled(PATTERN, 1.05, 0.0002),
                      io={"requests": 1.0, "connections": 0.0})
    current = counted(current, "requests", list(PATTERN),
                      io={"requests": 1.0, "connections": 1.0})
    paths = []
    for name, run in (("base", base), ("current", current)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(run))
    md = tmp_path / "gate.md"
    result = invoke("check", "--baseline", str(paths[0]), "--current", str(paths[1]),
                    "--markdown", str(md))
    assert result.exit_code == 1, result.stdout
    text = md.read_text()
    assert "- instructions: wl:s1:aiohttp costs +5.0" in text
    assert "- I/O: wl:s1:requests: connections opened per op 0 → 1" in text
    assert "### Instructions per operation (gated)" in text
    result = invoke("check", "--baseline", str(paths[0]), "--current", str(paths[1]),
                    "-f", "json")
    report = json.loads(result.stdout)
    assert {c["channel"] for c in report["gate"]["caught"]} == {"instructions", "I/O"}
    (aiohttp,) = [i for i in report["instructions"] if i["twin"] == "aiohttp"]
    assert aiohttp["verdict"] == "costlier" and aiohttp["change"] == pytest.approx(0.05, abs=1e-3)

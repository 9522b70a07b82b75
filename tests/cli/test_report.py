"""`bench report` and `--html` as commands: one run, two, many; the same one-line errors as
`bench show` for bad run files; output paths refused before anything is read or measured;
an existing page overwritten only with --force."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app
from tests.helpers.cli import one_line_error
from tests.helpers.runfiles import benches, run_doc, write

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "results" / "baseline.json"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """v1, v2, v3 under tmp_path/results/, the current directory; aiohttp 30% slower in v3."""
    monkeypatch.chdir(tmp_path)  # no pyproject here: built-in 10% threshold
    write(tmp_path / "results" / "v1.json", run_doc(benches()))
    write(tmp_path / "results" / "v2.json", run_doc(benches({"aiohttp": 1.1}, seed=40)))
    write(tmp_path / "results" / "v3.json", run_doc(benches({"aiohttp": 1.3}, seed=80)))
    return tmp_path


def test_one_run_by_label(results: Path) -> None:
    result = invoke("report", "v1", "-o", "v1.html")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("wrote the report v1.html (")
    text = (results / "v1.html").read_text()
    assert "<h1>twinbench report: v1</h1>" in text and text.count("<figure>") == 1


def test_two_runs_are_compared_and_more_are_a_trend(results: Path) -> None:
    assert invoke("report", "v1", "v3", "-o", "cmp.html").exit_code == 0
    compared = (results / "cmp.html").read_text()
    assert "<h1>twinbench compare</h1>" in compared and "v3 against v1" in compared
    assert '<tr class="m-slower"><td>wl · s1 · aiohttp</td>' in compared
    assert invoke("report", "v1", "v2", "v3", "-o", "trend.html").exit_code == 0
    trend = (results / "trend.html").read_text()
    assert "<h1>twinbench trend: 3 runs</h1>" in trend
    assert trend.index("<td>v1</td>") < trend.index("<td>v2</td>") < trend.index("<td>v3</td>")


def test_the_baseline_report_is_well_under_2_mb(baseline_report: Path) -> None:
    assert baseline_report.stat().st_size < 2 * 2**20


@pytest.mark.parametrize(
    "content",
    [None, "", '{"benchmarks": [', '{"benchmarks": [], "machine_info": {}}',
     '{"benchmarks": [], "twinbench": {"schema": 99}}',
     '{"benchmarks": [], "twinbench": {"schema": NaN}}',
     '{"benchmarks": [{"name": "x"}], "twinbench": {"schema": 3}}'],
    ids=["missing", "empty", "truncated", "foreign", "newer", "nan", "malformed"])
def test_bad_run_files_get_the_same_line_as_bench_show(tmp_path: Path,
                                                       content: str | None) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "r.html"
    line = one_line_error(invoke("report", str(path), "-o", str(out)))
    assert line == one_line_error(invoke("show", str(path)))
    assert not out.exists()
    good = write(tmp_path / "good.json", run_doc(benches()))
    assert one_line_error(invoke("report", str(good), str(path), "-o", str(out))) == line


def test_an_unknown_label_is_a_missing_file(results: Path) -> None:
    assert "results/v9.json: no such run file" in one_line_error(
        invoke("report", "v9", "-o", "x.html"))


@pytest.mark.parametrize(("output", "expected"), [
    ("nowhere/r.html", "--output nowhere/r.html: directory nowhere does not exist"),
    ("results", "--output results: is a directory"),
    ("results/v1.json/r.html", "--output results/v1.json/r.html: results/v1.json is not a "
                               "directory"),
])
def test_an_output_that_cannot_be_written_is_one_line(results: Path, output: str,
                                                      expected: str) -> None:
    assert one_line_error(invoke("report", "v1", "-o", output)) == f"error: {expected}"


def test_a_directory_nobody_may_write_is_refused(results: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Probed by creating a file, not by asking for permission: root passes every permission
    check, and still cannot write on a read-only mount."""
    def refuse(*_args: Any, **_kw: Any) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert one_line_error(invoke("report", "v1", "-o", "r.html")) == \
        "error: --output r.html: cannot write in . (Permission denied)"


def test_an_existing_page_is_overwritten_only_with_force(results: Path) -> None:
    page = results / "r.html"
    page.write_text("keep me")
    assert one_line_error(invoke("report", "v1", "-o", "r.html")) == \
        "error: r.html exists; pass --force to overwrite it"
    assert page.read_text() == "keep me"
    assert invoke("report", "v1", "-o", "r.html", "--force").exit_code == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert not [p for p in results.iterdir() if p.name.startswith(".r.html.")]


@pytest.mark.parametrize("command", [
    ("run", "http_fetch", "--profile", "quick"),
    ("all", "--profile", "quick"),
    ("sweep", "http_fetch", "--profile", "quick", "--vary", "latency_ms=0",
     "--vary", "concurrency=2"),
    ("check", "--baseline", str(BASELINE)),
], ids=lambda c: c[0])
def test_html_is_checked_before_anything_is_measured(results: Path,
                                                     command: tuple[str, ...]) -> None:
    result = invoke(*command, "--html", "nowhere/r.html")
    assert one_line_error(result) == ("error: --html nowhere/r.html: directory nowhere does "
                                      "not exist")
    assert result.stdout == ""
    (results / "r.html").write_text("keep me")
    assert one_line_error(invoke(*command, "--html", "r.html")) == \
        "error: r.html exists; pass --force to overwrite it"


def test_check_writes_the_gate_report_whatever_the_verdict(results: Path) -> None:
    failed = invoke("check", "--baseline", "v1", "--current", "v3", "--html", "gate.html",
                    "--format", "json")
    assert failed.exit_code == 1, failed.stderr
    assert failed.stdout.lstrip().startswith("{")  # stdout stays JSON: the line is on stderr
    assert "wrote the report gate.html (" in failed.stderr
    text = (results / "gate.html").read_text()
    assert "<h1>twinbench check: failed</h1>" in text and "FAIL: 1 problem(s)" in text
    passed = invoke("check", "--baseline", "v1", "--current", "v2", "--html", "gate.html",
                    "--force", "--max-regression", "50%")
    assert passed.exit_code == 0, passed.stderr
    assert "<h1>twinbench check: passed</h1>" in (results / "gate.html").read_text()

"""`bench profile`: one benchmark's timed rounds under yappi — every thread of a thread-pool
twin in it, nothing of its set-up — and the usual one-line refusals."""

from __future__ import annotations

import pstats
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import harness.cli
from tests.fixtures.counting_twins import STEPS
from tests.helpers.cli import one_line_error

TWINS = Path(__file__).resolve().parents[1] / "fixtures" / "counting_twins.py"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(harness.cli.app, list(args))


def test_a_thread_pool_twin_is_profiled_in_every_thread(tmp_path: Path) -> None:
    out = tmp_path / "steps.prof"
    result = invoke("profile", "counting", "-s", "known", "-t", "steps-2x", "--workloads",
                    str(TWINS), "-o", str(out), "--top", "5")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "by own time" in result.stdout and "by total time" in result.stdout
    # the burning is done by the pool's threads: it tops the profile, once per operation
    # of the timed rounds (10 rounds of 8), never the warm-up's or a reset's
    stats = pstats.Stats(str(out))
    calls = {func[2]: stat[1] for func, stat in stats.stats.items()}  # type: ignore[attr-defined]
    assert calls["burn"] == 10 * 8
    assert "burn" in result.stdout.split("by total time")[0]
    assert STEPS  # (what burn burns: tests/fixtures/counting_twins.py)


def test_unknown_names_are_one_line_with_the_choices() -> None:
    line = one_line_error(invoke("profile", "http_fetch", "-s", "overhead", "-t", "curl"))
    assert "unknown twin curl" in line and "aiohttp" in line
    line = one_line_error(invoke("profile", "http_fetch", "-s", "nope", "-t", "aiohttp"))
    assert "unknown scenario nope" in line


def test_an_output_that_cannot_be_written_is_refused_before_anything_runs(
        tmp_path: Path) -> None:
    line = one_line_error(invoke("profile", "http_fetch", "-s", "overhead", "-t", "aiohttp",
                                 "-o", str(tmp_path / "missing" / "out.prof")))
    assert "--output" in line

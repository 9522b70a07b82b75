"""`bench` as a user runs it: a child process, no terminal, no stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = [sys.executable, "-m", "harness"]
TINY_SWEEP = ("sweep", "http_fetch", "--profile", "quick", "--vary", "latency_ms=0,5",
              "--vary", "concurrency=2,4", "--twin", "requests", "--twin", "requests-threads",
              "--twin", "aiohttp")

# One real quick run of a single scenario and pair of twins: what the save and compare tests
# need of a run made by `bench`, and no more.
QUICK_OVERHEAD = ("run", "http_fetch", "--profile", "quick", "--scenario", "overhead", "--twin",
                  "requests", "--twin", "aiohttp")

Swept = tuple[subprocess.CompletedProcess[str], Path, Path]  # the run, its file, its report


def bench(*args: str, cwd: Path | None = None, timeout: float = 300
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def invoke(*args: str) -> Any:
    """`bench` in this process (typer's CliRunner): for refusals of bad input, which happen
    before anything is started, without paying a child's start-up (about 0.7 s) for each.
    The real command's one-line refusal is checked through a child too."""
    from typer.testing import CliRunner

    import harness.cli

    return CliRunner().invoke(harness.cli.app, list(args))


def one_line_error(result: Any) -> str:
    """The one line of a refusal: exit 2, one line on stderr. `result` is a finished child
    process or typer's CliRunner result."""
    code = result.returncode if hasattr(result, "returncode") else result.exit_code
    assert code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])

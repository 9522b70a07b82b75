"""Real runs shared by the CLI tests, each made once per session because it takes a while:
one tiny sweep with its HTML report (the sweep and report tests), and one saved quick run (the
save and compare tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import QUICK_OVERHEAD, TINY_SWEEP, Swept, bench


@pytest.fixture(scope="session")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    out = tmp_path_factory.mktemp("sweep")
    result = bench(*TINY_SWEEP, "--json", str(out / "sweep.json"), "--html",
                   str(out / "sweep.html"))
    assert result.returncode == 0, result.stdout + result.stderr
    return result, out / "sweep.json", out / "sweep.html"


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bench run ... --save v1` of QUICK_OVERHEAD, against the real HTTP peer, in a directory
    of its own: the run file at results/v1.json below it. Tests only read it."""
    where = tmp_path_factory.mktemp("saved")
    result = bench(*QUICK_OVERHEAD, "--save", "v1", cwd=where)
    assert result.returncode == 0, result.stdout + result.stderr
    return where / "results" / "v1.json"

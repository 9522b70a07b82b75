"""One real tiny sweep, shared by the sweep and report tests: it takes a while, so it is made
once per session, with its HTML report."""

from __future__ import annotations

import pytest

from tests.helpers.cli import TINY_SWEEP, Swept, bench


@pytest.fixture(scope="session")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    out = tmp_path_factory.mktemp("sweep")
    result = bench(*TINY_SWEEP, "--json", str(out / "sweep.json"), "--html",
                   str(out / "sweep.html"))
    assert result.returncode == 0, result.stdout + result.stderr
    return result, out / "sweep.json", out / "sweep.html"

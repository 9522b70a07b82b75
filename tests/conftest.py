"""Shared fixtures: peers started once per test session, at tiny sizes, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.model.registry import discover
from harness.model.workload import Workload
from harness.peers import PeerPool, PeerUnavailable
from harness.peers.postgres import PostgresPeer
from harness.testing import peer_pool as start_peers

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def registry() -> dict[str, Workload]:
    return discover()


@pytest.fixture(scope="session")
def peer_pool() -> Iterator[PeerPool]:
    with start_peers() as pool:
        yield pool


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresPeer]:
    """A throwaway PostgreSQL of its own (not the pool's), for tests that look inside it."""
    try:
        with PostgresPeer({}) as peer:
            yield peer
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def baseline_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bench report results/baseline.json`, made once: its page is checked as a document,
    for its size, and in a real browser."""
    from tests.helpers.cli import bench

    out = tmp_path_factory.mktemp("report") / "baseline.html"
    result = bench("report", str(ROOT / "results" / "baseline.json"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out

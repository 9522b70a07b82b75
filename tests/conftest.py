"""Shared fixtures: peers started once per test session, at tiny sizes, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.peers import PeerPool
from harness.registry import Workload, discover


@pytest.fixture(scope="session")
def registry() -> dict[str, Workload]:
    return discover()


@pytest.fixture(scope="session")
def peer_pool() -> Iterator[PeerPool]:
    # No capacity measurement: the tests check behaviour, not speed.
    with PeerPool({"http_capacity_seconds": 0}) as pool:
        yield pool

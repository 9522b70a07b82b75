"""Shared fixtures: peers started once per test session, at tiny sizes, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.model.registry import discover
from harness.model.workload import Workload
from harness.peers import PeerPool, PeerUnavailable
from harness.peers.mysql import MysqlPeer
from harness.peers.postgres import PostgresPeer
from harness.testing import peer_pool as start_peers


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
def mysql_server() -> Iterator[MysqlPeer]:
    """A throwaway MariaDB/MySQL of its own, for tests that look inside it."""
    try:
        with MysqlPeer({}) as peer:
            yield peer
    except PeerUnavailable as exc:
        pytest.skip(str(exc))

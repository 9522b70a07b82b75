"""pytest helpers for workload authors: run every twin of a workload at its tiny size against the
real peers and check they did the same work. twinbench's own suite uses exactly these.

In a team's repository (twins kept outside twinbench, see `bench --workloads`):

    import pytest
    from harness.testing import check_twins_agree, peer_pool, tiny_cases, workloads_from

    REGISTRY = workloads_from(["bench/twins.py"])

    @pytest.fixture(scope="session")
    def peers():
        with peer_pool() as pool:
            yield pool

    @pytest.mark.parametrize(("workload", "scenario"), tiny_cases(REGISTRY))
    def test_twins_agree(workload, scenario, peers):
        check_twins_agree(workload, scenario, peers)

May import: `harness.model`, `harness.peers`, `harness.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from harness.model.registry import discover
from harness.model.workload import (
    KINDS,
    SYNC_KINDS,
    BenchContext,
    CannotRun,
    Scenario,
    Workload,
)
from harness.peers import PeerPool, PeerUnavailable


def workloads_from(sources: Iterable[str], *, builtin: bool = False) -> dict[str, Workload]:
    """The workloads these modules or paths define (and twinbench's own with `builtin`)."""
    return discover(tuple(sources), builtin="workloads" if builtin else None)


@contextmanager
def peer_pool() -> Iterator[PeerPool]:
    """Peers started on first use and stopped at the end; no capacity measurement (tests
    check behaviour, not speed)."""
    with PeerPool({"http_capacity_seconds": 0}) as pool:
        yield pool


def tiny_cases(registry: Mapping[str, Workload]) -> list[Any]:
    """pytest params (workload, scenario) for every scenario the default profile runs (the
    full-only scale scenarios are too big for a unit test)."""
    return [pytest.param(w, s, id=f"{w.name}-{s.name}") for w in registry.values()
            for s in w.scenarios if "default" in s.profiles]


def tiny_params(workload: Workload, scenario: Scenario) -> dict[str, Any]:
    return {**scenario.params, **workload.tiny}


def run_rounds(workload: Workload, twin: str, params: Mapping[str, Any],
               peers: Mapping[str, Any] | None = None, rounds: int = 2,
               warmup_rounds: int = 0) -> tuple[list[int], dict[str, Any]]:
    """Bind, set up, run `rounds` rounds (reset before each), tear down, all untimed: the
    checksums and the bench's extra_info."""
    ctx = BenchContext(params=dict(params), peers=dict(peers or {}),
                       warmup_rounds=warmup_rounds)
    bench = workload.twin(twin).bind(ctx)
    bench.setup()
    try:
        checksums = []
        for _ in range(rounds):
            bench.reset()
            checksums.append(bench.round())
        assert bench.ops > 0
        return checksums, bench.extra_info()
    finally:
        bench.teardown()


def check_declaration(workload: Workload) -> None:
    """What every workload must declare: sync and async twins, unique names, tiny sizes."""
    kinds = {t.kind for t in workload.twins}
    assert kinds <= set(KINDS)
    assert kinds & SYNC_KINDS and "async" in kinds, "a workload needs sync and async twins"
    names = [t.name for t in workload.twins]
    assert len(names) == len(set(names)), f"twin names repeat: {names}"
    assert len({s.name for s in workload.scenarios}) == len(workload.scenarios)
    assert workload.tiny, "declare tiny parameters so the test suite stays fast"


def check_twins_agree(workload: Workload, scenario: Scenario, pool: PeerPool) -> None:
    """Every twin at tiny size: repeatable across rounds, the same checksum as every other
    twin, and the workload's `expected` one when it declares it. Skips when a peer is not
    available here; a twin that cannot run the scenario (CannotRun from its set-up, e.g. a
    driver without COPY) is left out, as a run reports it skipped."""
    try:
        peers = {name: pool.get(name) for name in workload.peers}
    except PeerUnavailable as exc:
        pytest.skip(str(exc))
    params = tiny_params(workload, scenario)
    results: dict[str, list[int]] = {}
    for twin in workload.twins:
        try:
            results[twin.name] = run_rounds(workload, twin.name, params, peers)[0]
        except CannotRun:
            continue
    if not results:
        pytest.skip(f"no twin of {workload.name} can run {scenario.name} here")
    for name, checksums in results.items():
        assert len(set(checksums)) == 1, f"{name} is not repeatable across rounds: {checksums}"
    distinct = {name: c[0] for name, c in results.items()}
    assert len(set(distinct.values())) == 1, f"twins disagree: {distinct}"
    if workload.expected is not None:
        assert next(iter(distinct.values())) == workload.expected(params)

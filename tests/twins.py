"""Running one twin for a few untimed rounds, outside pytest-benchmark, for the tests."""

from __future__ import annotations

from typing import Any

from harness.registry import BenchContext, Workload


def run_rounds(workload: Workload, twin: str, params: dict[str, Any],
               peers: dict[str, Any] | None = None, rounds: int = 2,
               warmup_rounds: int = 0) -> tuple[list[int], dict[str, Any]]:
    """Bind, set up, run `rounds` rounds (reset before each), tear down; the checksums and
    the bench's extra_info."""
    ctx = BenchContext(params=params, peers=peers or {}, warmup_rounds=warmup_rounds)
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

"""An A/B worker whose TWIN is SLOWDOWN slower, for `gate_quality.py --against` only.

    python scripts/slowed_worker.py TWIN SLOWDOWN

Runs harness.run.worker with a registry in which TWIN's every timed round takes SLOWDOWN
longer than its own work did (measured, then a precise pause): a 10% regression of exactly that
twin on the candidate side, wherever and whenever it runs. Production code has no knob for it:
the patch lives here, in the experiment.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import harness.run.runner as runner
from harness.model.workload import Bench, BenchContext, Twin, Workload
from harness.run import worker


def pause(seconds: float) -> None:
    """Wait `seconds` precisely: sleep overshoots by ~0.1 ms, so spin the last millisecond."""
    deadline = time.perf_counter() + seconds
    if seconds > 0.002:
        time.sleep(seconds - 0.001)
    while time.perf_counter() < deadline:
        pass


class Slowed:
    def __init__(self, inner: Bench, slowdown: float):
        self._inner, self._slowdown = inner, slowdown

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def round(self) -> int:
        start = time.perf_counter()
        checksum = self._inner.round()
        pause(self._slowdown * (time.perf_counter() - start))
        return checksum


def slowed(twin: Twin, slowdown: float) -> Twin:
    def bind(ctx: BenchContext) -> Any:
        return Slowed(twin.bind(ctx), slowdown)

    return replace(twin, bind=bind)


def run_worker_changing(name: str, change: Callable[[Twin], Twin]) -> None:
    """harness.run.worker, with the twin called `name` replaced by `change(twin)` in every
    workload the runner discovers (scripts/changed_worker.py uses it too)."""
    original = runner.discover

    def discover(*args: Any, **kwargs: Any) -> dict[str, Workload]:
        return {key: replace(w, twins=tuple(change(t) if t.name == name else t
                                            for t in w.twins))
                for key, w in original(*args, **kwargs).items()}

    runner.discover = discover  # type: ignore[assignment]
    sys.argv[1:] = []
    worker.main()


def main() -> None:
    name, slowdown = sys.argv[1], float(sys.argv[2])
    run_worker_changing(name, lambda twin: slowed(twin, slowdown))


if __name__ == "__main__":
    main()

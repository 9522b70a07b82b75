"""A profile of one benchmark's timed rounds (`bench profile`).

yappi, not cProfile: cProfile profiles only the thread that turns it on, so a thread-pool
twin's work — done by its pool's threads — would be missing, and it charges a coroutine
for the time it sat suspended at an await. yappi profiles every thread (`profile_threads`)
and knows coroutines; its stats save as pstats (snakeviz, `python -m pstats`) or in
callgrind's format (KCachegrind, QCachegrind). Its clock is the CPU's by default (what each
function cost) or the wall's (where the time went, waits included).

The profiler is switched on right around each timed round's work, like callgrind in a counted
run (harness.run.cost), so set-up, warm-up and resets are not in the profile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.drivers.health import short_path

CLOCKS = ("cpu", "wall")
FORMATS = ("pstat", "callgrind")


@dataclass(frozen=True)
class FunctionCost:
    name: str  # the function (Class.method)
    where: str  # file:line, a library's file under its root
    calls: int
    own_s: float  # in the function itself
    total_s: float  # with everything it called


class Profiler:
    """Brackets timed rounds (`start`/`stop`), then reports and saves what they cost."""

    def __init__(self, clock: str = "cpu"):
        import yappi  # only a profiled run loads it

        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}")
        self._yappi = yappi
        yappi.clear_stats()
        yappi.set_clock_type(clock)
        self.clock = clock
        self.rounds = 0

    def start(self) -> None:
        self._yappi.start(builtins=False, profile_threads=True)

    def stop(self, label: str = "") -> None:
        self._yappi.stop()
        self.rounds += 1

    def top(self, n: int, by: str) -> list[FunctionCost]:
        """The `n` costliest functions, by "own" time or by "total" (cumulative)."""
        stats = self._yappi.get_func_stats()
        stats.sort("tsub" if by == "own" else "ttot", "desc")
        return [FunctionCost(str(stat.name), f"{short_path(str(stat.module))}:{stat.lineno}",
                             int(stat.ncall), float(stat.tsub), float(stat.ttot))
                for stat in list(stats)[:n]]

    def save(self, path: Path, fmt: str = "pstat") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        self._yappi.get_func_stats().save(str(path), type=fmt)

    def close(self) -> None:
        self._yappi.clear_stats()


@contextmanager
def profiling(clock: str = "cpu") -> Iterator[Profiler]:
    profiler = Profiler(clock)
    try:
        yield profiler
    finally:
        profiler.close()

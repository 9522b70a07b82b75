"""Run vs run on what was counted, not timed: instructions per operation and I/O per operation.

Each channel is judged by its own noise (`bench check` lists which channel caught what):

* instructions (callgrind, harness.run.count) — a change beyond its threshold (default 1%,
  `max-instructions-regression`) that stands out from how much a fresh set-up of the twin
  moves its count: each side counts every twin in replicates
  (`stats.compare_count_replicates`), so "detects" is each benchmark's measured
  repeatability. A file counted before replicates existed is compared round i against round i
  (`stats.compare_counts`), which cannot see the noise between set-ups; a note says so. A
  benchmark counted on one side only says "no baseline" (or "not counted"), never
  "unchanged".
* I/O — requests, connections and statements per operation are behaviour, not noise: any
  change beyond rounding (or, for connections, beyond a pool's worth of them: a pool of C may
  open its C connections in whichever round) is a *behaviour change* and fails the gate unless
  the benchmark is listed under `accept-io-changes`. Bytes and context switches per operation
  are listed, never gated: a library's new User-Agent moves bytes, a busy machine the
  switches.

The I/O compared is the timed rounds' when both runs timed the benchmark at the same sizes,
else the counted rounds' when both counted it at the same sizes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from harness.analysis.stats import (
    Comparison,
    Verdict,
    compare_count_replicates,
    compare_counts,
)
from harness.config import Thresholds
from harness.results.runfile import BenchRecord, Run

# Counted exactly, and a change of them is behaviour: gated.
EXACT_IO = ("requests", "connections", "statements")
# Shown with their change, never gated.
SHOWN_IO = ("bytes_sent", "bytes_received", "ctx_switches")
IO_NAMES = {"requests": "requests", "connections": "connections opened",
            "statements": "statements", "bytes_sent": "bytes sent",
            "bytes_received": "bytes received", "ctx_switches": "context switches"}


class CountStatus(enum.StrEnum):
    COMPARED = "compared"
    NO_BASELINE = "no baseline"
    NOT_COUNTED = "not counted"
    PARAMS_DIFFER = "params differ"
    ERROR = "error"


INSTRUCTION_WORDS = {Verdict.SLOWER: "costlier", Verdict.FASTER: "cheaper",
                     Verdict.UNCHANGED: "unchanged"}


@dataclass(frozen=True)
class InstructionDelta:
    key: str
    workload: str
    scenario: str
    twin: str
    status: CountStatus
    threshold: float
    comparison: Comparison | None = None
    detail: str = ""

    @property
    def verdict(self) -> str:
        if self.status is CountStatus.COMPARED and self.comparison is not None:
            return INSTRUCTION_WORDS[self.comparison.verdict]
        return self.status.value

    @property
    def regression(self) -> bool:
        return (self.comparison is not None and self.status is CountStatus.COMPARED
                and self.comparison.verdict is Verdict.SLOWER)

    @property
    def underpowered(self) -> bool:
        """Its rounds repeat too loosely to see a change as small as its threshold."""
        c = self.comparison
        return (c is not None and c.detectable is not None
                and not c.detectable <= self.threshold)


@dataclass(frozen=True)
class IoDelta:
    """One counter of one benchmark, per operation, in both runs."""

    key: str
    counter: str
    base: float
    current: float
    tolerance: float  # per operation: what counts as the same
    source: str  # "timed" | "counted": which rounds were compared
    accepted: bool = False  # listed under accept-io-changes

    @property
    def gated(self) -> bool:
        return self.counter in EXACT_IO

    @property
    def changed(self) -> bool:
        return abs(self.current - self.base) > self.tolerance

    @property
    def behaviour_change(self) -> bool:
        return self.gated and self.changed

    @property
    def regression(self) -> bool:
        return self.behaviour_change and not self.accepted

    @property
    def verdict(self) -> str:
        if not self.changed:
            return "same"
        if not self.gated:
            return "changed"
        return "behaviour change (accepted)" if self.accepted else "behaviour change"


@dataclass(frozen=True)
class CountedComparison:
    instructions: tuple[InstructionDelta, ...]
    io: tuple[IoDelta, ...]
    notes: tuple[str, ...] = ()

    @property
    def regressions(self) -> list[InstructionDelta | IoDelta]:
        return [*(d for d in self.instructions if d.regression),
                *(d for d in self.io if d.regression)]

    @property
    def compared(self) -> list[InstructionDelta]:
        return [d for d in self.instructions if d.status is CountStatus.COMPARED]

    @property
    def io_changes(self) -> list[IoDelta]:
        return [d for d in self.io if d.changed]

    @property
    def any(self) -> bool:
        return bool(self.instructions or self.io)


def _timed(run: Run) -> bool:
    return bool((run.meta.get("count") or {}).get("timed", True))


def _counted_rounds(record: BenchRecord) -> list[float] | None:
    """Instructions per operation of each counted round."""
    rounds = record.instructions_per_round
    ops = record.counted_ops
    if not rounds or ops <= 0:
        return None
    return [r / ops for r in rounds]


def _replicates(record: BenchRecord, rounds: list[float]) -> list[list[float]]:
    """The counted rounds, replicate by replicate (each a fresh set-up of the twin)."""
    n = record.count_replicates
    if n < 2 or len(rounds) % n:
        return [rounds]
    size = len(rounds) // n
    return [rounds[i:i + size] for i in range(0, len(rounds), size)]


def _instructions(key: str, b: BenchRecord, c: BenchRecord, threshold: float,
                  alpha: float) -> InstructionDelta:
    def shell(status: CountStatus, **kw: Any) -> InstructionDelta:
        return InstructionDelta(key, c.workload, c.scenario, c.twin, status, threshold, **kw)

    base, current = _counted_rounds(b), _counted_rounds(c)
    if current is None:
        return shell(CountStatus.NOT_COUNTED,
                     detail="the current run has no instruction count for it")
    if base is None:
        return shell(CountStatus.NO_BASELINE,
                     detail="the base run has no instruction count for it")
    if b.counted_params != c.counted_params:
        return shell(CountStatus.PARAMS_DIFFER, detail="counted at other sizes")
    base_reps, current_reps = _replicates(b, base), _replicates(c, current)
    try:
        if len(base_reps) >= 2 and len(current_reps) >= 2:
            comparison = compare_count_replicates(base_reps, current_reps,
                                                  threshold=threshold, alpha=alpha)
        else:  # a file counted once: only its rounds, whose spread underestimates the noise
            comparison = compare_counts(base, current, threshold=threshold, alpha=alpha)
    except ValueError as exc:
        return shell(CountStatus.ERROR, detail=str(exc))
    return shell(CountStatus.COMPARED, comparison=comparison)


def _io_sources(b: BenchRecord, c: BenchRecord, base: Run, current: Run
                ) -> tuple[str, dict[str, float], dict[str, float], int, int] | None:
    """Which I/O figures the two benchmarks share: (source, base, current, ops per round,
    concurrency), the timed rounds' first."""
    if _timed(base) and _timed(current) and b.params == c.params and b.io_per_op \
            and c.io_per_op:
        return "timed", b.io_per_op, c.io_per_op, c.ops, int(c.params.get("concurrency") or 1)

    def counted(record: BenchRecord, run: Run) -> dict[str, float]:
        if not _timed(run):
            return record.io_per_op
        raw = (record.extra.get("counted") or {}).get("io_per_op")
        return dict(raw) if isinstance(raw, dict) else {}

    bc, cc = counted(b, base), counted(c, current)
    if bc and cc and b.counted_params == c.counted_params:
        params = c.counted_params or {}
        return "counted", bc, cc, c.counted_ops, int(params.get("concurrency") or 1)
    return None


def _tolerance(counter: str, ops: int, concurrency: int) -> float:
    """Per operation, the difference that is still "the same": half an event per round for
    counts that are exact, a pool's worth of connections per round (a pool of C connections
    may fill in whichever round), and for the listed-only figures 5% or one event."""
    per_round = max(ops, 1)
    if counter == "connections":
        return concurrency / per_round
    if counter in EXACT_IO:
        return 0.5 / per_round
    return 0.0


def _io(key: str, b: BenchRecord, c: BenchRecord, base: Run, current: Run,
        accepted: bool) -> list[IoDelta]:
    shared = _io_sources(b, c, base, current)
    if shared is None:
        return []
    source, bio, cio, ops, concurrency = shared
    out = []
    for counter in (*EXACT_IO, *SHOWN_IO):
        if counter not in bio or counter not in cio:
            continue
        old, new = float(bio[counter]), float(cio[counter])
        tolerance = _tolerance(counter, ops, concurrency)
        if counter in SHOWN_IO:
            tolerance = max(0.05 * abs(old), 1.0 / max(ops, 1))
        out.append(IoDelta(key, counter, old, new, tolerance, source, accepted))
    return out


def compare_counted(base: Run, current: Run, *, thresholds: Thresholds,
                    accept_io: Any = None, alpha: float = 0.01) -> CountedComparison:
    """Both counted channels for the benchmarks the two runs share. `accept_io(key)` says
    whether a benchmark's I/O change is intended (`Config.io_accepted`)."""
    accepted = accept_io or (lambda _key: False)
    base_by = {r.key: r for r in base.benchmarks}
    instructions = []
    io: list[IoDelta] = []
    for c in current.benchmarks:
        b = base_by.get(c.key)
        if b is None:
            continue
        if _counted_rounds(b) is not None or _counted_rounds(c) is not None:
            instructions.append(_instructions(c.key, b, c, thresholds.for_key(c.key), alpha))
        io.extend(_io(c.key, b, c, base, current, bool(accepted(c.key))))
    notes = []
    if any(d.comparison is not None and d.comparison.method == "counts"
           for d in instructions):
        notes.append("a run was counted in one set-up per twin: its instructions are compared "
                     "round by round, which cannot see how much a fresh set-up moves a "
                     "count; count both runs with this version")
    versions = {name: (run.meta.get("count") or {}).get("valgrind")
                for name, run in (("base", base), ("current", current))}
    if all(versions.values()) and versions["base"] != versions["current"]:
        notes.append(f"counted with valgrind {versions['base']} and {versions['current']}: "
                     "instruction counts can move between versions")
    return CountedComparison(tuple(instructions), tuple(io), tuple(notes))

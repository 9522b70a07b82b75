"""What a twin's timed rounds cost: CPU (the twin's own process and each peer's), peak threads,
the RSS high-water mark of the measuring process, the I/O each operation made, and — in a
counted run — the instructions and system calls it took.

A window opens just before each timed round and closes just after it (pytest-benchmark's
pedantic setup and teardown hooks, outside the timed region), so set-up, warm-up rounds and
resets are never counted; peers' CPU, threads and RSS are read at its ends.

Whose CPU: a client twin runs in this process, and `time.process_time` (user + system, every
thread; about a microsecond to read) is read *inside* the timed round, right around the twin's
work (`timed`): a single-threaded twin's CPU then can never exceed the wall time
pytest-benchmark measured around it. A server twin runs in a child, and its bench says so by
offering `twin_cpu_seconds()`, read (from /proc, too slow for the timed region) at the
window's ends. Threads and RSS are this process's, for client twins; server twins sample their
server's.

I/O is counted, not timed: each peer's counters (requests served, connections accepted, bytes
each way, statements run: `PeerPool.io_counts`) are read at the window's outer ends, and this
process's voluntary context switches (getrusage: every thread, live or finished) at its inner
ones, so a peer query made to read a counter is never charged to the twin. /proc/<pid>/io is
not used for system calls: it counts read()/write() but not send()/recv(), which is what
asyncio and requests call, so it would show their network I/O as nearly none; a counted run
has every system call, by name, from valgrind (harness.run.callgrind).

In a counted run (`counting` set) callgrind's instrumentation is switched on right around the
round's work, inside every other reading, so the meter's own reads cost the twin nothing.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.peers import PeerPool

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status(field_name: str) -> int | None:
    """A number from /proc/self/status (kB fields in bytes), or None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field_name + ":"):
                value = int(line.split()[1])
                return value * 1024 if line.rstrip().endswith("kB") else value
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_rss_peak() -> bool:
    """Make VmHWM this moment's RSS (Linux >= 4.0: `echo 5 > /proc/self/clear_refs`), so the
    high-water mark read after the rounds is theirs, not set-up's."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class RoundCounter(Protocol):
    """What brackets a counted round (harness.run.callgrind.Counting)."""

    def start(self) -> None: ...

    def stop(self, label: str) -> tuple[int, Counter[str]]: ...


class RoundBracket(Protocol):
    """What else may bracket a timed round's work (harness.run.profiler.Profiler)."""

    def start(self) -> None: ...

    def stop(self, label: str) -> None: ...


_TASKS = Path("/proc/self/task")


def _thread_ids() -> set[int]:
    try:
        return {int(p.name) for p in _TASKS.iterdir() if p.name.isdigit()}
    except OSError:
        return set()


class ThreadOwners:
    """Whose threads are whose, when several twins are set up in this process at once
    (harness.run.interleave): a thread that appears while a twin sets up or runs a round is
    that twin's, since only one twin acts at a time. A twin's thread count is then the
    process's own (those before any twin) plus its own live ones, never the idle pools of
    the twins beside it."""

    def __init__(self) -> None:
        self.base = _thread_ids()
        self.owner: dict[int, str] = {}

    def claim(self, case_id: str) -> None:
        for tid in _thread_ids() - self.base - self.owner.keys():
            self.owner[tid] = case_id

    def count(self, case_id: str) -> int:
        self.claim(case_id)
        live = _thread_ids()
        return len(live & self.base) + sum(1 for t in live if self.owner.get(t) == case_id)


def _voluntary_switches() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


def per_op(totals: Mapping[str, float], rounds: int, ops: int) -> dict[str, float]:
    """Counter totals over `rounds` rounds of `ops` operations, per operation."""
    if rounds <= 0 or ops <= 0:
        return {}
    return {key: value / (rounds * ops) for key, value in totals.items()}


@dataclass
class RoundsMeter:
    peers: PeerPool
    warmup_rounds: int
    # the peers this benchmark uses: the pool keeps every peer an earlier workload started,
    # and their idle ticks are not this twin's cost
    peer_names: tuple[str, ...] = ()
    twin_cpu: Callable[[], float] = time.process_time
    cpu: list[float] = field(default_factory=list)  # per timed round, seconds
    wall: list[float] = field(default_factory=list)  # per timed round, the same window
    peer_cpu: dict[str, list[float]] = field(default_factory=dict)
    threads_peak: int | None = None
    rss_before: int | None = None
    rss_peak: int | None = None
    in_process: bool = True  # the twin's CPU is this process's, read inside the round
    # A counted run's bracket and the label of its dumps (harness.run.callgrind).
    counting: RoundCounter | None = None
    profiler: RoundBracket | None = None
    label: str = ""
    # Twins set up side by side (harness.run.interleave): this twin's threads only, and its
    # RSS peak over each round's own start (the others' allocations between its rounds are
    # theirs).
    threads: Callable[[], int | None] | None = None  # None: the whole process's
    rss_per_round: bool = False
    _round_rss: int | None = None
    instructions: list[int] = field(default_factory=list)  # per counted round
    syscalls: list[Counter[str]] = field(default_factory=list)  # per counted round, by name
    io: Counter[str] = field(default_factory=Counter)  # summed over the timed rounds
    _opened: int = 0
    _window: tuple[float, float, dict[str, float]] | None = None
    _io_window: tuple[dict[str, int], int | None] | None = None
    _hwm_reset: bool = False
    _inner: float | None = None  # this window's CPU, read around the twin's work

    def timed(self, work: Callable[[], int]) -> int:
        """Run one round's work; with `in_process`, read the CPU counter right around it, and
        in a counted run count inside that."""
        if not self.in_process or self._window is None:
            return work()
        before = time.process_time()
        if self.counting is not None:
            self.counting.start()
            try:
                result = work()
            finally:
                instructions, calls = self.counting.stop(
                    f"{self.label} round {len(self.instructions) + 1}")
            self.instructions.append(instructions)
            self.syscalls.append(calls)
        elif self.profiler is not None:
            self.profiler.start()
            try:
                result = work()
            finally:
                self.profiler.stop(self.label)
        else:
            result = work()
        self._inner = time.process_time() - before
        return result

    def open(self) -> None:
        """Just before a round (after its reset). Warm-up rounds are not metered."""
        self._opened += 1
        if self._opened <= self.warmup_rounds:
            return
        if self.rss_per_round:
            self._round_rss = _status("VmRSS")
            self._hwm_reset = _reset_rss_peak()
        elif self.rss_before is None:
            self.rss_before = _status("VmRSS")
            self._hwm_reset = _reset_rss_peak()
        io = self.peers.io_counts(self.peer_names)  # outermost: a peer may be asked by query
        # valgrind runs one thread at a time: a counted run's context switches are its own
        switches = (_voluntary_switches() if self.in_process and self.counting is None
                    else None)
        peers = self.peers.cpu_seconds(self.peer_names)
        wall = time.perf_counter()
        self._window = (self.twin_cpu(), wall, peers)  # the CPU reading nests in the wall one
        self._io_window = (io, switches)

    def close(self) -> None:
        """Just after a round."""
        if self._window is None:
            return
        cpu_before, wall_before, peers_before = self._window
        cpu = self.twin_cpu()
        wall = time.perf_counter()
        peers = self.peers.cpu_seconds(self.peer_names)
        self._window = None
        if self._io_window is not None:
            io_before, switches_before = self._io_window
            self._io_window = None
            if switches_before is not None:
                self.io["ctx_switches"] += _voluntary_switches() - switches_before
            for name, value in self.peers.io_counts(self.peer_names).items():
                if name in io_before:
                    self.io[name] += value - io_before[name]
        self.wall.append(wall - wall_before)
        inner, self._inner = self._inner, None
        self.cpu.append(max(0.0, inner if inner is not None else cpu - cpu_before))
        for name, seconds in peers.items():
            self.peer_cpu.setdefault(name, []).append(
                max(0.0, seconds - peers_before.get(name, seconds)))
        threads = self.threads() if self.threads is not None else _status("Threads")
        if threads is not None:  # pools keep their threads: a round's end sees its peak
            self.threads_peak = max(self.threads_peak or 0, threads)
        rss = _status("VmHWM") if self._hwm_reset else _status("VmRSS")
        if rss is not None and self.rss_per_round:
            if self._round_rss is not None:  # kept as a delta over a zero "before"
                self.rss_before = 0
                self.rss_peak = max(self.rss_peak or 0, rss - self._round_rss)
        elif rss is not None:
            self.rss_peak = max(self.rss_peak or 0, rss)

    def busy(self) -> dict[str, float]:
        """Each peer's CPU share over the rounds (one core = 1.0)."""
        wall = sum(self.wall)
        return {name: sum(cpu) / wall for name, cpu in self.peer_cpu.items()} if wall else {}

    def info(self, own_process: bool, ops: int) -> dict[str, Any]:
        """The extra_info the run file records (see harness.results.runfile, schemas 3-4)."""
        out: dict[str, Any] = {
            "cpu_s_per_round": [round(x, 9) for x in self.cpu],
            "wall_s_per_round": [round(x, 9) for x in self.wall],
            "peer_cpu_s_per_round": {k: [round(x, 9) for x in v]
                                     for k, v in self.peer_cpu.items()},
        }
        if own_process:
            out["threads_peak"] = self.threads_peak
            if self.rss_peak is not None and self.rss_before is not None:
                out["rss_delta_bytes"] = max(0, self.rss_peak - self.rss_before)
        io = per_op(self.io, len(self.wall), ops)
        if io:
            out["io_per_op"] = {key: round(value, 6) for key, value in sorted(io.items())}
        if self.instructions and ops > 0:
            out["instructions_per_round"] = list(self.instructions)
            out["instructions_per_op"] = round(
                statistics.median(self.instructions) / ops)
            calls: Counter[str] = Counter()
            for one in self.syscalls:
                calls.update(one)
            out["syscalls_per_op"] = round(
                statistics.median(sum(c.values()) for c in self.syscalls) / ops, 3)
            out["syscalls_by_name_per_op"] = {
                name: round(n / (len(self.syscalls) * ops), 3)
                for name, n in calls.most_common()}
        return out

"""How healthy an async twin's event loop stayed during its timed rounds.

The commonest reason a port to asyncio disappoints is a blocking call left inside a coroutine:
a synchronous DNS lookup, a file read, `time.sleep`, a CPU-heavy parse. It holds the one
thread every task shares. So while a round runs, a probe callback is due every PROBE_S on the
loop, and how late it runs is the loop's **lag** (p50, p99, max over the timed rounds); a probe
late by more than the threshold (default 10 ms; asyncio's debug mode warns at 100 ms) means
something held the loop that long: a **stall** — unless the loop's thread spent most of that
time runnable but not running (the kernel's run delay, /proc/thread-self/schedstat): then the
OS had given its core to another process (a busy machine), counted apart as a preemption.
Tasks still pending when a round is over, more than before it began, are **leaked**. The probe
costs a callback every 5 ms, cheap enough to stay on (measured in instructions: see the
README).

With `where` on (`--stalls`), a watchdog thread notices when the probe is overdue and samples
the loop thread's Python stack right then, so each stall is recorded where the loop was held:
the innermost frame, and the innermost one in the twin's own code (not the standard library,
an installed package or the harness), aggregated by location. The watchdog wakes every
threshold/2 and competes for the GIL, so it is a flag, not always on.
"""

from __future__ import annotations

import asyncio
import linecache
import os
import statistics
import sys
import sysconfig
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

PROBE_S = 0.005
STALL_S = 0.010
SITES_KEPT = 5  # the most frequent places a twin held its loop, per benchmark

_LIBRARY_ROOTS = tuple(
    os.path.realpath(p) for p in {sysconfig.get_paths()["stdlib"],
                                  sysconfig.get_paths()["platstdlib"],
                                  sysconfig.get_paths()["purelib"],
                                  sysconfig.get_paths()["platlib"]})
_HARNESS_ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))


def _library(filename: str) -> bool:
    path = os.path.realpath(filename)
    return (filename.startswith("<") or path.startswith(_HARNESS_ROOT + os.sep)
            or path.startswith(_LIBRARY_ROOTS))


def short_path(filename: str) -> str:
    """A library file under its root (`socket.py`, `aiohttp/client.py`); the twin's own
    relative to the working directory when it is below it."""
    path = os.path.realpath(filename)
    for root in _LIBRARY_ROOTS:
        if path.startswith(root + os.sep):
            return os.path.relpath(path, root)
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _where(frame: FrameType) -> str:
    code = frame.f_code
    line = linecache.getline(code.co_filename, frame.f_lineno).strip()
    place = f"{short_path(code.co_filename)}:{frame.f_lineno} in {code.co_name}"
    return f"{place}: {line}" if line else place


def blocking_site(frame: FrameType | None) -> str | None:
    """Where a held loop was held: the innermost frame of the twin's own code (the line that
    called what blocked), and the innermost frame of all when that is elsewhere."""
    innermost, own = frame, None
    while frame is not None:
        if own is None and not _library(frame.f_code.co_filename):
            own = frame
        frame = frame.f_back
    if innermost is None:
        return None
    if own is None or own is innermost:
        return _where(innermost)
    return f"{_where(own)} (blocked in {_where(innermost).split(': ', 1)[0]})"


@dataclass
class LoopHealth:
    """The probe and, with `where`, the watchdog, for one benchmark's timed rounds."""

    threshold_s: float = STALL_S
    where: bool = False
    lags: list[float] = field(default_factory=list)
    stalls: int = 0
    preemptions: int = 0  # late probes the OS caused (another process had the core)
    leaked: int = 0
    sites: Counter[str] = field(default_factory=Counter)
    _loop: asyncio.AbstractEventLoop | None = None
    _handle: asyncio.TimerHandle | None = None
    _due: float = 0.0
    _heard: float = 0.0  # time.monotonic() of the probe's last run, for the watchdog
    _pending_before: int | None = None  # at the first timed round's start
    _watchdog: threading.Thread | None = None
    _running: threading.Event = field(default_factory=threading.Event)
    _loop_thread: int = 0
    _schedstat: int | None = None  # the loop thread's /proc schedstat, kept open
    _waited: float = 0.0
    _sample: tuple[str, float] | None = None  # (where, the probe run it was overdue from)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """At a timed round's start, on the loop (inside the round's coroutine)."""
        self._loop = loop
        if self._pending_before is None:
            self._pending_before = _pending(loop)
        self._due = loop.time() + PROBE_S
        self._handle = loop.call_at(self._due, self._probe)
        self._heard = time.monotonic()
        if self._schedstat is None:
            self._schedstat = _open_schedstat()  # this thread's: start runs on the loop
        self._waited = self._run_delay()
        if self.where:
            self._loop_thread = threading.get_ident()
            self._running.set()
            self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                              name="twinbench-stall-watchdog")
            self._watchdog.start()

    def _probe(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        late = max(0.0, now - self._due)
        self.lags.append(late)
        waited = self._run_delay()
        sample, self._sample = self._sample, None
        if late > self.threshold_s:
            # Held by code: it ran, or waited in a call (sleep, a blocking read). Not run by
            # the OS: it spent most of that time runnable, waiting for a core (a busy machine).
            if waited - self._waited >= late / 2:
                self.preemptions += 1
            else:
                self.stalls += 1
                # the watchdog's sample of this very stall (taken while the loop was held)
                if sample is not None and sample[1] == self._heard:
                    self.sites[sample[0]] += 1
        self._waited = waited
        self._heard = time.monotonic()
        self._due = now + PROBE_S
        self._handle = self._loop.call_at(self._due, self._probe)

    def _watch(self) -> None:
        """Sample the loop thread's stack once per overdue probe, while the loop is held; the
        probe, when it runs, keeps the sample if the delay was a stall (not the OS's)."""
        sampled_for = 0.0
        while self._running.is_set():
            time.sleep(self.threshold_s / 2)
            heard = self._heard
            if time.monotonic() - heard > self.threshold_s + PROBE_S and heard != sampled_for:
                site = blocking_site(sys._current_frames().get(self._loop_thread))
                if site is not None and self._heard == heard:  # still held while sampled
                    self._sample = (site, heard)
                sampled_for = heard

    def _run_delay(self) -> float:
        """Seconds the loop's thread has spent runnable but not running (waiting for a core),
        so far; 0 where the kernel does not say."""
        if self._schedstat is None:
            return 0.0
        try:
            return int(os.pread(self._schedstat, 128, 0).split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    def close(self) -> None:
        if self._schedstat is not None:
            os.close(self._schedstat)
            self._schedstat = None

    def stop(self) -> None:
        """At the round's end, still on the loop (the round's own tasks are done by then)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._watchdog is not None:
            self._running.clear()
            self._watchdog.join()
            self._watchdog = None
        if self._loop is not None and self._pending_before is not None:
            # Both counts are taken inside the round's own coroutine, so it is in both.
            self.leaked = max(0, _pending(self._loop) - self._pending_before)

    def info(self) -> dict[str, Any]:
        """For extra_info (harness.results.runfile, schema 4)."""
        if not self.lags:
            return {}
        lags = sorted(self.lags)
        out: dict[str, Any] = {
            "loop_lag_p50_s": round(statistics.median(lags), 6),
            "loop_lag_p99_s": round(lags[min(len(lags) - 1, int(0.99 * len(lags)))], 6),
            "loop_lag_max_s": round(lags[-1], 6),
            "loop_stalls": self.stalls,
            "loop_preemptions": self.preemptions,
            "loop_stall_threshold_s": self.threshold_s,
            "tasks_leaked": self.leaked,
        }
        if self.where:
            out["stall_sites"] = [{"where": site, "count": n}
                                  for site, n in self.sites.most_common(SITES_KEPT)]
        return out


def _open_schedstat() -> int | None:
    """The calling thread's scheduler statistics (Linux), or None where there are none."""
    try:
        return os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        return None


def _pending(loop: asyncio.AbstractEventLoop) -> int:
    return sum(not task.done() for task in asyncio.all_tasks(loop))

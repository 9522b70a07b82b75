"""Server-side twins: the twin is a server in its own process, the harness owns the load.

`server_twin()` declares one; its Bench, per benchmark:
- setup (untimed): starts the server (`python -m MODULE serve --twin NAME`, 127.0.0.1, port
  0, one JSON ready line) and the load generator (`python -m MODULE load`, a third process,
  so client CPU is never charged to the server), records the idle server's RSS and threads,
  and starts a sampler thread polling the server's RSS and thread count every 20 ms of its
  rounds.
  The sampler lives here because this process is idle while the load runs elsewhere.
- reset (untimed, before every round): the load generator opens C connections, which stay
  open across rounds as on a live server; the server's RSS and threads are sampled once all
  are open (set-up time is reported as `connect_s`). After a round that lost connections, it
  closes them all, waits until the server has released them (`settle_s`), and reconnects.
- round (timed): the load generator runs the requests; the round returns its checksum.
- extra_info: requests/s, latency percentiles, failures, server peak RSS and threads, memory
  per connection, the server's CPU per operation, and the p50/p99/max of any other sample
  series the load generator keeps (`{name}_p50_s`...). Warm-up rounds (the profile's, passed
  in BenchContext) are left out of them, as pytest-benchmark leaves them out of the timings.

CPU work inside a server (`cpu_us`, a scenario's simulated per-operation work) is calibrated
once, here in the measuring process (harness.drivers.cpuwork), and passed to both children as
`cpu_steps`: every twin of a run burns the same number of steps, and the load generator can
check the proof of it.

Checksums and failures. The load generator counts a request that times out, is refused or
is answered wrongly; it never crashes on the server's account. The round's checksum covers the
answers that arrived, so one lost answer would make it differ from the other twins and from
the workload's `expected`. In an ordinary scenario such a twin fails the benchmark, and the
round says why in one line (WorkNotDone: "37 of 2,000 operations failed (timeouts 3, unsent
34)") rather than leaving a bare checksum mismatch: a twin that dropped work must not pass as
equal. A server that exits during a round (it crashed, or was killed) fails the benchmark with one
line naming the twin and its exit status. A scenario declared `overload=True` exists to push
past what some twin can take; there
the round returns the checksum of the full work provided every answer that did arrive was
right (a wrong answer is never excused), and the failures are the result, in `errors`,
`served`, `timeouts`, `refused` and `failures`.

Every process is in its own session and dies with the harness (PR_SET_PDEATHSIG); teardown
kills both process groups, also after a failure or Ctrl-C, and deletes the temp dir the
latencies pass through (marked as this run's, so a later run reclaims it if this one is
killed: harness.leftovers).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.drivers.cpuwork import iterations_for
from harness.drivers.latency import percentile
from harness.leftovers import owned_dir, remove
from harness.model.workload import (
    ALL_PROFILES,
    BenchContext,
    CannotRun,
    Kind,
    Metric,
    Params,
    Twin,
    check_core,
)
from harness.procs import ChildProcess, nofile_shortfall, python_cmd, shielded

# What every server workload reports about the server under test, after its own rate and
# latency columns.
SERVER_METRICS = (
    Metric("errors", "errors", "count"),
    Metric("server_rss_peak", "peak RSS", "bytes"),
    Metric("server_threads_peak", "threads", "count"),
    Metric("mem_per_conn", "mem/conn", "bytes"),
)


class LoadFailed(RuntimeError):
    """The load generator itself broke (not the server under test); one line says why."""


class WorkNotDone(RuntimeError):
    """The server under test failed part of a scenario that does not allow it."""


class LoadChild(ChildProcess):
    """The load-generator child, which also answers command lines (harness.drivers.loadgen)."""

    def ask(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one command line, wait for its one reply line."""
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise LoadFailed("load generator is not running")
        try:
            proc.stdin.write((json.dumps(cmd) + "\n").encode())
            proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise LoadFailed(f"load generator exited: {self.stderr_tail()}") from None
        line = self.read_line(timeout)
        if line is None:
            if proc.poll() is not None:
                raise LoadFailed(f"load generator exited: {self.stderr_tail()}")
            raise LoadFailed(f"load generator gave no answer to {cmd['cmd']!r} within "
                             f"{timeout:.0f} s")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise LoadFailed(str(reply["error"]))
        return reply


class Sampler(threading.Thread):
    """Peak RSS and thread count of one process, polled every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(name="twinbench-sampler", daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.peak_threads = 0
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        # Polls only while its twin's round runs: between rounds (and while the other twins
        # of an interleaved scenario run theirs) its server is idle and the poll would be
        # charged to them.
        self.active = threading.Event()

    def sample(self) -> tuple[int, int] | None:
        import psutil

        try:
            with self.process.oneshot():
                rss, threads = self.process.memory_info().rss, self.process.num_threads()
        except psutil.Error:
            return None
        with self._lock:
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_threads = max(self.peak_threads, threads)
        return rss, threads

    def lingering(self) -> tuple[int, int]:
        """Threads, and TCP connections other than the listener, the process still holds."""
        import psutil

        try:
            conns = self.process.net_connections(kind="tcp")
            return self.process.num_threads(), sum(c.status != "LISTEN" for c in conns)
        except psutil.Error:
            return 0, 0

    def cpu_seconds(self) -> float:
        import psutil

        try:
            times = self.process.cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    def run(self) -> None:
        while not self._stopped.is_set():
            if self.active.wait(self.interval) and not self._stopped.is_set():
                self.sample()
                self._stopped.wait(self.interval)

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(1.0)


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        into[key] = into.get(key, 0) + int(value)


class ServerBench:
    """One server twin bound to one scenario (see the module docstring)."""

    def __init__(self, module: str, twin: str, ctx: BenchContext, *, server_loop: str | None,
                 connections: int, ops: int, rate_key: str, timeout: float):
        self.module = module
        self.twin = twin
        self.params = dict(ctx.params)
        if self.params.get("cpu_us"):  # calibrated here once, the same steps for every twin
            self.params["cpu_steps"] = iterations_for(float(self.params["cpu_us"]))
        self.warmup_rounds = ctx.warmup_rounds
        self.loop = server_loop  # the twin's own event loop, not --loop's
        self.connections = connections
        self.ops = ops
        self.rate_key = rate_key
        self.timeout = timeout
        self.overload = bool(self.params.get("overload"))
        self.server: ChildProcess | None = None
        self.load: LoadChild | None = None
        self.sampler: Sampler | None = None
        self.tmp: str | None = None
        self.base_rss = 0
        self.base_threads = 0
        self.port = 0
        self.rounds: list[dict[str, Any]] = []
        self.connects: list[dict[str, Any]] = []
        self.at_close: dict[str, int] = {}
        self.settles: list[float] = []
        self.connected = False

    # -- lifecycle ---------------------------------------------------------------------------

    def _cmd(self, role: str) -> list[str]:
        # Fds: one per connection plus headroom for the interpreter, pipes and listeners.
        return python_cmd(self.module, role, "--twin", self.twin, "--params",
                          json.dumps(self.params), "--fds", str(self.connections + 256))

    def setup(self) -> None:
        problem = nofile_shortfall(self.connections + 256)
        if problem:
            raise CannotRun(problem)
        try:
            self.tmp = str(owned_dir("twinbench-load-"))
            self.server = ChildProcess(self._cmd("serve"), ready_timeout=30.0)
            self.load = LoadChild(self._cmd("load"), commands=True, ready_timeout=30.0)
            self.server.spawn()
            self.load.spawn()  # both interpreters start at once; set-up is untimed anyway
            self.port = int(self.server.wait_ready()["port"])
            self.load.wait_ready()
            assert self.server.pid is not None
            self.sampler = Sampler(self.server.pid)
            self.base_rss, self.base_threads = self.sampler.sample() or (0, 0)
            self.sampler.peak_rss, self.sampler.peak_threads = self.base_rss, self.base_threads
            self.sampler.start()
        except BaseException:  # Ctrl-C during set-up too (teardown is idempotent)
            self.teardown()
            raise

    def _ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.load is not None
        return self.load.ask(cmd, self.timeout)

    def _close(self) -> None:
        if self.connected:
            self.connected = False
            _add(self.at_close, self._ask({"cmd": "close"}).get("counts", {}))

    def _settle(self, limit: float = 15.0) -> None:
        """Wait (untimed, bounded) until the server has let go of the last round's connections:
        threads back to the idle count, no TCP connection left. A thread-per-connection server
        can take seconds to wind down thousands of threads; connecting meanwhile would charge
        that to the next round, or starve its acceptor into refusing work."""
        assert self.sampler is not None
        start = time.monotonic()
        while time.monotonic() - start < limit:
            threads, conns = self.sampler.lingering()
            if threads <= self.base_threads and conns == 0:
                break
            time.sleep(0.02)
        self.settles.append(time.monotonic() - start)

    def _healthy(self) -> bool:
        """Whether the open connections can carry the next round: all C opened, and the last
        round lost none (a timed-out or broken connection is closed by the load generator)."""
        if not self.connected or self.connects[-1]["connected"] < self.connections:
            return False
        return not (self.rounds and any(self.rounds[-1].get("counts", {}).values()))

    def reset(self) -> None:
        self._check_alive()
        if self._healthy():
            return  # C clients stay connected across rounds, as on a live server
        if self.connected:
            self._close()
            self._settle()
        reply = self._ask({"cmd": "connect", "port": self.port})
        self.connected = True
        self.connects.append(reply)
        if self.sampler is not None:
            self.sampler.sample()  # all C connections open: the memory-per-connection moment

    def twin_cpu_seconds(self) -> float:
        """The server's CPU so far: what the harness charges a server twin's rounds with."""
        return self.sampler.cpu_seconds() if self.sampler is not None else 0.0

    def _check_alive(self, grace: float = 0.0) -> None:
        """A server twin that died is the whole story: say so in one line, naming it. `grace`:
        how long to give a server that may be dying (a round that lost work) to show it."""
        proc = self.server.proc if self.server is not None else None
        if grace and proc is not None and proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
        code = self.server.exit_code() if self.server is not None else None
        if code is not None:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            tail = self.server.stderr_tail() if self.server is not None else ""
            raise WorkNotDone(f"server twin {self.twin} {how} during the run"
                              + (f": {tail}" if tail and code > 0 else ""))

    def round(self) -> int:
        assert self.sampler is not None
        self._check_alive()
        cpu = self.sampler.cpu_seconds()
        self.sampler.active.set()
        try:
            result = self._ask({"cmd": "run"})
        finally:
            self.sampler.active.clear()
        self.sampler.sample()  # a round shorter than the poll still has its peak threads
        result["server_cpu"] = self.sampler.cpu_seconds() - cpu
        self.rounds.append(result)
        counts = result.get("counts", {})
        lost = int(result["attempted"]) - int(result["ok"]) + int(counts.get("late", 0))
        self._check_alive(grace=0.5 if lost else 0.0)
        if self.overload and result.get("full_checksum") is not None:
            return int(result["full_checksum"])
        if lost:
            # The checksum would fail the twin anyway; this says why, and stops it early.
            causes = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            raise WorkNotDone(f"{lost:,} of {int(result['attempted']):,} operations failed "
                              f"({causes}); only overload=True scenarios record that as a "
                              f"result")
        return int(result["checksum"])

    def teardown(self) -> None:
        # No polite close here (extra_info did it): after a failure or Ctrl-C, stopping the
        # process groups is quicker and just as final. Shielded: a Ctrl-C landing here must
        # not leave a child or the temp dir behind (it is re-raised once all is gone).
        with shielded():
            if self.sampler is not None:
                self.sampler.stop()
            for child in (self.load, self.server):
                if child is not None:
                    child.stop()
            if self.tmp is not None:
                remove(Path(self.tmp))
                self.tmp = None

    # -- measurements ------------------------------------------------------------------------

    def _latencies(self, skip: int) -> tuple[list[float], dict[str, Any], dict[str, Any]]:
        """Every kept round's latencies, sorted, each round's percentiles, and the summaries
        of the load generator's other sample series."""
        assert self.tmp is not None
        path = Path(self.tmp) / "latencies.bin"
        reply = self._ask({"cmd": "stats", "path": str(path), "skip": skip})
        data: array[float] = array("d")
        with path.open("rb") as f:
            data.fromfile(f, int(reply["count"]))
        return sorted(data), dict(reply.get("per_round") or {}), dict(reply.get("series") or {})

    def extra_info(self) -> dict[str, Any]:
        self._close()  # politely, so stragglers that arrive meanwhile are counted
        # Warm-up rounds are untimed by pytest-benchmark; leave them out of the latencies too.
        skip = min(self.warmup_rounds, len(self.rounds) - 1)
        rounds = self.rounds[skip:]
        connects = self.connects  # connecting is untimed: every attempt informs
        latencies, per_round, series = self._latencies(skip)
        elapsed = sum(r["elapsed"] for r in rounds)  # the traffic itself, for rates
        wall = sum(r["wall"] for r in rounds)  # the whole command, for CPU shares
        ok = sum(r["ok"] for r in rounds)
        attempted = sum(r["attempted"] for r in rounds)
        counts: dict[str, int] = {}
        for record in (*connects, *rounds):
            _add(counts, record.get("counts", {}))
        _add(counts, self.at_close)
        connected = max((c["connected"] for c in connects), default=0)
        assert self.sampler is not None
        peak_rss, peak_threads = self.sampler.peak_rss, self.sampler.peak_threads
        lags = [r["send_lag_p99"] for r in rounds if r.get("send_lag_p99") is not None]
        info: dict[str, Any] = {
            self.rate_key: ok / elapsed if elapsed > 0 else None,
            "p50_s": percentile(latencies, 50),
            "p90_s": percentile(latencies, 90),
            "p99_s": percentile(latencies, 99),
            "max_s": percentile(latencies, 100),
            "samples": len(latencies),
            # Work not done exactly once and correctly (plus anything arriving after its
            # round, e.g. a late duplicate); the causes are in `failures`.
            "errors": attempted - ok + counts.get("late", 0),
            "served": ok / attempted if attempted else None,
            "timeouts": counts.get("timeouts", 0) + counts.get("connect_timeouts", 0),
            "refused": counts.get("refused", 0),
            "failures": counts,
            "connected": connected,
            "connect_s": statistics.median(c["elapsed"] for c in connects) if connects else None,
            # How long the server took to release C closed connections (between rounds).
            "settle_s": max(self.settles) if self.settles else None,
            "server_rss_base": self.base_rss,
            "server_rss_peak": peak_rss,
            "server_threads_base": self.base_threads,
            "server_threads_peak": peak_threads,
            "mem_per_conn": (peak_rss - self.base_rss) / connected if connected else None,
            # Near 1.0 the load generator, not the server, set the pace: read rates with care.
            "load_busy": sum(r["cpu"] for r in rounds) / wall if wall > 0 else None,
            "server_busy": sum(r["server_cpu"] for r in rounds) / wall if wall > 0 else None,
            # The server's own CPU per operation (e.g. per tick), over the kept rounds.
            "server_cpu_per_op": (sum(r["server_cpu"] for r in rounds) / (self.ops * len(rounds))
                                  if rounds and self.ops > 0 else None),
            "send_lag_p99": max(lags) if lags else None,
            # Replicates for a verdict judged by latency (an open-loop scenario's).
            **{f"{name}_per_round": values for name, values in per_round.items()},
        }
        totals: dict[str, int] = {}
        for record in rounds:
            _add(totals, record.get("totals", {}))
        info.update(totals)  # workload-specific sums (e.g. deliveries), not failures
        for name, summary in series.items():  # e.g. input_p50_s, input_p99_s, input_max_s
            for key in ("p50", "p99", "max"):
                info[f"{name}_{key}_s"] = summary.get(key)
            info[f"{name}_samples"] = summary.get("count")
        return info


def server_twin(
    name: str,
    kind: Kind,
    label: str,
    module: str,
    *,
    loop: str | None = None,
    connections: Callable[[Params], int] = lambda p: int(p.get("concurrency", 1)),
    ops: Callable[[Params], int] = lambda p: int(p["n"]),
    rate_key: str = "rps",
    timeout: Callable[[Params], float] | None = None,
    profiles: frozenset[str] = ALL_PROFILES,
    core: str = "",
    library: str = "",
) -> Twin:
    """Declare a server-side twin served by `python -m module serve --twin name`.

    `module` must also answer `python -m module load` (see harness.drivers.loadgen.child_main).
    `loop` names the twin's own event loop (e.g. "uvloop"); `connections` how many
    connections a scenario opens (for the open-files limit and memory per connection); `ops`
    what one round counts as operations; `rate_key` the extra_info key of successes per
    second; `timeout` how long the harness waits for one load command (default: the
    scenario's round_timeout_s plus a margin). `profiles`, `core`, `library`: see `Twin`.
    """

    def bind(ctx: BenchContext) -> ServerBench:
        params = ctx.params
        wait = (timeout(params) if timeout is not None
                else float(params.get("round_timeout_s", 120)) + 30)
        return ServerBench(module, name, ctx, server_loop=loop, connections=connections(params),
                           ops=ops(params), rate_key=rate_key, timeout=wait)

    check_core(name, core)
    return Twin(name=name, kind=kind, label=label, bind=bind, impl=module, side="server",
                profiles=profiles, core=core, library=library)

"""Watching the database servers a run starts, for the peers' lifecycle tests: which server
processes exist below a pid, which private dirs they use, and a safety net that kills and
deletes whatever a failing test left behind."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from harness.drivers.client import client_twin
from harness.model.registry import Selection
from harness.model.workload import BenchContext, Scenario, Workload
from harness.run.runner import RunRequest, execute

DataDir = Callable[[psutil.Process], Path | None]


def named_below(pid: int, names: tuple[str, ...]) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.name() in names:
                found.append(child)
    return found


def gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def wait_gone(procs: list[psutil.Process], timeout: float = 15) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(gone(p) for p in procs):
        time.sleep(0.05)
    return [p for p in procs if not gone(p)]


def reap(procs: list[psutil.Process], dirs: set[Path]) -> None:
    """Test-side safety net: whatever a failing test left behind is killed and deleted."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if not gone(proc):
                proc.kill()
    for d in dirs:
        shutil.rmtree(d.parent if d.name == "data" else d, ignore_errors=True)


class Watcher:
    """Polls a process tree in the background and remembers every server process seen (by
    name) and the data dir each one used."""

    def __init__(self, pid: int, names: tuple[str, ...], data_dir: DataDir):
        self.pid = pid
        self.names = names
        self.data_dir = data_dir
        self.seen: dict[int, psutil.Process] = {}
        self.dirs: set[Path] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            for proc in self.below():
                self.seen.setdefault(proc.pid, proc)
                d = self.data_dir(proc)
                if d is not None:
                    self.dirs.add(d)
            time.sleep(0.02)

    def below(self) -> list[psutil.Process]:
        return named_below(self.pid, self.names)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def stop_and_reap(proc: subprocess.Popen[str], watcher: Watcher) -> None:
    """However a test ends: stop watching, kill `bench` if still running, reap the servers."""
    watcher.stop()
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    reap(list(watcher.seen.values()), watcher.dirs)


# -- the lifecycle checks both database peers' tests make ---------------------------------------

BENCH = [sys.executable, "-m", "harness"]


class Noop:
    def open(self, ctx: BenchContext) -> None: ...
    def op(self, item: int) -> int:
        return item
    def close(self) -> None: ...


class AsyncNoop:
    async def open(self, ctx: BenchContext) -> None: ...
    async def op(self, item: int) -> int:
        return item
    async def close(self) -> None: ...


def assert_skipped_without_a_server(workload: Workload, reason: str) -> None:
    """With the peer unavailable, the workload's point lookups are skipped with `reason` for
    every twin, and a workload needing no peer still runs."""
    def items(ctx: BenchContext) -> list[int]:
        return list(range(ctx.params["n"]))

    other = Workload(
        name="other", description="needs no peer",
        twins=(client_twin("seq", "sync", "seq", Noop, items),
               client_twin("tasks", "async", "tasks", AsyncNoop, items)),
        scenarios=(Scenario("s", {"n": 10, "concurrency": 2}),), tiny={"n": 4})
    request = RunRequest(selection=Selection(scenarios=("s", "point-lookups")), profile="quick")
    result = execute(request, registry={"other": other, workload.name: workload})
    outcomes = {k: (o.outcome, o.detail) for k, o in result.outcomes.items()}
    assert outcomes["other-s-seq"][0] == "passed" and outcomes["other-s-tasks"][0] == "passed"
    mine = [v for k, v in outcomes.items() if k.startswith(f"{workload.name}-")]
    assert len(mine) == len(workload.twins)
    assert all(o == ("skipped", reason) for o in mine), mine
    assert result.exit_code == 0


FAILING_RUN = """
import sys
from harness.drivers.client import client_twin
from harness.model.workload import Scenario, Workload
from harness.run.runner import RunRequest, execute

class Boom:
    def open(self, ctx):
        ctx.peers["{peer}"].connect().close()
    def op(self, item):
        raise RuntimeError("the twin failed")
    def close(self):
        pass

workload = Workload(
    name="boom", description="fails", peers=("{peer}",),
    twins=(client_twin("boom", "sync", "boom", Boom, lambda ctx: [1, 2]),),
    scenarios=(Scenario("s", {{"n": 2, "concurrency": 1}}),), tiny={{"n": 2}})
result = execute(RunRequest(profile="quick"), registry={{"boom": workload}})
print(result.outcomes["boom-s-boom"].outcome, flush=True)
sys.exit(result.exit_code)
"""


def assert_nothing_left_after_a_failed_run(peer: str, watch: Callable[[int], Watcher],
                                           env: dict[str, str]) -> None:
    """A twin that fails: the run exits 1, and the server it started is gone with its dir."""
    proc = subprocess.Popen([sys.executable, "-c", FAILING_RUN.format(peer=peer)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=env)
    watcher = watch(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=60)
        watcher.stop()
        assert proc.returncode == 1, stdout + stderr
        assert "failed" in stdout
        assert watcher.seen, "no server process was ever seen"
        assert wait_gone(list(watcher.seen.values()), timeout=5) == []
        assert watcher.dirs and not any(d.exists() for d in watcher.dirs)
    finally:
        stop_and_reap(proc, watcher)


HOLD_PEER = """
from harness.peers import PeerPool
with PeerPool({{}}) as pool:
    peer = pool.get("{peer}")
    print(peer.server.root, flush=True)
    import time
    time.sleep(120)
"""


def assert_the_server_stops_when_the_harness_is_killed(peer: str, names: tuple[str, ...],
                                                       env: dict[str, str],
                                                       timeout: float = 15) -> None:
    """SIGKILL leaves no chance to clean up: the parent-death signal stops the server (the
    data dir stays behind, which is all that can be expected)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_PEER.format(peer=peer)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=env)
    procs: list[psutil.Process] = []
    root: Path | None = None
    try:
        assert proc.stdout is not None
        root = Path(proc.stdout.readline().strip())
        procs = named_below(proc.pid, names)
        assert procs and root.is_dir()
        proc.kill()
        proc.wait()
        assert wait_gone(procs, timeout=timeout) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reap(procs, {root} if root else set())


def assert_bad_dsn_exits_2_with_one_line(args: list[str], where: str, secret: str,
                                         env: dict[str, str]) -> None:
    result = subprocess.run([*BENCH, *args], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and where in lines[0]
    assert secret not in result.stdout + result.stderr

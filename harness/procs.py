"""Child processes the harness owns: start, wait for a ready line, stop and reap on every path.

Below peers and drivers, which both start children (mock servers, load generators, the server
twins, PostgreSQL). Every child runs in a session of its own, so a terminal Ctrl-C reaches the
harness alone, which then stops children in order; a parent-death signal (Linux) covers the
harness being killed outright.

Stopping must finish however often Ctrl-C is pressed: clean-up runs `shielded()`, where SIGINT
and SIGTERM only set `hurrying()` (waits shorten, polite shutdowns are skipped) and are
re-delivered once it is done; and once a run has caught its first interrupt,
`hurry_on_interrupt()` makes every later one hurry the shutdown instead of cutting it short
(a KeyboardInterrupt raised inside some library's __del__ is printed and lost).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_hurry = threading.Event()
_calm: dict[int, Any] = {}  # the handlers hurry_on_interrupt() replaced


class ChildFailed(RuntimeError):
    """A child did not come up: it exited, stayed silent, or printed nonsense."""


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Linux: deliver `sig` to this (child) process if the harness is killed outright.

    Meant as a preexec_fn (use functools.partial for another signal)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG


def preexec(sig: int = signal.SIGTERM) -> Any:
    """The preexec_fn for a child that must die with the harness (None off Linux)."""
    if sys.platform != "linux":
        return None
    return die_with_parent if sig == signal.SIGTERM else lambda: die_with_parent(sig)


# -- interrupts during clean-up -----------------------------------------------------------------

def hurrying() -> bool:
    """Whether Ctrl-C was pressed again while stopping: wait less, skip polite shutdowns."""
    return _hurry.is_set()


def _set_hurry(signum: int, frame: FrameType | None) -> None:
    _hurry.set()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Clean-up that a signal must not cut short (a half-deleted cluster directory is leaked
    for good): SIGINT/SIGTERM during it only hurry it, and the first one is re-delivered to the
    previous handler when it is done. Nested or off the main thread it adds nothing."""
    if not _in_main_thread() or signal.getsignal(signal.SIGINT) is _set_hurry:
        yield
        return
    deferred: list[int] = []

    def defer(signum: int, frame: FrameType | None) -> None:
        deferred.append(signum)
        _hurry.set()

    previous = {sig: signal.signal(sig, defer) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if deferred:
            if not _calm:
                _hurry.clear()
            signal.raise_signal(deferred[0])


def hurry_on_interrupt() -> None:
    """The run caught an interrupt and is stopping: from now on SIGINT/SIGTERM only hurry the
    shutdown, until `restore_interrupts()` (main thread only)."""
    if _in_main_thread() and not _calm:
        _calm.update({sig: signal.signal(sig, _set_hurry) for sig in _STOP_SIGNALS})


def restore_interrupts() -> None:
    """Undo `hurry_on_interrupt()`: the run has stopped."""
    if _in_main_thread():
        for sig, handler in _calm.items():
            signal.signal(sig, handler)
        _calm.clear()
        _hurry.clear()


def wait_exit(proc: subprocess.Popen[Any], timeout: float) -> bool:
    """Wait up to `timeout` for `proc` to exit (much less once hurrying); whether it did."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if hurrying():
            left = min(left, 0.3)
        try:
            proc.wait(max(0.0, min(left, 0.05)))
            return True
        except subprocess.TimeoutExpired:
            if left <= 0:
                return False


# -- stopping children ---------------------------------------------------------------------------

def kill_group(proc: subprocess.Popen[Any], wait: float = 5.0) -> None:
    """SIGKILL a child's process group, reap the leader, wait until every member is gone.

    The group may hold grandchildren (initdb's bootstrap backends, a server's workers) even
    after the leader has exited."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # a member switched user (e.g. to nobody): still there
            pass
        time.sleep(0.01)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants so far, including descendants
    that have already exited and been reaped (e.g. finished PostgreSQL backends)."""
    import psutil

    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total: float = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                t = child.cpu_times()
                total += t.user + t.system
        return total
    except psutil.Error:
        return 0.0


def nofile_shortfall(need: int) -> str | None:
    """A one-line reason when a process cannot have `need` open files, else None."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        return (f"needs {need:,} open files per process but the hard RLIMIT_NOFILE is "
                f"{hard:,}; raise it (e.g. `ulimit -Hn {need}` as root, or LimitNOFILE= in "
                f"systemd)")
    return None


def python_cmd(module: str, *args: str) -> list[str]:
    """`python -m module args...` with this interpreter (a child sees the same packages)."""
    return [sys.executable, "-m", module, *args]


class ChildProcess:
    """A child process that prints one JSON line (e.g. its address) when it is ready.

    stderr goes to a file: a pipe nobody reads would fill up and stall a chatty child, and the
    file still yields the last line when the child dies. `commands=True` keeps a pipe to the
    child's stdin (closed first on stop, so a child reading commands can exit on EOF).
    `pass_fds` are inherited by the child (e.g. a peer's shared counters).
    """

    def __init__(self, cmd: Sequence[str], *, ready_timeout: float = 20.0,
                 env: dict[str, str] | None = None, commands: bool = False,
                 cwd: Path | None = None, pass_fds: Sequence[int] = ()):
        self.cmd = list(cmd)
        self.pass_fds = tuple(pass_fds)
        self.ready_timeout = ready_timeout
        self.env = env
        self.commands = commands
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._stderr: IO[bytes] | None = None
        self._buf = b""

    def spawn(self) -> None:
        """Start the child without waiting for it (to start several interpreters at once)."""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE if self.commands else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
            preexec_fn=preexec(),
            env=self.env,
            cwd=self.cwd,
            pass_fds=self.pass_fds,
        )

    def wait_ready(self) -> dict[str, Any]:
        line = self.read_line(self.ready_timeout)
        info: Any = None
        with contextlib.suppress(ValueError):
            info = json.loads(line) if line is not None else None
        if not isinstance(info, dict):
            err = self.stderr_tail()
            self.stop()
            what = "did not report ready" if line is None else "reported nonsense"
            raise ChildFailed(f"{' '.join(self.cmd[1:3])} {what}: {err}")
        self.info = info
        return info

    def start(self) -> dict[str, Any]:
        self.spawn()
        return self.wait_ready()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def exit_code(self) -> int | None:
        """The child's exit status if it has exited (negative: killed by that signal)."""
        return self.proc.poll() if self.proc is not None else None

    def read_line(self, timeout: float) -> bytes | None:
        """The child's next stdout line, or None if it exits or stays silent for `timeout`."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], min(left, 0.2))
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._buf += chunk
            elif self.proc.poll() is not None:
                return None
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def stderr_tail(self) -> str:
        """The child's last stderr line (why it died), or its state."""
        if self.proc is None:
            return "not started"
        if self.proc.poll() is None:
            return "(still running)"
        lines = self.stderr_lines()
        return lines[-1] if lines else f"exit code {self.proc.returncode}"

    def stderr_lines(self) -> list[str]:
        """What the child wrote to stderr so far, line by line (empty once stopped)."""
        if self._stderr is None or self._stderr.closed:
            return []
        self._stderr.seek(0)
        return [line.strip() for line in
                self._stderr.read().decode(errors="replace").strip().splitlines()
                if line.strip()]

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self, timeout: float = 5.0) -> None:
        """EOF on stdin, then SIGTERM, wait, SIGKILL the whole process group; always reaps."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with shielded():
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                wait_exit(proc, 1.0)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                wait_exit(proc, timeout)
            kill_group(proc)
            if proc.stdout is not None:
                proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()

    def __enter__(self) -> ChildProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

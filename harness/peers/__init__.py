"""Local peers the workloads talk to: each runs in its own process on 127.0.0.1.

A peer is a context manager that starts, waits until healthy and always stops and reaps its
processes on exit (also on Ctrl-C and when a benchmark fails). `PeerPool` starts the peers a run
needs on first use and stops them all at the end; `ServerProcess` is the shared plumbing for
peers written in Python.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import IO, Any


class PeerUnavailable(RuntimeError):
    """A peer cannot be had on this machine; the message says how to get one."""


class PeerFailed(RuntimeError):
    """A peer was started but did not come up healthy."""


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Linux: deliver `sig` to this (child) process if the harness is killed outright.

    Meant as a preexec_fn (use functools.partial for another signal)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants so far, including descendants
    that have already exited and been reaped (e.g. finished PostgreSQL backends)."""
    import psutil

    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                t = child.cpu_times()
                total += t.user + t.system
        return total
    except psutil.Error:
        return 0.0


def python_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


class ServerProcess:
    """A child process that prints one JSON line (its address) when it is ready to serve.

    The child gets its own session so a terminal Ctrl-C reaches the harness only, which then
    stops children in order; PR_SET_PDEATHSIG covers the harness dying without cleanup.
    stderr goes to a file: a pipe nobody reads would fill up and stall a chatty child, and the
    file still yields the last line when the child dies. `commands=True` keeps a pipe to the
    child's stdin (closed first on stop, so a child reading commands can exit on EOF).
    """

    def __init__(self, cmd: Sequence[str], *, ready_timeout: float = 20.0,
                 env: dict[str, str] | None = None, commands: bool = False):
        self.cmd = list(cmd)
        self.ready_timeout = ready_timeout
        self.env = env
        self.commands = commands
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
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
            env=self.env,
        )

    def wait_ready(self) -> dict[str, Any]:
        line = self.read_line(self.ready_timeout)
        try:
            self.info = json.loads(line) if line is not None else None
        except ValueError:
            self.info = None
        if not isinstance(self.info, dict):
            err = self.stderr_tail()
            self.stop()
            what = "did not report ready" if line is None else "reported nonsense"
            raise PeerFailed(f"{' '.join(self.cmd[1:3])} {what}: {err}")
        return self.info

    def start(self) -> dict[str, Any]:
        self.spawn()
        return self.wait_ready()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

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
        lines: list[str] = []
        if self._stderr is not None and not self._stderr.closed:
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {self.proc.returncode}"

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self, timeout: float = 5.0) -> None:
        """EOF on stdin, then SIGTERM, wait, SIGKILL the whole process group; always reaps."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1.0)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        # The group may hold grandchildren even after the leader has exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


PeerFactory = Callable[[dict[str, Any]], AbstractContextManager[Any]]


def _factories() -> dict[str, PeerFactory]:
    # Imported lazily: the peers module needs no peer implementation until one is started.
    from harness.peers.http import HttpPeer

    factories: dict[str, PeerFactory] = {"http": HttpPeer}
    with contextlib.suppress(ImportError):
        from harness.peers.postgres import PostgresPeer

        factories["postgres"] = PostgresPeer
    return factories


class PeerPool:
    """Starts each named peer on first use and stops all of them on close.

    A peer that cannot be had is remembered, so every benchmark that needs it is skipped with
    the same reason instead of retrying the start.
    """

    def __init__(self, options: dict[str, Any] | None = None):
        self.options = options or {}
        self._stack = ExitStack()
        self._peers: dict[str, Any] = {}
        self._unavailable: dict[str, Exception] = {}
        self.close_errors: list[str] = []

    def get(self, name: str) -> Any:
        if name in self._unavailable:
            raise self._unavailable[name]
        if name not in self._peers:
            factories = _factories()
            if name not in factories:
                raise PeerUnavailable(f"no peer named {name!r}")
            try:
                self._peers[name] = self._stack.enter_context(factories[name](self.options))
            except (PeerUnavailable, PeerFailed) as exc:
                self._unavailable[name] = exc
                raise
        return self._peers[name]

    def preflight(self, names: set[str]) -> None:
        """Let peers reject bad user input (e.g. an unreachable DSN) before anything runs.

        A peer factory may define `preflight(options)` raising BadInput.
        """
        factories = _factories()
        for name in sorted(names):
            check = getattr(factories.get(name), "preflight", None)
            if check is not None:
                check(self.options)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time each started peer has used so far (peers that can tell)."""
        return {name: peer.cpu_seconds() for name, peer in self._peers.items()
                if hasattr(peer, "cpu_seconds")}

    def describe(self) -> dict[str, Any]:
        """What the results file records about each peer (never secrets)."""
        return {name: peer.describe() for name, peer in self._peers.items()
                if hasattr(peer, "describe")}

    def close(self) -> None:
        """Stop every peer; a peer that fails to stop cleanly is reported, not raised, so the
        measurements already taken are not lost to it."""
        self._peers.clear()
        try:
            self._stack.close()
        except Exception as exc:
            self.close_errors.append(f"stopping a peer failed: {exc}")

    def __enter__(self) -> PeerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

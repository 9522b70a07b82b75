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
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import Any


class PeerUnavailable(RuntimeError):
    """A peer cannot be had on this machine; the message says how to get one."""


class PeerFailed(RuntimeError):
    """A peer was started but did not come up healthy."""


def _die_with_parent() -> None:
    """Linux: deliver SIGTERM to the child if the harness itself is killed outright."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def python_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


class ServerProcess:
    """A child process that prints one JSON line (its address) when it is ready to serve.

    The child gets its own session so a terminal Ctrl-C reaches the harness only, which then
    stops children in order; PR_SET_PDEATHSIG covers the harness dying without cleanup.
    """

    def __init__(self, cmd: Sequence[str], *, ready_timeout: float = 20.0,
                 env: dict[str, str] | None = None):
        self.cmd = list(cmd)
        self.ready_timeout = ready_timeout
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            env=self.env,
        )
        self.info = self._read_ready_line()
        return self.info

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children so far."""
        import psutil

        if self.proc is None:
            return 0.0
        try:
            root = psutil.Process(self.proc.pid)
            total = 0.0
            for proc in (root, *root.children(recursive=True)):
                times = proc.cpu_times()
                total += times.user + times.system
            return total
        except psutil.Error:
            return 0.0

    def _read_ready_line(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise PeerFailed(f"{self.cmd[2] if len(self.cmd) > 2 else self.cmd[0]} "
                                 f"did not report ready within {self.ready_timeout:.0f} s")
            readable, _, _ = select.select([fd], [], [], min(left, 0.2))
            if readable:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
            elif self.proc.poll() is not None:
                break
        line = buf.split(b"\n", 1)[0]
        try:
            return json.loads(line)
        except ValueError:
            err = self._stderr_tail()
            self.stop()
            raise PeerFailed(f"peer {self.cmd} exited before it was ready: {err}") from None

    def _stderr_tail(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        if self.proc.poll() is None:
            return "(still running)"
        data = self.proc.stderr.read() or b""
        lines = data.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {self.proc.returncode}"

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL the whole process group; always reaps."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
        # The group may hold grandchildren even after the leader has exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


PeerFactory = Callable[[dict[str, Any]], AbstractContextManager[Any]]


def _factories() -> dict[str, PeerFactory]:
    # Imported lazily so `bench list` does not import aiohttp or PostgreSQL drivers.
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
        self._peers.clear()
        self._stack.close()

    def __enter__(self) -> PeerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Peers: the local servers workloads talk to, each in its own process on 127.0.0.1 or a Unix
socket.

Owns each peer's lifecycle (a context manager that starts, waits until healthy and always stops
and reaps its processes, also on Ctrl-C and when a benchmark fails) and `PeerPool`, which starts
the peers a run needs on first use and stops them all at the end. `http` is the mock HTTP
server, `postgres` a throwaway PostgreSQL or a user's via a DSN, `mysql` the same for
MariaDB/MySQL, `files` a private temporary directory on disk.

May import: `harness.procs`, `harness.leftovers`, `harness.model`, `harness.redact`,
`harness.errors`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from harness.procs import shielded


class PeerUnavailable(RuntimeError):
    """A peer cannot be had on this machine; the message says how to get one."""


class PeerFailed(RuntimeError):
    """A peer was started but did not come up healthy."""


PeerFactory = Callable[[dict[str, Any]], AbstractContextManager[Any]]


def _factories() -> dict[str, PeerFactory]:
    # Imported lazily: the peers module needs no peer implementation until one is started.
    from harness.peers.files import FilesPeer
    from harness.peers.http import HttpPeer

    factories: dict[str, PeerFactory] = {"http": HttpPeer, "files": FilesPeer}
    with contextlib.suppress(ImportError):
        from harness.peers.postgres import PostgresPeer

        factories["postgres"] = PostgresPeer
    with contextlib.suppress(ImportError):
        from harness.peers.mysql import MysqlPeer

        factories["mysql"] = MysqlPeer
    return factories


class PeerPool:
    """Starts each named peer on first use and stops all of them on close.

    A peer that cannot be had, failed to start, or died (one with `exit_code()` tells) is
    remembered, so every later benchmark that needs it is skipped or failed at once with the
    same reason instead of retrying the start or running against a dead peer.
    """

    def __init__(self, options: dict[str, Any] | None = None):
        self.options = dict(options or {})
        # One certificate authority for the run, made when a peer first asks (harness.peers.tls):
        # every peer that speaks TLS presents a certificate it signed, every twin trusts it.
        self.options.setdefault("tls_ca", self._run_ca)
        self._ca: Any = None
        self._stack = ExitStack()
        self._peers: dict[str, Any] = {}
        self._unavailable: dict[str, Exception] = {}
        self._users: dict[str, str] = {}  # peer -> the last benchmark that got it
        self.close_errors: list[str] = []

    def get(self, name: str, user: str = "") -> Any:
        """The started peer `name` for benchmark `user` (named if the peer dies under it)."""
        if name in self._unavailable:
            raise self._unavailable[name]
        if name in self._peers:
            self.check_alive([name])
        else:
            factories = _factories()
            if name not in factories:
                raise PeerUnavailable(f"no peer named {name!r}")
            try:
                self._peers[name] = self._stack.enter_context(factories[name](self.options))
            except (PeerUnavailable, PeerFailed) as exc:
                self._unavailable[name] = exc
                raise
        if user:
            self._users[name] = user
        return self._peers[name]

    def _run_ca(self) -> Any:
        if self._ca is None:
            from harness.peers.tls import RunCA

            ca = RunCA()
            self._stack.callback(ca.close)  # after the peers that use it: they stop first
            self._ca = ca
        return self._ca

    def use(self, names: Iterable[str], user: str) -> None:
        """Benchmark `user` is about to run a round on these peers: PeerFailed if one has
        died (under whoever used it last), else `user` is who a death is charged to now.
        Twins measured in turn share the peers round by round."""
        names = list(names)
        self.check_alive(names)
        for name in names:
            if name in self._peers:
                self._users[name] = user

    def check_alive(self, names: Iterable[str]) -> None:
        """PeerFailed (remembered: the first detection names the benchmark) if a started peer
        among `names` has exited."""
        for name in names:
            if name in self._unavailable:
                raise self._unavailable[name]
            exit_code = getattr(self._peers.get(name), "exit_code", None)
            code = exit_code() if exit_code is not None else None
            if code is not None:
                during = f" during {self._users[name]}" if name in self._users else ""
                self._unavailable[name] = PeerFailed(f"{name} peer died (exit {code}){during}")
                raise self._unavailable[name]

    def preflight(self, names: set[str]) -> None:
        """Let peers reject bad user input (e.g. an unreachable DSN) before anything runs.

        A peer factory may define `preflight(options)` raising BadInput.
        """
        factories = _factories()
        for name in sorted(names):
            check = getattr(factories.get(name), "preflight", None)
            if check is not None:
                check(self.options)

    def cpu_seconds(self, names: Collection[str]) -> dict[str, float]:
        """CPU time each of these peers (started ones that can tell) has used so far."""
        return {name: peer.cpu_seconds() for name, peer in self._peers.items()
                if name in names and hasattr(peer, "cpu_seconds")}

    def io_counts(self, names: Collection[str]) -> dict[str, int]:
        """The I/O these peers have served so far, summed over them, counter by counter:
        `requests`, `connections` (accepted), `bytes_sent` / `bytes_received` (by the twin:
        into the peer / out of it), `statements`. A peer counts only what it can count
        exactly, and only when it is ours alone (a server given by DSN is shared)."""
        total: dict[str, int] = {}
        for name, peer in self._peers.items():
            if name in names and hasattr(peer, "io_counts"):
                for key, value in peer.io_counts().items():
                    total[key] = total.get(key, 0) + value
        return total

    def describe(self) -> dict[str, Any]:
        """What the results file records about each peer (never secrets)."""
        return {name: peer.describe() for name, peer in self._peers.items()
                if hasattr(peer, "describe")}

    def close(self) -> None:
        """Stop every peer; a peer that fails to stop cleanly is reported, not raised, so the
        measurements already taken are not lost to it. Ctrl-C hurries it, never cuts it short
        (procs.shielded)."""
        self._peers.clear()
        with shielded():
            try:
                self._stack.close()
            except Exception as exc:
                self.close_errors.append(f"stopping a peer failed: {exc}")

    def __enter__(self) -> PeerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Who a throwaway database server runs as, and the private dirs and set-up tools its peers
share (both database peers get the same ownership marks, bounded start-up and shielded
clean-up).

PostgreSQL refuses to run as root and MariaDB/MySQL insist on a `--user` then; when the harness
is root, both servers run as `nobody` instead, which owns nothing, so a server can touch
nothing but its own private directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.leftovers import owned_dir, remove, temp_root
from harness.peers import PeerFailed, PeerUnavailable
from harness.procs import hurrying, kill_group, preexec


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user a server (and its set-up tools) run as."""

    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def run_as_unprivileged(what: str, how: str, names: tuple[str, ...] = ("nobody",)
                        ) -> RunAs | None:
    """None when the harness is not root (the server runs as us); else the first of `names`.

    `what` and `how` word the error: "<what> refuses to run as root ... <how>"."""
    if os.geteuid() != 0:
        return None
    for name in names:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return RunAs(name, entry.pw_uid, entry.pw_gid)
    raise PeerUnavailable(f"{what} refuses to run as root and there is no "
                          f"{' or '.join(repr(n) for n in names)} user to run it as; {how}")


def reachable(path: Path, user: RunAs) -> bool:
    """Whether `user` can traverse to `path` and read/execute it (root's os.access says yes to
    everything, so look at the permission bits)."""
    path = path.resolve()
    for part in (*reversed(path.parents), path):
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == user.uid:
            bits = stat.S_IXUSR
        elif st.st_gid == user.gid:
            bits = stat.S_IXGRP
        else:
            bits = stat.S_IXOTH
        if not st.st_mode & bits:
            return False
    return True


def private_dir(prefix: str) -> Path:
    """A fresh mode-0700 temp dir, marked as this run's (harness.leftovers: a later run
    reclaims it if this one is killed outright), short enough for a Unix socket path inside it
    (at most 107 bytes)."""
    return owned_dir(prefix, temp_root(short=True))


def remove_dir(root: Path) -> None:
    """Delete a server's private dir; a straggler may still be writing into it for a moment.
    Callers shield this from Ctrl-C (harness.procs.shielded)."""
    for _ in range(50):
        if root == Path() or not root.exists():
            return
        remove(root)
        time.sleep(0.02)


def log_tail(path: Path, lines: int = 3) -> str:
    """The last lines of a server's log, on one line (why it did not start)."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def run_tool(args: list[str], run_as: RunAs | None, cwd: Path, env: dict[str, str],
             timeout: float, *, name: str | None = None, timeout_hint: str = "",
             preexec_fn: Callable[[], None] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """Run a server's set-up tool (initdb, pg_ctl, mariadb-install-db) as the server's user, in
    a session of its own, dying with the harness: if we are interrupted, or it overruns
    `timeout` (a PeerFailed naming it, so the pool remembers it and no later benchmark waits
    again), the whole group goes (a bootstrap server the tool started too, which would
    otherwise keep writing into the dir being deleted). Cut short once a second Ctrl-C says
    to hurry (harness.procs.hurrying)."""
    name = name or Path(args[0]).name
    extra = run_as.popen_kwargs() if run_as else {}
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=cwd, env=env, start_new_session=True,
        preexec_fn=preexec_fn or preexec(), **extra,
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:  # in slices: retrying communicate() loses no output
                out, err = proc.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if hurrying():
                    raise PeerFailed(f"{name} cut short by a second interrupt") from None
                if time.monotonic() > deadline:
                    hint = f" ({timeout_hint})" if timeout_hint else ""
                    raise PeerFailed(f"{name} did not finish within {timeout:g} s and was "
                                     f"stopped{hint}") from None
    except BaseException:
        kill_group(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

"""What a run leaves behind, tagged with its owner, and taken back once that owner is dead.

A run killed outright (SIGKILL, the OOM killer, a CI runner's timeout) cannot clean up, and a
throwaway PostgreSQL cluster is ~40 MB. So every temp directory a run makes comes from
`owned_dir`, which writes a marker naming the run's process; the private schema a run makes in
a user's database carries the same tag as its comment (peers.postgres). The next run, or
`bench clean`, removes what dead owners left, and nothing else: a PID alone can be reused by an
unrelated process, so the owner is its PID *and* its start time on this boot of this host; an
entry without a marker, from another host or boot, or of a live run is never touched.

Below every package: imports nothing from the harness but `procs` (deleting is shielded from
Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from harness.procs import shielded

PREFIX = "twinbench-"
MARKER = ".twinbench-owner"
TAG = "twinbench run "  # how a tag starts where it is free text (a schema comment)
# PostgreSQL's socket lives in its dir, and a Unix socket path must fit in 107 bytes.
_SHORT = 60

State = Literal["alive", "dead", "unknown"]


def _boot_id() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return ""


def _start_of(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (/proc), or None if it is gone or a zombie.

    Ticks rather than psutil's create_time: that one is derived from the wall clock and moves
    when NTP adjusts it, and the comparison must be exact."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return _start_psutil(pid)
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    if fields[0] in ("Z", "X"):  # exited, not yet reaped: owns nothing any more
        return None
    return int(fields[19])


def _start_psutil(pid: int) -> int | None:
    import psutil

    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else int(proc.create_time() * 100)
    except psutil.Error:
        return None


def _start_time(pid: int) -> int | None:
    return _start_of(pid) if Path("/proc/self/stat").exists() else _start_psutil(pid)


@dataclass(frozen=True)
class Owner:
    """The process that made something: PID, start time, and which boot of which host."""

    pid: int
    started: int
    host: str
    boot: str

    def state(self) -> State:
        if (self.host, self.boot) != (socket.gethostname(), _boot_id()):
            return "unknown"  # a PID means nothing on another machine or after a reboot
        return "alive" if _start_time(self.pid) == self.started else "dead"

    def tag(self) -> str:
        return TAG + json.dumps({"pid": self.pid, "started": self.started, "host": self.host,
                                 "boot": self.boot}, sort_keys=True)

    @classmethod
    def from_tag(cls, text: str | None) -> Owner | None:
        """The owner a tag names; None for anything else (foreign, damaged, hand-written)."""
        if not text or not text.startswith(TAG):
            return None
        try:
            raw = json.loads(text[len(TAG):])
            owner = cls(int(raw["pid"]), int(raw["started"]), str(raw["host"]),
                        str(raw["boot"]))
        except (ValueError, TypeError, KeyError):
            return None
        return owner if owner.pid > 0 else None


@cache
def _owner_of_pid(pid: int) -> Owner:
    return Owner(pid, _start_time(pid) or 0, socket.gethostname(), _boot_id())


def this_process() -> Owner:
    """This process as an owner (cached per PID: a forked child is its own owner)."""
    return _owner_of_pid(os.getpid())


def temp_root(short: bool = False) -> Path:
    """Where a run's temp dirs go: the temp dir, or /tmp for one that must have a short path
    (it holds a Unix socket) when the temp dir's path is long."""
    root = Path(tempfile.gettempdir())
    return Path("/tmp") if short and len(str(root)) > _SHORT else root


def temp_roots() -> list[Path]:
    return list(dict.fromkeys((temp_root(), temp_root(short=True))))


def owned_dir(prefix: str, parent: Path | None = None) -> Path:
    """A new private (0700) temp dir, `prefix` + random, marked as this process's."""
    assert prefix.startswith(PREFIX), prefix
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        (path / MARKER).write_text(this_process().tag() + "\n")
    except BaseException:
        remove(path)
        raise
    return path


@contextlib.contextmanager
def owned_tempdir(prefix: str) -> Iterator[Path]:
    """`owned_dir` for the length of a with block, removed however the block ends."""
    path = owned_dir(prefix)
    try:
        yield path
    finally:
        remove(path)


def remove(path: Path) -> None:
    """Delete a directory tree we made; Ctrl-C cannot cut it short (procs.shielded)."""
    with shielded():
        shutil.rmtree(path, ignore_errors=True)


def owner_of(path: Path) -> Owner | None:
    try:
        return Owner.from_tag((path / MARKER).read_text().strip())
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class Reclaimed:
    """What `reclaim` removed (and, for the one line about it, whose it was)."""

    paths: list[Path] = field(default_factory=list)
    size: int = 0
    owners: set[int] = field(default_factory=set)


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _in_use(paths: list[Path]) -> set[Path]:
    """The paths some live process still works in (a cluster still shutting down)."""
    import psutil

    busy: set[Path] = set()
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info.get("cwd")
        if cwd:
            busy.update(p for p in paths if Path(cwd).is_relative_to(p))
    return busy


def reclaim(roots: Iterable[Path] | None = None, pid: int | None = None) -> Reclaimed:
    """Remove the `twinbench-*` dirs under `roots` (default: `temp_roots()`) whose owner is
    dead (only `pid`'s, when given: a child this run saw die); never one that is unmarked,
    alive, foreign, or still some process's working dir."""
    candidates: list[tuple[Path, Owner]] = []
    for root in roots if roots is not None else temp_roots():
        with contextlib.suppress(OSError):
            for path in sorted(root.glob(PREFIX + "*")):
                if path.is_dir() and not path.is_symlink():
                    owner = owner_of(path)
                    if (owner is not None and owner.state() == "dead"
                            and pid in (None, owner.pid)):
                        candidates.append((path, owner))
    done = Reclaimed()
    busy = _in_use([p for p, _ in candidates]) if candidates else set()
    for path, owner in candidates:
        if path in busy:
            continue
        size = _size(path)
        remove(path)
        if not path.exists():
            done.paths.append(path)
            done.size += size
            done.owners.add(owner.pid)
    return done

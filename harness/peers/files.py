"""The files peer: a private temporary directory for workloads that read and write files.

Not a server, but a peer all the same: something outside the twins that must exist before the
first benchmark and be gone after the last, on every exit path. As a peer in a `PeerPool` the
directory is removed when the run ends normally, when a benchmark fails and on Ctrl-C.

Where: `--tmpdir DIR` (taken as given, whatever it is backed by), else the first of the
system's temp dir, /var/tmp and the current directory that is on a disk rather than in memory
(tmpfs, ramfs): file I/O on a tmpfs is a memcpy and says nothing about files. The filesystem
is recorded in the run file.

The page cache: a round that reads files just written reads memory. Workloads say which they
measure; this peer can tell how much of a set of files is cached (mincore) and drop *its own
files'* pages (posix_fadvise DONTNEED after fdatasync). It never drops the system's caches
(/proc/sys/vm/drop_caches): that takes root and throws away everyone else's cache too.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.peers import PeerUnavailable

MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"})
PREFIX = "twinbench-files-"
HOW_TO_GET = ("no disk-backed directory for temporary files: {tried} are all in memory or not "
              "writable; pass --tmpdir DIR")


def mount_of(path: Path) -> dict[str, str]:
    """The filesystem `path` lives on: type, device and mount point (Linux's mount table;
    elsewhere only what can be known without it)."""
    path = path.resolve()
    best: dict[str, str] = {"fstype": "unknown", "device": "unknown", "mountpoint": "/"}
    best_len = -1
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            device, mountpoint, fstype = fields[0], _unescape(fields[1]), fields[2]
            if (path == Path(mountpoint) or Path(mountpoint) in path.parents) and \
                    len(mountpoint) > best_len:
                best = {"fstype": fstype, "device": device, "mountpoint": mountpoint}
                best_len = len(mountpoint)
    return best


def _unescape(field: str) -> str:
    """/proc/self/mounts writes spaces and tabs in paths as octal escapes."""
    return (field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            .replace("\\134", "\\"))


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


# -- the page cache, for our own files only ------------------------------------------------------

class _Libc:
    """mmap + mincore through ctypes (Python has no os.mincore): which pages of a file are in
    the page cache, without reading (and so caching) them."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                 ctypes.POINTER(ctypes.c_ubyte)]
        self.libc = libc
        self.page = os.sysconf("SC_PAGE_SIZE")

    def resident(self, path: str) -> tuple[int, int]:
        """(pages in the page cache, pages) of one file."""
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                return 0, 0
            addr = self.libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
            if addr in (None, ctypes.c_void_p(-1).value):
                raise OSError(ctypes.get_errno(), f"mmap {path}")
            try:
                pages = -(-size // self.page)
                vec = (ctypes.c_ubyte * pages)()
                if self.libc.mincore(addr, size, vec) != 0:
                    raise OSError(ctypes.get_errno(), f"mincore {path}")
                return sum(b & 1 for b in vec), pages
            finally:
                self.libc.munmap(addr, size)
        finally:
            os.close(fd)


class FilesPeer:
    """A private directory (mode 0700) under a disk-backed temp dir, removed at exit."""

    def __init__(self, options: dict[str, Any] | None = None):
        options = options or {}
        self.requested: str | None = options.get("tmpdir") or None
        self.root = Path()
        self.mount: dict[str, str] = {}
        self._datasets: set[str] = set()
        self._libc: _Libc | None = None

    @staticmethod
    def preflight(options: dict[str, Any]) -> None:
        """An unusable --tmpdir is bad input, said before anything runs."""
        given = options.get("tmpdir")
        if given and not _writable_dir(Path(given)):
            what = "does not exist" if not Path(given).exists() else (
                "is not a directory" if not Path(given).is_dir() else "is not writable")
            raise BadInput(f"--tmpdir {given}: {what}")

    def _parent(self) -> Path:
        if self.requested:
            return Path(self.requested)
        tried = []
        for candidate in (tempfile.gettempdir(), "/var/tmp", os.getcwd()):
            path = Path(candidate)
            if path in tried:
                continue
            tried.append(path)
            if _writable_dir(path) and mount_of(path)["fstype"] not in MEMORY_FILESYSTEMS:
                return path
        raise PeerUnavailable(HOW_TO_GET.format(tried=", ".join(map(str, tried))))

    def start(self) -> FilesPeer:
        parent = self._parent()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        try:
            self.mount = mount_of(self.root)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        root, self.root = self.root, Path()
        self._datasets.clear()
        if root != Path() and root.exists():
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> FilesPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for workloads (all untimed) ---------------------------------------------------------------

    def dataset(self, name: str, build: Callable[[Path], None]) -> Path:
        """The directory `name` under the private root, filled by `build` the first time it is
        asked for in this run (benchmarks of the same scenario share it)."""
        path = self.root / name
        if name not in self._datasets:
            shutil.rmtree(path, ignore_errors=True)  # half-built by an earlier failure
            path.mkdir(parents=True)
            build(path)
            self._datasets.add(name)
        return path

    def scratch(self, name: str) -> Path:
        """An empty directory `name` under the private root (emptied again on every call)."""
        path = self.root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def cached_fraction(self, paths: Iterable[str]) -> float | None:
        """The share of these files' pages in the page cache now; None where unknown."""
        if sys.platform != "linux":
            return None
        try:
            if self._libc is None:
                self._libc = _Libc()
            resident = total = 0
            for path in paths:
                r, t = self._libc.resident(path)
                resident, total = resident + r, total + t
        except (OSError, AttributeError):
            return None
        return resident / total if total else None

    def evict(self, paths: Iterable[str]) -> None:
        """Drop these files' pages from the page cache (theirs only). Dirty pages cannot be
        dropped, so each file is flushed first (a no-op once it is clean)."""
        if not hasattr(os, "posix_fadvise"):
            return
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)

    def describe(self) -> dict[str, Any]:
        memory = self.mount.get("fstype") in MEMORY_FILESYSTEMS
        parent = self.root.parent if self.root != Path() else None
        summary = (f"private dir under {parent} on {self.mount.get('fstype')} "
                   f"({self.mount.get('device')}{', in memory' if memory else ''}"
                   f"{', chosen by --tmpdir' if self.requested else ''}), removed at exit; "
                   "page cache: only this run's own files' pages are ever dropped")
        return {"kind": "private temp dir", "path": str(self.root), "parent": str(parent),
                "tmpdir_option": self.requested, "memory_backed": memory, **self.mount,
                "summary": summary}

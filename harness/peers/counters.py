"""Counters a peer process keeps and the harness reads without asking: a few 64-bit integers in
memory both processes map.

The harness reads them between rounds, as often as it likes, with no system call and nothing
for the peer to answer (a query over a socket would itself be I/O, and work for the peer at
the edge of every round). The memory is an anonymous file (memfd on Linux, an unlinked temp
file elsewhere) handed to the child as an inherited descriptor, so there is nothing to clean
up on any exit path. Only the peer writes, from its one event-loop thread; 8-byte aligned
stores are not torn, and the harness reads only between rounds anyway.
"""

from __future__ import annotations

import mmap
import os
import tempfile

FIELDS = ("requests", "connections", "bytes_sent", "bytes_received")


class SharedCounters:
    """`FIELDS`, in one shared page. `create()` in the harness, `attach(fd)` in the peer."""

    def __init__(self, fd: int, owner: bool):
        self.fd = fd
        self._owner = owner
        self._map = mmap.mmap(fd, mmap.PAGESIZE)
        self._view = memoryview(self._map).cast("q")
        self._index = {name: i for i, name in enumerate(FIELDS)}

    @classmethod
    def create(cls) -> SharedCounters:
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("twinbench-counters")
        else:  # an unlinked temp file: gone when the last descriptor closes
            fd, path = tempfile.mkstemp(prefix="twinbench-counters-")
            os.unlink(path)
        os.ftruncate(fd, mmap.PAGESIZE)
        return cls(fd, owner=True)

    @classmethod
    def attach(cls, fd: int) -> SharedCounters:
        return cls(fd, owner=False)

    def add(self, name: str, amount: int = 1) -> None:
        self._view[self._index[name]] += amount

    def read(self) -> dict[str, int]:
        return {name: int(self._view[i]) for name, i in self._index.items()}

    def close(self) -> None:
        if self._map.closed:
            return
        self._view.release()
        self._map.close()
        if self._owner:
            os.close(self.fd)

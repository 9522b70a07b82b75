"""file_io: reading and writing files, the way people port it — and what that costs.

Python has no asynchronous file I/O: `aiofiles` and `asyncio.to_thread` both hand the blocking
calls to a thread pool. So the twins are four ways of doing the same syscalls: builtin `open`
one file after another; the same on a thread pool of C; aiofiles with C in flight (a hop to
the pool and back for every call: open, read or write, flush, close); `asyncio.to_thread` with
C in flight (one hop per op, around the same function the sync twins run). The async twins get
a default executor of C threads, so every twin has the same C threads to work with.

Scenarios: many small files read, one large file read in chunks (each op opens it, seeks and
reads one chunk, so C of them can be in flight), many small writes each made durable with
fsync. Files are made untimed in the `files` peer's private directory on disk (`--tmpdir`
chooses another) and deleted at exit. The page cache: `warm` scenarios read every file once
before each round, `cold` ones drop these files' pages first (posix_fadvise, the files' own
pages only); each benchmark reports the share of the round's pages that was cached as it
began, measured with mincore.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiofiles
import aiofiles.os

from harness import (
    BenchContext,
    Metric,
    Params,
    Scenario,
    Twin,
    Workload,
    client_twin,
    fold,
    payload,
)

Chunk = tuple[str, int, int]  # path, offset, size
Write = tuple[str, bytes]  # path, contents


# --- the data and the work: pure functions of the parameters ---------------------------------


def summary(offset: int, data: bytes) -> tuple[int, int, bytes, bytes]:
    """What a chunk read returns: where, how much, and its first and last bytes (enough to
    prove the right bytes came back, without hashing 64 MiB on the timed path)."""
    return (offset, len(data), data[:16], data[-16:])


def _name(i: int) -> str:
    return f"f{i:05d}.bin"


def expected(params: Params) -> int:
    op, n = params["op"], params["n"]
    if op == "read":
        return fold(payload(i, params["size"]) for i in range(n))
    if op == "chunk":
        size = params["chunk"]
        return fold(summary(k * size, payload(k, size)) for k in range(n))
    return fold((_name(i), params["size"]) for i in range(n))


def _small_files(n: int, size: int) -> Any:
    def build(directory: Path) -> None:
        for i in range(n):
            (directory / _name(i)).write_bytes(payload(i, size))
    return build


def _large_file(n: int, chunk: int) -> Any:
    def build(directory: Path) -> None:
        with open(directory / "large.bin", "wb") as f:
            for k in range(n):
                f.write(payload(k, chunk))
    return build


def items(ctx: BenchContext) -> list[Any]:
    """Creates the files (untimed, once per run for each size) and lists the ops."""
    p, files = ctx.params, ctx.peers["files"]
    n = p["n"]
    if p["op"] == "read":
        directory = files.dataset(f"small-{n}x{p['size']}", _small_files(n, p["size"]))
        return [str(directory / _name(i)) for i in range(n)]
    if p["op"] == "chunk":
        directory = files.dataset(f"large-{n}x{p['chunk']}", _large_file(n, p["chunk"]))
        path = str(directory / "large.bin")
        return [(path, k * p["chunk"], p["chunk"]) for k in range(n)]
    directory = files.scratch("writes")
    return [(str(directory / _name(i)), payload(i, p["size"])) for i in range(n)]


def _read_paths(ctx: BenchContext) -> list[str]:
    p, files = ctx.params, ctx.peers["files"]
    if p["op"] == "read":
        directory = files.root / f"small-{p['n']}x{p['size']}"
        return [str(directory / _name(i)) for i in range(p["n"])]
    return [str(files.root / f"large-{p['n']}x{p['chunk']}" / "large.bin")]


def reset(ctx: BenchContext) -> dict[str, float] | None:
    """Before every round, untimed: delete what the last round wrote; put the files a round
    reads in the page cache (warm) or drop them from it (cold), and say how much is cached."""
    p, files = ctx.params, ctx.peers["files"]
    if p["op"] == "write":
        files.scratch("writes")
        return None
    paths = _read_paths(ctx)
    if p.get("cache") == "cold":
        files.evict(paths)
    else:
        for path in paths:
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass
    cached = files.cached_fraction(paths)
    return None if cached is None else {"page_cache": cached}


# --- the syscalls, written once: the sync twins call them, asyncio.to_thread wraps them --------


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_chunk(item: Chunk) -> Any:
    path, offset, size = item
    with open(path, "rb") as f:
        f.seek(offset)
        return summary(offset, f.read(size))


def write_file(item: Write) -> Any:
    path, data = item
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return (os.path.basename(path), len(data))


# --- the clients: open, op, close, then read, chunk, write, mirrored ---------------------------


class OpenClient:
    """builtin open: sequentially, or shared by the harness's C threads."""

    def open(self, ctx: BenchContext) -> None:
        self.work = getattr(self, ctx.params["op"])

    def op(self, item: Any) -> Any:
        return self.work(item)

    def close(self) -> None:
        pass

    def read(self, path: str) -> Any:
        return read_file(path)

    def chunk(self, item: Chunk) -> Any:
        return read_chunk(item)

    def write(self, item: Write) -> Any:
        return write_file(item)


class _ThreadPoolAsyncClient:
    """What both async twins share: the loop's default executor, which aiofiles and to_thread
    both use, gets C threads for the benchmark (its own default is min(32, cores + 4), not the
    C the thread-pool twin gets)."""

    async def open(self, ctx: BenchContext) -> None:
        self.work = getattr(self, ctx.params["op"])
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=ctx.params["concurrency"]))

    async def op(self, item: Any) -> Any:
        return await self.work(item)

    async def close(self) -> None:
        await asyncio.get_running_loop().shutdown_default_executor()


_fsync = aiofiles.os.wrap(os.fsync)  # aiofiles has no fsync; this is how it would make one


class AiofilesClient(_ThreadPoolAsyncClient):
    """aiofiles: every file call is its own trip to the thread pool and back."""

    async def read(self, path: str) -> Any:
        async with aiofiles.open(path, "rb") as f:
            return await f.read()

    async def chunk(self, item: Chunk) -> Any:
        path, offset, size = item
        async with aiofiles.open(path, "rb") as f:
            await f.seek(offset)
            return summary(offset, await f.read(size))

    async def write(self, item: Write) -> Any:
        path, data = item
        async with aiofiles.open(path, "wb") as f:
            await f.write(data)
            await f.flush()
            await _fsync(f.fileno())
        return (os.path.basename(path), len(data))


class ToThreadClient(_ThreadPoolAsyncClient):
    """asyncio.to_thread around the sync twins' own function: one trip per op."""

    async def read(self, path: str) -> Any:
        return await asyncio.to_thread(read_file, path)

    async def chunk(self, item: Chunk) -> Any:
        return await asyncio.to_thread(read_chunk, item)

    async def write(self, item: Write) -> Any:
        return await asyncio.to_thread(write_file, item)


def _twins() -> tuple[Twin, ...]:
    # Every twin's I/O is the builtin io module (C); aiofiles wraps it in Python, a thread hop
    # per call.
    common: dict[str, Any] = {"reset": reset, "core": "C"}
    return (
        client_twin("open", "sync", "builtin open (sequential)", OpenClient, items,
                    library="open", **common),
        client_twin("open-threads", "threads", "builtin open + {concurrency} threads",
                    OpenClient, items, library="open", **common),
        client_twin("aiofiles", "async",
                    "aiofiles ({concurrency} in flight; pool of {concurrency} threads, a hop "
                    "per call)", AiofilesClient, items, library="aiofiles", **common),
        # The same builtin open, each op handed to a thread: the model alone, as open-threads.
        client_twin("to-thread", "async",
                    "asyncio.to_thread ({concurrency} in flight; pool of {concurrency} "
                    "threads, a hop per op)", ToThreadClient, items, library="open", **common),
    )


MiB = 1 << 20

# Sizes, on the 2-core reference machine (ext4 on a virtual disk): a warm round of 2,000 small
# files takes ~30-100 ms, the 64 MiB file ~20-60 ms, 200 fsynced writes ~0.2-1 s depending on
# the disk. `quick` runs a tenth of each (200 files, a 6 MiB file, 20 writes).
WORKLOAD = Workload(
    name="file_io",
    description="Read and write files: builtin open (sequential / thread pool) vs aiofiles and "
                "asyncio.to_thread, which are thread pools too.",
    twins=_twins(),
    scenarios=(
        Scenario("small-files", {"op": "read", "n": 2000, "size": 4096, "concurrency": 8,
                                 "cache": "warm"},
                 "2,000 files of 4 KiB, read whole from the page cache: per-call overhead"),
        Scenario("small-files-cold", {"op": "read", "n": 2000, "size": 4096, "concurrency": 8,
                                      "cache": "cold"},
                 "the same files with their pages dropped first: each read waits for the disk"),
        Scenario("large-file", {"op": "chunk", "n": 64, "chunk": MiB, "concurrency": 4,
                                "cache": "warm"},
                 "one 64 MiB file read in 1 MiB chunks (C chunks at a time) from the page "
                 "cache: copying, where threads can overlap"),
        Scenario("fsync-writes", {"op": "write", "n": 200, "size": 4096, "concurrency": 8},
                 "200 new 4 KiB files, each written and fsynced: durable writes wait for the "
                 "disk, and concurrent fsyncs can share a journal commit"),
    ),
    peers=("files",),
    min_size=4,
    tiny={"n": 8, "concurrency": 3, "size": 512, "chunk": 4096},
    expected=expected,
    metrics=(Metric("page_cache", "pages cached at round start", "fraction"),),
)

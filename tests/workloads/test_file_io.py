"""file_io's rounds do the same work every time: the writes start from an empty directory,
and the reads start from the page-cache state the scenario names."""

from __future__ import annotations

from pathlib import Path

from harness.model.workload import BenchContext
from harness.peers.files import FilesPeer
from workloads.file_io import WORKLOAD


def test_every_round_creates_its_files_anew(tmp_path: Path) -> None:
    params = {**WORKLOAD.scenario("fsync-writes").params, **WORKLOAD.tiny}
    with FilesPeer({"tmpdir": str(tmp_path)}) as peer:
        bench = WORKLOAD.twin("aiofiles").bind(BenchContext(params=params,
                                                            peers={"files": peer}))
        bench.setup()
        try:
            for _ in range(2):
                bench.reset()
                assert list((peer.root / "writes").iterdir()) == []
                bench.round()
                written = sorted((peer.root / "writes").iterdir())
                assert len(written) == params["n"]
                assert all(p.stat().st_size == params["size"] for p in written)
        finally:
            bench.teardown()


def test_the_async_twins_get_c_threads_like_the_thread_pool_twin() -> None:
    """C calls can block in the pool at once, and not C + 1: the loop's default executor
    (which aiofiles and to_thread both use) has exactly the C threads the other twin has."""
    import asyncio
    import threading

    from workloads.file_io import AiofilesClient, ToThreadClient

    c = 3
    params = {**WORKLOAD.scenario("small-files").params, **WORKLOAD.tiny, "concurrency": c}

    async def at_once(client: AiofilesClient | ToThreadClient, calls: int) -> bool:
        await client.open(BenchContext(params=params, peers={}))
        barrier = threading.Barrier(calls, timeout=1)
        try:
            await asyncio.gather(*(asyncio.to_thread(barrier.wait) for _ in range(calls)))
            return True
        except threading.BrokenBarrierError:
            return False
        finally:
            await client.close()

    for client in (AiofilesClient, ToThreadClient):
        assert asyncio.run(at_once(client(), c)) is True
        assert asyncio.run(at_once(client(), c + 1)) is False

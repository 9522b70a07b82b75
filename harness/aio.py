"""Event loops for async twins: one per benchmark, created outside the timed region."""

from __future__ import annotations

import asyncio

LOOPS = ("asyncio", "uvloop")


def new_loop(kind: str = "asyncio") -> asyncio.AbstractEventLoop:
    """A fresh event loop of the requested implementation, installed as the current loop."""
    if kind == "uvloop":
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    elif kind == "asyncio":
        loop = asyncio.new_event_loop()
    else:
        raise ValueError(f"unknown event loop {kind!r}; choose from: {', '.join(LOOPS)}")
    asyncio.set_event_loop(loop)
    return loop


def cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel tasks left by an interrupted round before anything else runs on the loop."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel stragglers and close, so no task outlives its benchmark."""
    try:
        cancel_pending(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()

"""Event loops for async twins: one per benchmark, created outside the timed region."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

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


def run_interruptibly(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """`run_until_complete`, but a Ctrl-C cancels the task (at an await) and then raises
    KeyboardInterrupt, as asyncio.run does.

    Python's default handler raises KeyboardInterrupt wherever the loop happens to be, including
    inside a driver's C protocol callback, which can leave it corrupt (asyncpg then segfaults).
    A second Ctrl-C raises at once.
    """
    task = loop.create_task(coro)
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        return loop.run_until_complete(task)
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        if interrupted:
            raise KeyboardInterrupt
        interrupted = True
        task.cancel()
        loop.call_soon_threadsafe(lambda: None)  # wake the loop if it is waiting in select()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        result = loop.run_until_complete(task)
    except BaseException:
        if interrupted:  # whatever the cancelled round raised, the user asked to stop
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if not task.done():  # a second Ctrl-C: the round unwinds when teardown runs the loop
            task.cancel()
    if interrupted:  # arrived just as the round finished: still the user's Ctrl-C
        raise KeyboardInterrupt
    return result


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

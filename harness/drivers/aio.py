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


class Bridge:
    """Runs an async twin's coroutines on its loop, one benchmark long, with Ctrl-C made safe.

    Python's default SIGINT handler raises KeyboardInterrupt wherever the loop happens to be,
    including inside a driver's C protocol callback, which can leave it corrupt (asyncpg then
    segfaults). While a coroutine runs, this handler instead cancels its task (it unwinds at an
    await) and KeyboardInterrupt is raised once the loop has stopped, as asyncio.run does; a
    second Ctrl-C raises at once. Between coroutines (resets, the harness's own code) a Ctrl-C
    raises at once too, as it would without us.

    The handler is installed once per benchmark (enter) and restored at its end (exit): a
    round then costs `run_until_complete` and a task, not two `signal.signal` calls.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._task: asyncio.Future[Any] | None = None
        self._interrupted = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> Bridge:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _on_sigint(self, signum: int, frame: object) -> None:
        task = self._task
        if self._interrupted or task is None or task.done():
            raise KeyboardInterrupt
        self._interrupted = True
        task.cancel()
        self.loop.call_soon_threadsafe(lambda: None)  # wake the loop if it waits in select()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        task: asyncio.Task[T] = self.loop.create_task(coro)
        self._task = task
        try:
            result = self.loop.run_until_complete(task)
        except BaseException:
            if self._interrupted:  # whatever the cancelled coroutine raised, the user asked
                raise KeyboardInterrupt from None
            raise
        finally:
            self._task = None
            if not task.done():  # a second Ctrl-C: the task unwinds when teardown runs it
                task.cancel()
        if self._interrupted:  # arrived just as the coroutine finished: still the user's
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

"""The bridge from the harness's synchronous rounds to an async twin's loop: Ctrl-C lands at an
await, never inside a callback, with the handler installed once per benchmark."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from harness.drivers.aio import Bridge, close_loop, new_loop


@pytest.fixture(autouse=True)
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler, which a Bridge replaces: these tests must not depend on
    how the suite was started (a background job starts with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_a_coroutine_cancels_it_at_an_await_then_raises() -> None:
    loop = new_loop()
    reached: list[str] = []

    async def round_() -> None:
        asyncio.get_running_loop().call_later(0.01, os.kill, os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            reached.append("cancelled at the await")
            raise

    try:
        with Bridge(loop) as bridge:
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            with pytest.raises(KeyboardInterrupt):
                bridge.run(round_())
            assert reached == ["cancelled at the await"]
            with pytest.raises(KeyboardInterrupt):  # interrupted once: stays interrupted
                bridge.run(asyncio.sleep(0))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        close_loop(loop)


def test_between_coroutines_a_ctrl_c_raises_at_once() -> None:
    loop = new_loop()
    try:
        with Bridge(loop) as bridge:
            assert bridge.run(asyncio.sleep(0, result=7)) == 7
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)  # the handler runs at the next bytecode, long before this ends
    finally:
        close_loop(loop)


def test_a_bridge_runs_many_rounds_on_one_loop_with_one_handler() -> None:
    loop = new_loop()
    installs = 0
    original = signal.signal

    def counting(sig: int, handler: object) -> object:
        nonlocal installs
        installs += 1
        return original(sig, handler)  # type: ignore[arg-type]

    try:
        signal.signal = counting  # type: ignore[assignment]
        with Bridge(loop) as bridge:
            for i in range(100):
                assert bridge.run(asyncio.sleep(0, result=i)) == i
    finally:
        signal.signal = original
        close_loop(loop)
    assert installs == 2  # installed once, restored once

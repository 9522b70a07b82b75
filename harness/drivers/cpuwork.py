"""CPU per operation as a parameter: `cpu_us` makes every operation of every client twin do that
much pure-Python work after its I/O — the stand-in for parsing a response.

One function does it for every twin (`burn`, a 64-bit LCG chain: no allocation, no C call to
release the GIL), seeded by the operation's result digest, and its outputs are folded into a
`cpu_proof` that every twin of a scenario must agree on, as on the checksum: the same amount of
work on the same results, proven. The iterations per microsecond are calibrated once per
process (all twins of a run share the number), and the run file records them.

This is where the event loop's single thread and the GIL cap concurrency: a thread-pool twin
burns with the GIL held, an async twin burns on its loop thread, both while others wait.
"""

from __future__ import annotations

import time
from functools import cache

from harness.model.checksum import MASK

_MULTIPLIER = 6364136223846793005
_INCREMENT = 1442695040888963407


def burn(seed: int, iterations: int) -> int:
    """`iterations` steps of an LCG from `seed`: the work, and its proof."""
    x = seed
    for _ in range(iterations):
        x = (x * _MULTIPLIER + _INCREMENT) & MASK
    return x


@cache
def iterations_per_us() -> float:
    """How many `burn` steps this interpreter does per microsecond (best of five, so a busy
    moment does not shrink the work)."""
    steps = 100_000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        burn(1, steps)
        best = min(best, time.perf_counter() - start)
    return steps / (best * 1e6)


def iterations_for(cpu_us: float) -> int:
    """The steps one operation burns for `cpu_us` microseconds of CPU (0: none)."""
    if cpu_us <= 0:
        return 0
    return max(1, round(cpu_us * iterations_per_us()))

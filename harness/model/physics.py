"""The physics yardstick: with latency L, N operations and concurrency C no twin can beat
ceil(N/C)·L, and a sequential one needs N·L. Efficiency is that ideal over the measured time.

The one place both are computed: the run file's `ideal_s` and `efficiency` come from here.
"""

from __future__ import annotations

from typing import Any

from harness.model.workload import Params


def ideal_time(n_ops: int, concurrency: int, latency_s: float) -> float:
    """Lower bound ceil(N / C) * L for N ops of latency L, C at a time.

    Integer ceiling avoids float rounding turning e.g. 3.0000000001 into 4.
    """
    if n_ops < 0 or concurrency < 1 or latency_s < 0:
        raise ValueError("need n_ops >= 0, concurrency >= 1, latency_s >= 0")
    return -(-n_ops // concurrency) * latency_s


def ideal_seconds(params: Params) -> float | None:
    """The yardstick ceil(N/C)·L with the scenario's concurrency C.

    A sequential twin is held to the same yardstick, so its efficiency shows how much of the
    available concurrency it leaves on the table. None when the scenario injects no latency.
    """
    latency_ms = params.get("latency_ms") or 0
    n = params.get("n")
    if not latency_ms or not n:
        return None
    ideal = ideal_time(int(n), int(params.get("concurrency") or 1), float(latency_ms) / 1000)
    # Open loop: requests go out on a schedule, so no round can end before the last is due.
    rate = params.get("rate")
    return max(ideal, n / rate) if rate else ideal


def efficiency(ideal: Any, measured: float) -> float | None:
    """ideal / measured (1.0 is perfect); None when there is no ideal (no latency injected) or
    nothing measured."""
    if not ideal or not measured or measured <= 0:
        return None
    return float(ideal) / measured

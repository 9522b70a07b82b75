"""How latencies are summarised, on both sides of a server twin (the parent reads the load
child's samples; the child summarises its own send lag)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of already sorted data; None when empty.

    Nearest rank rather than interpolation: a reported p99 or max is a latency some request
    really had.
    """
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])

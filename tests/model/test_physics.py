"""The physics yardstick and efficiency: the one place they are computed."""

from __future__ import annotations

import pytest

from harness.model.physics import efficiency, ideal_seconds, ideal_time


def test_ideal_time_and_efficiency() -> None:
    assert ideal_time(10, 3, 0.1) == pytest.approx(0.4)  # ceil(10/3) = 4 waves
    assert ideal_time(9, 3, 0.1) == pytest.approx(0.3)
    assert ideal_time(0, 4, 0.1) == 0.0
    assert efficiency(0.4, 0.5) == pytest.approx(0.8)
    # Undefined at L = 0 (nothing to be efficient against) and with nothing measured: None,
    # as the run file records it.
    assert efficiency(ideal_time(10, 4, 0.0), 0.2) is None
    assert efficiency(0.4, 0.0) is None
    with pytest.raises(ValueError):
        ideal_time(10, 0, 0.1)


def test_ideal_seconds_from_parameters() -> None:
    assert ideal_seconds({"n": 200, "concurrency": 50, "latency_ms": 20}) == pytest.approx(0.08)
    assert ideal_seconds({"n": 200, "latency_ms": 20}) == pytest.approx(4.0)  # sequential
    assert ideal_seconds({"n": 200, "concurrency": 50, "latency_ms": 0}) is None
    # Open loop: the schedule ends no earlier than N / rate.
    assert ideal_seconds({"n": 3000, "concurrency": 100, "latency_ms": 1,
                          "rate": 2000}) == pytest.approx(1.5)

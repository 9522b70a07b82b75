"""The single pytest-benchmark test that `bench run` parametrises with every selected case.

Not part of the test suite (it does not match test_*.py): the runner passes it explicitly.
"""

from typing import Any

from harness.model.case import Case
from harness.run.plugin import TwinbenchPlugin


def test_twin(twin_case: Case, benchmark: Any, twinbench: TwinbenchPlugin) -> None:
    twinbench.measure(twin_case, benchmark)

"""The same work makes the same I/O: twins of one scenario that differ in requests or
statements per operation fail like a wrong checksum, unless they declare why (Twin.io_differs).
"""

from __future__ import annotations

import copy
from typing import Any

from harness.results.runfile import Outcome, parse_run
from harness.run.runner import _check_twins_agree
from tests.helpers.runfiles import benches, run_doc


def with_io(io: dict[str, dict[str, float]], differs: dict[str, dict[str, str]] | None = None
            ) -> dict[str, Any]:
    doc = copy.deepcopy(run_doc(benches()))
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        info["io_per_op"] = io[info["twin"]]
        if differs and info["twin"] in differs:
            info["io_differs"] = differs[info["twin"]]
    return doc


def test_a_twin_making_more_requests_per_operation_fails_like_a_wrong_checksum() -> None:
    doc = with_io({"requests": {"requests": 1.0}, "requests-threads": {"requests": 1.0},
                   "aiohttp": {"requests": 2.0}})
    outcomes: dict[str, Outcome] = {}
    _check_twins_agree(doc, outcomes)
    assert list(outcomes) == ["wl-s1-aiohttp"]
    assert outcomes["wl-s1-aiohttp"].detail == (
        "requests per operation 2 disagrees with the other twins' (1, 2)")
    assert {b.twin for b in parse_run(doc).benchmarks} == {"requests", "requests-threads"}


def test_a_declared_difference_is_no_failure_and_rounding_is_no_difference() -> None:
    doc = with_io({"requests": {"statements": 1.0}, "requests-threads": {"statements": 1.004},
                   "aiohttp": {"statements": 5.0}},
                  differs={"aiohttp": {"statements": "its pool resets each connection"}})
    outcomes: dict[str, Outcome] = {}
    _check_twins_agree(doc, outcomes)
    assert outcomes == {}  # 1.004 per op is 100.4 per round of 100: the same, rounded
    assert len(parse_run(doc).benchmarks) == 3


def test_counters_a_twin_was_not_measured_on_are_not_compared() -> None:
    doc = with_io({"requests": {"requests": 1.0}, "requests-threads": {},
                   "aiohttp": {"requests": 1.0, "ctx_switches": 9.0}})
    outcomes: dict[str, Outcome] = {}
    _check_twins_agree(doc, outcomes)
    assert outcomes == {}

"""Counted runs under valgrind (harness.run.count, harness.run.callgrind): instructions and
system calls of the timed rounds only, and what happens when a twin dies under valgrind.

One counted run is shared by the assertions (each counted worker's start-up costs seconds
under valgrind): `--count --no-time` of twins of known cost (tests/fixtures/counting_twins.py),
one of which aborts its interpreter when counted, which kills the counted worker in the middle
of its rounds. How a timed run takes the counts in is tested without valgrind, below."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.model.registry import Selection
from harness.results.runfile import Outcome
from harness.run.count import Counted, CountListener
from harness.run.profiles import COUNT_MIN_WAVES, COUNT_REPLICATES, COUNT_ROUNDS
from harness.run.runner import RunRequest, RunResult, execute
from tests.fixtures.counting_twins import GETPPID_PER_OP

TWINS = Path(__file__).resolve().parents[1] / "fixtures" / "counting_twins.py"

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not installed (apt install valgrind)")


@pytest.fixture(scope="module")
def counted_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunResult]:
    # where fails-once-under-valgrind leaves its marker (the counted workers inherit it)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TWINBENCH_TEST_ONCE_DIR", str(tmp_path_factory.mktemp("once")))
        request = RunRequest(selection=Selection(("counting",)), profile="default",
                             sources=(str(TWINS),), count=True, timed=False)
        yield execute(request)


@needs_valgrind
def test_instructions_are_counted_for_the_timed_rounds_of_each_twin(
        counted_run: RunResult) -> None:
    run = counted_run.run
    assert run is not None
    by = {b.twin: b for b in run.benchmarks}
    one, two, tasks = by["steps-1x"], by["steps-2x"], by["steps-async"]
    for record in (one, two, tasks):
        # replicate after replicate, each from a fresh set-up
        assert len(record.instructions_per_round) == COUNT_ROUNDS * COUNT_REPLICATES
        assert record.count_replicates == COUNT_REPLICATES
        # a twentieth of the scenario's 8 operations, but at least a wave of C=2
        assert record.counted_params == {"n": COUNT_MIN_WAVES * 2, "concurrency": 2}
    # Twice the burning, about twice the instructions: the count is the work, and nothing of
    # start-up, set-up or warm-up (which would dwarf 8 operations) is in it.
    one_op, two_op = one.instructions_per_op, two.instructions_per_op
    assert one_op is not None and two_op is not None
    assert 1.7 < two_op / one_op < 2.1
    # The same work on one thread or as tasks on a loop: the loop's own cost is small.
    tasks_op = tasks.instructions_per_op
    assert tasks_op is not None and 0.95 < tasks_op / one_op < 1.3


@needs_valgrind
def test_system_calls_are_counted_by_name_on_every_thread(counted_run: RunResult) -> None:
    run = counted_run.run
    assert run is not None
    by = {b.twin: b.extra for b in run.benchmarks}
    # exactly what each operation made, from the sequential twin and from the pool's threads
    assert by["steps-1x"]["syscalls_by_name_per_op"]["getppid"] == GETPPID_PER_OP
    assert by["steps-2x"]["syscalls_by_name_per_op"]["getppid"] == GETPPID_PER_OP
    assert by["steps-async"]["syscalls_by_name_per_op"]["getppid"] == GETPPID_PER_OP
    # timer reads are not system calls on a real machine (the vDSO), so none are counted
    assert "clock_gettime" not in by["steps-1x"]["syscalls_by_name_per_op"]


@needs_valgrind
def test_a_twin_that_kills_the_counted_worker_is_named_and_the_others_still_count(
        counted_run: RunResult) -> None:
    run = counted_run.run
    assert run is not None
    failures = counted_run.count_failures
    assert list(failures) == ["counting-known-aborts-under-valgrind"]
    assert "killed by SIGABRT" in failures["counting-known-aborts-under-valgrind"]
    # the twins after it were counted by a fresh worker, and the run fails (exit 1)
    assert {b.twin for b in run.benchmarks} == {"steps-1x", "steps-2x", "steps-async",
                                                "fails-once-under-valgrind"}
    outcome = run.outcomes["counting-known-aborts-under-valgrind"]
    assert outcome.failed and "aborts-under-valgrind" in outcome.detail
    assert counted_run.exit_code == 1


@needs_valgrind
def test_a_twin_that_failed_once_is_counted_again_by_a_fresh_worker(
        counted_run: RunResult) -> None:
    """A failure valgrind's scheduling provoked once (one replicate's first attempt) is
    counted again and says so; one that fails every time (the abort above) still fails."""
    run = counted_run.run
    assert run is not None
    (record,) = [b for b in run.benchmarks if b.twin == "fails-once-under-valgrind"]
    assert record.count_replicates == COUNT_REPLICATES
    assert "counting-known-fails-once-under-valgrind" not in counted_run.count_failures
    (said,) = [w for w in counted_run.warnings if "fails-once-under-valgrind failed" in w]
    assert "a race that valgrind's scheduling exposed" in said and "counted it" in said


@needs_valgrind
def test_counting_only_makes_a_run_of_its_own(counted_run: RunResult) -> None:
    run = counted_run.run
    assert run is not None
    count = run.meta["count"]
    assert count["timed"] is False and count["rounds"] == COUNT_ROUNDS
    assert count["valgrind"]
    assert "counting-known-aborts-under-valgrind" in count["failures"]
    # described like any run: what was selected, where (so `bench check` can re-run it)
    assert run.meta["selection"]["workloads"] == ["counting"]
    assert run.meta["profile"] == "default"


# -- a timed run takes the counts in (no valgrind needed) -------------------------------------

def test_a_timed_run_takes_the_counts_of_its_benchmarks(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """`--count` after timing: the counted figures go into the timed entries (with the sizes
    they were counted at), a twin that could not be counted keeps its timed rounds and fails
    the run, and a server twin is never sent to valgrind."""
    asked: list[list[str] | None] = []

    def fake_count(request: RunRequest, listener: CountListener, *,
                   cases: list[str] | None = None, launch: object = None) -> Counted:
        asked.append(cases)
        entry = {"name": "counting-known-steps-1x", "group": "counting:known",
                 "stats": {"data": [1.0], "median": 1.0, "q1": 1.0, "q3": 1.0},
                 "extra_info": {"workload": "counting", "scenario": "known",
                                "twin": "steps-1x", "kind": "sync", "ops": 4,
                                "params": {"n": 4, "concurrency": 2},
                                "instructions_per_op": 123_456,
                                "instructions_per_round": [493_824, 493_824, 493_824],
                                "syscalls_per_op": 3.0,
                                "syscalls_by_name_per_op": {"getppid": 3.0},
                                "io_per_op": {}}}
        return Counted(entries={"counting-known-steps-1x": entry},
                       failures={"counting-known-steps-2x": Outcome(
                           "counting-known-steps-2x", "failed", "steps-2x stopped under "
                           "valgrind: killed by SIGKILL")})

    monkeypatch.setattr("harness.run.count.count_cases", fake_count)
    monkeypatch.setattr("harness.run.count.check_can_count", lambda: None)
    request = RunRequest(selection=Selection(("counting",), twins=("steps-1x", "steps-2x")),
                         profile="quick", sources=(str(TWINS),), count=True)
    result = execute(request)
    assert asked == [["counting-known-steps-1x", "counting-known-steps-2x"]]
    run = result.run
    assert run is not None and run.meta["count"]["timed"] is True
    by = {b.twin: b for b in run.benchmarks}
    assert by["steps-1x"].instructions_per_op == 123_456
    assert by["steps-1x"].counted_params == {"n": 4, "concurrency": 2}
    assert by["steps-1x"].params == {"n": 1, "concurrency": 2}  # quick's size, timed
    assert by["steps-2x"].instructions_per_op is None and by["steps-2x"].median > 0
    assert result.count_failures == {"counting-known-steps-2x":
                                     "steps-2x stopped under valgrind: killed by SIGKILL"}
    assert result.exit_code == 1

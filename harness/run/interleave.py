"""The twins of a scenario measured round by round in turn, as many rounds as needed.

Measured one after another (all rounds of one twin, then the next), twins of a scenario are
minutes apart, and the machine's drift over those minutes lands in their ratio where no
interval can see it (measured here: reruns of one scenario 1.88x-2.33x, with intervals half as
wide as that). So every twin of the scenario is set up first, then round i of every twin runs
before round i+1 of any, the order rotated from one round to the next (A B C, B C A, C A B...)
so no twin always follows the same neighbour; warm-up rounds go the same way. Round i of
two twins are then neighbours in time and their ratio pairs away the drift
(analysis.sequential).

Isolation: every twin keeps what it keeps when measured alone (its client, pool, threads,
event loop; a server twin its server and load processes and their connections) for the whole
scenario, and the peers reset what a round changed before every round, as before. What
differs is that the other twins' idle clients exist meanwhile: threads blocked on a queue, an
event loop that is not running, open keep-alive connections, idle server processes. They take
no CPU; what would leak into a twin's figures is kept out: its thread count counts only its
own threads and its RSS is measured per round (harness.run.cost), a server's sampler polls
only during its own rounds. A twin that fails is torn down at once and the others go on.

How many rounds: a `RoundsRule` (the analysis' `RoundsPlan`, passed in by the CLI; fixed
rounds otherwise) is asked after every full turn whether the scenario has enough, and which
twins cannot become their side's best and may stop. The warm-ups are timed too (a client
twin's warm-up is the profile's share of a round, the same share for every twin), so a twin
far behind in its warm-up and first timed round stops there. Its time cap counts the rounds of
the twins still in contention.

Each twin's rounds are timed by pytest-benchmark's own round runner (the loop of its pedantic
mode) and recorded in that twin's own pytest-benchmark entry when its item runs.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import pytest

from harness.model.case import Case
from harness.model.workload import SYNC_KINDS
from harness.results.runfile import STOPPED_BEHIND, WarningJson, warnings_json
from harness.run.capture import capture
from harness.run.events import Listener


class Decision(Protocol):
    @property
    def stop(self) -> bool: ...
    @property
    def why(self) -> str: ...
    @property
    def drop(self) -> frozenset[str]: ...
    @property
    def level(self) -> float | None: ...  # the confidence of the interval it stops on


class RoundsRule(Protocol):
    @property
    def max_rounds(self) -> int: ...
    @property
    def level(self) -> float | None: ...  # the last look's confidence (None: not its to say)

    def decide(self, rounds: Mapping[str, Sequence[float]], sync: Set[str], *,
               elapsed: float, active: Set[str],
               warmups: Mapping[str, Sequence[float]] | None = None) -> Decision: ...

    def to_json(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class _Stop:
    stop: bool
    why: str = ""
    drop: frozenset[str] = frozenset()
    level: float | None = None


@dataclass(frozen=True)
class FixedRounds:
    """Every twin the same rounds (`--rounds N`, the A/B gate, tests)."""

    rounds: int
    level: float | None = None

    @property
    def max_rounds(self) -> int:
        return self.rounds

    def decide(self, rounds: Mapping[str, Sequence[float]], sync: Set[str], *,
               elapsed: float, active: Set[str],
               warmups: Mapping[str, Sequence[float]] | None = None) -> Decision:
        n = max((len(rounds[t]) for t in active), default=0)
        return _Stop(n >= self.rounds, "fixed rounds")

    def to_json(self) -> dict[str, object]:
        return {"looks": [self.rounds], "adaptive": False}


def fixed_rounds(rounds: int) -> FixedRounds:
    return FixedRounds(rounds)


class Run(Protocol):
    """What the scheduler needs of one case (harness.run.plugin.CaseRun)."""

    case: Case
    warmup: int

    def start(self, rounds: int) -> None: ...
    def reset(self) -> None: ...
    def warmup_round(self) -> None: ...
    def timed_round(self) -> None: ...
    def after_round(self) -> None: ...
    def teardown(self) -> None: ...


Runner = Callable[[Callable[[], None]], Callable[[Any], tuple[float, Any]]]


@dataclass
class CaseOutcome:
    run: Any
    durations: list[float] = field(default_factory=list)
    warmups: list[float] = field(default_factory=list)  # what shows early a twin far behind
    spent: float = 0.0  # seconds its timed rounds took, resets and collections included
    info: dict[str, Any] = field(default_factory=dict)  # warnings captured meanwhile
    extra: dict[str, Any] | None = None  # the bench's extra_info, once its rounds are done
    error: BaseException | None = None  # what its item raises instead of recording
    stopped: str = ""  # why its rounds stopped
    # Its set-up failed while other twins were set up beside it (e.g. a server's connection
    # limit, taken by their pools): its item measures it alone instead.
    crowded: bool = False


@dataclass
class GroupResult:
    """What each case of an interleaved scenario recorded, for its own pytest item."""

    outcomes: dict[str, CaseOutcome]
    rule: dict[str, object]
    finish: Callable[[Any, Any, dict[str, Any]], None]

    def alone(self, case: Case) -> str | None:
        """Why `case` must be measured alone (its set-up failed beside the others), or None."""
        out = self.outcomes[case.id]
        if out.crowded and out.error is not None:
            return f"{type(out.error).__name__}: {out.error}".splitlines()[0]
        return None

    def replay(self, case: Case, benchmark: Any) -> None:
        """Record `case`'s rounds in its own benchmark entry, or raise what stopped it."""
        out = self.outcomes[case.id]
        benchmark.extra_info.update(out.info)
        if out.error is not None:
            raise out.error
        assert out.extra is not None
        benchmark.group = case.group
        # pytest-benchmark's statistics of the rounds its runner timed (as pedantic does).
        benchmark._mode = "benchmark.pedantic(...)"
        stats = benchmark._make_stats(1)
        for duration in out.durations:
            stats.update(duration)
        out.extra["interleaved"] = {**self.rule, "stopped": out.stopped,
                                    "rounds": len(out.durations)}
        self.finish(out.run, benchmark, out.extra)


def _guarded(out: CaseOutcome, step: Callable[[], Any]) -> bool:
    """Run a step of one case; a failure or skip is kept for its item to raise, and what it
    warned or logged goes to its own entry. On the way out the heap is collected
    (harness.run.capture), so garbage one twin leaves is never collected in another's round."""
    said: dict[str, Any] = {}
    try:
        with capture(said):
            step()
    except (Exception, pytest.fail.Exception, pytest.skip.Exception) as exc:
        out.error = exc
        return False
    finally:
        _merge_warnings(out.info, said.get("warnings") or [])
    return True


def _merge_warnings(into: dict[str, Any], new: list[WarningJson]) -> None:
    if not new:
        return
    counts: Counter[tuple[str, str]] = Counter()
    for w in [*(into.get("warnings") or []), *new]:
        counts[(w["kind"], w["message"])] += int(w.get("count", 1))
    into["warnings"] = warnings_json(counts)


def measure_group(runs: Sequence[Any], rule: RoundsRule, *, runner: Runner,
                  finish: Callable[[Any, Any, dict[str, Any]], None],
                  listener: Listener, max_rounds: int | None = None,
                  clock: Callable[[], float] = time.monotonic) -> GroupResult:
    """Set up every case, then rounds in turn until `rule` says enough; tear everything down
    whatever happens (Ctrl-C included)."""
    outcomes = {r.case.id: CaseOutcome(r) for r in runs}
    most = min(rule.max_rounds, max_rounds or rule.max_rounds)
    sync = {r.case.id for r in runs if r.case.twin.kind in SYNC_KINDS}
    live: list[Any] = []
    frozen = False
    listener.group_start([r.case for r in runs], most)
    try:
        for r in runs:
            out = outcomes[r.case.id]
            listener.before_case(r.case)
            live.append(r)
            if not _guarded(out, partial(r.start, most)):
                out.crowded = (len(live) > 1 and not isinstance(out.error, pytest.skip.Exception))
                _retire(r, live, out)  # drivers tolerate a set-up that failed half-way
            _claim(r)
        # The heap as set-up left it is frozen (gc.freeze): a collection in any twin's round
        # then traverses only what the rounds made, never the pools and clients of the twins
        # beside it, and the collection that ends every step is cheap.
        frozen = _freeze()
        warmup = max((r.warmup for r in runs), default=0)
        for i in range(warmup):
            for r in _turn(live, i):
                out = outcomes[r.case.id]
                if not _guarded(out, partial(_untimed, r, out, runner)):
                    _thawed(partial(_retire, r, live, out))
        turn = 0
        level: float | None = None  # the confidence of the look the scenario stopped at
        while live:
            for r in _turn(live, turn):
                out = outcomes[r.case.id]
                began = clock()
                if not _guarded(out, partial(_timed, r, out, runner)):
                    _thawed(partial(_retire, r, live, out))
                out.spent += clock() - began
            turn += 1
            active = {r.case.id for r in live}
            ok = {cid: o for cid, o in outcomes.items() if o.error is None}
            # The time cap counts the rounds of the twins still in contention: what the twins
            # that stopped behind took is spent whatever the answer needs.
            elapsed = sum(outcomes[cid].spent for cid in active)
            decision = rule.decide({cid: o.durations for cid, o in ok.items()}, sync & active,
                                   elapsed=elapsed, active=active,
                                   warmups={cid: o.warmups for cid, o in ok.items()})
            if turn >= most and not decision.stop:  # the scenario's own most rounds
                decision = _Stop(True, "max rounds", decision.drop, rule.level)
            if decision.stop:
                level = decision.level
                for r in live:
                    outcomes[r.case.id].stopped = decision.why
                break
            for r in [r for r in live if r.case.id in decision.drop]:
                out = outcomes[r.case.id]
                out.stopped = STOPPED_BEHIND
                _thawed(partial(_done, r, live, out))
        frozen = _thaw(frozen)
        for r in list(live):
            _done(r, live, outcomes[r.case.id])
    finally:
        _thaw(frozen)
        for r in live:  # after Ctrl-C or an error of the harness: nothing left running
            r.teardown()
    return GroupResult(outcomes, {**rule.to_json(), **({"level": level} if level else {})},
                       finish)


def _freeze() -> bool:
    """Collect, then freeze the heap as it stands (see measure_group)."""
    gc.collect()
    gc.freeze()
    return True


def _thaw(frozen: bool) -> bool:
    if frozen:
        gc.unfreeze()
    return False


def _thawed(step: Callable[[], None]) -> None:
    """A twin torn down between rounds: with the heap unfrozen, so what it leaves in cycles is
    collected (and warns) in its own step, then frozen again without it."""
    gc.unfreeze()
    try:
        step()
    finally:
        _freeze()


def _turn(live: list[Any], index: int) -> list[Any]:
    """This turn's order: the list rotated by the turn's number."""
    if not live:
        return []
    k = index % len(live)
    return live[k:] + live[:k]


def _untimed(r: Any, out: CaseOutcome, runner: Runner) -> None:
    """A warm-up round: not recorded, but its time is early evidence of a twin far behind."""
    r.reset()
    duration, _ = runner(r.warmup_round)(None)
    r.after_round()
    out.warmups.append(duration)
    _claim(r)


def _timed(r: Any, out: CaseOutcome, runner: Runner) -> None:
    r.reset()
    duration, _ = runner(r.timed_round)(None)
    out.durations.append(duration)
    r.after_round()
    _claim(r)


def _claim(r: Any) -> None:
    """Threads that appeared while `r` acted are its own (harness.run.cost.ThreadOwners)."""
    owners = getattr(r, "owners", None)
    if owners is not None:
        owners.claim(r.case.id)


def _retire(r: Any, live: list[Any], out: CaseOutcome) -> None:
    """A case that failed: torn down now, so nothing of it lingers beside the others (its
    first error is what its item reports)."""
    _guarded(CaseOutcome(r), r.teardown)
    live.remove(r)


def _done(r: Any, live: list[Any], out: CaseOutcome) -> None:
    """A case whose rounds are over: what it reports, then torn down (an error in either is
    its item's failure). Out of `live` only once torn down: Ctrl-C meanwhile leaves it to
    the scheduler's last resort."""
    def report() -> None:
        out.extra = r.bench.extra_info()

    _guarded(out, report)
    _guarded(out, r.teardown)
    live.remove(r)

"""Progress that tells the time: an estimate from the rounds done so far, and plain lines when
there is no terminal."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console

from harness.cli.progress import Eta, PlainProgress, fmt_duration, progress_for
from harness.model.case import Case
from harness.model.registry import Selection, discover, select
from harness.run.estimate import priors, round_physics
from harness.run.profiles import profile_named
from tests.run.test_cost import WORKLOAD


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cases(n_groups: int, per_group: int) -> list[Case]:
    """Cases of `n_groups` scenarios of `per_group` twins each (ids and groups are all the
    estimate reads)."""
    out = []
    for g in range(n_groups):
        scenario = replace(WORKLOAD.scenarios[0], name=f"s{g}")
        for t in range(per_group):
            twin = replace(WORKLOAD.twins[0], name=f"t{t}")
            out.append(Case(WORKLOAD, twin, scenario))
    return out


def test_eta_scales_the_priors_ahead_by_how_the_finished_ones_compared() -> None:
    clock = FakeClock()
    eta = Eta(clock=clock)
    planned = cases(4, 2)
    # scenario g's twins are expected to take 10 s each: 20 s a scenario, 80 s in all
    eta.plan(planned, {c.id: 10.0 for c in planned})
    eta.pass_start(1, 1)
    eta.per_pass = len(planned)
    assert eta.left() == pytest.approx(80.0)  # known before anything ran
    assert "rough" in eta.sureness()
    for c in planned[:2]:  # the first scenario's twins, in turn
        eta.case_start(c.id)
    clock.now = 10.0
    assert eta.left() == pytest.approx(10.0 + 60.0)  # what is left of it, then the rest
    clock.now = 30.0  # it took 30 s where 20 were expected: the rest is 1.5x its priors
    for c in planned[:2]:
        eta.case_end(c.id)
    assert eta.left() == pytest.approx(1.5 * 60.0)


def test_a_workload_not_yet_seen_takes_the_pace_of_the_others_shrunk_towards_physics() -> None:
    clock = FakeClock()
    eta = Eta(clock=clock)
    other = replace(WORKLOAD, name="other")
    first = cases(1, 2)
    later = [Case(other, c.twin, c.scenario) for c in cases(1, 2)]
    eta.plan([*first, *later], {c.id: 10.0 for c in [*first, *later]})
    eta.pass_start(1, 1)
    for c in first:
        eta.case_start(c.id)
    clock.now = 10.0  # half its 20 s: its workload's pace is 0.5
    for c in first:
        eta.case_end(c.id)
    # one workload at half its physics says little of the next: 0.5 ** (1 / 3), not 0.5
    assert eta.left() == pytest.approx(20.0 * 0.5 ** (1 / 3))


def test_eta_says_how_sure_it_is_once_scenarios_have_finished() -> None:
    clock = FakeClock()
    eta = Eta(clock=clock)
    planned = cases(5, 1)
    eta.plan(planned, {c.id: 10.0 for c in planned})
    eta.pass_start(1, 1)
    for c, took in zip(planned[:3], (9.0, 11.0, 10.0), strict=True):
        eta.case_start(c.id)
        clock.now += took
        eta.case_end(c.id)
    assert eta.left() == pytest.approx(20.0, rel=0.02)
    assert eta.sureness().startswith(" (±")


def test_without_priors_the_mean_of_finished_benchmarks() -> None:
    clock = FakeClock()
    eta = Eta(clock=clock, per_pass=3)
    assert eta.left() is None  # nothing timed yet
    eta.case_start()
    clock.now = 8.0
    assert eta.case_end() == pytest.approx(8.0)
    assert eta.left() == pytest.approx(2 * 8.0)


def test_plain_progress_prints_one_line_per_finished_benchmark() -> None:
    out = io.StringIO()
    progress = PlainProgress(Console(file=out, width=200))
    case = Case(WORKLOAD, WORKLOAD.twins[0], WORKLOAD.scenarios[0])
    progress.pass_start(1, 1)
    progress.session_start(2)
    progress.case_start(case, 2)
    progress.round_done(case)
    progress.round_done(case)
    progress.case_end(case, "passed", "")
    progress.case_end(case, "skipped", "no [bold]peer[/]")  # file text is never markup
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] cost · s · sleeper: passed in ")
    assert lines[0].endswith("left")
    assert "skipped (no [bold]peer[/])" in lines[1]


def test_no_terminal_means_plain_lines_on_the_log_console() -> None:
    log = Console(file=io.StringIO())
    assert isinstance(progress_for(Console(file=io.StringIO()), log), PlainProgress)


@pytest.mark.parametrize(("seconds", "text"), [(4.4, "4s"), (75, "1m15s"), (3725, "1h02m")])
def test_durations(seconds: float, text: str) -> None:
    assert fmt_duration(seconds) == text


def test_physics_priors_expect_what_the_rounds_rule_will_do() -> None:
    default = profile_named("default")
    registry = discover()
    http = {c.twin.name: c for c in select(registry, Selection(("http_fetch",)), "default")
            if c.scenario.name == "latency-bound"}
    known = priors(http.values(), default, {})
    seq, pool = http["requests"], http["requests-threads"]
    # the sequential twin is N·L, far behind its side's pool: its warm-up share and one round
    assert known[seq.id].seconds == pytest.approx(
        round_physics(seq, default) * (1 + default.warmup_share) + 0.3)
    # the pool: the middle look's rounds, at most its share of the scenario's time cap
    contenders = len(http) - 1
    assert known[pool.id].seconds <= default.scenario_seconds / contenders + 0.3 + 1e-9 + (
        round_physics(pool, default) * default.warmup_share)
    # a game's rounds last their duration, whatever its N; server twins warm up whole
    (game,) = [c for c in select(registry, Selection(("game_server",), ("threaded",)),
                                 "default") if c.scenario.name == "small-room"]
    assert round_physics(game, default) == pytest.approx(1.5)

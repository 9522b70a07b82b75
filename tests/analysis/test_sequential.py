"""The paired interval, the one verdict rule and the stopping rule of interleaved twins."""

from __future__ import annotations

import math
import random

import pytest

from harness.analysis.sequential import (
    Call,
    RoundsPlan,
    call_of,
    paired_speedup,
    t_critical,
)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 19, 39])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.05 / 7])
def test_t_critical_matches_scipy(df: int, alpha: float) -> None:
    from scipy import stats

    assert t_critical(df, alpha) == pytest.approx(stats.t.ppf(1 - alpha / 2, df), rel=1e-7)


@pytest.mark.parametrize(("low", "high", "call"), [
    (1.06, 1.5, Call.FASTER),        # wholly beyond +5%
    (0.5, 0.94, Call.SLOWER),        # wholly beyond -5%
    (0.97, 1.04, Call.TIE),          # wholly within ±5%
    (1.01, 1.10, Call.CANNOT_TELL),  # excludes 1 but reaches into the band: not "faster"
    (0.90, 1.10, Call.CANNOT_TELL),
])
def test_one_rule_for_every_verdict(low: float, high: float, call: Call) -> None:
    assert call_of(low, high, 0.05) is call


def test_a_one_percent_difference_is_never_faster_at_five_percent() -> None:
    sync = [[1.01 * (1 + 0.001 * (i % 3)) for i in range(30)]]
    async_ = [[1.0 * (1 + 0.001 * ((i + 1) % 3)) for i in range(30)]]
    s = paired_speedup(sync, async_)
    assert s is not None and s.low > 1  # "significant", but small
    assert call_of(s.low, s.high, 0.05) is Call.TIE
    assert call_of(s.low, s.high, 0.0) is Call.FASTER


def test_paired_rounds_cancel_drift_that_unpaired_rounds_would_carry() -> None:
    rng = random.Random(1)
    drift = [1 + 0.02 * i for i in range(20)]  # the machine slows 40% over the scenario
    sync = [[2.0 * d * rng.lognormvariate(0, 0.01) for d in drift]]
    async_ = [[1.0 * d * rng.lognormvariate(0, 0.01) for d in drift]]
    s = paired_speedup(sync, async_)
    assert s is not None
    assert s.low < 2.0 < s.high and s.half_width < 0.02


def _rounds(rng: random.Random, medians: dict[str, float], n: int, sd: float
            ) -> dict[str, list[float]]:
    return {t: [m * rng.lognormvariate(0, sd) for _ in range(n)] for t, m in medians.items()}


def test_stops_at_the_first_look_when_the_answer_is_plain() -> None:
    plan = RoundsPlan(looks=(3, 5, 8, 12, 20))
    rounds = _rounds(random.Random(2), {"seq": 50.0, "threads": 2.0, "aio": 0.2}, 3, 0.05)
    decision = plan.decide(rounds, {"seq", "threads"}, elapsed=1.0,
                           active={"seq", "threads", "aio"})
    assert decision.stop and decision.why == "decided"
    assert decision.drop == {"seq"}  # 25x behind the best sync twin: it cannot be best


def test_no_look_between_looks_and_a_close_call_goes_on() -> None:
    plan = RoundsPlan(looks=(3, 5, 8, 12, 20))
    close = _rounds(random.Random(3), {"threads": 1.0, "aio": 1.0}, 4, 0.08)
    assert not plan.decide(close, {"threads"}, elapsed=1.0, active={"threads", "aio"}).stop
    close = _rounds(random.Random(3), {"threads": 1.0, "aio": 1.0}, 5, 0.08)
    decision = plan.decide(close, {"threads"}, elapsed=1.0, active={"threads", "aio"})
    assert not decision.stop and not decision.drop


def test_a_twin_twice_as_slow_in_each_of_two_rounds_stops_before_the_first_look() -> None:
    plan = RoundsPlan(looks=(3, 5, 8))
    rounds = {"seq": [10.0, 9.0], "threads": [1.0, 1.1], "aio": [0.9, 1.0]}
    decision = plan.decide(rounds, {"seq", "threads"}, elapsed=1.0,
                           active={"seq", "threads", "aio"})
    assert not decision.stop and decision.drop == {"seq"}
    # 1.9x in one of the two: not that far behind, so it waits for the look's interval
    rounds["seq"] = [10.0, 2.0]
    assert not plan.decide(rounds, {"seq", "threads"}, elapsed=1.0,
                           active={"seq", "threads", "aio"}).drop


def test_a_warm_up_far_behind_and_one_timed_round_far_behind_stop_a_twin() -> None:
    plan = RoundsPlan(looks=(3, 5, 8))
    active = {"seq", "threads", "aio"}
    warmups = {"seq": [1.0], "threads": [0.1], "aio": [0.09]}
    rounds = {"seq": [10.0], "threads": [1.0], "aio": [0.9]}
    decision = plan.decide(rounds, {"seq", "threads"}, elapsed=1.0, active=active,
                           warmups=warmups)
    assert decision.drop == {"seq"}
    # a warm-up within FAR_BEHIND keeps it waiting for a second timed round
    warmups["seq"] = [0.15]
    assert not plan.decide(rounds, {"seq", "threads"}, elapsed=1.0, active=active,
                           warmups=warmups).drop


def test_caps_stop_an_undecided_scenario() -> None:
    plan = RoundsPlan(looks=(3, 5, 8), seconds=10.0)
    rounds = _rounds(random.Random(4), {"threads": 1.0, "aio": 1.04}, 5, 0.2)
    assert plan.decide(rounds, {"threads"}, elapsed=11.0,
                       active={"threads", "aio"}).why == "time cap"
    # the cap waits for the first look: fewer rounds have no interval worth the time
    early = {twin: values[:2] for twin, values in rounds.items()}
    assert not plan.decide(early, {"threads"}, elapsed=11.0,
                           active={"threads", "aio"}).stop
    rounds = _rounds(random.Random(4), {"threads": 1.0, "aio": 1.04}, 8, 0.2)
    assert plan.decide(rounds, {"threads"}, elapsed=1.0,
                       active={"threads", "aio"}).why == "max rounds"


def test_narrow_enough_stops_even_when_the_interval_straddles_the_band() -> None:
    plan = RoundsPlan(looks=(3, 8, 12), precision=0.05)
    rng = random.Random(5)
    rounds = {"threads": [1.05 * rng.lognormvariate(0, 0.002) for _ in range(8)],
              "aio": [1.0 for _ in range(8)]}
    decision = plan.decide(rounds, {"threads"}, elapsed=1.0, active={"threads", "aio"})
    assert decision.stop and decision.why in ("precise", "decided")


def _sequential_run(rng: random.Random, plan: RoundsPlan, true: float, sd: float
                    ) -> tuple[float, float]:
    """Measure a pair of twins as the scheduler would: rounds until the plan stops."""
    rounds: dict[str, list[float]] = {"threads": [], "aio": []}
    while True:
        drift = rng.lognormvariate(0, 0.2)  # shared by the pair: cancels
        rounds["threads"].append(true * drift * rng.lognormvariate(0, sd))
        rounds["aio"].append(drift * rng.lognormvariate(0, sd))
        decision = plan.decide(rounds, {"threads"}, elapsed=0.0, active={"threads", "aio"})
        if decision.stop:
            break
    assert decision.level is not None
    s = paired_speedup([rounds["threads"]], [rounds["aio"]], decision.level)
    assert s is not None
    return s.low, s.high


@pytest.mark.parametrize("true", [1.0, 1.05, 1.2])
def test_stopping_when_the_answer_is_settled_keeps_95_percent_coverage(true: float) -> None:
    """Optional stopping with a 95% interval at every look would cover less; the Bonferroni
    split of the 5% between the looks keeps the interval the run stops on at 95% or more."""
    rng = random.Random(6)
    plan = RoundsPlan(looks=(3, 5, 8, 12, 20))
    covered = sum(low <= true <= high
                  for low, high in (_sequential_run(rng, plan, true, 0.08) for _ in range(400)))
    assert covered / 400 >= 0.94


def test_interim_looks_spend_little_and_the_last_look_what_is_left() -> None:
    plan = RoundsPlan(looks=(3, 5, 8, 12, 20), seconds=10.0)
    assert plan.level_at(1, last=False) == pytest.approx(0.995)
    assert plan.level_at(5, last=True) == pytest.approx(0.97) == plan.level
    # all five looks together: 4 x 0.5% + 3% = 5%
    assert 4 * (1 - plan.level_at(2, last=False)) + (1 - plan.level) == pytest.approx(0.05)
    rng = random.Random(8)
    close = _rounds(rng, {"threads": 1.0, "aio": 1.04}, 5, 0.2)
    # a look that is not the last: the interim level, whatever it decides
    early = plan.decide({k: v[:3] for k, v in close.items()}, {"threads"}, elapsed=1.0,
                        active={"threads", "aio"})
    assert not early.stop
    # the time cap makes the second look the last: it spends what the first left (4.5%)
    capped = plan.decide(close, {"threads"}, elapsed=11.0, active={"threads", "aio"})
    assert capped.stop and capped.level == pytest.approx(0.955)
    # six looks or more: the interim looks never spend more than half of it together
    many = RoundsPlan(looks=tuple(range(3, 40, 2)))
    assert many.level > 0.974


def test_fixed_plans_take_exactly_their_rounds() -> None:
    plan = RoundsPlan(looks=(6,), adaptive=False)
    rounds = {"threads": [1.0] * 5, "aio": [0.1] * 5}
    assert not plan.decide(rounds, {"threads"}, elapsed=1e9, active={"threads", "aio"}).stop
    rounds = {"threads": [1.0] * 6, "aio": [0.1] * 6}
    assert plan.decide(rounds, {"threads"}, elapsed=0, active={"threads", "aio"}).stop
    assert math.isclose(plan.level, 0.95)

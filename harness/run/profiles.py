"""How hard to measure: rounds per benchmark and how much of each scenario's size to run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.drivers.aio import LOOPS
from harness.errors import BadInput
from harness.model.workload import Scenario, Workload


@dataclass(frozen=True)
class Profile:
    name: str
    rounds: int  # fixed rounds: an open-loop scenario, a twin measured alone, an A/B side
    warmup_rounds: int
    scale: float
    capacity_seconds: float
    description: str
    # Interleaved twins (harness.run.interleave): round counts at which the analysis' rule
    # looks whether a scenario's answer is settled (the last is the most any twin gets), the
    # half-width of the speedup's interval that is narrow enough whatever it says, and a cap
    # on a scenario's rounds in seconds. One look: a fixed count.
    looks: tuple[int, ...] = (10,)
    precision: float = 0.02
    scenario_seconds: float = 90.0
    # A client twin's warm-up rounds in turn run this share of a round's work list (at least
    # two waves of its concurrency): enough to open its connections and go through every
    # first-call path, at a tenth of the cost (harness.drivers.client). Server twins and
    # twins measured alone warm up on whole rounds.
    warmup_share: float = 1.0


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("quick", rounds=3, warmup_rounds=1, scale=0.1, capacity_seconds=0.5,
                description="smoke run: 10% of each scenario, 3 rounds, variant twins left "
                            "out (under a minute)", looks=(3,), warmup_share=0.1),
        # Looks at 3..20 interleaved rounds: an answer plain after 3 stops there, a close one
        # gets up to 20 or 30 s of rounds, whichever comes first (a close call that needs more
        # is "cannot tell" here and worth `--profile full`).
        Profile("default", rounds=10, warmup_rounds=1, scale=1.0, capacity_seconds=1.0,
                description="full-size scenarios, rounds as the answer needs (3-20 per twin, "
                            "at most 30 s of rounds per scenario): numbers worth reading",
                looks=(3, 5, 8, 12, 20), precision=0.02, scenario_seconds=30.0,
                warmup_share=0.1),
        Profile("full", rounds=20, warmup_rounds=2, scale=1.0, capacity_seconds=2.0,
                description="large scenarios (e.g. 10k connections), 5-40 rounds per twin "
                            "(at most 300 s of rounds per scenario)",
                looks=(5, 8, 12, 20, 30, 40), precision=0.01, scenario_seconds=300.0,
                warmup_share=0.25),
    )
}


# `--rounds N`: a fixed count for every twin; fewer than 3 pairs have no interval to speak of.
MIN_ROUNDS, MAX_ROUNDS = 3, 1000


def check_rounds(rounds: int | None) -> None:
    if rounds is not None and not MIN_ROUNDS <= rounds <= MAX_ROUNDS:
        raise BadInput(f"--rounds must be between {MIN_ROUNDS} and {MAX_ROUNDS}, not {rounds}")


def profile_named(name: str) -> Profile:
    if name not in PROFILES:
        raise BadInput(f"unknown profile {name!r}; choose from: {', '.join(PROFILES)}")
    return PROFILES[name]


def check_loop(loop: str) -> None:
    if loop not in LOOPS:
        raise BadInput(f"unknown event loop {loop!r}; choose from: {', '.join(LOOPS)}")
    if loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise BadInput("--loop uvloop needs the uvloop package (pip install uvloop)") from None


# -- counted runs (harness.run.count) ----------------------------------------------------------
# Counts need no long runs: instructions do not scatter with the machine's load the way times
# do. But they can move from one process to the next: measured under valgrind, an httpx
# thread pool's rounds repeated to 2% within one process and were 2.8x apart between two (how
# its threads fell into step under valgrind's scheduler), while an aiohttp twin's repeated to
# 0.02% either way; and a second set-up in the same process counted differently from the first
# (1.5% for aiohttp: warmer caches), so replicates in one process would not be alike. So a
# counted benchmark is counted in COUNT_REPLICATES worker processes, side by side, each
# COUNT_ROUNDS rounds after COUNT_WARMUP warm-up, and a change must stand out from how the
# processes differ. A round is COUNT_SCALE of the profile's size but at least
# COUNT_MIN_WAVES waves of its concurrency (every worker of a pool busy): callgrind runs
# Python about 50x slower.
COUNT_ROUNDS = 1
COUNT_REPLICATES = 3
COUNT_WARMUP = 1
COUNT_SCALE = 0.025
COUNT_MIN_WAVES = 1


def counted_params(workload: Workload, scenario: Scenario, profile: Profile) -> dict[str, Any]:
    """The parameters a counted round of `scenario` runs at."""
    params = workload.params_for(scenario, profile.scale)
    size = workload.size_param
    if size and isinstance(params.get(size), int) and scenario.scaled:
        waves = COUNT_MIN_WAVES * int(params.get("concurrency") or 1)
        counted = max(round(params[size] * COUNT_SCALE), waves, workload.min_size)
        params[size] = min(params[size], counted)
    return params

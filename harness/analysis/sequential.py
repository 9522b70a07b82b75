"""Answers you can rerun: the paired interval of a speedup, the one rule that turns an interval
into a verdict, and how many interleaved rounds a scenario needs.

Twins of a client scenario are measured interleaved (harness.run.interleave): round i of every
twin runs before round i+1 of any, so the ratio of two twins' round i carries their difference
and only the noise of neighbouring rounds, while the machine's drift over the minutes a
scenario takes is common to both and cancels. The speedup's interval is a t interval on the
log of those paired ratios (the method `stats.compare_counts` uses for counted rounds).

The verdict needs a smallest effect that matters, `min_effect` (5% by default): "faster" or
"slower" only when the whole interval lies beyond it, "tie" when the whole interval lies
within it, "cannot tell" otherwise (asv asks a factor besides significance; this is the same
idea with the interval, and "tie" is then evidence, as in equivalence testing).

Rounds as the answer needs: the scheduler asks `RoundsPlan.decide` after every turn, and at
planned looks (after 3, 5, 8, 12, 20 rounds by default) or the time cap it may stop. Looking
and stopping when the interval clears a boundary would make a 95% interval cover less than
95% of the time, so the 5% is split between the looks (Bonferroni): every look before the
last is taken at 99.5%, the last (the most rounds, or the time cap: it does not depend on the
data) spends what is left, 97% after four interim looks. The chance that any look's interval
misses is then at most 5%, whichever look the run stops at, and the interval the run reports
is the one it stopped on, at that look's level. A twin that cannot become its side's best
stops early, with fewer rounds: one whose interval against the best lies wholly beyond the
smallest effect at a look, or that was more than twice as slow in its warm-up and every
timed round so far (which only decides which twin is best, never an interval).

Pure Python (the t distribution's closed form for whole degrees of freedom): the scheduler
runs in the measuring process between rounds, where scipy must not be loaded.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from harness.analysis.stats import median  # pure Python; scipy only inside its tests
from harness.config import DEFAULT_MIN_EFFECT, FAR_BEHIND

__all__ = ["DEFAULT_MIN_EFFECT", "Call", "Decision", "RoundsPlan", "call_of", "paired_speedup",
           "t_critical"]

CONFIDENCE = 0.95


class Call(enum.StrEnum):
    FASTER = "faster"  # async wins
    SLOWER = "slower"  # async loses
    TIE = "tie"
    CANNOT_TELL = "cannot tell"


def call_of(low: float, high: float, min_effect: float) -> Call:
    """The one rule for a speedup's interval [low, high] (> 1: the async twin does better):
    beyond the smallest effect on one side, within it, or neither. The bounds are symmetric
    in log: 5% faster is a ratio above 1.05, 5% slower one below 1/1.05."""
    up, down = 1 + min_effect, 1 / (1 + min_effect)
    if low > up:
        return Call.FASTER
    if high < down:
        return Call.SLOWER
    if down <= low and high <= up:
        return Call.TIE
    return Call.CANNOT_TELL


# -- the t distribution, for whole degrees of freedom ------------------------------------------

def _t_two_sided_p(t: float, df: int) -> float:
    """P(|T| > t), Abramowitz & Stegun 26.7.3-4 (exact for integer df)."""
    theta = math.atan(abs(t) / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd
        term, total = 1.0, 0.0
        if df > 1:
            total = 1.0
            for k in range(1, (df - 1) // 2):
                term *= c2 * (2 * k) / (2 * k + 1)
                total += term
            total *= s * math.cos(theta)
        a = 2 / math.pi * (theta + total)
    else:
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        a = s * total
    return max(0.0, 1 - a)


def t_critical(df: int, alpha: float) -> float:
    """The t with P(|T| > t) = alpha for `df` degrees of freedom (bisection on the closed
    form; tests check it against scipy)."""
    if df < 1 or not 0 < alpha < 1:
        raise ValueError("need df >= 1 and 0 < alpha < 1")
    low, high = 0.0, 1.0
    while _t_two_sided_p(high, df) > alpha:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if _t_two_sided_p(mid, df) > alpha else (low, mid)
    return (low + high) / 2


# -- the paired speedup ------------------------------------------------------------------------

@dataclass(frozen=True)
class PairedSpeedup:
    value: float  # geometric mean of sync_i / async_i (> 1: async does better)
    low: float
    high: float
    pairs: int
    level: float

    @property
    def half_width(self) -> float:
        """Half the interval's width in log terms: 0.05 is about ±5%."""
        return (math.log(self.high) - math.log(self.low)) / 2


def paired_speedup(sync: Sequence[Sequence[float]], async_: Sequence[Sequence[float]],
                   level: float = CONFIDENCE) -> PairedSpeedup | None:
    """The speedup of `async_` over `sync` from rounds measured interleaved, pass by pass:
    round i of a pass against round i of the same pass (a twin that stopped early pairs its
    rounds with the first of the other's). None with fewer than two pairs."""
    d = []
    for s_pass, a_pass in zip(sync, async_, strict=False):
        for s, a in zip(s_pass, a_pass, strict=False):
            if s > 0 and a > 0:
                d.append(math.log(s / a))
    n = len(d)
    if n < 2:
        return None
    mean = math.fsum(d) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1))
    half = t_critical(n - 1, 1 - level) * sd / math.sqrt(n)
    return PairedSpeedup(math.exp(mean), math.exp(mean - half), math.exp(mean + half), n, level)


# -- how many rounds ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    stop: bool
    why: str = ""  # "decided" | "precise" | "max rounds" | "time cap" (when stop)
    drop: frozenset[str] = frozenset()  # twins that cannot become their side's best
    level: float | None = None  # the look's confidence: what the interval it stops on has


# Of the 5% that the interval a run stops on may miss by, every look before the last spends
# this share, and the last look (the most rounds, or the time cap) spends what is left: a
# Bonferroni split, so whichever look the run stops at its interval covers with 95% or more.
# Interim looks stop only plain answers anyway; the last look's interval is then nearly as
# narrow as one fixed run's (97% at 20 rounds: t = 2.35 against 2.09; an even split of five
# looks would be 99% at every look, t = 2.86), so a close call it decides is decided as a
# long fixed run would.
INTERIM_SHARE = 0.1


@dataclass(frozen=True)
class RoundsPlan:
    """When to look, and what stops a scenario. `looks` are round counts (the last is the
    most any twin gets); `precision` the interval's half-width (in log terms) that is narrow
    enough whatever it says; `seconds` a cap on a scenario's rounds (set-up excluded)."""

    looks: tuple[int, ...]
    min_effect: float = DEFAULT_MIN_EFFECT
    precision: float = 0.02
    seconds: float = 90.0
    confidence: float = CONFIDENCE
    adaptive: bool = True  # False: every twin gets looks[-1] rounds, one look at the end

    @property
    def _interim_alpha(self) -> float:
        return (1 - self.confidence) * min(INTERIM_SHARE, 0.5 / max(len(self.looks) - 1, 1))

    def level_at(self, look: int, last: bool) -> float:
        """The confidence of the `look`-th look (1-based): an interim one's, or the last
        one's, which spends what the looks before it left."""
        if not last:
            return 1 - self._interim_alpha
        return 1 - ((1 - self.confidence) - self._interim_alpha * (look - 1))

    @property
    def level(self) -> float:
        """The confidence of the last planned look (every look's, in a fixed plan)."""
        return self.level_at(len(self.looks), last=True) if self.adaptive else self.confidence

    @property
    def max_rounds(self) -> int:
        return self.looks[-1]

    @property
    def min_rounds(self) -> int:
        return self.looks[0]

    def decide(self, rounds: Mapping[str, Sequence[float]], sync: Set[str], *,
               elapsed: float, active: Set[str],
               warmups: Mapping[str, Sequence[float]] | None = None) -> Decision:
        """After every turn: `rounds` are every twin's timed rounds so far (in order), `sync`
        the twins of the sync side, `active` those still being measured, `warmups` the times
        of their warm-up rounds (all twins' the same share of a round, so comparable with
        each other). A twin FAR_BEHIND its side's best in its warm-up and every timed round so
        far (two at least) stops: it cannot become the best, and waiting for the first look
        would cost its rounds."""
        n = max((len(rounds[t]) for t in active), default=0)
        # The time cap holds from the first look on: a scenario whose slowest twins fill the
        # cap in one round still gets the fewest rounds an interval is worth having from.
        capped = ("max rounds" if n >= self.max_rounds
                  else "time cap" if elapsed >= self.seconds and n >= self.min_rounds
                  else "")
        if not self.adaptive:  # a fixed count: no look before the last, no time cap
            return Decision(n >= self.max_rounds, "fixed rounds", level=self.confidence)
        looking = n in self.looks or bool(capped)
        level = self.level_at(1 + sum(look < n for look in self.looks), last=bool(capped))
        leaders = {side: _leader(rounds, [t for t in active if (t in sync) == side])
                   for side in (True, False)}
        drop = set()
        for twin in active:
            leader = leaders[twin in sync]
            if leader is None or twin == leader:
                continue
            warm = warmups or {}
            pairs = [*zip(warm.get(twin, ()), warm.get(leader, ()), strict=False),
                     *zip(rounds[twin], rounds[leader], strict=False)]
            # Far behind in its warm-up and every round so far: round-to-round noise here is
            # 8-30%, so FAR_BEHIND twice over is no accident (the sequential twin of a
            # latency-bound scenario, a pool ten times slower than the best one).
            if len(pairs) >= 2 and all(t > FAR_BEHIND * lead for t, lead in pairs):
                drop.add(twin)
                continue
            # At a look: how much better the side's best is, paired, at the look's level.
            behind = (paired_speedup([rounds[twin]], [rounds[leader]], level)
                      if looking else None)
            if behind is not None and behind.low > 1 + self.min_effect:
                drop.add(twin)
        if not looking:
            return Decision(False, drop=frozenset(drop))
        best_sync, best_async = leaders[True], leaders[False]
        if capped:
            return Decision(True, capped, frozenset(drop), level)
        if best_sync is None or best_async is None:
            # One side only: nothing to decide but which twin is best on it.
            return Decision(len(active) - len(drop) <= 1, "decided", frozenset(drop), level)
        speedup = paired_speedup([rounds[best_sync]], [rounds[best_async]], level)
        if speedup is None:
            return Decision(False, drop=frozenset(drop))
        if call_of(speedup.low, speedup.high, self.min_effect) is not Call.CANNOT_TELL:
            return Decision(True, "decided", frozenset(drop), level)
        if speedup.half_width <= self.precision:
            return Decision(True, "precise", frozenset(drop), level)
        return Decision(False, drop=frozenset(drop))

    def to_json(self) -> dict[str, object]:
        """The plan, as the run file records it (with the level of the look it stopped at,
        which harness.run.interleave adds)."""
        return {"looks": list(self.looks), "min_effect": self.min_effect,
                "precision": self.precision, "seconds": self.seconds,
                "adaptive": self.adaptive, "interim_share": INTERIM_SHARE}


def _leader(rounds: Mapping[str, Sequence[float]], twins: list[str]) -> str | None:
    """The twin with the lowest median round so far (what the summary will call best)."""
    if not twins:
        return None
    return min(twins, key=lambda t: median(rounds[t]))

"""Sweeps: a run whose scenarios are generated from a base scenario and a grid.

`bench sweep http_fetch --vary latency_ms=0,1,2,5 --vary concurrency=1..256*4` measures every
point of the grid (the product of the axes) as an ordinary scenario named after its values,
e.g. `latency-bound[latency_ms=2,concurrency=16]`, through the ordinary runner: same plugin,
same fairness rules, same checksums, passes and confirmation. There is no second timing path;
`execute` only swaps the workload for one whose scenarios are the points.

What a sweep measured is recorded in the run file's `twinbench.sweep` block (its spec, its
points and the points skipped with a reason), so `bench show` draws the map again and
`bench check` can re-measure the same points.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

from harness.errors import BadInput
from harness.model.physics import ideal_seconds
from harness.model.workload import ALL_PROFILES, Scenario, Workload
from harness.run.profiles import Profile

CPU_AXIS = "cpu_us"
MAX_VALUES = 64
_RANGE = re.compile(r"^(?P<lo>[^.]+)\.\.(?P<hi>[^*+]+)(?P<op>[*+])(?P<step>.+)$")


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep: a workload's base scenario and the axes (the grid is their product)."""

    workload: str
    scenario: str
    axes: tuple[Axis, ...]
    waves: int | None = None  # n = waves · concurrency at every point (see model.Sweep)
    # at least this many rounds per point, whatever the profile's (`bench sweep` asks for the
    # rounds a verdict needs, so that a quick map is not all "cannot tell")
    rounds: int | None = None

    def measured_with(self, profile: Profile) -> Profile:
        """The profile this sweep's points are measured with: its rounds, at least (interleaved
        twins: no look before them)."""
        least = self.rounds or 0
        return replace(profile, rounds=max(profile.rounds, least),
                       looks=tuple(sorted({max(n, least) for n in profile.looks})))

    def to_json(self) -> dict[str, Any]:
        return {"workload": self.workload, "scenario": self.scenario, "waves": self.waves,
                "rounds": self.rounds,
                "axes": [{"name": a.name, "values": list(a.values)} for a in self.axes]}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SweepSpec:
        try:
            axes = tuple(Axis(str(a["name"]), tuple(a["values"])) for a in raw["axes"])
            waves, rounds = raw.get("waves"), raw.get("rounds")
            return cls(str(raw["workload"]), str(raw["scenario"]), axes,
                       int(waves) if waves is not None else None,
                       int(rounds) if rounds is not None else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"the run's sweep block is malformed ({exc})") from None


@dataclass(frozen=True)
class Point:
    scenario: str  # the generated scenario's name
    values: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    spec: SweepSpec
    workload: Workload  # the base workload with the points as its scenarios
    points: tuple[Point, ...]
    skipped: tuple[tuple[dict[str, Any], str], ...]  # values, why

    def block(self) -> dict[str, Any]:
        """The run file's `twinbench.sweep` block."""
        return {**self.spec.to_json(),
                "points": [{"scenario": p.scenario, "values": p.values} for p in self.points],
                "skipped": [{"values": v, "reason": r} for v, r in self.skipped]}


# -- parsing --vary ---------------------------------------------------------------------------

def _number(text: str, axis: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"--vary {axis}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadInput(f"--vary {axis}: {text!r} is not a finite number")
    return int(value) if value.is_integer() else value


def _range(axis: str, lo: int | float, hi: int | float, op: str, step: int | float
           ) -> list[int | float]:
    if hi < lo:
        raise BadInput(f"--vary {axis}: range {lo}..{hi} runs backwards")
    if (op == "*" and (step <= 1 or lo <= 0)) or (op == "+" and step <= 0):
        raise BadInput(f"--vary {axis}: {op}{step} never reaches {hi} from {lo}; use e.g. "
                       f"1..256*4 or 0..50+10")
    values: list[int | float] = []
    value = lo
    while value <= hi * (1 + 1e-9) and len(values) <= MAX_VALUES:
        values.append(value)
        value = value * step if op == "*" else value + step
    return values


def parse_vary(text: str) -> Axis:
    """NAME=V1,V2,... or NAME=LO..HI*FACTOR (geometric) or NAME=LO..HI+STEP (arithmetic)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec.strip():
        raise BadInput(f"--vary {text!r}: write NAME=V1,V2,... or NAME=LO..HI*FACTOR "
                       "(e.g. concurrency=1..256*4)")
    match = _RANGE.match(spec.strip())
    if match:
        values = _range(name, _number(match["lo"], name), _number(match["hi"], name),
                        match["op"], _number(match["step"], name))
    else:
        values = [_number(v, name) for v in spec.split(",")]
    if len(values) > MAX_VALUES:
        raise BadInput(f"--vary {name}: more than {MAX_VALUES} values")
    if len(set(values)) != len(values):
        raise BadInput(f"--vary {name}: a value repeats ({spec})")
    if any(v < 0 for v in values):
        raise BadInput(f"--vary {name}: values must not be negative")
    return Axis(name, tuple(values))


# -- planning -----------------------------------------------------------------------------------

def default_spec(workload: Workload, scenario: str | None, axes: Sequence[Axis]
                 ) -> tuple[SweepSpec, tuple[str, ...]]:
    """The sweep to run: the given axes, else the workload's declared map for that scenario
    (or its first); and the twins the declared map selects by default."""
    declared = next((s for s in workload.sweeps if scenario in (None, s.scenario)), None)
    base = scenario or (declared.scenario if declared else workload.scenarios[0].name)
    try:
        workload.scenario(base)
    except LookupError:
        raise BadInput(f"unknown scenario {base!r} of {workload.name}; choose from: "
                       + ", ".join(s.name for s in workload.scenarios)) from None
    if not axes:
        if declared is None:
            raise BadInput(f"{workload.name} declares no default sweep of {base}; say what to "
                           f"vary, e.g. --vary concurrency=1..64*4 (parameters: "
                           f"{', '.join(sweepable(workload))})")
        axes = [Axis(k, tuple(v)) for k, v in declared.grid.items()]
    waves = declared.waves if declared and declared.scenario == base else None
    if any(a.name == workload.size_param for a in axes):
        waves = None  # an explicit N wins
    twins = declared.twins if declared and declared.scenario == base else ()
    return SweepSpec(workload.name, base, tuple(axes), waves), twins


def sweepable(workload: Workload) -> list[str]:
    names = workload.parameters()
    return [*names, CPU_AXIS] if workload.client_side and CPU_AXIS not in names else names


def point_name(base: str, values: Mapping[str, Any]) -> str:
    return f"{base}[{','.join(f'{k}={v}' for k, v in values.items())}]"


def plan(workload: Workload, spec: SweepSpec, profile: Profile,
         max_points: int | None = None) -> Plan:
    """Every point of the grid as a scenario; BadInput for names or sizes that cannot be."""
    names = sweepable(workload)
    for axis in spec.axes:
        if axis.name == CPU_AXIS and not workload.client_side and CPU_AXIS not in names:
            raise BadInput(f"--vary {CPU_AXIS}: {workload.name}'s twins are servers; CPU per "
                           "operation applies to client-side workloads")
        if axis.name not in names:
            raise BadInput(f"--vary {axis.name}: {workload.name} has no such parameter; "
                           f"choose from: {', '.join(names)}")
    if len({a.name for a in spec.axes}) != len(spec.axes):
        raise BadInput("--vary: an axis is given twice")
    size = math.prod(len(a.values) for a in spec.axes)
    if max_points is not None and size > max_points:
        raise BadInput(f"the grid has {size} points, more than --max-points {max_points}; "
                       "vary fewer values or raise --max-points")
    base = workload.scenario(spec.scenario)
    points: list[Point] = []
    scenarios: list[Scenario] = []
    skipped: list[tuple[dict[str, Any], str]] = []
    for combo in product(*(a.values for a in spec.axes)):
        values = dict(zip((a.name for a in spec.axes), combo, strict=True))
        params = {**base.params, **values}
        scaled = True
        if spec.waves and "concurrency" in params and workload.size_param:
            # the profile scales the waves, not N: quick's 10% of 8 waves is one wave, not 0.8
            waves = max(1, round(spec.waves * profile.scale))
            params[workload.size_param] = waves * int(params["concurrency"])
            scaled = False
        sized = workload.params_for(Scenario("", params, scaled=scaled), profile.scale)
        bad = workload.check_params(sized) if workload.check_params is not None else None
        if bad:  # a value no twin should be asked to run, not a combination that cannot
            raise BadInput(f"--vary: {point_name(base.name, values)}: {bad}")
        why = _cannot_run(sized)
        if why:
            skipped.append((values, why))
            continue
        name = point_name(base.name, values)
        points.append(Point(name, values))
        scenarios.append(replace(base, name=name, params=params, profiles=ALL_PROFILES,
                                 scaled=scaled))
    if not points:
        raise BadInput("no point of the grid can run: " + "; ".join(
            f"{point_name(base.name, v)}: {r}" for v, r in skipped[:3]))
    return Plan(spec, replace(workload, scenarios=tuple(scenarios)), tuple(points),
                tuple(skipped))


def _cannot_run(params: Mapping[str, Any]) -> str | None:
    n, c = params.get("n"), params.get("concurrency")
    if isinstance(n, int) and isinstance(c, int) and c > n:
        return f"concurrency {c} > N {n}: no twin can have that many in flight"
    if isinstance(c, int) and c < 1:
        return "concurrency must be at least 1"
    return None


# -- how long it will take ------------------------------------------------------------------

def estimate_seconds(plan_: Plan, twins: Iterable[str], profile: Profile) -> float:
    """A rough guess before starting: the physics of each point (N·L sequentially, else
    ceil(N/C)·L, plus the CPU work), a per-operation overhead, and set-up per benchmark."""
    chosen = set(twins)
    rounds = profile.rounds + profile.warmup_rounds
    total = 0.0
    for scenario in plan_.workload.scenarios:
        params = plan_.workload.params_for(scenario, profile.scale)
        n = int(params.get("n") or 1)
        cpu = float(params.get(CPU_AXIS) or 0) / 1e6
        for twin in plan_.workload.twins:
            if chosen and twin.name not in chosen:
                continue
            server = twin.side == "server"
            if twin.kind == "sync":
                ideal = n * float(params.get("latency_ms") or 0) / 1000
            else:
                ideal = ideal_seconds(params) or 0.0
            per_round = ideal + n * (cpu + (50e-6 if server else 300e-6))
            total += rounds * per_round + (2.0 if server else 0.3)
    return total

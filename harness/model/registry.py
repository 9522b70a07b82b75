"""Discovery and selection: which workloads exist and which of their cases a run measures.

Workloads come from the `workloads` package of this repository and from anywhere a team keeps
its own (`bench --workloads PATH_OR_MODULE`, or `workloads = [...]` under `[tool.twinbench]`):
a module name, a `.py` file, or a directory of modules. Each module defines `WORKLOAD`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from harness.errors import BadInput
from harness.model.case import Case
from harness.model.workload import Workload

BUILTIN_PACKAGE = "workloads"


class RegistryError(BadInput, LookupError):
    """A name given by the user matches nothing; the message lists the valid choices."""


def _modules_of(package: str, only: Callable[[str], bool] = lambda _name: True
                ) -> Iterator[ModuleType]:
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_") and only(info.name):
            yield importlib.import_module(f"{package}.{info.name}")


def _importable_from(directory: Path) -> None:
    """Put `directory` on the import path of this process and of every child it starts (a
    server twin's module runs as `python -m module` in a child)."""
    text = str(directory.resolve())
    if text not in sys.path:
        sys.path.insert(0, text)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if text not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([text, *parts])


def _import(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BadInput(f"--workloads {what}: cannot import it ({exc})") from None


def _external_modules(source: str, root: Path) -> list[ModuleType]:
    """The modules one `--workloads` entry names: a path (file or directory) or a module."""
    path = Path(source)
    if not path.is_absolute():
        path = root / path
    if source.endswith(".py") or os.sep in source or "/" in source or path.exists():
        if path.is_file() and path.suffix == ".py":
            _importable_from(path.parent)
            return [_import(path.stem, source)]
        if path.is_dir():
            if (path / "__init__.py").exists():  # a package: import it by its name
                _importable_from(path.parent)
                package = _import(path.name, source)
                return list(_modules_of(package.__name__))
            _importable_from(path)
            return [_import(p.stem, source) for p in sorted(path.glob("*.py"))
                    if not p.name.startswith("_")]
        raise BadInput(f"--workloads {source}: no such file or directory")
    module = _import(source, source)
    if hasattr(module, "__path__") and not hasattr(module, "WORKLOAD"):
        return list(_modules_of(module.__name__))
    return [module]


def discover(sources: Iterable[str] = (), *, root: Path = Path("."),
             builtin: str | None = BUILTIN_PACKAGE,
             wanted: Collection[str] = ()) -> dict[str, Workload]:
    """Every workload: the built-in package's (unless `builtin` is None), then each source's.
    With `wanted` names, of the built-in modules only those named so are imported (a built-in
    workload's module is named after it), unless a wanted name is found nowhere else: each
    module imports its drivers, and under valgrind importing all of them takes seconds.

    A source that defines no workload at all is an error (a typo must not run nothing)."""
    found: dict[str, Workload] = {}

    def add(module: ModuleType, source: str | None) -> bool:
        workload = getattr(module, "WORKLOAD", None)
        if not isinstance(workload, Workload):
            return False
        if workload.name in found:
            raise RegistryError(f"workload {workload.name!r} is declared twice (again in "
                                f"{module.__name__})")
        found[workload.name] = workload
        return True

    wanted = set(wanted)
    if builtin is not None:
        for module in _modules_of(builtin, lambda name: not wanted or name in wanted):
            add(module, None)
    for source in sources:
        modules = _external_modules(source, root)
        if not any([add(m, source) for m in modules]):
            raise BadInput(f"--workloads {source}: defines no WORKLOAD (a module-level "
                           "harness.Workload)")
    if builtin is not None and wanted - set(found):  # named otherwise: look at them all
        return discover(sources, root=root, builtin=builtin)
    return found


@dataclass(frozen=True)
class Selection:
    """What the user asked to run; empty tuples mean "all"."""

    workloads: tuple[str, ...] = ()
    twins: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    # Exact case ids, on top of the three filters: `bench check` re-measures single suspects.
    cases: tuple[str, ...] = ()


def _unknown(what: str, bad: list[str], valid: Iterable[str]) -> RegistryError:
    names = ", ".join(bad)
    return RegistryError(f"unknown {what} {names}; choose from: {', '.join(sorted(valid))}")


def select(registry: Mapping[str, Workload], selection: Selection, profile: str) -> list[Case]:
    """Expand a selection into cases, in registry order; unknown names raise RegistryError."""
    bad = [w for w in selection.workloads if w not in registry]
    if bad:
        raise _unknown("workload", bad, registry)
    workloads = [registry[w] for w in (selection.workloads or registry)]
    all_twins = {t.name for w in workloads for t in w.twins}
    all_scenarios = {s.name for w in workloads for s in w.scenarios}
    bad = [t for t in selection.twins if t not in all_twins]
    if bad:
        raise _unknown("twin", bad, all_twins)
    bad = [s for s in selection.scenarios if s not in all_scenarios]
    if bad:
        raise _unknown("scenario", bad, all_scenarios)
    return list(_cases(workloads, selection, profile))


def _cases(workloads: list[Workload], selection: Selection, profile: str) -> Iterator[Case]:
    for workload in workloads:
        for scenario in workload.scenarios:
            if selection.scenarios and scenario.name not in selection.scenarios:
                continue
            if profile not in scenario.profiles:
                continue
            for twin in workload.twins:
                if selection.twins and twin.name not in selection.twins:
                    continue
                if not selection.twins and profile not in twin.profiles:
                    continue  # a variant left out of this profile; --twin still runs it
                case = Case(workload, twin, scenario)
                if selection.cases and case.id not in selection.cases:
                    continue
                yield case

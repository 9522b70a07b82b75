"""The package tree is the pipeline: imports flow one way, and each package says what it owns.

    model -> drivers, peers -> run -> results -> analysis -> render -> cli

Parsed from the source (every `import` and `from ... import`, including ones inside functions
and under TYPE_CHECKING), so a back-edge fails here before it tangles anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "harness"

# What each top-level part of the harness may import from the harness (besides itself and
# the root `harness` module's __version__). Base modules first, then the pipeline.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "redact": set(),
    "config": {"errors"},
    "procs": {"errors"},
    "leftovers": {"procs"},
    "model": {"errors"},
    "drivers": {"model", "procs", "leftovers", "errors"},
    "peers": {"model", "procs", "leftovers", "redact", "errors"},
    "results": {"model", "redact", "errors"},
    "run": {"model", "drivers", "peers", "results", "procs", "leftovers", "config", "errors"},
    "analysis": {"model", "results", "config", "errors"},
    "render": {"model", "results", "analysis", "errors"},
    "testing": {"model", "peers", "errors"},
    "cli": {"model", "drivers", "peers", "results", "run", "analysis", "render", "config",
            "procs", "leftovers", "redact", "errors"},
}
# Third-party code that only the analysis and rendering may load (the measuring process must
# not: numpy's BLAS starts threads, and both cost memory the twins are measured in).
HEAVY = {"scipy", "numpy", "matplotlib"}
HEAVY_ALLOWED = {"analysis", "render"}


def part_of(path: Path) -> str:
    rel = path.relative_to(HARNESS)
    return rel.parts[0].removesuffix(".py")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "harness":
                out += [(node.lineno, f"harness.{alias.name}") for alias in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


SOURCES = sorted(p for p in HARNESS.rglob("*.py") if p.parent != HARNESS
                 or p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_downstream(path: Path) -> None:
    part = part_of(path)
    assert part in ALLOWED, f"{part}: a new part of the harness needs a place in ALLOWED"
    allowed = ALLOWED[part] | {part}
    bad = []
    for line, module in imported_modules(path):
        top = module.split(".")[0]
        if top == "harness":
            target = module.split(".")[1] if "." in module else "__init__"
            if target == "__version__":
                continue
            if target not in allowed:
                bad.append(f"line {line}: {module} ({part} may import {sorted(allowed)})")
        elif top in HEAVY and part not in HEAVY_ALLOWED:
            bad.append(f"line {line}: {module} (only {sorted(HEAVY_ALLOWED)} may load it)")
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


def test_heavy_libraries_are_imported_lazily() -> None:
    """Inside functions only, so importing a renderer (e.g. for `bench run`'s tables) does not
    load scipy or matplotlib before anything is measured."""
    bad = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                    if n.split(".")[0] in HEAVY]
    assert not bad, bad


def test_every_package_says_what_it_owns_and_may_import() -> None:
    for package in sorted(p for p in HARNESS.iterdir() if (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        if package.name in ("cli",):
            assert "May import" in doc, package.name
            continue
        assert "May import" in doc, f"harness/{package.name}/__init__.py must say what it " \
                                    "may import"
        for name in ALLOWED[package.name]:
            assert f"harness.{name}" in doc, f"{package.name}'s docstring omits harness.{name}"


WORKLOADS = sorted((ROOT / "workloads").glob("*.py"))


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.name)
def test_workloads_use_the_public_api_only(path: Path) -> None:
    """A workload module imports `harness` itself, nothing deeper: the API a team's own twins
    use is the one ours use."""
    deep = [f"line {line}: {m}" for line, m in imported_modules(path)
            if m.startswith("harness.") and m.split(".")[1] not in _public_names()]
    assert not deep, deep


def _public_names() -> set[str]:
    import harness

    return set(harness.__all__)


def test_public_api_resolves() -> None:
    import harness

    for name in harness.__all__:
        assert getattr(harness, name) is not None, name

"""The code and environment of each side of an interleaved check: git worktrees and virtualenvs,
made once and kept in a cache.

`bench check --against REF` measures REF's code: it is checked out (detached) in a worktree
under the cache, `<cache>/worktrees/<repo>/<commit>`, reused by every later check of that
commit. When REF's dependency specification (its pyproject's `[project] dependencies`) differs
from the working tree's, REF gets a virtualenv of its own, `<cache>/venvs/<hash of the spec and
Python>`, made with `uv` when it is on PATH, else venv + pip, so that a dependency upgrade in a
pull request is measured too. `--against-requirements` makes such an environment for the same
code with other pins. Anything half made (a failed install, an interrupted checkout) is removed
before the error is reported: the cache only ever holds complete entries.

The cache is `$TWINBENCH_CACHE`, else `$XDG_CACHE_HOME/twinbench`, else `~/.cache/twinbench`;
`bench check --clean-cache` empties it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

from harness.errors import BadInput
from harness.run.ab import Side

WORKER = Path("harness") / "run" / "worker.py"
# Put first on the import path of a side whose code is not the installed (editable) project:
# an editable install's import finder would otherwise answer `import harness` with the
# working tree's copy, in the worker and in every child it starts.
SITECUSTOMIZE = '''"""twinbench: let PYTHONPATH choose the code of this side of an A/B check."""
import sys

sys.meta_path[:] = [f for f in sys.meta_path
                    if not type(f).__module__.startswith("__editable__")]
'''


def cache_dir() -> Path:
    explicit = os.environ.get("TWINBENCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "twinbench"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def project_root(start: Path | None = None) -> Path:
    """The git working tree the check is run in (the candidate's code)."""
    try:
        done = _git(start or Path.cwd(), "rev-parse", "--show-toplevel")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadInput(f"--against needs git: {exc}") from None
    if done.returncode != 0:
        raise BadInput("--against compares git revisions, but this directory is not in a git "
                       "repository")
    return Path(done.stdout.strip())


def resolve(root: Path, ref: str) -> str:
    """REF's commit; BadInput for a name git does not know or a commit without the project."""
    if not ref or ref.startswith("-"):
        raise BadInput(f"--against {ref!r}: not a git revision")
    done = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode != 0:
        raise BadInput(f"--against {ref}: no such revision in {root} (a branch, tag or "
                       "commit; fetch it first, e.g. `git fetch origin main`)")
    sha = done.stdout.strip()
    marker = "harness/__init__.py" if (root / "harness").is_dir() else "pyproject.toml"
    if _git(root, "cat-file", "-e", f"{sha}:{marker}").returncode != 0:
        raise BadInput(f"--against {ref}: commit {sha[:10]} does not hold the project "
                       f"(no {marker})")
    return sha


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One check at a time makes or inspects a cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _repo_key(root: Path) -> str:
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]


def worktree(root: Path, sha: str) -> Path:
    """A clean checkout of `sha`, from the cache or made now."""
    place = cache_dir() / "worktrees" / _repo_key(root) / sha
    with _locked(place.parent / ".lock"):
        if place.exists():
            head = _git(place, "rev-parse", "HEAD")
            if head.returncode == 0 and head.stdout.strip() == sha:
                status = _git(place, "status", "--porcelain", "--untracked-files=no")
                if status.returncode == 0 and status.stdout.strip():
                    raise BadInput(f"the cached worktree {place} of {sha[:10]} has local "
                                   "changes; remove them, or the cache with `bench check "
                                   "--clean-cache`")
                if status.returncode == 0:
                    return place
            _drop_worktree(root, place)  # half made or foreign: make it again
        done = _git(root, "worktree", "add", "--detach", str(place), sha)
        if done.returncode != 0:
            _drop_worktree(root, place)
            raise BadInput(f"could not check out {sha[:10]}: {_last_line(done.stderr)}")
    return place


def _drop_worktree(root: Path, place: Path) -> None:
    _git(root, "worktree", "remove", "--force", str(place))
    shutil.rmtree(place, ignore_errors=True)
    _git(root, "worktree", "prune")


def requirements(root: Path) -> tuple[str, ...]:
    """A tree's dependency specification: its pyproject's [project] dependencies."""
    try:
        doc = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{root / 'pyproject.toml'}: {exc}") from None
    deps = doc.get("project", {}).get("dependencies", [])
    return tuple(str(d) for d in deps)


def with_pins(reqs: Sequence[str], pins: Sequence[str]) -> tuple[str, ...]:
    """`reqs` with each pinned package's requirement replaced by the pin."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    parsed = []
    for pin in pins:
        try:
            parsed.append(Requirement(pin))
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0] if str(exc) else "not a requirement"
            raise BadInput(f"--against-requirements {pin!r}: {reason} (write e.g. "
                           "'aiohttp==3.10.11')") from None
    names = {canonicalize_name(p.name) for p in parsed}
    kept = [r for r in reqs if canonicalize_name(Requirement(r).name) not in names]
    return (*kept, *(str(p) for p in parsed))


def environment(reqs: Sequence[str], current: Sequence[str]) -> str:
    """The interpreter for a side whose dependencies are `reqs`: this one when they are the
    candidate's own (`current`), else a cached virtualenv with exactly them."""
    if sorted(reqs) == sorted(current):
        return sys.executable
    key = hashlib.sha256(json.dumps([sys.version, sorted(reqs)]).encode()).hexdigest()[:16]
    home = cache_dir() / "venvs"
    target = home / key
    python = target / "bin" / "python"
    with _locked(home / ".lock"):
        if (target / ".complete").exists() and python.exists():
            return str(python)
        shutil.rmtree(target, ignore_errors=True)
        making = home / f".{key}.{os.getpid()}"
        try:
            _install(making, reqs)
            (making / ".complete").write_text("\n".join(reqs) + "\n")
            os.replace(making, target)
        finally:
            shutil.rmtree(making, ignore_errors=True)
    return str(python)


def _install(target: Path, reqs: Sequence[str]) -> None:
    uv = shutil.which("uv")
    python = target / "bin" / "python"
    steps = ([[uv, "venv", "--quiet", "--python", sys.executable, str(target)],
              [uv, "pip", "install", "--quiet", "--python", str(python), *reqs]] if uv else
             [[sys.executable, "-m", "venv", str(target)],
              [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               *reqs]])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise BadInput(f"installing a side's dependencies failed: "
                           f"{_last_line(done.stderr or done.stdout)}")


def shim() -> Path:
    """The directory holding the sitecustomize that hides editable installs (see above)."""
    place = cache_dir() / "shim"
    target = place / "sitecustomize.py"
    if not target.exists() or target.read_text() != SITECUSTOMIZE:
        place.mkdir(parents=True, exist_ok=True)
        tmp = place / f".sitecustomize.{os.getpid()}"
        tmp.write_text(SITECUSTOMIZE)
        os.replace(tmp, target)
    return place


def side_at(name: str, root: Path, sha: str, label: str, candidate: Path,
            pins: Sequence[str] = ()) -> Side:
    """A side running `sha`'s code from its cached worktree, in the environment its
    dependencies (plus `pins`) call for."""
    tree = worktree(root, sha)
    if (candidate / "harness").is_dir() and not (tree / WORKER).exists():
        raise BadInput(f"{label} predates interleaved checks (no {WORKER}): check against a "
                       "later revision, or against a saved run with --baseline")
    reqs = with_pins(requirements(tree), pins) if pins else requirements(tree)
    python = environment(reqs, requirements(candidate))
    return Side(name, tree, python, label, shim=shim())


def side_here(name: str, root: Path, label: str, pins: Sequence[str] = ()) -> Side:
    """A side running the working tree's code; with `pins`, in an environment of its own."""
    if not pins:
        return Side(name, root, sys.executable, label)
    reqs = with_pins(requirements(root), pins)
    return Side(name, root, environment(reqs, requirements(root)), label, shim=shim())


def clean(root: Path | None = None) -> list[str]:
    """Empty the cache: every worktree (unregistered from its repository too) and every
    virtualenv. What was removed, for the report."""
    base = cache_dir()
    removed = []
    for place in sorted((base / "worktrees").glob("*/*")):
        if place.is_dir():
            common = _git(place, "rev-parse", "--path-format=absolute", "--git-common-dir")
            if common.returncode == 0:
                _drop_worktree(Path(common.stdout.strip()).parent, place)
            shutil.rmtree(place, ignore_errors=True)
            removed.append(str(place))
    for place in sorted((base / "venvs").glob("*")):
        if place.is_dir():
            shutil.rmtree(place, ignore_errors=True)
            removed.append(str(place))
    if root is not None:
        _git(root, "worktree", "prune")
    return removed

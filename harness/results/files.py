"""Run files on disk: labels under results/, output paths checked up front, atomic saves,
strict loads."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.redact import redact_tree
from harness.results.runfile import MAX_FILE_BYTES, Run, RunFileError, parse_run

RESULTS_DIR = Path("results")
PARTIAL = ".partial"  # label suffix of an interrupted run's file; reserved
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def label_path(label: str, results_dir: Path = RESULTS_DIR) -> Path:
    """`results/LABEL.json`, refusing labels that would write anywhere else."""
    if not _LABEL.match(label) or ".." in label:
        raise BadInput(f"invalid label {label!r}: use letters, digits, '.', '_' and '-' "
                       "(it names a file under results/)")
    return results_dir / f"{label}.json"


def partial_path(target: Path) -> Path:
    """Where an interrupted run is kept instead of under its label: LABEL.partial.json."""
    return target.with_name(target.stem + PARTIAL + ".json")


# -- output paths, checked before anything is measured ------------------------------------------

def output_path(raw: str, what: str, *, force: bool, overwrite: bool = False) -> Path:
    """`raw` as a file this run may write, or BadInput saying why not, before any benchmark
    runs: not empty, in a directory that exists and takes a new file (a probe file is made
    and removed: permission bits say nothing for root, nor for /proc or a read-only mount),
    not a directory or a device, and not an existing file unless `force` (or `overwrite`:
    files such as $GITHUB_STEP_SUMMARY that are there to be written)."""
    if not raw.strip():
        raise BadInput(f"{what} needs a file path, not {raw!r}")
    path = Path(raw)
    parent = path.parent
    if path.is_dir():
        raise BadInput(f"{what} {path}: is a directory")
    if not parent.exists():
        raise BadInput(f"{what} {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise BadInput(f"{what} {path}: {parent} is not a directory")
    if path.exists() or path.is_symlink():
        if not stat.S_ISREG(path.stat().st_mode if path.exists() else 0):
            raise BadInput(f"{what} {path}: exists and is not a regular file")
        if not (force or overwrite):
            raise BadInput(f"{path} exists; pass --force to overwrite it")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot write in {parent} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path


@dataclass(frozen=True)
class Outputs:
    """Where a measuring command will write, all checked (see `check_outputs`)."""

    target: Path | None = None  # results/LABEL.json (--save)
    json: Path | None = None  # --json
    html: Path | None = None  # --html
    force: bool = False

    @property
    def partial(self) -> Path | None:
        return partial_path(self.target) if self.target is not None else None


def check_outputs(*, save: str | None = None, json_path: str | None = None,
                  html: str | None = None, force: bool = False, json_force: bool = False,
                  results_dir: Path = RESULTS_DIR) -> Outputs:
    """Every output of a measuring command (`run`, `all`, `sweep`, `check`), refused up
    front: a bad label (`.partial` is reserved for interrupted runs), a label or its
    interrupted twin that exists without --force, a --json or --html path that cannot be
    written, two options naming one file. `json_force`: --json is overwritten regardless."""
    target = None
    if save is not None:
        target = label_path(save, results_dir)
        if save.endswith(PARTIAL):
            raise BadInput(f"invalid label {save!r}: the suffix {PARTIAL} is reserved for "
                           "runs cut short by Ctrl-C")
        for path in (target, partial_path(target)):
            if path.exists() and not force:
                raise BadInput(f"{path} exists; pass --force to overwrite it")
        _check_results_dir(target.parent)
    out = (output_path(json_path, "--json", force=force or json_force)
           if json_path is not None else None)
    page = output_path(html, "--html", force=force) if html is not None else None
    named = [(o, p.resolve()) for o, p in (("--save", target), ("--json", out),
                                            ("--html", page)) if p is not None]
    for i, (option, path) in enumerate(named):
        for other, path2 in named[:i]:
            if path == path2:
                raise BadInput(f"{option} {path} is the file {other} writes")
    return Outputs(target, out, page, force)


def _check_results_dir(results: Path) -> None:
    """results/ may be missing (it is made on save) but must be a writable directory."""
    if results.exists() and not results.is_dir():
        raise BadInput(f"{results} exists and is not a directory; runs are saved in it")
    where = results if results.is_dir() else results.parent
    try:
        fd, probe = tempfile.mkstemp(dir=where, prefix=".twinbench-", suffix=".probe")
    except OSError as exc:
        raise BadInput(f"cannot save runs in {results} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


# -- saving and loading --------------------------------------------------------------------------

def _umask() -> int:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("Umask:")).split()[1],
                   8)
    mask = os.umask(0o022)  # off Linux: the only way to read it is to set it
    os.umask(mask)
    return mask


def save_run(doc: dict[str, Any], path: Path, *, force: bool = False,
             make_dir: bool = False) -> Path:
    """Write atomically (temp file in the same directory, fsync, rename), secrets redacted,
    readable as any file the user makes (0666 less the umask; mkstemp's 0600 would hide a
    committed result). `make_dir` creates the directory (results/ for a label)."""
    if path.exists() and not force:
        raise BadInput(f"{path} exists; pass --force to overwrite it")
    if make_dir:
        path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(redact_tree(doc), indent=2, sort_keys=False, allow_nan=False)
    return write_atomic(path, text + "\n")


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to a temp file in the same directory, fsync, rename: a reader (or a crash)
    never sees half a file, and what was there stays until the new one is complete."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp's file is private (0600); the result gets the mode any new file would.
        os.fchmod(fd, _mode_of(path))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _mode_of(path: Path) -> int:
    """The mode `path` has now, or the one a new file gets under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    # 1e999 parses to inf without ever reaching parse_constant.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"non-finite number {text}")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, refusing a key given twice (json keeps the last one silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def load_run(path: Path | str) -> Run:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such run file") from None
    except IsADirectoryError:
        raise RunFileError(f"{path}: is a directory, not a run file") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read ({exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise RunFileError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB, the most a run "
                           "file may be; not a run file?")
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise RunFileError(f"{path}: cannot read ({exc})") from None
    if not text.strip():
        raise RunFileError(f"{path}: empty file, not a run file")
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                         object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path}: not valid JSON (truncated?): {exc.msg} at line "
                           f"{exc.lineno}") from None
    except RecursionError:
        raise RunFileError(f"{path}: nested too deeply to be a run file") from None
    except ValueError as exc:
        raise RunFileError(f"{path}: {exc}; run files hold only finite numbers and "
                           "objects without repeated keys") from None
    return parse_run(doc, path)

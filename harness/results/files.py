"""Run files on disk: labels under results/, atomic saves, strict loads."""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.redact import redact_tree
from harness.results.runfile import Run, RunFileError, parse_run

RESULTS_DIR = Path("results")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def label_path(label: str, results_dir: Path = RESULTS_DIR) -> Path:
    """`results/LABEL.json`, refusing labels that would write anywhere else."""
    if not _LABEL.match(label) or ".." in label:
        raise BadInput(f"invalid label {label!r}: use letters, digits, '.', '_' and '-' "
                       "(it names a file under results/)")
    return results_dir / f"{label}.json"


def save_run(doc: dict[str, Any], path: Path, *, force: bool = False) -> Path:
    """Write atomically (temp file in the same directory, fsync, rename), secrets redacted."""
    if path.exists() and not force:
        raise BadInput(f"{path} exists; pass --force to overwrite it")
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
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    # 1e999 parses to inf without ever reaching parse_constant.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"non-finite number {text}")
    return value


def load_run(path: Path | str) -> Run:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such run file") from None
    except IsADirectoryError:
        raise RunFileError(f"{path}: is a directory, not a run file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{path}: cannot read ({exc})") from None
    if not text.strip():
        raise RunFileError(f"{path}: empty file, not a run file")
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path}: not valid JSON (truncated?): {exc.msg} at line "
                           f"{exc.lineno}") from None
    except ValueError as exc:
        raise RunFileError(f"{path}: {exc}; run files hold only finite numbers") from None
    return parse_run(doc, path)

"""Passwords out of any text that may reach output or a file (DSNs, URIs, error messages).

Below every package: peers scrub their errors with it, results scrub what they save.
"""

from __future__ import annotations

import re
from typing import Any

_URI_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@", re.I)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)


def redact(text: str) -> str:
    """Remove passwords from DSNs/URIs in any string that may reach output or a file."""
    return _KV_PASSWORD.sub(r"\1***", _URI_PASSWORD.sub(r"\g<scheme>:***@", text))


def redact_tree(value: Any) -> Any:
    """`redact` applied to every string of a JSON-like tree (a copy; the input is untouched)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    return value

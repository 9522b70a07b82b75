"""Order-independent checksums, so a sequential twin and a concurrent twin can be compared.

Concurrent twins finish operations in any order; summing a per-result digest modulo 2**64 gives
the same number for the same multiset of results whatever the order, and still changes when a
single result is missing, duplicated or different.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

MASK = (1 << 64) - 1


def digest(value: Any) -> int:
    """A 64-bit digest of one operation's result (bytes, str, int or a repr-able value)."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, str):
        data = value.encode()
    else:
        data = repr(value).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def fold(values: Iterable[Any]) -> int:
    """Checksum of many results, independent of their order."""
    return sum(map(digest, values)) & MASK


def combine(digests: Iterable[int]) -> int:
    """Combine digests computed elsewhere (e.g. per worker) into one checksum."""
    return sum(digests) & MASK

"""Deterministic payloads: the bytes a peer serves and a twin checks, reproducible anywhere."""

from __future__ import annotations


def payload(index: int, size: int) -> bytes:
    """Item `index`'s body of `size` bytes: unique per item, cheap to build."""
    unit = b"%08d" % index
    return (unit * (size // len(unit) + 1))[:size]

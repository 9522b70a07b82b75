"""Looking at processes a test did not start itself."""

from __future__ import annotations

import contextlib

import psutil


def cmdline(proc: psutil.Process) -> str:
    """Its command line, or "" once it has exited or is a zombie: a child seen by children()
    may be gone (or not yet reaped) by the time its command line is read."""
    with contextlib.suppress(psutil.Error):
        return " ".join(proc.cmdline())
    return ""

"""Counting instructions: valgrind's callgrind, switched on around the timed rounds only.

A counted run is the ordinary runner in a worker started under

    valgrind --tool=callgrind --instr-atstart=no ... python -m harness.run.worker

so interpreter start-up, imports, peers' start, set-up, warm-up and resets run uninstrumented
(valgrind still translates them, about 5x slower, not 50x), and the plugin brackets each
timed round with callgrind's client requests, as CodSpeed does: zero the counters and switch
instrumentation on just before the round's work, switch it off and dump the counters just
after. Instrumentation is global, so every thread's instructions count (a thread pool's
workers included); the peers are other processes (valgrind does not follow exec), so only the
twin's own process is counted, at full speed for the peers.

Why client requests and not `callgrind_control` or differences of whole-process counts:
callgrind_control's commands are picked up asynchronously, at a basic-block check, so a
window's edges would land anywhere near the round's; a difference of two runs' totals counts
start-up twice and takes two valgrind start-ups, and start-up (about 10 s, billions of
instructions) is noisier than the rounds themselves.

The client requests are valgrind.h's magic instruction sequence, which valgrind recognises in
any code it runs and which is a harmless no-op on a real CPU. CPython cannot emit it, and
building a C extension would make installing twinbench need a compiler and valgrind's headers
before valgrind is even wanted; so the sequence (x86-64 or AArch64, from valgrind.h's
VALGRIND_DO_CLIENT_REQUEST_EXPR) is put into one executable page and called through ctypes.
The ABI it relies on has not changed since valgrind 3.x began.

With `--trace-syscalls=yes -v` the log also lists every system call the process makes, by
name, and callgrind's "instrumentation switched ON/OFF" lines mark the rounds in it, so the
same counted rounds give system calls per operation too (SYSCALL lines between the marks).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import mmap
import os
import platform
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# valgrind.h / callgrind.h request codes
_RUNNING_ON_VALGRIND = 0x1001
_CALLGRIND = (ord("C") << 24) | (ord("T") << 16)
_DUMP_STATS_AT = _CALLGRIND + 3
_ZERO_STATS = _CALLGRIND + 1
_START_INSTRUMENTATION = _CALLGRIND + 4
_STOP_INSTRUMENTATION = _CALLGRIND + 5

# uint64_t request(uint64_t *args, uint64_t default): the special instruction preamble (a
# rotation by 128 bits in all, which leaves the register as it was) and the marker that
# carries the request; valgrind replaces the pair with the request's result.
_CODE = {
    "x86_64": bytes([
        0x48, 0x89, 0xF8,  # mov rax, rdi        (the request block)
        0x48, 0x89, 0xF2,  # mov rdx, rsi        (the default result)
        0x48, 0xC1, 0xC7, 0x03,  # rol rdi, 3
        0x48, 0xC1, 0xC7, 0x0D,  # rol rdi, 13
        0x48, 0xC1, 0xC7, 0x3D,  # rol rdi, 61
        0x48, 0xC1, 0xC7, 0x33,  # rol rdi, 51
        0x48, 0x87, 0xDB,  # xchg rbx, rbx       (the request itself)
        0x48, 0x89, 0xD0,  # mov rax, rdx
        0xC3,  # ret
    ]),
    "aarch64": b"".join(word.to_bytes(4, "little") for word in (
        0xAA0003E4,  # mov x4, x0            (the request block)
        0xAA0103E3,  # mov x3, x1            (the default result)
        0x93CC0D8C,  # ror x12, x12, #3
        0x93CC358C,  # ror x12, x12, #13
        0x93CCCD8C,  # ror x12, x12, #51
        0x93CCF58C,  # ror x12, x12, #61
        0xAA0A014A,  # orr x10, x10, x10     (the request itself)
        0xAA0303E0,  # mov x0, x3
        0xD65F03C0,  # ret
    )),
}
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}

_Request = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)
_Block = ctypes.c_uint64 * 6


class Unsupported(RuntimeError):
    """Counting is not possible here (no valgrind, or a CPU valgrind.h's request is not
    written for); the message says what to do."""


def machine() -> str:
    arch = platform.machine().lower()
    return _ARCH_ALIASES.get(arch, arch)


class ClientRequests:
    """valgrind's client requests from Python; outside valgrind every request answers its
    default (0) and does nothing."""

    def __init__(self) -> None:
        code = _CODE.get(machine())
        if code is None:
            raise Unsupported(f"counting instructions is not supported on {machine()} "
                              f"(only {', '.join(_CODE)})")
        self._page = mmap.mmap(-1, mmap.PAGESIZE,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self._call = _Request(address)
        self._label = ctypes.create_string_buffer(256)

    def _request(self, code: int, arg: int = 0) -> int:
        block = _Block(code, arg, 0, 0, 0, 0)
        return int(self._call(ctypes.addressof(block), 0))

    def running_on_valgrind(self) -> bool:
        return self._request(_RUNNING_ON_VALGRIND) > 0

    def start(self) -> None:
        """Zero the counters and count from here (every thread)."""
        self._request(_ZERO_STATS)
        self._request(_START_INSTRUMENTATION)

    def stop(self, label: str) -> None:
        """Stop counting and write what was counted since `start` to the next dump file."""
        self._request(_STOP_INSTRUMENTATION)
        self._label.value = label.encode("ascii", "replace")[:255]
        self._request(_DUMP_STATS_AT, ctypes.addressof(self._label))


# -- the command line and its outputs -----------------------------------------------------------

VALGRIND_HOW_TO = ("counting needs valgrind: install it (Debian/Ubuntu: apt install valgrind; "
                   "Fedora: dnf install valgrind; macOS: not available)")
OUT_NAME = "callgrind.out"
LOG_NAME = "valgrind.log"


def find_valgrind() -> str:
    """The valgrind executable; Unsupported with how to get it when there is none."""
    found = shutil.which("valgrind")
    if found is None:
        raise Unsupported(VALGRIND_HOW_TO)
    if machine() not in _CODE:
        raise Unsupported(f"counting instructions is not supported on {machine()} (only "
                          f"{', '.join(_CODE)})")
    return found


@functools.cache
def valgrind_version() -> str | None:
    """valgrind's version ("3.19.0"), for the run file: counts move between versions."""
    try:
        done = subprocess.run([find_valgrind(), "--version"], capture_output=True, text=True,
                              timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, Unsupported):
        return None
    return done.stdout.strip().removeprefix("valgrind-") or None


def command(valgrind: str, directory: Path, argv: Sequence[str]) -> list[str]:
    """`argv` (a Python worker; its interpreter must be a real binary, not a shell shim)
    under callgrind, instrumentation off until the first round, every dump and the log in
    `directory`."""
    return [
        valgrind, "--tool=callgrind", "--instr-atstart=no",
        f"--callgrind-out-file={directory / OUT_NAME}",
        # a dump lists every function's cost: keep it small, we read one line of it
        "--dump-line=no", "--dump-instr=no", "--compress-strings=yes",
        "--trace-syscalls=yes", "-v", f"--log-file={directory / LOG_NAME}",
        # the worker's threads switch at valgrind's pace, the same for every twin
        "--fair-sched=no",
        *argv,
    ]


def counting_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of a counted worker: hashes seeded alike (string hashing otherwise
    reorders dicts and sets from one process to the next, and their work with them)."""
    out = dict(env)
    out["PYTHONHASHSEED"] = "0"
    return out


_TOTALS = re.compile(rb"^(?:totals|summary):\s*(\d+)", re.MULTILINE)


def read_dump(path: Path) -> int:
    """The instructions a dump file counted (its `totals:` line)."""
    data = path.read_bytes()
    found = _TOTALS.findall(data)
    if not found:
        raise ValueError(f"{path.name}: no totals in the callgrind dump")
    return max(int(x) for x in found)


_SWITCH = re.compile(r"instrumentation switched (ON|OFF)")
# Calls a real process makes through the vDSO, without entering the kernel; valgrind has no
# vDSO and turns each into a system call, which would count every timer read as one.
VDSO_CALLS = frozenset({"clock_gettime", "gettimeofday", "time", "getcpu"})
_SYSCALL = re.compile(r"^SYSCALL\[\d+,\d+\]\(\s*\d+\)\s+(?:sys_)?(\w+)")


@dataclass
class SyscallLog:
    """Reads the valgrind log as it grows: the system calls of each counted window."""

    path: Path
    _offset: int = 0
    _partial: str = ""
    _inside: bool = False
    _calls: Counter[str] = field(default_factory=Counter)

    def _new_lines(self) -> list[str]:
        # Only up to the size it has now: every read of the log is a system call valgrind
        # logs, so reading "to the end" would never end.
        try:
            with open(self.path, "rb") as log:
                end = os.fstat(log.fileno()).st_size
                log.seek(self._offset)
                data = log.read(end - self._offset) if end > self._offset else b""
        except FileNotFoundError:
            return []
        self._offset += len(data)
        text = self._partial + data.decode(errors="replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        return lines

    def window(self) -> Counter[str]:
        """The system calls, by name, of the last window between an ON and an OFF switch
        logged since the previous call (every thread's: the log names each call's thread);
        empty while the window is still open."""
        done: Counter[str] = Counter()
        for line in self._new_lines():
            switch = _SWITCH.search(line)
            if switch:
                if switch.group(1) == "ON":
                    self._inside, self._calls = True, Counter()
                elif self._inside:
                    self._inside, done = False, self._calls
                continue
            if self._inside:
                match = _SYSCALL.match(line)
                if match and match.group(1) not in VDSO_CALLS:
                    self._calls[match.group(1)] += 1
        return done


class Counting:
    """In the counted worker: brackets each timed round and reads back what it cost."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.requests = ClientRequests()
        if not self.requests.running_on_valgrind():
            raise Unsupported("the counted worker is not running under valgrind")
        self.log = SyscallLog(directory / LOG_NAME)
        self._dumps = 0

    def start(self) -> None:
        self.requests.start()

    def stop(self, label: str) -> tuple[int, Counter[str]]:
        """Instructions and system calls (by name) since `start`."""
        self.requests.stop(label)
        self._dumps += 1
        dump = self.directory / f"{OUT_NAME}.{self._dumps}"
        try:
            instructions = read_dump(dump)
        finally:
            with contextlib.suppress(FileNotFoundError):
                dump.unlink()
        return instructions, self.log.window()


def python_for(executable: str) -> str:
    """The interpreter to hand valgrind: `executable` as it is (a virtualenv's python is a
    symlink that must stay one, or the venv is lost), unless it is a script, such as pyenv's
    shims, whose interpreter valgrind would count instead: then the binary it runs."""
    try:
        with open(executable, "rb") as head:
            if head.read(2) != b"#!":
                return executable
    except OSError:
        return executable
    import sys

    return os.path.realpath(sys.executable) if executable != sys.executable else executable

"""What reads callgrind's outputs and speaks valgrind's client requests (no valgrind needed
here: tests/run/test_count.py counts under it)."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.run.callgrind import ClientRequests, SyscallLog, command, python_for, read_dump

LOG = """\
--123-- Client Request: instrumentation switched ON
SYSCALL[123,1](44) sys_sendto ( 5, 0x1, 10, 0, 0x0, 0 )[sync] --> Success(0xa)
SYSCALL[123,1](45) sys_recvfrom ( 5, 0x1, 10, 0 ) --> [async] ...
SYSCALL[123,1](45) ... [async] --> Success(0xa)
SYSCALL[123,3](202) sys_futex ( 0x4, 129, 1 )[sync] --> Success(0x0)
SYSCALL[123,1](228) sys_clock_gettime ( 1, 0x1 ) --> Success(0x0)
--123-- Client Request: instrumentation switched OFF
SYSCALL[123,1](0) sys_read ( 6, 0x1, 100 ) --> Success(0x64)
"""


def test_a_window_is_the_system_calls_between_the_switches_of_every_thread(tmp_path: Path
                                                                            ) -> None:
    log = tmp_path / "valgrind.log"
    log.write_text(LOG)
    window = SyscallLog(log).window()
    # a call that blocked is logged twice (its start, then "... [async]"): counted once; the
    # timer read is a vDSO call on a real machine, not a system call; the read after OFF is
    # the harness's own
    assert dict(window) == {"sendto": 1, "recvfrom": 1, "futex": 1}


def test_the_log_is_read_as_it_grows_and_a_line_cut_in_two_waits(tmp_path: Path) -> None:
    log = tmp_path / "valgrind.log"
    reader = SyscallLog(log)
    assert not reader.window()  # not written yet
    first, second = LOG[:120], LOG[120:]
    log.write_text(first)
    assert not reader.window()
    with log.open("a") as out:
        out.write(second)
    assert dict(reader.window()) == {"sendto": 1, "recvfrom": 1, "futex": 1}
    assert not reader.window()  # nothing new


def test_a_dump_is_read_for_its_totals(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncreator: callgrind-3.19.0\ndesc: Trigger: Client Request: "
                    "x round 1\nevents: Ir\nfn=(1) main\n0 12\nsummary: 0\ntotals: 377446\n")
    assert read_dump(dump) == 377446


def test_client_requests_do_nothing_outside_valgrind() -> None:
    requests = ClientRequests()
    assert requests.running_on_valgrind() is False
    requests.start()
    requests.stop("nothing counted")


def test_the_worker_runs_under_callgrind_with_instrumentation_off_until_a_round(
        tmp_path: Path) -> None:
    argv = command("/usr/bin/valgrind", tmp_path, ["python", "-m", "harness.run.worker"])
    assert argv[:3] == ["/usr/bin/valgrind", "--tool=callgrind", "--instr-atstart=no"]
    assert "--trace-syscalls=yes" in argv and argv[-3:] == ["python", "-m",
                                                            "harness.run.worker"]


def test_the_interpreter_given_to_valgrind_is_never_a_shell_shim(tmp_path: Path) -> None:
    shim = tmp_path / "python3"
    shim.write_text("#!/usr/bin/env bash\nexec python3 \"$@\"\n")
    assert python_for(sys.executable) == sys.executable  # a venv's symlink stays one
    resolved = python_for(str(shim))
    assert not resolved.endswith("/python3") or Path(resolved).read_bytes()[:2] != b"#!"

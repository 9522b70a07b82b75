"""Ownership of what a run leaves behind, and reclaiming only what dead runs left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import leftovers
from harness.leftovers import MARKER, Owner, owned_dir, owner_of, reclaim, this_process


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def marked(root: Path, name: str, owner: Owner | None) -> Path:
    path = root / f"twinbench-{name}"
    path.mkdir()
    (path / "data").write_bytes(b"x" * 1000)
    if owner is not None:
        (path / MARKER).write_text(owner.tag())
    return path


def test_this_process_is_alive_and_a_reused_pid_is_not() -> None:
    me = this_process()
    assert me.pid == os.getpid() and me.state() == "alive"
    # Same PID, another start time: the process that made it is gone and the PID was reused.
    assert Owner(me.pid, me.started - 1, me.host, me.boot).state() == "dead"
    assert Owner(dead_pid(), me.started, me.host, me.boot).state() == "dead"
    assert Owner(me.pid, me.started, "another-host", me.boot).state() == "unknown"
    assert Owner(me.pid, me.started, me.host, "another-boot").state() == "unknown"


def test_tags_round_trip_and_foreign_text_is_no_owner() -> None:
    me = this_process()
    assert Owner.from_tag(me.tag()) == me
    for text in (None, "", "made by hand", "twinbench run {", 'twinbench run {"pid": 1}',
                 'twinbench run {"pid": -5, "started": 1, "host": "h", "boot": "b"}'):
        assert Owner.from_tag(text) is None


def test_owned_dir_is_private_and_marked(tmp_path: Path) -> None:
    path = owned_dir("twinbench-x-", tmp_path)
    assert path.name.startswith("twinbench-x-") and path.stat().st_mode & 0o777 == 0o700
    assert owner_of(path) == this_process()


def test_reclaim_removes_only_what_dead_owners_left(tmp_path: Path) -> None:
    me = this_process()
    dead = Owner(dead_pid(), me.started, me.host, me.boot)
    reused = Owner(me.pid, me.started + 7, me.host, me.boot)  # PID reuse: not us
    gone = [marked(tmp_path, "pg-dead", dead), marked(tmp_path, "load-reused", reused)]
    kept = [marked(tmp_path, "live", me), marked(tmp_path, "unmarked", None),
            marked(tmp_path, "foreign", Owner(dead.pid, 1, "elsewhere", me.boot))]
    (tmp_path / "twinbench-file").write_text("a file, not a run's dir")
    (tmp_path / "other-dead").mkdir()
    (tmp_path / "other-dead" / MARKER).write_text(dead.tag())  # not ours by name
    done = reclaim([tmp_path])
    assert sorted(done.paths) == sorted(gone) and done.owners == {dead.pid, me.pid}
    assert done.size >= 2000
    assert not any(p.exists() for p in gone) and all(p.exists() for p in kept)
    assert (tmp_path / "twinbench-file").exists() and (tmp_path / "other-dead").exists()


def test_a_dir_a_live_process_still_works_in_is_left_for_next_time(tmp_path: Path) -> None:
    me = this_process()
    path = marked(tmp_path, "pg-busy", Owner(dead_pid(), me.started, me.host, me.boot))
    proc = subprocess.Popen(["sleep", "60"], cwd=path)
    try:
        assert reclaim([tmp_path]).paths == [] and path.exists()
    finally:
        proc.kill()
        proc.wait()
    assert reclaim([tmp_path]).paths == [path]


def test_a_forked_child_is_its_own_owner(tmp_path: Path) -> None:
    script = ("import sys; from harness.leftovers import this_process; "
              "print(this_process().tag())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    child = Owner.from_tag(out.strip())
    assert child is not None and child.pid != os.getpid() and child.state() == "dead"


HOLDER = """
import sys, time
from harness.leftovers import owned_dir
print(owned_dir("twinbench-held-"), flush=True)
time.sleep(120)
"""


def test_a_dir_is_reclaimed_once_its_owner_is_killed_outright() -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        path = Path(proc.stdout.readline().strip())
        assert path.is_dir() and path.parent == leftovers.temp_root()
        assert path not in reclaim().paths  # alive: never touched
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert reclaim().paths == [path] and not path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_tag_is_json_a_reader_can_check() -> None:
    tag = this_process().tag()
    raw = json.loads(tag.removeprefix(leftovers.TAG))
    assert set(raw) == {"pid", "started", "host", "boot"}


@pytest.mark.parametrize("short", [False, True])
def test_temp_roots_cover_where_dirs_are_made(short: bool) -> None:
    assert leftovers.temp_root(short) in leftovers.temp_roots()

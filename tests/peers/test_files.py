"""The files peer: a private directory on disk, recorded, and gone after every kind of exit;
the page cache of its own files measured and dropped, nobody else's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import BadInput
from harness.peers import PeerPool, PeerUnavailable
from harness.peers import files as files_module
from harness.peers.files import PREFIX, FilesPeer, mount_of

BENCH = [sys.executable, "-m", "harness"]


def ours(parent: Path) -> list[Path]:
    return sorted(parent.glob(f"{PREFIX}*"))


def test_a_private_directory_on_disk_is_described_and_removed(tmp_path: Path) -> None:
    with FilesPeer({}) as peer:
        root = peer.root
        assert root.is_dir() and root.name.startswith(PREFIX)
        assert root.stat().st_mode & 0o777 == 0o700
        info = peer.describe()
        assert info["fstype"] == mount_of(root)["fstype"] != "unknown"
        assert info["memory_backed"] is False and info["fstype"] not in ("tmpfs", "ramfs")
        assert str(root.parent) in info["summary"] and info["fstype"] in info["summary"]
        (root / "data").write_bytes(b"x")
    assert not root.exists()


def test_tmpdir_is_used_as_given_even_when_it_is_in_memory(tmp_path: Path) -> None:
    with FilesPeer({"tmpdir": str(tmp_path)}) as peer:
        assert peer.root.parent == tmp_path
        assert "chosen by --tmpdir" in peer.describe()["summary"]
    assert ours(tmp_path) == []
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK) and mount_of(shm)["fstype"] == "tmpfs"):
        pytest.skip("no writable tmpfs at /dev/shm")
    with FilesPeer({"tmpdir": str(shm)}) as peer:
        info = peer.describe()
        assert info["memory_backed"] is True and "in memory" in info["summary"]


def test_without_a_disk_backed_temp_dir_the_peer_says_how_to_get_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files_module, "mount_of",
                        lambda path: {"fstype": "tmpfs", "device": "tmpfs", "mountpoint": "/"})
    with pytest.raises(PeerUnavailable, match="pass --tmpdir DIR"):
        FilesPeer({}).start()


def test_a_bad_tmpdir_is_one_line_of_bad_input(tmp_path: Path) -> None:
    for bad, why in ((tmp_path / "nope", "does not exist"),
                     (tmp_path / "file", "is not a directory")):
        if why == "is not a directory":
            bad.write_text("")
        with pytest.raises(BadInput, match=why):
            FilesPeer.preflight({"tmpdir": str(bad)})
    result = subprocess.run([*BENCH, "run", "file_io", "--profile", "quick", "--tmpdir",
                             str(tmp_path / "nope")], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--tmpdir" in lines[0] and "does not exist" in lines[0]


def test_removed_when_a_benchmark_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), PeerPool({"tmpdir": str(tmp_path)}) as pool:
        root = pool.get("files").root
        (root / "half-written").write_bytes(b"x" * 100)
        raise RuntimeError("benchmark failed")
    assert not root.exists() and ours(tmp_path) == []


@pytest.mark.skipif(sys.platform != "linux", reason="mincore and posix_fadvise are Linux's")
def test_its_own_files_pages_are_measured_and_dropped(tmp_path: Path) -> None:
    with FilesPeer({"tmpdir": str(tmp_path)}) as peer:
        if peer.mount["fstype"] in ("tmpfs", "ramfs"):
            pytest.skip("a memory filesystem cannot drop its pages")
        directory = peer.dataset("d", lambda d: [(d / f"{i}").write_bytes(os.urandom(65536))
                                                 for i in range(8)])
        paths = [str(p) for p in directory.iterdir()]
        for path in paths:
            Path(path).read_bytes()
        assert peer.cached_fraction(paths) == 1.0
        peer.evict(paths)
        assert peer.cached_fraction(paths) is not None
        assert peer.cached_fraction(paths) < 0.5  # dropped (readahead may not be zero)
        Path(paths[0]).read_bytes()
        assert 0 < peer.cached_fraction(paths[:1]) == 1.0  # type: ignore[operator]


def test_a_dataset_is_built_once_per_run(tmp_path: Path) -> None:
    built = []
    with FilesPeer({"tmpdir": str(tmp_path)}) as peer:
        for _ in range(3):
            peer.dataset("once", lambda d: built.append(d))
        scratch = peer.scratch("w")
        (scratch / "x").write_text("1")
        assert list(peer.scratch("w").iterdir()) == []
    assert len(built) == 1


def test_no_files_left_after_a_normal_run_and_the_filesystem_is_recorded(
        tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([*BENCH, "run", "file_io", "--profile", "quick", "--tmpdir",
                             str(work), "--json", str(out)], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(work.iterdir()) == []
    peer = json.loads(out.read_text())["twinbench"]["peers"]["files"]
    assert peer["fstype"] == mount_of(work)["fstype"] and peer["parent"] == str(work)
    assert "files: private dir under" in result.stdout
    benchmarks = json.loads(out.read_text())["benchmarks"]
    cached = {b["extra_info"]["scenario"]: b["extra_info"].get("page_cache")
              for b in benchmarks}
    assert cached["small-files"] == 1.0 and cached["fsync-writes"] is None
    if mount_of(work)["fstype"] not in ("tmpfs", "ramfs"):
        assert cached["small-files-cold"] < 0.5


def test_no_files_left_after_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen([*BENCH, "run", "file_io", "--scenario", "small-files-cold",
                             "--tmpdir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                len(list(d.glob("*"))) >= 2000 for root in ours(tmp_path)
                for d in root.glob("small-*")):
            time.sleep(0.02)
        assert time.monotonic() < deadline, "the files were never made"
        time.sleep(0.3)  # into the rounds
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stdout + stderr
        assert ours(tmp_path) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

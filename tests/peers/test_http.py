"""The mock HTTP peer's behaviour and lifecycle: started, healthy, honest, always reaped."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import psutil
import pytest

from harness.model.data import payload as body
from harness.peers import PeerPool
from harness.peers.http import HttpPeer


def get(url: str) -> tuple[int, bytes, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), time.perf_counter() - start
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - start


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_serves_deterministic_bodies_with_latency_and_status() -> None:
    with HttpPeer({"http_capacity_seconds": 0}) as peer:
        assert peer.url.startswith("http://127.0.0.1:")
        status, data, _ = get(f"{peer.url}/item/7?size=100")
        assert status == 200 and data == body(7, 100) and len(data) == 100
        status, _, elapsed = get(f"{peer.url}/item/1?delay_ms=50")
        assert status == 200 and elapsed >= 0.05
        status, _, _ = get(f"{peer.url}/item/1?status=503")
        assert status == 503
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            get(f"{peer.url}/item/1?fault=reset")


def test_runs_in_its_own_process_and_is_reaped() -> None:
    with HttpPeer({"http_capacity_seconds": 0}) as peer:
        pid = peer.pid
        assert pid is not None and pid != psutil.Process().pid
        assert psutil.Process(pid).is_running()
    assert gone(pid)


def test_reaped_when_a_benchmark_fails() -> None:
    with pytest.raises(RuntimeError), PeerPool({"http_capacity_seconds": 0}) as pool:
        pid = pool.get("http").pid
        raise RuntimeError("benchmark failed")
    assert gone(pid)


def test_capacity_is_measured() -> None:
    with HttpPeer({"http_capacity_seconds": 0.3}) as peer:
        assert peer.capacity_rps is not None and peer.capacity_rps > 100
        assert peer.capacity_per_cpu_s is not None and peer.capacity_per_cpu_s > 100
        assert peer.describe()["capacity_rps"] == peer.capacity_rps


def test_serves_the_deterministic_site_with_latency() -> None:
    from harness.model.site import site_page

    with HttpPeer({"http_capacity_seconds": 0}) as peer:
        status, data, elapsed = get(f"{peer.url}/site/3?pages=10&degree=4&size=300&delay_ms=30")
        assert status == 200 and data == site_page(3, 10, 4, 300) and elapsed >= 0.03
        with urllib.request.urlopen(f"{peer.url}/site/0?pages=10", timeout=5) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert get(f"{peer.url}/site/10?pages=10")[0] == 404  # past the last page
        assert get(f"{peer.url}/site/1?pages=x")[0] == 400

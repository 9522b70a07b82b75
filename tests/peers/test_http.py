"""The mock HTTP peer's behaviour and lifecycle: started, healthy, honest, always reaped."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from typing import ClassVar

import psutil
import pytest

from harness.drivers.client import client_twin
from harness.model.data import payload as body
from harness.model.workload import BenchContext, Scenario, Workload
from harness.peers import PeerPool
from harness.peers.http import HttpPeer
from harness.run.runner import RunRequest, execute


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
# -- a peer that dies is named, and its remaining cases fail at once (issue 14) ----------------

class Fetch:
    opened: ClassVar[list[str]] = []
    fetched: ClassVar[list[str]] = []  # who ran an op

    def open(self, ctx: BenchContext) -> None:
        Fetch.opened.append(type(self).__name__)
        self.url = ctx.peers["http"].url
        self.peer = ctx.peers["http"]

    def op(self, item: int) -> int:
        Fetch.fetched.append(type(self).__name__)
        with urllib.request.urlopen(f"{self.url}/item/{item}?size=8", timeout=5) as response:
            return len(response.read()) + item

    def close(self) -> None: ...


class KillsThePeer(Fetch):
    def op(self, item: int) -> int:
        os.kill(self.peer.pid, signal.SIGKILL)
        self.peer.process.proc.wait()
        return super().op(item)


class AsyncFetch:
    async def open(self, ctx: BenchContext) -> None:
        Fetch.opened.append("AsyncFetch")

    async def op(self, item: int) -> int:
        Fetch.fetched.append("AsyncFetch")
        return 8 + item

    async def close(self) -> None: ...


def test_a_peer_killed_mid_run_is_named_and_its_other_cases_fail_at_once() -> None:
    def items(ctx: BenchContext) -> list[int]:
        return list(range(ctx.params["n"]))

    workload = Workload(
        name="fetch", description="the HTTP peer dies under the first twin", peers=("http",),
        twins=(client_twin("a-killer", "sync", "kills", KillsThePeer, items),
               client_twin("b-fetch", "sync", "fetch", Fetch, items),
               client_twin("c-tasks", "async", "tasks", AsyncFetch, items)),
        scenarios=(Scenario("s1", {"n": 10, "concurrency": 2}),
                   Scenario("s2", {"n": 10, "concurrency": 2})),
        tiny={"n": 2})
    Fetch.opened.clear()
    Fetch.fetched.clear()
    result = execute(RunRequest(profile="quick"), registry={"fetch": workload})
    outcomes = {k: (o.outcome, o.detail) for k, o in result.outcomes.items()}
    first = next(iter(outcomes))
    died = f"http peer died (exit -9) during {first}"
    assert outcomes[first] == ("failed", died), outcomes
    rest = {k: v for k, v in outcomes.items() if k != first}
    assert len(rest) == 5 and set(rest.values()) == {("failed", f"peer failed: {died}")}
    # s1's twins were set up together (they take turns), but no round ran against the dead
    # peer, and s2 never started
    assert Fetch.opened == ["KillsThePeer", "Fetch", "AsyncFetch"]
    assert set(Fetch.fetched) == {"KillsThePeer"}
    assert "Connection refused" not in repr(outcomes)
    assert result.exit_code == 1


def test_counts_requests_connections_and_bytes_without_being_asked() -> None:
    """The peer counts into memory the harness maps (harness.peers.counters): two requests
    on one kept-alive connection, then one on a new connection, exactly, bytes each way as
    they crossed the socket."""
    import http.client

    with HttpPeer({"http_capacity_seconds": 0}) as peer:
        before = peer.io_counts()
        host, port = peer.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port))
        for item in (1, 2):
            conn.request("GET", f"/item/{item}?size=100")
            response = conn.getresponse()
            assert response.read() == body(item, 100)
        conn.close()
        status, _, _ = get(f"{peer.url}/item/3?size=10")
        assert status == 200
        after = peer.io_counts()
        delta = {k: after[k] - before[k] for k in after}
        assert delta["requests"] == 3 and delta["connections"] == 2
        # every request line and header went in; every status line, header and body came out
        sent = len("GET /item/1?size=100 HTTP/1.1\r\n")
        assert delta["bytes_sent"] > 3 * sent
        assert delta["bytes_received"] > 2 * 100 + 10


def test_serves_https_with_a_certificate_from_the_runs_ca_and_says_what_was_negotiated(
        ) -> None:
    """The same app over TLS on a second port; a client that trusts the run's CA gets in, one
    that trusts only the system's CAs does not; the peer says which version and cipher."""
    import ssl

    with HttpPeer({"http_capacity_seconds": 0}) as peer:
        assert peer.tls_url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=peer.ca_file)
        with urllib.request.urlopen(f"{peer.tls_url}/item/7?size=100", context=context,
                                    timeout=5) as response:
            assert response.read() == body(7, 100)
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(f"{peer.tls_url}/item/7", timeout=5,
                                   context=ssl.create_default_context())
        (negotiated,) = peer.describe()["tls"]
        assert negotiated.startswith("TLSv1.")
        key_dir = peer.ca.dir if peer.ca else None
        assert key_dir is not None and oct(key_dir.stat().st_mode & 0o777) == "0o700"
        assert oct((key_dir / "http.key").stat().st_mode & 0o777) == "0o600"
    assert not key_dir.exists()  # the keys go with the peer

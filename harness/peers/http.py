"""The mock HTTP peer as a context manager: start, health-check, measure capacity, stop."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.peers import PeerFailed
from harness.peers.counters import SharedCounters
from harness.peers.tls import RunCA
from harness.procs import ChildFailed, ChildProcess, python_cmd


class HttpPeer:
    """An aiohttp server in its own process on 127.0.0.1 and an OS-assigned port.

    `capacity_seconds` > 0 measures requests/s at zero latency once started, from a load
    generator in a third process, so the report can show the peer had headroom. The server
    counts what it serves into shared counters (`io_counts`).
    """

    def __init__(self, options: dict[str, Any] | None = None):
        options = options or {}
        self.capacity_seconds: float = options.get("http_capacity_seconds", 1.0)
        self.counters = SharedCounters.create()
        self.url = ""
        self.tls_url = ""  # the same app over TLS, its certificate signed by `ca`
        self.ca: RunCA | None = None
        self.capacity_rps: float | None = None
        self.capacity_per_cpu_s: float | None = None
        # The pool's CA for the run (PeerPool), else one of its own (a peer on its own).
        self._shared_ca: Callable[[], RunCA] | None = options.get("tls_ca")
        self.process: ChildProcess | None = None

    @property
    def ca_file(self) -> str:
        """What a client twin trusts to verify the peer (this run's CA, nothing else)."""
        assert self.ca is not None, "the HTTP peer is not started"
        return str(self.ca.ca_file)

    def client_context(self) -> ssl.SSLContext:
        assert self.ca is not None, "the HTTP peer is not started"
        return self.ca.client_context()

    def _command(self) -> ChildProcess:
        assert self.ca is not None
        cert, key = self.ca.server(label="http")
        return ChildProcess(
            python_cmd("harness.peers.http_server", "--counters-fd", str(self.counters.fd),
                       "--tls-cert", str(cert), "--tls-key", str(key),
                       "--tls-seen", str(self._seen_file)),
            pass_fds=(self.counters.fd,))

    @property
    def _seen_file(self) -> Path:
        assert self.ca is not None
        return self.ca.dir / "http-negotiated.txt"

    def negotiated(self) -> list[str]:
        """The TLS versions and ciphers handshakes with the peer settled on so far."""
        try:
            return self._seen_file.read_text().split("\n")[:-1] if self.ca else []
        except FileNotFoundError:
            return []

    def start(self) -> HttpPeer:
        """Start, wait until healthy, measure capacity. Until this returns the peer is in no
        pool's exit stack, so anything that goes wrong here — Ctrl-C during the capacity
        measurement included — stops the server here."""
        try:
            self.ca = self._shared_ca() if self._shared_ca is not None else RunCA()
            self.process = self._command()
            try:
                info = self.process.start()
            except ChildFailed as exc:
                raise PeerFailed(str(exc)) from None
            self.url = f"http://127.0.0.1:{info['port']}"
            self.tls_url = f"https://127.0.0.1:{info['tls_port']}"
            self._wait_healthy()
            if self.capacity_seconds > 0:
                try:
                    self.capacity_rps = self.measure_capacity(self.capacity_seconds)
                except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
                    raise PeerFailed(f"measuring the HTTP peer's capacity failed: {exc}"
                                     ) from None
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise PeerFailed(f"HTTP peer at {self.url} did not become healthy")
            time.sleep(0.05)

    def measure_capacity(self, seconds: float, concurrency: int = 32) -> float:
        """Requests/s the peer served at zero latency to one load process.

        One load process may saturate before the peer does, so this is a lower bound; the
        peer's own CPU time gives the other view: requests per CPU-second, i.e. what it serves
        with a whole core to itself.
        """
        assert self.process is not None
        cpu_before = self.process.cpu_seconds()
        out = subprocess.run(
            python_cmd("harness.peers.http_load", f"{self.url}/item/1", "--seconds",
                       str(seconds), "--concurrency", str(concurrency)),
            capture_output=True, check=True, timeout=seconds + 30, stdin=subprocess.DEVNULL,
        )
        result = json.loads(out.stdout)
        cpu = self.process.cpu_seconds() - cpu_before
        if cpu > 0:
            self.capacity_per_cpu_s = result["requests"] / cpu
        return float(result["requests"]) / float(result["seconds"])

    def cpu_seconds(self) -> float:
        return self.process.cpu_seconds() if self.process is not None else 0.0

    def io_counts(self) -> dict[str, int]:
        """Requests, connections accepted and bytes each way, served so far."""
        return self.counters.read()

    def exit_code(self) -> int | None:
        """The server's exit status once it has died (PeerPool names the death)."""
        return self.process.exit_code() if self.process is not None else None

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "kind": "aiohttp mock server", "capacity_rps": self.capacity_rps,
            "capacity_per_cpu_s": self.capacity_per_cpu_s}
        negotiated = self.negotiated()
        if negotiated:
            described["tls"] = negotiated
            described["summary"] = ("HTTPS: each twin verified this run's CA; negotiated "
                                    + ", ".join(negotiated))
        return described

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.counters.close()
        if self.ca is not None and self._shared_ca is None:
            self.ca.close()

    def __enter__(self) -> HttpPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

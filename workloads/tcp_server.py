"""tcp_server: the same small request/response server written four ways, under concurrent load.

Protocol: every message is a 4-byte big-endian length and a body. The answer to a body is the
body with every byte incremented by one (mod 256): cheap, but the server has to read the
whole request and cannot answer another. With `latency_ms` each request first waits on a
simulated backend call inside the server (`time.sleep` in a thread, `asyncio.sleep` on a
loop): where thread-per-connection has to block a thread, asyncio does not.

Twins, in this order everywhere: a thread-per-connection `socketserver.ThreadingTCPServer`
(TCP_NODELAY set, as asyncio sets it), an asyncio streams server and an asyncio Protocol
server, each of the two also on uvloop. All use the same listen backlog. The server runs in its
own process, the load generator (uvloop, one process for every twin) in another; see
harness.drivers.server and harness.drivers.loadgen. Request i's body is `payload(i, size)`.

Run by the harness as `python -m workloads.tcp_server serve --twin NAME ...` and
`python -m workloads.tcp_server load ...`.
"""

from __future__ import annotations

import asyncio
import socketserver
import struct
import time
from typing import Any, cast

from harness import (
    SERVER_METRICS,
    Conn,
    LoadSession,
    Metric,
    Params,
    RequestLoad,
    Scenario,
    Sweep,
    Workload,
    announce,
    child_main,
    fold,
    payload,
    run_loop,
    server_twin,
)

HEADER = struct.Struct("!I")
BACKLOG = 4096  # the same listen queue for every twin (the kernel caps it at somaxconn)
_SHIFT = bytes((b + 1) % 256 for b in range(256))


def answer(body: bytes) -> bytes:
    return body.translate(_SHIFT)


def expected(params: Params) -> int:
    """Every request answered once and correctly, computed without any server."""
    return fold(answer(payload(i, params["size"])) for i in range(params["n"]))


def _backend_s(params: Params) -> float:
    return float(params.get("latency_ms") or 0) / 1000


# --- sync twin: a thread per connection ---------------------------------------------------------

class ThreadedHandler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # TCP_NODELAY, as asyncio sets on its transports
    backend_s = 0.0

    def handle(self) -> None:
        read, write, backend_s = self.rfile.read, self.wfile.write, self.backend_s
        while True:
            head = read(4)
            if len(head) < 4:
                return
            body = read(HEADER.unpack(head)[0])
            if backend_s:
                time.sleep(backend_s)  # the backend call blocks this connection's thread
            reply = answer(body)
            write(HEADER.pack(len(reply)) + reply)


class ThreadedServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is counted by the load generator; keep stderr quiet."""


def serve_threaded(params: Params) -> None:
    handler = type("Handler", (ThreadedHandler,), {"backend_s": _backend_s(params)})
    server = ThreadedServer(("127.0.0.1", 0), handler, bind_and_activate=False)
    server.request_queue_size = BACKLOG
    server.server_bind()
    server.server_activate()
    announce(port=server.server_address[1])
    server.serve_forever()


# --- async twins: asyncio streams, asyncio Protocol -------------------------------------------

async def serve_streams(params: Params) -> None:
    backend_s = _backend_s(params)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(4)
                body = await reader.readexactly(HEADER.unpack(head)[0])
                if backend_s:
                    await asyncio.sleep(backend_s)  # the backend call yields the loop
                reply = answer(body)
                writer.write(HEADER.pack(len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=BACKLOG)
    announce(port=server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()  # serve until the harness terminates the process


class FrameProtocol(asyncio.Protocol):
    """The same server as callbacks: no task per connection, no stream buffers.

    It ignores pause_writing: the client waits for each answer, so at most one answer is
    ever queued per connection.
    """

    def __init__(self, backend_s: float):
        self.backend_s = backend_s
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while len(buf) >= 4:
            size = HEADER.unpack_from(buf)[0]
            if len(buf) < 4 + size:
                return
            body = bytes(buf[4:4 + size])
            del buf[:4 + size]
            if self.backend_s:
                asyncio.get_running_loop().call_later(self.backend_s, self.reply, body)
            else:
                self.reply(body)

    def reply(self, body: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            out = answer(body)
            transport.write(HEADER.pack(len(out)) + out)


async def serve_protocol(params: Params) -> None:
    backend_s = _backend_s(params)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FrameProtocol(backend_s), "127.0.0.1", 0,
                                      backlog=BACKLOG)
    announce(port=server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


def serve(twin: str, params: Params) -> None:
    if twin == "threaded":
        serve_threaded(params)
        return
    kind, _, loop = twin.removeprefix("asyncio-").partition("-")
    main = serve_streams if kind == "streams" else serve_protocol
    run_loop(main(params), loop or "asyncio")


# --- the load generator's client (the same for every twin) -----------------------------------

class FrameClient(asyncio.Protocol):
    """One connection of the load generator: one request in flight, answer as a future."""

    def __init__(self, size: int):
        self.size = size
        self.buf = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if len(buf) < 4:
            return
        size = HEADER.unpack_from(buf)[0]
        if len(buf) < 4 + size:
            return
        body = bytes(buf[4:4 + size])
        del buf[:4 + size]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc or ConnectionResetError("server closed the connection"))

    def request(self, index: int) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        if self.lost or self.transport is None or self.transport.is_closing():
            future.set_exception(ConnectionResetError("connection closed"))
            return future
        self.waiter = future
        body = payload(index, self.size)
        self.transport.write(HEADER.pack(len(body)) + body)
        return future

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def load(params: Params) -> LoadSession:
    size = int(params["size"])

    async def open_conn(port: int) -> Conn:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(lambda: FrameClient(size), "127.0.0.1", port)
        return client

    return RequestLoad(params, open_conn, lambda i: answer(payload(i, size)))


# --- declaration ------------------------------------------------------------------------------

MODULE = "workloads.tcp_server"
QUICK = frozenset({"quick", "default", "full"})
LARGER = frozenset({"default", "full"})

WORKLOAD = Workload(
    name="tcp_server",
    description="A length-prefixed request/response TCP server under C concurrent connections: "
                "thread per connection vs asyncio (streams, Protocol, uvloop).",
    twins=(
        # No library serves both models: socketserver is threads only, asyncio async only.
        server_twin("threaded", "threads", "ThreadingTCPServer (thread per connection)", MODULE,
                    core="Python", library="socketserver"),
        server_twin("asyncio-streams", "async", "asyncio streams", MODULE, loop="asyncio",
                    core="Python", library="asyncio"),
        # The uvloop variants stay out of the quick smoke run (under a minute): same code.
        server_twin("asyncio-streams-uvloop", "async", "asyncio streams on uvloop", MODULE,
                    loop="uvloop", profiles=LARGER, core="Cython", library="asyncio"),
        server_twin("asyncio-protocol", "async", "asyncio Protocol", MODULE, loop="asyncio",
                    core="Python", library="asyncio"),
        server_twin("asyncio-protocol-uvloop", "async", "asyncio Protocol on uvloop", MODULE,
                    loop="uvloop", profiles=LARGER, core="Cython", library="asyncio"),
    ),
    scenarios=(
        Scenario("c10", {"n": 20000, "concurrency": 10, "size": 100},
                 "10 connections, 100 B messages, closed loop", QUICK),
        Scenario("c100", {"n": 20000, "concurrency": 100, "size": 100},
                 "100 connections, 100 B messages, closed loop", LARGER),
        Scenario("c100-4k", {"n": 20000, "concurrency": 100, "size": 4096},
                 "100 connections, 4 KiB messages, closed loop", LARGER),
        Scenario("c1000", {"n": 20000, "concurrency": 1000, "size": 100},
                 "1000 connections (1000 threads for the threaded server)", QUICK),
        Scenario("backend-1ms", {"n": 20000, "concurrency": 100, "size": 100, "latency_ms": 1},
                 "each request waits 1 ms on a simulated backend inside the server", QUICK),
        Scenario("open-loop", {"n": 3000, "concurrency": 100, "size": 100, "latency_ms": 1,
                               "rate": 2000},
                 "2000 requests/s on schedule whatever the server does (wrk2-style): "
                 "latency counts from each request's due time, so stalls cannot hide", QUICK,
                 judged_by="p99_s"),
        Scenario("c10k", {"n": 20000, "concurrency": 10000, "size": 100, "overload": True,
                          "timeout_s": 10, "round_timeout_s": 30},
                 "10,000 connections; a twin that cannot keep up has its timeouts and refused "
                 "connections recorded as results", frozenset({"full"}), max_rounds=5),
    ),
    tiny={"n": 40, "concurrency": 4},
    expected=expected,
    # The map: connections x backend latency, 50 requests per connection at every point.
    sweeps=(Sweep("backend-1ms", {"latency_ms": (0, 1, 5), "concurrency": (10, 100, 1000)},
                  waves=50),),
    metrics=(
        Metric("rps", "req/s", "rate"),
        Metric("p50_s", "p50", "s"),
        Metric("p90_s", "p90", "s"),
        Metric("p99_s", "p99", "s"),
        Metric("max_s", "max", "s"),
        *SERVER_METRICS,
    ),
)


def main() -> None:
    child_main(serve, load)


if __name__ == "__main__":
    main()

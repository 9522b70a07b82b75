"""ws_chat: a websocket chat room. C clients are connected; senders post messages and the
server broadcasts each one to every client (the sender included).

Twins, in this order everywhere: the websockets library's threaded sync server (a thread per
connection; the sender's thread writes to every client), the websockets asyncio server
(`broadcast()`, the library's recommended fan-out) and aiohttp's websocket handler. The same
settings everywhere: no compression, no keepalive pings, the same listen backlog. On joining,
the server greets each client once it is in the room, so no broadcast can race a join.

Measured at the client (one load process, aiohttp on uvloop, the same for every twin): the
fan-out latency of each message, from its send to its last receipt; deliveries per second;
and that every client got every message exactly once and intact. Closed loop (default): each
sender posts its next message when its own copy comes back. Open loop (`rate`): senders post
on the load generator's shared schedule (harness.drivers.loadgen.Schedule) and never wait for
echoes, so a server that stalls shows in the latency: a send still blocked in the previous
send's write (the server not reading) is charged from its due time.

Run by the harness as `python -m workloads.ws_chat serve --twin NAME ...` / `... load ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from array import array
from collections import Counter
from typing import Any

from harness import (
    MASK,
    SERVER_METRICS,
    LoadParams,
    LoadSession,
    Metric,
    Params,
    Scenario,
    Schedule,
    Workload,
    announce,
    child_main,
    clock,
    combine,
    connect_all,
    digest,
    run_loop,
    server_twin,
)

BACKLOG = 4096
WELCOME = "welcome"


def message(index: int, size: int, tag: int = 0) -> str:
    """Message `index` of round `tag`: unique, fixed size, index and round first so a client
    can tell a straggler from an earlier round (clients stay connected across rounds)."""
    head = f"m{index:07d}|r{tag:05d}|"
    return head + "x" * max(0, size - len(head))


def _untagged(text: str) -> str:
    return text[:9] + text[16:]


def _client_digest(client: int, texts: list[str]) -> int:
    """One client's received messages as a multiset (round tag aside): order-free, and any
    loss, copy or corruption shows."""
    body = "\n".join(sorted(_untagged(t) for t in texts))
    return digest(client.to_bytes(4, "big") + body.encode())


def expected(params: Params) -> int:
    """Every client received every message exactly once, computed without any server."""
    texts = [message(i, params["size"]) for i in range(params["n"])]
    return combine(_client_digest(c, texts) for c in range(params["concurrency"]))


# --- sync twin: websockets' threaded server ---------------------------------------------------

def serve_sync(params: Params) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import ServerConnection, serve

    clients: set[ServerConnection] = set()
    lock = threading.Lock()

    def handler(ws: ServerConnection) -> None:
        with lock:
            clients.add(ws)
        try:
            ws.send(WELCOME)
            for text in ws:
                with lock:
                    room = list(clients)
                for client in room:  # this connection's thread writes to everyone
                    with contextlib.suppress(ConnectionClosed):
                        client.send(text)
        finally:
            with lock:
                clients.discard(ws)

    with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None,
               backlog=BACKLOG) as server:
        announce(port=server.socket.getsockname()[1])
        server.serve_forever()


# --- async twins: websockets asyncio server, aiohttp ------------------------------------------

async def serve_websockets(params: Params) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            await ws.send(WELCOME)
            async for text in ws:
                broadcast(clients, text)  # writes to every open client without waiting
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None,
                     backlog=BACKLOG) as server:
        announce(port=next(iter(server.sockets)).getsockname()[1])
        await asyncio.Event().wait()  # serve until the harness terminates the process


async def serve_aiohttp(params: Params) -> None:
    from aiohttp import WSMsgType, web

    clients: set[web.WebSocketResponse] = set()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        clients.add(ws)
        try:
            await ws.send_str(WELCOME)
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    for client in list(clients):  # a copy: a send may yield to a join
                        with contextlib.suppress(ConnectionResetError):
                            await client.send_str(msg.data)
        finally:
            clients.discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server) and server.sockets
    announce(port=server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


def serve(twin: str, params: Params) -> None:
    if twin == "websockets-sync":
        serve_sync(params)
    elif twin == "websockets-asyncio":
        run_loop(serve_websockets(params))
    elif twin == "aiohttp":
        run_loop(serve_aiohttp(params))
    else:
        raise SystemExit(f"error: unknown ws_chat twin {twin!r}")


# --- the load generator (the same for every twin) ---------------------------------------------

class _Round:
    """What one round's clients received, and when."""

    def __init__(self, texts: list[str], clients: int, senders: int,
                 connected: int | None = None):
        self.texts = texts  # this round's messages, all with the same round tag
        self.n = n = len(texts)
        self.tag = texts[0][9:16] if texts else ""
        self.got: list[list[str]] = [[] for _ in range(clients)]
        self.count = [0] * clients
        self.delivered = 0
        self.copies = [0] * n  # deliveries of each message, duplicates included
        self.start = [0.0] * n
        self.last = [0.0] * n  # its latest receipt: the end of its fan-out
        # Only connected clients can complete; the others' messages are simply missing.
        self.incomplete = clients if connected is None else connected
        self.complete = asyncio.Event()
        if self.incomplete == 0:
            self.complete.set()
        self.echo: list[tuple[int, asyncio.Future[None]] | None] = [None] * senders
        self.finished = False

    def receive(self, client: int, text: str, now: float) -> bool:
        """Record one delivery; False for a message of another round (not recorded)."""
        if self.finished or text[9:16] != self.tag:
            return False
        self.got[client].append(text)
        self.delivered += 1
        try:
            index = int(text[1:8])
        except ValueError:
            index = -1
        if 0 <= index < self.n:
            self.copies[index] += 1
            self.last[index] = now
        count = self.count[client] = self.count[client] + 1
        if count == self.n:
            self.incomplete -= 1
            if self.incomplete == 0:
                self.complete.set()
        if client < len(self.echo):
            waiting = self.echo[client]
            if waiting is not None and waiting[0] == index and not waiting[1].done():
                waiting[1].set_result(None)
        return True


class ChatLoad:
    """C websocket clients in one process; the first `senders` of them post."""

    def __init__(self, params: Params):
        import aiohttp

        self.aiohttp = aiohttp
        self.load = load = LoadParams.of(params)
        self.n, self.clients_n = load.n, load.concurrency
        self.senders = max(1, min(int(params.get("senders", 1)), self.clients_n))
        self.size = int(params["size"])
        self.timeout, self.round_timeout = load.timeout, load.round_timeout
        self.tag = 0
        self.full = expected({"n": self.n, "size": self.size, "concurrency": self.clients_n})
        self.session: Any = None
        self.clients: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.round: _Round | None = None
        self.late = 0
        self.latencies: array[float] = array("d")

    async def connect(self, port: int) -> dict[str, Any]:
        await self.close()
        aiohttp = self.aiohttp
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        url = f"http://127.0.0.1:{port}/"

        async def join() -> Any:
            ws = await self.session.ws_connect(url, compress=0, autoping=True)
            greeting = await ws.receive()
            if greeting.type is not aiohttp.WSMsgType.TEXT or greeting.data != WELCOME:
                await ws.close()
                raise ConnectionError(f"no welcome: {greeting.type!r}")
            return ws

        self.clients, reply = await connect_all(join, self.clients_n, self.load.connect_timeout)
        self.readers = [asyncio.ensure_future(self._read(c, ws))
                        for c, ws in enumerate(self.clients) if ws is not None]
        return reply

    async def _read(self, client: int, ws: Any) -> None:
        text_type = self.aiohttp.WSMsgType.TEXT
        async for msg in ws:
            if msg.type is not text_type:
                continue
            current = self.round
            if current is None or not current.receive(client, msg.data, clock()):
                self.late += 1  # outside its round: a duplicate or a straggler

    async def close(self) -> dict[str, Any]:
        clients, self.clients = [c for c in self.clients if c is not None], []
        if clients:
            # Politely, so every server sees a normal close; bounded, as a stuck server may
            # never answer.
            await asyncio.wait([asyncio.ensure_future(ws.close()) for ws in clients],
                               timeout=10)
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.readers = []
        if self.session is not None:
            await self.session.close()
            self.session = None
        late, self.late = self.late, 0
        return {"counts": {"late": late}} if late else {}

    async def run(self) -> dict[str, Any]:
        n, senders = self.n, self.senders
        clients = list(self.clients) + [None] * (self.clients_n - len(self.clients))
        connected = sum(ws is not None for ws in clients)
        self.tag += 1
        texts = [message(i, self.size, self.tag) for i in range(n)]
        # Stragglers of earlier rounds seen since the last round ended count against it now.
        counts = {"timeouts": 0, "unsent": 0, "late": self.late}
        self.late = 0
        current = self.round = _Round(texts, self.clients_n, senders, connected)
        schedule = Schedule(self.load.rate)
        loop = asyncio.get_running_loop()
        t0 = schedule.begin()
        deadline = t0 + self.round_timeout

        async def post(s: int) -> None:
            ws = clients[s]
            share = range(s, n, senders)
            previous_send_done = t0  # the socket is busy until the previous send is written
            for done, i in enumerate(share):
                if ws is None or ws.closed or clock() > deadline:
                    counts["unsent"] += len(share) - done
                    return
                if schedule.rate:  # open loop: on schedule, never waiting for the server
                    due = await schedule.wait(i)
                    current.start[i] = schedule.start(due, previous_send_done)
                    await ws.send_str(texts[i])
                    previous_send_done = clock()
                    continue
                echo: asyncio.Future[None] = loop.create_future()
                current.echo[s] = (i, echo)
                current.start[i] = clock()
                await ws.send_str(texts[i])
                try:  # closed loop: the next post when this one came back to its sender
                    await asyncio.wait_for(echo, self.timeout)
                except TimeoutError:
                    counts["timeouts"] += 1

        await asyncio.gather(*(post(s) for s in range(senders)))
        # Wait for the fan-out to finish, but not past the deadline, nor once nothing has
        # arrived for timeout_s: whatever has not arrived by then is counted missing below.
        while not current.complete.is_set() and clock() < deadline:
            before = current.delivered
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(current.complete.wait(),
                                       max(0.0, min(self.timeout, deadline - clock())))
            if current.delivered == before:
                break
        elapsed = clock() - t0
        current.finished = True
        return self._tally(current, elapsed, counts, schedule)

    def _tally(self, current: _Round, elapsed: float, counts: dict[str, int],
               schedule: Schedule) -> dict[str, Any]:
        wanted = set(current.texts)
        ok = missing = duplicates = corrupt = 0
        checksum = 0
        for client, got in enumerate(current.got):
            copies = Counter(got)
            ok += sum(1 for text in wanted if copies.get(text) == 1)
            missing += sum(1 for text in wanted if text not in copies)
            duplicates += sum(k - 1 for k in copies.values() if k > 1)
            corrupt += sum(k for text, k in copies.items() if text not in wanted)
            checksum += _client_digest(client, got)
        fanned = [current.last[i] - current.start[i] for i in range(self.n)
                  if current.copies[i] >= self.clients_n]
        self.latencies = array("d", fanned)
        return {
            "ok": ok, "attempted": self.n * self.clients_n, "elapsed": elapsed,
            "checksum": checksum & MASK,
            "full_checksum": self.full if corrupt == 0 else None,
            "counts": {**counts, "missing": missing, "duplicates": duplicates,
                       "corrupt": corrupt},
            "totals": {"deliveries": sum(current.count)},
            "send_lag_p99": schedule.lag_p99(),
        }


def load(params: Params) -> LoadSession:
    return ChatLoad(params)


# --- declaration ------------------------------------------------------------------------------

MODULE = "workloads.ws_chat"


def _deliveries(params: Params) -> int:
    return int(params["n"]) * int(params["concurrency"])


def _twin(name: str, kind: Any, label: str, loop: str | None, core: str, library: str) -> Any:
    return server_twin(name, kind, label, MODULE, loop=loop, ops=_deliveries,
                       rate_key="delivered_per_s", core=core, library=library)


WORKLOAD = Workload(
    name="ws_chat",
    description="A websocket chat room: every message broadcast to all C clients; fan-out "
                "latency and exactly-once delivery (threaded websockets vs asyncio).",
    twins=(
        # websockets' two servers share one protocol implementation (Python, C masking only):
        # the model alone; aiohttp's frame reader is compiled (Cython).
        _twin("websockets-sync", "threads", "websockets sync server (thread per client)", None,
              "Python", "websockets"),
        _twin("websockets-asyncio", "async", "websockets asyncio server", "asyncio",
              "Python", "websockets"),
        _twin("aiohttp", "async", "aiohttp websockets", "asyncio", "Cython", "aiohttp"),
    ),
    scenarios=(
        Scenario("room-100", {"n": 400, "concurrency": 100, "senders": 10, "size": 100},
                 "100 clients, 10 senders, each posting when its last message came back",
                 frozenset({"quick", "default", "full"})),
        Scenario("room-100-open", {"n": 300, "concurrency": 100, "senders": 10, "size": 100,
                                   "rate": 200},
                 "100 clients, 200 messages/s on schedule (open loop): stalls show as latency",
                 frozenset({"quick", "default", "full"}), judged_by="p99_s"),
        Scenario("room-1000", {"n": 100, "concurrency": 1000, "senders": 10, "size": 100},
                 "1000 clients (2000 threads for the threaded server)",
                 frozenset({"default", "full"})),
        Scenario("room-10k", {"n": 20, "concurrency": 10000, "senders": 10, "size": 100,
                              "overload": True, "round_timeout_s": 30},
                 "10,000 clients; a twin that cannot keep up has its losses recorded as "
                 "results", frozenset({"full"}), max_rounds=5),
    ),
    tiny={"n": 12, "concurrency": 5, "senders": 3},
    expected=expected,
    metrics=(
        Metric("delivered_per_s", "deliveries/s", "rate"),
        Metric("p50_s", "fan-out p50", "s"),
        Metric("p99_s", "fan-out p99", "s"),
        Metric("max_s", "max", "s"),
        *SERVER_METRICS,
    ),
)


def main() -> None:
    child_main(serve, load)


if __name__ == "__main__":
    main()

"""game_server: a real-time game server. P players send input datagrams at R Hz; the server
applies them to a shared world and, at a fixed tick rate T, sends every player a snapshot.

What it stresses is not request/response: datagrams instead of streams, a timer loop instead of
a reply per request, and a deadline per tick. A late tick is a stutter every player sees,
however good the average is, so the verdict is on p99 tick lateness.

Twins, in this order everywhere: a threaded server (a receive thread blocking in recvfrom and a
tick thread sleeping until each tick is due, sharing the world under a lock: what a sync
programmer writes), a single-threaded sync loop (select() with the next tick's deadline as its
timeout, then non-blocking recvfrom), and asyncio (a DatagramProtocol, ticks by `loop.call_at`),
also on uvloop. The game itself (`World`) is one class every twin uses, so the twins differ in
their I/O and timers only; the three server classes define the same methods in the same order.

The rules, the same for every twin:
- Tick k of a round is due at epoch + k/T (the server announces the epoch on the shared
  CLOCK_MONOTONIC, so the load process can tell how late each snapshot arrives; no drift). A
  tick is never sent early, and a late tick is sent late, never skipped.
- Each input datagram carries the player's last REDUNDANCY inputs, each with its sequence
  number (as game clients do, e.g. Quake 3), and the server applies each (player, seq) once,
  in order: one lost datagram loses no input. A player's position is the sum of its applied
  moves (mod 2**16), so the final world does not depend on when an input arrived.
- A snapshot is the same bytes for every twin given the same world: the tick number and VIEW
  players' entries (position, next sequence expected, inputs applied), the player's own first.
- Datagrams stay on loopback, bounded in count and time; nothing is retransmitted. A lost
  snapshot is counted; an input lost beyond the redundancy fails the round (WorkNotDone),
  since the final world then differs from the one every twin must compute.
- `cpu_us` is simulation work per tick (the harness's shared CPU stand-in, harness.drivers.
  cpuwork, calibrated once by the harness and passed as `cpu_steps`), done under the world's
  lock; its proof is part of the final state.

Measured from the players' side (one load process, uvloop, a UDP socket per player): each
snapshot's lateness against its schedule (p50/p99/max), input-to-visible latency (from an input's
send to the first snapshot acknowledging it), snapshots lost, and — by the harness — the
server's CPU per tick, RSS and threads. After the play the load asks for the final world
(repeating the request until answered); its checksum is what every twin must agree on.

Run by the harness as `python -m workloads.game_server serve --twin NAME ...` / `... load ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import select
import socket
import struct
import threading
import time
from array import array
from functools import cache
from typing import Any, cast

from harness import (
    MASK,
    SERVER_METRICS,
    LoadParams,
    LoadSession,
    Metric,
    Params,
    Scenario,
    Sweep,
    Workload,
    announce,
    burn,
    child_main,
    digest,
    iterations_for,
    percentile,
    run_loop,
    server_twin,
)

monotonic = time.monotonic  # CLOCK_MONOTONIC: one clock for every process on this machine

# -- the wire format (big-endian), the same for every twin --------------------------------------
JOIN, WELCOME, START, READY, INPUT, SNAPSHOT, FINAL, STATE = (bytes([c]) for c in b"JWSRINFE")
HEAD = struct.Struct("!cI")  # JOIN/WELCOME (player), START/FINAL (round tag)
READY_MSG = struct.Struct("!cId")  # tag, epoch (CLOCK_MONOTONIC seconds of tick 0)
INPUT_HEAD = struct.Struct("!cIIB")  # tag, player, moves that follow
MOVE = struct.Struct("!Ibb")  # seq, dx, dy
SNAP_HEAD = struct.Struct("!cII")  # tag, tick
ENTRY = struct.Struct("!HHII")  # x, y, next seq expected, inputs applied
STATE_HEAD = struct.Struct("!cIIQ")  # tag, input datagrams received, CPU-work proof

VIEW = 24  # players per snapshot: 9 + 24 * 12 = 297 bytes
REDUNDANCY = 3  # inputs per input datagram
LEAD = 0.05  # from START to tick 0, so the players are ready when the round begins
RCVBUF = 4 << 20  # the server socket's receive buffer, every twin (capped by rmem_max)
MAX_DATAGRAM = 65536
BURST = 64  # datagrams the single-threaded loop reads before it looks at the clock again
MAX_PLAYERS = 5000  # the final state travels in one datagram: 5000 * 12 bytes
MAX_HZ = 1000


# -- the game, computed the same way everywhere -------------------------------------------------

def ticks_of(params: Params) -> int:
    """Ticks per round: the round is `duration_ms` of play at `tick_hz`."""
    return max(2, round(float(params["duration_ms"]) * float(params["tick_hz"]) / 1000))


def inputs_of(params: Params) -> int:
    """Inputs each player sends per round, all due before the last tick (so each can show)."""
    ticks = ticks_of(params)
    return max(1, math.floor((ticks - 1) * float(params["input_hz"]) / float(params["tick_hz"])
                             + 1e-9))


def move(player: int, seq: int) -> tuple[int, int]:
    """Player `player`'s input `seq`: a small step, different for every player and input."""
    return (player * 7 + seq * 13) % 9 - 4, (player * 11 + seq * 5) % 9 - 4


def spawn(player: int) -> tuple[int, int]:
    return (player * 97) & 0xFFFF, (player * 89 + 1000) & 0xFFFF


def cpu_steps(params: Params) -> int:
    """Steps of simulated work per tick: the harness's calibration when it passed one."""
    if params.get("cpu_steps") is not None:
        return int(params["cpu_steps"])
    return iterations_for(float(params.get("cpu_us") or 0))


@cache
def work_proof(ticks: int, steps: int) -> int:
    """What `ticks` ticks of `steps` steps of work fold to (burn(seed, 0) is the seed)."""
    return sum(burn(k + 1, steps) for k in range(ticks)) & MASK


def final_entries(params: Params) -> list[bytes]:
    """Every player's entry once every input it sent was applied exactly once."""
    inputs = inputs_of(params)
    out = []
    for player in range(int(params["players"])):
        x, y = spawn(player)
        for seq in range(inputs):
            dx, dy = move(player, seq)
            x, y = x + dx, y + dy
        out.append(ENTRY.pack(x & 0xFFFF, y & 0xFFFF, inputs, inputs))
    return out


def state_checksum(proof: int, entries: bytes) -> int:
    return digest(proof.to_bytes(8, "big") + entries)


def expected(params: Params) -> int:
    """The final world every twin must reach, computed without any server."""
    proof = work_proof(ticks_of(params), cpu_steps(params))
    return state_checksum(proof, b"".join(final_entries(params)))


def check_params(params: Params) -> str | None:
    """What no twin should be asked to run (a sweep's grid value, say), in one line."""
    try:
        players = int(params["players"])
        tick_hz, input_hz = float(params["tick_hz"]), float(params["input_hz"])
        duration_ms, cpu_us = float(params["duration_ms"]), float(params.get("cpu_us") or 0)
    except (KeyError, TypeError, ValueError) as exc:
        return f"players, tick_hz, input_hz and duration_ms must be numbers ({exc})"
    if not 1 <= players <= MAX_PLAYERS:
        return f"players must be 1 to {MAX_PLAYERS:,}, not {players}"
    for name, hz in (("tick_hz", tick_hz), ("input_hz", input_hz)):
        if not 0 < hz <= MAX_HZ:
            return f"{name} must be above 0 and at most {MAX_HZ} Hz, not {hz:g}"
    if not 0 < duration_ms <= 600_000:
        return f"duration_ms must be above 0 and at most 600000 (10 min), not {duration_ms:g}"
    if not 0 <= cpu_us < 1e6 / tick_hz:
        return (f"cpu_us must be at least 0 and less than one tick ({1e3 / tick_hz:g} ms at "
                f"{tick_hz:g} Hz), not {cpu_us:g}: no twin could keep up")
    return None


Addr = Any  # a socket address as recvfrom returns it


class World:
    """The shared world and the protocol's rules: no I/O, no clock, no lock (each twin brings
    its own). `handle` applies one datagram and says what to answer; `tick` builds tick k's
    snapshots; `ticked` is called once they are all sent."""

    def __init__(self, params: Params):
        self.players = int(params["players"])
        self.ticks = ticks_of(params)
        self.tick_s = 1 / float(params["tick_hz"])
        self.steps = cpu_steps(params)
        self.view = min(self.players, VIEW)
        self.addrs: list[Addr | None] = [None] * self.players
        self.tag = 0
        self.epoch = 0.0
        self.done = True
        self.final_to: Addr | None = None  # who asked for the final state before it was final
        self.state = bytearray(ENTRY.size * self.players)
        self.xs = [0] * self.players
        self.ys = [0] * self.players
        self.next = [0] * self.players
        self.applied = [0] * self.players
        self.datagrams = 0
        self.proof = 0

    def due(self, k: int) -> float:
        return self.epoch + k * self.tick_s

    def handle(self, data: bytes, addr: Addr, now: float) -> tuple[list[tuple[bytes, Addr]], bool]:
        """Apply one datagram: the replies to send, and whether it began a round."""
        kind = data[:1]
        try:
            if kind == INPUT:
                self._apply(data)
                return [], False
            value = HEAD.unpack_from(data)[1]
            if kind == JOIN and value < self.players:
                self.addrs[value] = addr
                return [(HEAD.pack(WELCOME, value), addr)], False
            if kind == START:
                begun = value != self.tag
                if begun:  # a repeated START (its READY was lost) gets the same epoch
                    self._begin(value, now + LEAD)
                return [(READY_MSG.pack(READY, value, self.epoch), addr)], begun
            if kind == FINAL and value == self.tag:
                if self.done:
                    return [(self.final(), addr)], False
                self.final_to = addr  # answered once the last tick is out (`ticked`)
        except struct.error:
            pass  # not ours: ignored, as a server ignores junk
        return [], False

    def _begin(self, tag: int, epoch: float) -> None:
        self.tag, self.epoch, self.done, self.final_to = tag, epoch, False, None
        self.datagrams = self.proof = 0
        for player in range(self.players):
            x, y = spawn(player)
            self.xs[player], self.ys[player] = x, y
            self.next[player] = self.applied[player] = 0
            ENTRY.pack_into(self.state, player * ENTRY.size, x, y, 0, 0)

    def _apply(self, data: bytes) -> None:
        _, tag, player, count = INPUT_HEAD.unpack_from(data)
        if tag != self.tag or player >= self.players:
            return  # a straggler of another round
        self.datagrams += 1
        expect = self.next[player]
        x, y, applied = self.xs[player], self.ys[player], 0
        for i in range(count):  # oldest first; each (player, seq) once
            seq, dx, dy = MOVE.unpack_from(data, INPUT_HEAD.size + i * MOVE.size)
            if seq >= expect:
                x, y, applied, expect = x + dx, y + dy, applied + 1, seq + 1
        if applied:
            x, y = x & 0xFFFF, y & 0xFFFF
            self.xs[player], self.ys[player], self.next[player] = x, y, expect
            self.applied[player] += applied
            ENTRY.pack_into(self.state, player * ENTRY.size, x, y, expect,
                            self.applied[player])

    def tick(self, k: int) -> list[tuple[bytes, Addr]]:
        """Simulate tick k (the CPU work) and build every player's snapshot of it."""
        self.proof = (self.proof + burn(k + 1, self.steps)) & MASK
        head = SNAP_HEAD.pack(SNAPSHOT, self.tag, k)
        size, view = ENTRY.size, self.view
        ring = bytes(self.state) + bytes(self.state[:size * view])  # wraps around the end
        return [(head + ring[p * size:(p + view) * size], addr)
                for p, addr in enumerate(self.addrs) if addr is not None]

    def ticked(self, k: int) -> list[tuple[bytes, Addr]]:
        """Tick k's snapshots are out; after the last one, the final state if it was asked."""
        if k != self.ticks - 1:
            return []
        self.done = True
        to, self.final_to = self.final_to, None
        return [] if to is None else [(self.final(), to)]

    def final(self) -> bytes:
        return STATE_HEAD.pack(STATE, self.tag, self.datagrams, self.proof) + bytes(self.state)


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.bind(("127.0.0.1", 0))
    return sock


# --- sync twins: a receive thread and a tick thread; one thread with select() -----------------

class ThreadedGame:
    """A receive thread (blocking recvfrom) and a tick thread (sleeping until each tick is
    due), both for the server's life, sharing the world under a lock."""

    def __init__(self, params: Params):
        self.world = World(params)
        self.sock = _bind()
        self.lock = threading.Lock()
        self.begun = threading.Event()

    def serve(self) -> None:
        world, begun = self.world, self.begun

        def ticks() -> None:  # the tick thread
            while True:
                begun.wait()
                begun.clear()
                tag = world.tag
                for k in range(world.ticks):
                    delay = world.due(k) - monotonic()
                    if delay > 0:
                        time.sleep(delay)  # never early; a late tick goes out late
                    if world.tag != tag:
                        break  # a newer round began
                    self.tick(k)

        threading.Thread(target=ticks, name="tick", daemon=True).start()
        announce(port=self.sock.getsockname()[1])
        recvfrom = self.sock.recvfrom
        while True:  # the receive thread
            data, addr = recvfrom(MAX_DATAGRAM)
            self.received(data, addr)

    def received(self, data: bytes, addr: Addr) -> None:
        with self.lock:
            replies, begun = self.world.handle(data, addr, monotonic())
        for reply, to in replies:
            self.sock.sendto(reply, to)
        if begun:
            self.start_ticks()

    def start_ticks(self) -> None:
        self.begun.set()

    def tick(self, k: int) -> None:
        with self.lock:
            frames = self.world.tick(k)
        sendto = self.sock.sendto
        for frame, to in frames:
            sendto(frame, to)
        with self.lock:
            replies = self.world.ticked(k)
        for reply, to in replies:
            sendto(reply, to)


class LoopGame:
    """One thread: wait in select() until a datagram arrives or the next tick is due, read what
    arrived without blocking, tick when due."""

    def __init__(self, params: Params):
        self.world = World(params)
        self.sock = _bind()
        self.sock.setblocking(False)
        self.next_tick: int | None = None

    def serve(self) -> None:
        announce(port=self.sock.getsockname()[1])
        sock, recvfrom = self.sock, self.sock.recvfrom
        while True:
            k, timeout = self.next_tick, None
            if k is not None:
                timeout = self.world.due(k) - monotonic()
                if timeout <= 0:
                    self.tick(k)  # due: before reading more (a late tick goes out late)
                    continue
            readable, _, _ = select.select([sock], [], [], timeout)
            for _ in range(BURST if readable else 0):
                try:
                    data, addr = recvfrom(MAX_DATAGRAM)
                except BlockingIOError:
                    break
                self.received(data, addr)

    def received(self, data: bytes, addr: Addr) -> None:
        replies, begun = self.world.handle(data, addr, monotonic())
        for reply, to in replies:
            self.sock.sendto(reply, to)
        if begun:
            self.start_ticks()

    def start_ticks(self) -> None:
        self.next_tick = 0

    def tick(self, k: int) -> None:
        frames = self.world.tick(k)
        sendto = self.sock.sendto
        for frame, to in frames:
            sendto(frame, to)
        for reply, to in self.world.ticked(k):
            sendto(reply, to)
        self.next_tick = k + 1 if k + 1 < self.world.ticks else None


# --- async twin: a DatagramProtocol, ticks by loop.call_at (asyncio, uvloop) -----------------

class AsyncGame:
    """The world on the event loop: datagrams by callback, tick k by `loop.call_at`."""

    def __init__(self, params: Params):
        self.world = World(params)
        self.transport: asyncio.DatagramTransport | None = None

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        sock = _bind()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self),
                                                                sock=sock)
        announce(port=sock.getsockname()[1])
        await asyncio.Event().wait()  # serve until the harness terminates the process

    def received(self, data: bytes, addr: Addr) -> None:
        replies, begun = self.world.handle(data, addr, monotonic())
        assert self.transport is not None
        for reply, to in replies:
            self.transport.sendto(reply, to)
        if begun:
            self.start_ticks()

    def start_ticks(self) -> None:
        world, tag, loop = self.world, self.world.tag, asyncio.get_running_loop()

        def due(k: int) -> None:
            if world.tag != tag:
                return  # a newer round began
            if monotonic() < world.due(k):  # a timer fired a hair early (uvloop: ms timers)
                loop.call_at(loop.time() + world.due(k) - monotonic(), due, k)
                return
            self.tick(k)  # a late tick goes out late
            if k + 1 < world.ticks:
                loop.call_at(loop.time() + world.due(k + 1) - monotonic(), due, k + 1)

        loop.call_at(loop.time() + world.due(0) - monotonic(), due, 0)

    def tick(self, k: int) -> None:
        frames = self.world.tick(k)
        assert self.transport is not None
        sendto = self.transport.sendto
        for frame, to in frames:
            sendto(frame, to)
        for reply, to in self.world.ticked(k):
            sendto(reply, to)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, game: AsyncGame):
        self.game = game

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.game.received(data, addr)


def serve(twin: str, params: Params) -> None:
    if twin == "threaded":
        ThreadedGame(params).serve()
    elif twin == "select-loop":
        LoopGame(params).serve()
    elif twin in ("asyncio", "asyncio-uvloop"):
        run_loop(AsyncGame(params).serve(), twin.partition("-")[2] or "asyncio")
    else:
        raise SystemExit(f"error: unknown game_server twin {twin!r}")


# --- the players (one load process, the same for every twin) ---------------------------------

class _Socket(asyncio.DatagramProtocol):
    """One player's UDP socket (or the control socket, player -1), connected to the server."""

    def __init__(self, load: GameLoad, player: int):
        self.load, self.player = load, player
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.load.received(self.player, data)

    def error_received(self, exc: Exception) -> None:
        self.load.error(exc)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data)


class GameLoad:
    """P players on one event loop: inputs on their schedule, snapshots timed on arrival."""

    def __init__(self, params: Params):
        self.players = int(params["players"])
        self.ticks = ticks_of(params)
        self.tick_s = 1 / float(params["tick_hz"])
        self.input_s = 1 / float(params["input_hz"])
        self.inputs = inputs_of(params)
        self.load = LoadParams.of({**params, "n": self.ticks})
        self.view = min(self.players, VIEW)
        self.want = final_entries(params)
        self.proof = work_proof(self.ticks, cpu_steps(params))
        self.full = state_checksum(self.proof, b"".join(self.want))
        # Each input, packed once: a datagram carries the last REDUNDANCY of them.
        self.moves = [[MOVE.pack(seq, *move(p, seq)) for seq in range(self.inputs)]
                      for p in range(self.players)]
        self.sockets: list[_Socket] = []
        self.control: _Socket | None = None
        self.welcomed = bytearray(self.players)
        self.tag = 0
        self.errors = 0
        self.waiting: dict[bytes, asyncio.Future[bytes]] = {}
        self.latencies: array[float] = array("d")  # tick lateness
        self.series: dict[str, array[float]] = {"input": array("d")}
        self._fresh_round()

    def _fresh_round(self) -> None:
        self.playing = False
        self.epoch = 0.0
        self.got = bytearray(self.players * self.ticks)
        self.snapshots = self.stale = 0
        self.acked = [0] * self.players
        self.sent_at = array("d", bytes(8 * self.players * self.inputs))
        self.lateness: array[float] = array("d")
        self.visible: array[float] = array("d")

    # -- receiving ---------------------------------------------------------------------------

    def received(self, player: int, data: bytes) -> None:
        kind = data[:1]
        if kind == SNAPSHOT and player >= 0:
            self._snapshot(player, data)
        elif kind == WELCOME and player >= 0:
            self.welcomed[player] = 1
            self._wake(WELCOME, data)
        elif kind in (READY, STATE):
            self._wake(kind, data)

    def _wake(self, kind: bytes, data: bytes) -> None:
        future = self.waiting.get(kind)
        if future is not None and not future.done():
            future.set_result(data)

    def error(self, exc: Exception) -> None:
        """ICMP port unreachable: the server is gone (a connected UDP socket hears of it)."""
        self.errors += 1
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(exc)

    def _snapshot(self, player: int, data: bytes) -> None:
        now = monotonic()
        _, tag, k = SNAP_HEAD.unpack_from(data)
        index = player * self.ticks + k
        if tag != self.tag or not self.playing or k >= self.ticks or self.got[index]:
            self.stale += 1
            return
        self.got[index] = 1
        self.snapshots += 1
        self.lateness.append(now - (self.epoch + k * self.tick_s))
        ack = ENTRY.unpack_from(data, SNAP_HEAD.size)[2]  # the player's own entry comes first
        seen = self.acked[player]
        if ack > seen:  # inputs seen..ack-1 are visible from this snapshot on
            base = player * self.inputs
            sent_at = self.sent_at
            for seq in range(seen, min(ack, self.inputs)):
                if sent_at[base + seq]:
                    self.visible.append(now - sent_at[base + seq])
            self.acked[player] = ack

    async def _ask(self, kind: bytes, message: bytes, send: Any, until: float,
                   every: float = 0.2) -> bytes | None:
        """Send `message` until the answer of `kind` arrives: None at `until`."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting[kind] = future
        try:
            while monotonic() < until:
                send(message)
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(future),
                                                  max(0.001, min(every, until - monotonic())))
            return None
        except OSError:
            return None  # the server is gone
        finally:
            self.waiting.pop(kind, None)

    # -- the harness's commands --------------------------------------------------------------

    async def connect(self, port: int) -> dict[str, Any]:
        await self.close()
        loop = asyncio.get_running_loop()
        start = monotonic()

        async def open_socket(player: int) -> _Socket:
            _, proto = await loop.create_datagram_endpoint(
                lambda: _Socket(self, player), remote_addr=("127.0.0.1", port))
            return proto

        self.control = await open_socket(-1)
        self.sockets = [await open_socket(p) for p in range(self.players)]
        self.welcomed = bytearray(self.players)
        until = start + self.load.connect_timeout
        while not all(self.welcomed) and monotonic() < until:  # JOIN until all are welcome
            for player, sock in enumerate(self.sockets):
                if not self.welcomed[player]:
                    sock.send(HEAD.pack(JOIN, player))
            try:
                await asyncio.wait_for(self._all_welcome(), min(0.2, until - monotonic()))
            except (TimeoutError, OSError):
                if self.errors:
                    break
        joined = sum(self.welcomed)
        return {"connected": joined, "elapsed": monotonic() - start,
                "counts": {"join_timeouts": self.players - joined}}

    async def _all_welcome(self) -> None:
        while not all(self.welcomed):
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self.waiting[WELCOME] = future
            try:
                await future
            finally:
                self.waiting.pop(WELCOME, None)

    async def close(self) -> dict[str, Any]:
        for sock in [*self.sockets, *([self.control] if self.control else [])]:
            if sock.transport is not None:
                sock.transport.close()
        self.sockets, self.control = [], None
        await asyncio.sleep(0)
        return {}

    async def run(self) -> dict[str, Any]:
        assert self.control is not None
        self.tag += 1
        self._fresh_round()
        self.errors = 0
        start = monotonic()
        round_end = start + self.load.round_timeout
        control = self.control
        ready = await self._ask(READY, HEAD.pack(START, self.tag), control.send,
                                min(round_end, start + self.load.timeout))
        state = None
        sent = 0
        lags: list[float] = []
        if ready is not None:
            self.epoch = READY_MSG.unpack(ready)[2]
            self.playing = True
            sent = await self._send_inputs(lags, round_end)
            until = min(round_end, self.epoch + self.ticks * self.tick_s + self.load.timeout)
            if not self.errors:
                state = await self._ask(STATE, HEAD.pack(FINAL, self.tag), control.send, until)
            await asyncio.sleep(0.005)  # snapshots already queued on other sockets
            self.playing = False
        elapsed = monotonic() - (self.epoch if ready is not None else start)
        self.latencies = self.lateness
        self.series = {"input": self.visible}
        return {**self._tally(state), "elapsed": elapsed, "totals": {
            "snapshots": self.snapshots,
            "snapshots_lost": self.players * self.ticks - self.snapshots,
            "input_datagrams": sent,
            "input_datagrams_lost": max(0, sent - STATE_HEAD.unpack_from(state)[2])
            if state is not None else 0,
            "stale": self.stale},
            "send_lag_p99": percentile(sorted(lags), 99)}

    async def _send_inputs(self, lags: list[float], until: float) -> int:
        """Every player's inputs, player p's j-th due at epoch + (j + p/P)/R (staggered, as
        players are): each datagram carries the last REDUNDANCY inputs. Returns datagrams
        sent; stops early if the server is gone or the round runs out of time."""
        players, sockets, sent_at, moves = self.players, self.sockets, self.sent_at, self.moves
        pack_head, tag, sent = INPUT_HEAD.pack, self.tag, 0
        for seq in range(self.inputs):
            low = max(0, seq - REDUNDANCY + 1)
            for player in range(players):
                due = self.epoch + (seq + player / players) * self.input_s
                now = monotonic()
                if due - now > 0.0005:
                    await asyncio.sleep(due - now)
                    now = monotonic()
                if self.errors or now > until:
                    return sent
                lags.append(max(0.0, now - due))
                sent_at[player * self.inputs + seq] = now
                sockets[player].send(pack_head(INPUT, tag, player, seq - low + 1)
                                     + b"".join(moves[player][low:seq + 1]))
                sent += 1
        return sent

    def _tally(self, state: bytes | None) -> dict[str, Any]:
        attempted = self.players * self.inputs
        if state is None:
            what = "refused" if self.errors else "unanswered"
            return {"ok": 0, "attempted": attempted, "checksum": 0, "full_checksum": None,
                    "counts": {what: 1}}
        proof = STATE_HEAD.unpack_from(state)[3]
        entries = state[STATE_HEAD.size:]
        ok = lost = wrong = 0
        for player, want in enumerate(self.want):
            got = entries[player * ENTRY.size:(player + 1) * ENTRY.size]
            if got == want:
                ok += self.inputs
                continue
            applied = ENTRY.unpack(got)[3] if len(got) == ENTRY.size else -1
            if 0 <= applied < self.inputs:  # inputs lost beyond the redundancy: unverifiable
                ok += applied
                lost += self.inputs - applied
            else:
                wrong += 1
        wrong += proof != self.proof
        return {"ok": ok, "attempted": attempted,
                "checksum": state_checksum(proof, entries),
                "full_checksum": self.full if wrong == 0 else None,
                "counts": {"inputs_lost": lost, "wrong": wrong}}


def load(params: Params) -> LoadSession:
    return GameLoad(params)


# --- declaration ------------------------------------------------------------------------------

MODULE = "workloads.game_server"
QUICK = frozenset({"quick", "default", "full"})
LARGER = frozenset({"default", "full"})


def _twin(name: str, kind: Any, label: str, loop: str | None, core: str, library: str,
          profiles: frozenset[str] = QUICK) -> Any:
    return server_twin(name, kind, label, MODULE, loop=loop,
                       connections=lambda p: int(p["players"]), ops=ticks_of,
                       rate_key="inputs_per_s", profiles=profiles, core=core, library=library)


WORKLOAD = Workload(
    name="game_server",
    description="A real-time game server over UDP: P players send inputs at R Hz, the server "
                "sends every player a snapshot at T Hz; judged on p99 tick lateness "
                "(threads, a select loop, asyncio, uvloop).",
    twins=(
        _twin("threaded", "threads", "receive thread + tick thread (socket, threading)", None,
              "Python", "socket"),
        # A single-threaded sync loop is the other thing a sync programmer writes.
        _twin("select-loop", "sync", "one thread: select() + non-blocking recvfrom", None,
              "Python", "socket", LARGER),
        _twin("asyncio", "async", "asyncio DatagramProtocol + call_at ticks", "asyncio",
              "Python", "asyncio"),
        _twin("asyncio-uvloop", "async", "asyncio DatagramProtocol on uvloop", "uvloop",
              "Cython", "asyncio", LARGER),
    ),
    scenarios=(
        Scenario("small-room", {"players": 16, "tick_hz": 60, "input_hz": 30,
                                "duration_ms": 1500},
                 "16 players, 60 ticks/s, 30 inputs/s each: the deadline is 16.7 ms", QUICK,
                 judged_by="p99_s"),
        Scenario("crowded", {"players": 500, "tick_hz": 20, "input_hz": 30,
                             "duration_ms": 1500},
                 "500 players, 20 ticks/s: 15,000 inputs/s in, 10,000 snapshots/s out", LARGER,
                 judged_by="p99_s"),
        Scenario("sim-work", {"players": 100, "tick_hz": 30, "input_hz": 30,
                              "duration_ms": 1500, "cpu_us": 8000},
                 "100 players, 30 ticks/s, 8 ms of pure-Python simulation per tick (under the "
                 "world's lock): the event loop cannot read inputs meanwhile, the threaded "
                 "server's receive thread can but waits on the lock to apply them",
                 LARGER, judged_by="p99_s"),
    ),
    size_param="duration_ms",
    min_size=100,
    tiny={"players": 4, "duration_ms": 150},
    expected=expected,
    check_params=check_params,
    sweeps=(Sweep("crowded", {"players": (16, 100, 500), "tick_hz": (20, 60)}),),
    # Tick lateness, input-to-visible latency, loss, then the server's cost. The server's CPU
    # per tick is the run table's CPU/op (an operation is a tick); memory per connection is
    # left out (UDP players hold no connection).
    metrics=(
        Metric("p50_s", "late p50", "s"),
        Metric("p99_s", "late p99", "s"),
        Metric("max_s", "late max", "s"),
        Metric("input_p50_s", "input p50", "s"),
        Metric("input_p99_s", "input p99", "s"),
        Metric("snapshots_lost", "snaps lost", "count"),
        *(m for m in SERVER_METRICS if m.key != "mem_per_conn"),
    ),
)


def main() -> None:
    child_main(serve, load)


if __name__ == "__main__":
    main()

"""Load generator for the candidate protocol (docs/protocol.md, version 1), on asyncio.

One process, one event loop, one python-socketio ``AsyncClient`` (aiohttp websocket) per
simulated candidate, so the generator needs one core at most and its CPU time is measured on
its own. Every candidate behaves like the candidate page (web/static/js/candidate_exam.js):

* signs in over HTTP (``POST /api/candidate/sign-in``) and connects to ``/candidate`` with the
  token, on the one server process it was given (sticky, as nginx would do);
* sends ``hello`` after every (re)connect, every 15 s while the state is ``waiting`` (the
  page's ``WAIT_POLL_MS``, a fallback) and at once when the server pushes ``started`` (a
  unified start); the paper arrives with the first ``hello`` after the start;
* sends a ``heartbeat`` every 5 s (visible, focused, client time; presence only on the server)
  and a ``time`` round trip every 30 s (the page's clock-offset sync, ``TIME_SYNC_MS``);
  ``--heartbeat-event time`` uses ``time`` as the heartbeat, as before the proctoring issue;
* once it has its paper, saves an answer every 10 s: a random question, a valid answer for its
  type, seq strictly increasing. Saves go through an outbox and are sent one at a time in seq
  order; an entry leaves the outbox only on an ``ok`` ack (accepted or not); after a timeout or
  a server error it is sent again 3 s later, as the page does;
* a share of the candidates (5 % by default) drop their connection once at a random moment
  with a save in flight (the TCP connection is cut, no goodbye), answer once more while
  offline, reconnect after 2–8 s, send ``hello`` and replay the outbox;
* at the end drains its outbox and submits (``{"confirm": true}``).

Each room signs in from its own loopback address (127.0.1.<room>), standing for the NAT address
of an exam room; the traffic only ever goes to 127.0.0.1. Every ok ack is recorded as
(ticket, position, seq, answer, accepted) for the verification in PostgreSQL.

With proctors (``Generator(..., proctors=[ProctorSpec ...], session_id=...)``, bench/load.py
``--proctors``), before anyone signs in every room's proctor connects to ``/proctor`` on the
process it was given (bearer token), ``watch``es its room and records every push (``incident``,
``seats``, ``beats``) with its arrival time (monotonic clock of this process, the same clock the
candidates stamp their events with). Then, besides the normal load:

* ``LoadConfig.signals`` > 0: every candidate sends 1 to ``signals`` integrity ``signal``s
  ``{kind: "blur", duration_ms: 4000..8000, client_time}`` at random moments of the steady
  phase, at least ``SIGNAL_SPACING`` s apart (closer leaves would be folded into one by the
  rules); ``client_time`` is integer milliseconds, distinct per candidate, and the server
  copies it into the incident's ``evidence.events``. **Matching:** the latency of a signal is
  the arrival of the first ``incident`` push of kind ``left_page`` for that seat (registration
  id → ticket from the ``watch`` snapshot) whose ``evidence.events`` holds an event with that
  ``client_time``, minus the moment the candidate emitted the signal. A merged incident
  (count 2) repeats the first event in its evidence; only the first arrival of each
  (ticket, client_time) counts.
* save → ``seats``: on every accepted answer save to a question the candidate had not answered
  yet, the candidate notes (ticket, answered count n, emit time); the latency is the arrival of
  the first ``seats`` row of that ticket with ``answered`` ≥ n that arrived after the emit.
  Candidates stop noting after their intended drop (a save committed whose ack was cut off
  would make the count run ahead of the candidate's).
* ``LoadConfig.heartbeat_only`` > 0: after the steady phase, that many seconds in which the
  candidates send heartbeats only (no saves, signals or clock syncs), for the server CPU per
  heartbeat; the marks ``hb_only`` and ``drain`` bound it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiohttp
import socketio

NS = "/candidate"


@dataclass
class LoadConfig:
    duration: float = 300.0  # steady phase, after every paper is delivered
    save_every: float = 10.0
    heartbeat_every: float = 5.0
    heartbeat_event: str = "heartbeat"  # or "time" (servers without the heartbeat event)
    time_sync: float = 30.0  # a `time` round trip, as the page's clock sync; 0: none
    wait_poll: float = 15.0  # hello while waiting, as the page does
    drop_rate: float = 0.05
    offline_seconds: tuple[float, float] = (2.0, 8.0)
    ack_timeout: float = 10.0
    retry_after: float = 3.0
    sign_in_concurrency: int = 100
    ready_timeout: float = 600.0  # every candidate signed in, connected and waiting
    paper_timeout: float = 120.0  # every paper delivered after the start
    finish_timeout: float = 180.0  # drain outboxes and submit
    seed: int = 1
    signals: int = 0  # integrity signals per candidate in the steady phase: 1..signals; 0: none
    signal_duration_ms: tuple[int, int] = (4000, 8000)
    heartbeat_only: float = 0.0  # seconds of heartbeats only after the steady phase; 0: none


SIGNAL_SPACING = 12.0  # seconds between one candidate's signals (leaves closer are folded)


@dataclass(frozen=True)
class ProctorSpec:
    room: int  # 0-based room index, as Identity.room
    room_id: int  # the room's database id
    server: int  # index of the server process the proctor's console connects to
    token: str  # API bearer token of the room's proctor


@dataclass(frozen=True)
class Identity:
    ticket: str
    id_number: str
    access_code: str
    room: int  # 0-based; picks the source address 127.0.1.<room + 1>
    server: int  # index of the server process this candidate sticks to


class Ack(NamedTuple):
    """One ok ack. Atomic fields only (the answer as JSON), so the garbage collector stops
    tracking the hundreds of thousands of them a long run collects."""

    ticket: str
    position: int
    seq: int
    answer_json: str
    accepted: bool

    @property
    def answer(self) -> Any:
        return json.loads(self.answer_json)


class Lost(Exception):
    """The connection went away while waiting for an ack."""


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


@dataclass
class Results:
    n: int
    # per event: (wall-clock time sent, seconds to the reply)
    latencies: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    errors_by_phase: dict[str, Counter] = field(default_factory=dict)
    phase: str = "connect"
    gc_pauses: list[tuple[float, float]] = field(default_factory=list)  # (wall time, pause)
    acks: list[Ack] = field(default_factory=list)
    # every save sent: ticket -> {seq: (position, answer as JSON)}
    sent: dict[str, dict[int, tuple[int, str]]] = field(default_factory=dict)
    paper_at: dict[str, float] = field(default_factory=dict)  # wall clock
    counts: Counter = field(default_factory=Counter)
    phases: dict[str, float] = field(default_factory=dict)  # wall-clock marks
    cpu: dict[str, float] = field(default_factory=dict)  # generator CPU seconds per phase
    loop_lag: list[tuple[float, float]] = field(default_factory=list)  # (wall time, lag)
    connected_now: int = 0
    connected_peak: int = 0
    save_ack_times: list[float] = field(default_factory=list)  # wall clock of each ok save ack
    # -- proctoring (monotonic clock of this process) --
    signals_sent: dict[tuple[str, int], float] = field(default_factory=dict)  # (ticket, ct) -> t
    save_marks: list[tuple[str, int, float]] = field(default_factory=list)  # ticket, n, t
    incident_seen: dict[tuple[str, int], float] = field(default_factory=dict)  # first arrival
    seats_seen: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # answered, t
    proctor_counts: Counter = field(default_factory=Counter)
    proctor_server: dict[int, int] = field(default_factory=dict)  # room -> server index
    candidate_server: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # ticket -> room, srv

    def lat(self, name: str, value: float) -> None:
        self.latencies.setdefault(name, []).append((time.time() - value, value))

    def err(self, code: str) -> None:
        self.errors[code] += 1
        self.errors_by_phase.setdefault(self.phase, Counter())[code] += 1

    def window(self, name: str, phase_from: str, phase_to: str) -> list[float]:
        """Latencies of ``name`` for events sent between two phase marks."""
        a, b = self.phases.get(phase_from), self.phases.get(phase_to)
        if a is None or b is None:
            return []
        return [v for t, v in self.latencies.get(name, []) if a <= t < b]

    def paper_delays(self) -> list[float]:
        t0 = self.phases.get("start")
        if t0 is None:
            return []
        return sorted(t - t0 for t in self.paper_at.values())

    def steady_saves_per_second(self) -> float:
        a, b = self.phases.get("steady"), self.phases.get("end")
        if a is None or b is None or b <= a:
            return 0.0
        return sum(1 for t in self.save_ack_times if a <= t < b) / (b - a)

    def _path(self, ticket: str) -> str:
        room, server = self.candidate_server.get(ticket, (-1, -1))
        return "same" if self.proctor_server.get(room) == server else "cross"

    def signal_latencies(self) -> dict[str, Any]:
        """Signal → ``incident`` push latencies (seconds): all, and split by whether the
        proctor's console is on the candidate's process (``same``) or another (``cross``)."""
        out: dict[str, Any] = {"all": [], "same": [], "cross": [], "missing": 0}
        for key, t_sent in self.signals_sent.items():
            t = self.incident_seen.get(key)
            if t is None:
                out["missing"] += 1
                continue
            out["all"].append(t - t_sent)
            out[self._path(key[0])].append(t - t_sent)
        return out

    def save_seat_latencies(self) -> dict[str, Any]:
        """Accepted save to a new question → the ``seats`` row showing the new answered count."""
        out: dict[str, Any] = {"all": [], "same": [], "cross": [], "missing": 0}
        for ticket, n, t_sent in self.save_marks:
            seen = self.seats_seen.get(ticket, [])
            t = next((ts for a, ts in seen if a >= n and ts >= t_sent), None)
            if t is None:
                out["missing"] += 1
                continue
            out["all"].append(t - t_sent)
            out[self._path(ticket)].append(t - t_sent)
        return out


def _answer(rng: random.Random, item: dict[str, Any]) -> Any:
    kind = item["type"]
    if kind == "true_false":
        return rng.choice(["T", "F"])
    labels = [o["label"] for o in item.get("options") or []]
    if kind == "single_choice":
        return [rng.choice(labels)]
    if kind == "multiple_choice":
        return sorted(rng.sample(labels, rng.randint(1, len(labels))))
    return [f"答{rng.randint(1, 999)}" for _ in range(int(item.get("blanks") or 1))]


class Candidate:
    def __init__(self, gen: Generator, ident: Identity, index: int):
        self.gen = gen
        self.ident = ident
        self.rng = random.Random(gen.cfg.seed * 1_000_003 + index)
        self.url = gen.targets[ident.server]
        self.http = gen.http[ident.room]
        self.token: str | None = None
        self.sio: socketio.AsyncClient | None = None
        self.connected = False
        self.state: str | None = None
        self.items: list[dict[str, Any]] | None = None
        self.seq = 0
        self.outbox: list[dict[str, Any]] = []
        self.pending: set[asyncio.Future] = set()
        self.wake = asyncio.Event()  # the pump has something to do
        self.lost = asyncio.Event()  # disconnected: the keeper reconnects
        self.offline_until = 0.0
        self.in_flight: int | None = None  # seq of the save waiting for its ack
        self.finished = False
        self.failed = False
        self.ready = asyncio.Event()  # signed in, connected, hello answered
        self.drop_task: asyncio.Task | None = None
        self.sent = gen.results.sent.setdefault(ident.ticket, {})
        self.answered: set[int] = set()  # positions with an acknowledged answer
        self.dropped = False  # after the intended drop: no more save marks

    # -- transport ----------------------------------------------------------------------------

    async def sign_in(self) -> bool:
        body = {
            "ticket_number": self.ident.ticket,
            "id_number": self.ident.id_number,
            "access_code": self.ident.access_code,
        }
        r = self.gen.results
        for attempt in range(8):
            t = time.perf_counter()
            try:
                async with self.http.post(
                    f"{self.url}/api/candidate/sign-in",
                    json=body,
                    timeout=aiohttp.ClientTimeout(total=60),
                ) as resp:
                    data = await resp.json(content_type=None)
                    if resp.status == 200:
                        r.lat("sign_in", time.perf_counter() - t)
                        self.token = data["token"]
                        return True
                    r.err(f"sign_in:{data.get('error') or resp.status}")
                    if resp.status not in (429, 500, 502, 503):
                        return False
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                r.err(f"sign_in:{type(exc).__name__}")
            await asyncio.sleep(min(30.0, 2.0**attempt) * (0.5 + self.rng.random()))
        return False

    async def connect(self) -> bool:
        r = self.gen.results
        sio = socketio.AsyncClient(
            reconnection=False, http_session=self.http, handle_sigint=False, request_timeout=30
        )

        async def on_disconnect(*_args: Any) -> None:
            if sio is self.sio:
                self._gone()

        async def on_submitted(*_args: Any) -> None:
            r.counts["submitted_events"] += 1

        async def on_started(*_args: Any) -> None:
            # The room was started (unified start): ask for the paper now, as the page does.
            r.counts["started_events"] += 1
            if sio is self.sio and self.items is None:
                await self.hello()

        sio.on("disconnect", on_disconnect, namespace=NS)
        sio.on("submitted", on_submitted, namespace=NS)
        sio.on("started", on_started, namespace=NS)
        t = time.perf_counter()
        self.sio = sio
        try:
            await sio.connect(
                self.url,
                namespaces=[NS],
                auth={"token": self.token},
                transports=["websocket"],
                wait_timeout=30,
            )
        except socketio.exceptions.ConnectionError as exc:
            data = exc.args[1] if len(exc.args) > 1 else None
            code = data.get("error") if isinstance(data, dict) else type(exc).__name__
            r.err(f"connect:{code}")
            self.sio = None
            with contextlib.suppress(Exception):
                await sio.disconnect()
            return False
        except Exception as exc:
            r.err(f"connect:{type(exc).__name__}")
            self.sio = None
            with contextlib.suppress(Exception):
                await sio.disconnect()
            return False
        r.lat("connect", time.perf_counter() - t)
        self.connected = True
        self.lost.clear()
        r.connected_now += 1
        r.connected_peak = max(r.connected_peak, r.connected_now)
        return True

    def _gone(self) -> None:
        if self.connected:
            self.connected = False
            self.gen.results.connected_now -= 1
        self.in_flight = None
        for fut in self.pending:
            if not fut.done():
                fut.set_exception(Lost())
        self.pending.clear()
        self.lost.set()

    async def drop(self) -> None:
        """Cut the TCP connection under the websocket: no close frame, no goodbye."""
        sio = self.sio
        self.dropped = True
        self.gen.results.counts["drops"] += 1
        try:
            sio.eio.ws._conn.transport.abort()  # the network goes away
        except Exception:
            await sio.eio.disconnect(abort=True)
        for _ in range(100):  # the read loop notices at once; make sure
            if not self.connected:
                break
            await asyncio.sleep(0.05)
        if self.connected:
            self._gone()

    async def call(self, event: str, data: Any, timeout: float | None = None) -> tuple[Any, float]:
        """Emit with an ack; returns (reply, seconds). Raises Lost or TimeoutError."""
        if not self.connected or self.sio is None:
            raise Lost()
        fut = asyncio.get_running_loop().create_future()

        def ack(*args: Any) -> None:
            if not fut.done():
                fut.set_result(args[0] if args else None)

        self.pending.add(fut)
        t = time.perf_counter()
        try:
            await self.sio.emit(event, data, namespace=NS, callback=ack)
            reply = await asyncio.wait_for(fut, timeout or self.gen.cfg.ack_timeout)
        except (Lost, TimeoutError):
            raise
        except Exception as exc:
            raise Lost() from exc
        finally:
            self.pending.discard(fut)
        return reply, time.perf_counter() - t

    # -- protocol -----------------------------------------------------------------------------

    async def hello(self) -> bool:
        r = self.gen.results
        try:
            reply, secs = await self.call("hello", {}, timeout=30)
        except TimeoutError:
            r.err("hello:timeout")
            return False
        except Lost:
            return False
        if not isinstance(reply, dict) or not reply.get("ok"):
            r.err(f"hello:{(reply or {}).get('error')}")
            return False
        self.state = reply.get("state")
        self.seq = max(self.seq, int(reply.get("last_seq") or 0))
        paper = reply.get("paper")
        r.lat("hello_paper" if paper else "hello", secs)
        if paper and self.items is None:
            self.items = paper["items"]
            r.paper_at[self.ident.ticket] = time.time()
        if self.state == "submitted":
            self.finished = True
        self.wake.set()
        return True

    async def online(self) -> bool:
        """Connect and say hello."""
        if not await self.connect():
            return False
        if await self.hello():
            return True
        if self.connected and self.sio is not None:
            with contextlib.suppress(Exception):
                await self.sio.disconnect()
            self._gone()
        return False

    def new_save(self) -> None:
        assert self.items is not None
        self.seq += 1
        position = self.rng.randint(1, len(self.items))
        answer = _answer(self.rng, self.items[position - 1])
        self.sent[self.seq] = (position, json.dumps(answer, ensure_ascii=False))
        self.outbox.append(
            {
                "seq": self.seq,
                "kind": "answer",
                "position": position,
                "answer": answer,
                "client_time": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
        self.wake.set()

    # -- tasks ----------------------------------------------------------------------------------

    async def keeper(self) -> None:
        """Reconnect whenever the connection is gone (after an intended drop: when the
        'network' is back), with back-off, like the socket.io client does."""
        backoff = 1.0
        while not self.finished:
            await self.lost.wait()
            if self.finished:
                return
            wait = self.offline_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if await self.online():
                self.gen.results.counts["reconnects"] += 1
                backoff = 1.0
            else:
                await asyncio.sleep(backoff * (0.5 + self.rng.random()))
                backoff = min(backoff * 2, 10.0)

    async def waiter(self) -> None:
        """hello every ``wait_poll`` s while waiting for the start (the page's fallback poll)."""
        while self.items is None and not self.finished:
            await asyncio.sleep(self.gen.cfg.wait_poll)
            if self.connected and self.items is None:
                await self.hello()

    async def heartbeat(self) -> None:
        every = self.gen.cfg.heartbeat_every
        nxt = time.monotonic() + self.rng.random() * every
        while not self.finished:
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            nxt += every
            if not self.connected:
                continue
            event = self.gen.cfg.heartbeat_event
            if event == "time":
                payload: dict[str, Any] = {"client_time": time.time() * 1000}
            else:
                payload = {
                    "visible": True,
                    "focused": True,
                    "fullscreen": False,
                    "client_time": time.time() * 1000,
                }
            await self._timed_call(event, payload)

    async def time_sync(self) -> None:
        """A ``time`` round trip every ``time_sync`` s (the page's clock-offset sync)."""
        every = self.gen.cfg.time_sync
        if every <= 0 or self.gen.cfg.heartbeat_event == "time":
            return
        nxt = time.monotonic() + self.rng.random() * every
        while not self.finished:
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            nxt += every
            if self.connected and not self.gen.quiet:
                await self._timed_call("time", {"client_time": time.time() * 1000})

    async def _timed_call(self, event: str, payload: dict[str, Any]) -> None:
        r = self.gen.results
        try:
            reply, secs = await self.call(event, payload)
        except TimeoutError:
            r.err(f"{event}:timeout")
            return
        except Lost:
            return
        if isinstance(reply, dict) and reply.get("ok"):
            r.lat(event, secs)
        else:
            r.err(f"{event}:{(reply or {}).get('error')}")

    async def producer(self) -> None:
        every = self.gen.cfg.save_every
        while self.items is None:
            await asyncio.sleep(0.2)
        nxt = time.monotonic() + self.rng.random() * every
        while not self.gen.ending.is_set():
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            nxt += every
            if self.gen.ending.is_set():
                return
            if not self.gen.quiet:
                self.new_save()

    async def pump(self) -> None:
        r = self.gen.results
        while not self.finished:
            await self.wake.wait()
            self.wake.clear()
            while self.outbox and self.connected and self.state in ("running", "paused"):
                entry = self.outbox[0]
                self.in_flight = entry["seq"]
                t_emit = time.monotonic()
                try:
                    reply, secs = await self.call("save", entry)
                except TimeoutError:
                    r.err("save:timeout")
                    await asyncio.sleep(self.gen.cfg.retry_after)
                    continue
                except Lost:
                    break  # replayed after the reconnect's hello
                finally:
                    self.in_flight = None
                if isinstance(reply, dict) and reply.get("ok"):
                    r.lat("save", secs)
                    r.save_ack_times.append(time.time())
                    r.acks.append(
                        Ack(
                            self.ident.ticket,
                            entry["position"],
                            entry["seq"],
                            json.dumps(entry["answer"], ensure_ascii=False),
                            bool(reply.get("accepted")),
                        )
                    )
                    if not reply.get("accepted"):
                        r.counts["acked_not_accepted"] += 1
                    elif entry["position"] not in self.answered and not self.dropped:
                        r.save_marks.append((self.ident.ticket, len(self.answered) + 1, t_emit))
                    self.answered.add(entry["position"])
                    self.outbox.pop(0)
                    continue
                code = (reply or {}).get("error")
                r.err(f"save:{code}")
                if code in ("validation_error", "time_up", "submitted"):
                    self.outbox.pop(0)  # no retry can fix it
                    r.counts["saves_given_up"] += 1
                else:
                    await asyncio.sleep(self.gen.cfg.retry_after)

    async def signaller(self) -> None:
        """1 to ``signals`` blur signals (the window left for 4–8 s) at random moments of the
        steady phase, at least ``SIGNAL_SPACING`` s apart."""
        cfg, r = self.gen.cfg, self.gen.results
        await self.gen.steady.wait()
        t0 = time.monotonic()
        lo, hi = 0.05 * cfg.duration, 0.85 * cfg.duration
        count = self.rng.randint(1, cfg.signals)
        count = max(1, min(count, 1 + int((hi - lo) // SIGNAL_SPACING)))
        # evenly spaced slots, each moment random inside its own slot: never closer than allowed
        slot = (hi - lo - SIGNAL_SPACING * (count - 1)) / count
        moments = [
            lo + k * (slot + SIGNAL_SPACING) + self.rng.random() * max(0.0, slot)
            for k in range(count)
        ]
        for at in moments:
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            if self.gen.ending.is_set() or self.gen.quiet:
                return
            if not self.connected or self.state != "running":
                r.counts["signals_skipped_offline"] += 1
                continue
            client_time = int(time.time() * 1000)
            payload = {
                "kind": "blur",
                "duration_ms": self.rng.randint(*cfg.signal_duration_ms),
                "client_time": client_time,
            }
            t_emit = time.monotonic()
            r.signals_sent[(self.ident.ticket, client_time)] = t_emit
            r.counts["signals_sent"] += 1
            try:
                reply, secs = await self.call("signal", payload)
            except (TimeoutError, Lost) as exc:
                # not known whether the server got it: out of the latency figures
                r.signals_sent.pop((self.ident.ticket, client_time), None)
                r.counts["signals_sent"] -= 1
                if isinstance(exc, TimeoutError):
                    r.err("signal:timeout")
                else:
                    r.counts["signals_lost"] += 1
                continue
            if isinstance(reply, dict) and reply.get("ok"):
                r.lat("signal", secs)
            else:
                r.err(f"signal:{(reply or {}).get('error')}")

    async def dropper(self, at: float) -> None:
        """Once, at ``at`` (monotonic): a save goes out, the connection is cut before its ack
        can arrive, one more answer is given offline, the network is back 2–8 s later."""
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        if self.gen.ending.is_set() or not self.connected or self.items is None:
            return
        self.new_save()
        for _ in range(40):  # until the pump has sent it (or 2 s)
            if self.in_flight is not None or not self.outbox:
                break
            await asyncio.sleep(0.05)
        lo, hi = self.gen.cfg.offline_seconds
        self.offline_until = time.monotonic() + lo + self.rng.random() * (hi - lo)
        await self.drop()
        self.new_save()  # answered while offline: kept in the outbox

    async def finish(self) -> None:
        r = self.gen.results
        start = time.monotonic()
        deadline = start + self.gen.cfg.finish_timeout - 10
        drained_by = start + (self.gen.cfg.finish_timeout - 10) / 2
        while (self.outbox or not self.connected) and time.monotonic() < drained_by:
            self.wake.set()
            await asyncio.sleep(0.2)
        if self.outbox:
            r.err("finish:outbox_not_drained")
        first = True
        while first or time.monotonic() < deadline:
            first = False
            try:
                reply, secs = await self.call("submit", {"confirm": True}, timeout=30)
            except (TimeoutError, Lost):
                r.err("submit:timeout_or_lost")
                await asyncio.sleep(1)
                continue
            if isinstance(reply, dict) and reply.get("ok"):
                r.lat("submit", secs)
                r.counts["submitted"] += 1
            else:
                r.err(f"submit:{(reply or {}).get('error')}")
            break
        self.finished = True
        self.lost.set()
        self.wake.set()
        if self.connected and self.sio is not None:
            sio = self.sio
            self.sio = None
            self._gone()
            with contextlib.suppress(Exception):
                await sio.disconnect()

    async def life(self) -> None:
        async with self.gen.sign_in_gate:
            if not await self.sign_in():
                self.failed = True
                self.gen.results.counts["sign_in_failed"] += 1
                self.ready.set()
                return
            for _ in range(5):
                if await self.online():
                    break
                await asyncio.sleep(1 + self.rng.random() * 2)
        tasks = [
            asyncio.create_task(self.keeper()),
            asyncio.create_task(self.waiter()),
            asyncio.create_task(self.heartbeat()),
            asyncio.create_task(self.time_sync()),
            asyncio.create_task(self.producer()),
            asyncio.create_task(self.pump()),
        ]
        if self.gen.cfg.signals > 0:
            tasks.append(asyncio.create_task(self.signaller()))
        if not self.connected:
            self.lost.set()
        self.ready.set()
        try:
            await self.gen.ending.wait()
            await self.finish()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


PROCTOR_NS = "/proctor"


class Proctor:
    """One room's proctor console: connects to ``/proctor`` with its API token, watches its
    room, records the pushes (arrival times on the monotonic clock) and re-watches after a
    reconnect."""

    def __init__(self, gen: Generator, spec: ProctorSpec, session_id: int):
        self.gen = gen
        self.spec = spec
        self.session_id = session_id
        self.url = gen.targets[spec.server]
        self.sio: socketio.AsyncClient | None = None
        self.tickets: dict[int, str] = {}  # registration id -> ticket number
        self.last_answered: dict[str, int] = {}
        self.watching = asyncio.Event()
        self.closing = False

    def _on_incident(self, data: Any = None) -> None:
        t = time.monotonic()
        r = self.gen.results
        r.proctor_counts["incident"] += 1
        inc = (data or {}).get("incident") or {}
        if inc.get("room_id") != self.spec.room_id:
            r.proctor_counts["incident_other_room"] += 1
        ticket = self.tickets.get(inc.get("registration_id"))
        if ticket is None or inc.get("kind") != "left_page":
            return
        for ev in (inc.get("evidence") or {}).get("events") or []:
            ct = ev.get("client_time") if isinstance(ev, dict) else None
            if isinstance(ct, (int, float)):
                r.incident_seen.setdefault((ticket, int(ct)), t)

    def _on_seats(self, data: Any = None) -> None:
        t = time.monotonic()
        r = self.gen.results
        r.proctor_counts["seats"] += 1
        for row in (data or {}).get("seats") or []:
            r.proctor_counts["seat_rows"] += 1
            ticket = row.get("ticket_number")
            answered = row.get("answered")
            if ticket is None or not isinstance(answered, int):
                continue
            if answered > self.last_answered.get(ticket, 0):
                self.last_answered[ticket] = answered
                r.seats_seen.setdefault(ticket, []).append((answered, t))

    def _on_beats(self, data: Any = None) -> None:
        self.gen.results.proctor_counts["beats"] += 1

    async def connect(self) -> bool:
        r = self.gen.results
        sio = socketio.AsyncClient(
            reconnection=False, http_session=self.gen.proctor_http, handle_sigint=False
        )

        async def on_disconnect(*_args: Any) -> None:
            if not self.closing:
                r.proctor_counts["disconnects"] += 1
                self.watching.clear()

        def on_warning_ack(*_args: Any) -> None:
            r.proctor_counts["warning_ack"] += 1

        sio.on("disconnect", on_disconnect, namespace=PROCTOR_NS)
        sio.on("incident", self._on_incident, namespace=PROCTOR_NS)
        sio.on("seats", self._on_seats, namespace=PROCTOR_NS)
        sio.on("beats", self._on_beats, namespace=PROCTOR_NS)
        sio.on("warning_ack", on_warning_ack, namespace=PROCTOR_NS)
        try:
            await sio.connect(
                self.url,
                namespaces=[PROCTOR_NS],
                auth={"token": self.spec.token},
                transports=["websocket"],
                wait_timeout=30,
            )
        except Exception as exc:
            data = exc.args[1] if len(exc.args) > 1 else None
            code = data.get("error") if isinstance(data, dict) else type(exc).__name__
            r.err(f"proctor_connect:{code}")
            with contextlib.suppress(Exception):
                await sio.disconnect()
            return False
        self.sio = sio
        fut = asyncio.get_running_loop().create_future()

        def ack(*args: Any) -> None:
            if not fut.done():
                fut.set_result(args[0] if args else None)

        t = time.perf_counter()
        body = {"session_id": self.session_id, "room_ids": [self.spec.room_id]}
        await sio.emit("watch", body, namespace=PROCTOR_NS, callback=ack)
        try:
            snap = await asyncio.wait_for(fut, 60)
        except TimeoutError:
            r.err("proctor_watch:timeout")
            return False
        if not isinstance(snap, dict) or not snap.get("ok"):
            r.err(f"proctor_watch:{(snap or {}).get('error')}")
            return False
        r.lat("proctor_watch", time.perf_counter() - t)
        for room in snap.get("rooms") or []:
            for seat in room.get("seats") or []:
                self.tickets[seat["registration_id"]] = seat["ticket_number"]
        self.watching.set()
        return True

    async def life(self) -> None:
        """Connected and watching until closed; reconnects (and watches again) when dropped."""
        while not self.closing:
            if not self.watching.is_set():
                if self.sio is not None:
                    with contextlib.suppress(Exception):
                        await self.sio.disconnect()
                    self.sio = None
                if not await self.connect():
                    await asyncio.sleep(2)
                    continue
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        self.closing = True
        if self.sio is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sio.disconnect(), 5)


class Generator:
    def __init__(
        self,
        targets: list[str],
        identities: list[Identity],
        cfg: LoadConfig,
        *,
        proctors: list[ProctorSpec] | None = None,
        session_id: int | None = None,
    ):
        self.targets = targets
        self.identities = identities
        self.cfg = cfg
        self.results = Results(len(identities))
        self.http: dict[int, aiohttp.ClientSession] = {}
        self.sign_in_gate = asyncio.Semaphore(cfg.sign_in_concurrency)
        self.ending = asyncio.Event()
        self.steady = asyncio.Event()  # the steady phase began
        self.quiet = False  # heartbeats only: no saves, signals or clock syncs
        self.proctor_specs = proctors or []
        self.session_id = session_id
        self.proctor_http: aiohttp.ClientSession | None = None
        self._gc_t: float | None = None

    async def _lag_monitor(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            self.results.loop_lag.append((time.time(), time.monotonic() - t - 0.1))

    def _mark(self, phase: str) -> None:
        self.results.phases[phase] = time.time()
        self.results.cpu[phase] = time.process_time()
        self.results.phase = phase

    def _gc_callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_t = time.perf_counter()
        elif self._gc_t is not None:
            self.results.gc_pauses.append((time.time(), time.perf_counter() - self._gc_t))
            self._gc_t = None

    async def run(
        self,
        start: Callable[[], Awaitable[Any]],
        log: Callable[[str], None] = print,
        on_phase: Callable[[str], Awaitable[Any]] | None = None,
    ) -> Results:
        """Sign everyone in and connect, call ``start()`` (the unified start), wait for every
        paper, run the steady phase for ``duration`` seconds, then drain and submit.
        ``on_phase(name)`` is awaited right after the marks ``steady``, ``end`` and, with a
        heartbeat-only phase, ``hb_only`` and ``drain`` (e.g. to read the server's counters)."""
        cfg, r = self.cfg, self.results
        rng = random.Random(cfg.seed)

        async def phase_hook(name: str) -> None:
            if on_phase is not None:
                await on_phase(name)

        for room in sorted({i.room for i in self.identities}):
            conn = aiohttp.TCPConnector(
                limit=0, local_addr=(f"127.0.{1 + room // 250}.{1 + room % 250}", 0)
            )
            self.http[room] = aiohttp.ClientSession(connector=conn)
        for ident in self.identities:
            r.candidate_server[ident.ticket] = (ident.room, ident.server)
        proctors = [Proctor(self, spec, self.session_id or 0) for spec in self.proctor_specs]
        proctor_tasks: list[asyncio.Task] = []
        if proctors:
            self.proctor_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            for p in proctors:
                r.proctor_server[p.spec.room] = p.spec.server
            proctor_tasks = [asyncio.create_task(p.life()) for p in proctors]
            try:
                await asyncio.wait_for(asyncio.gather(*(p.watching.wait() for p in proctors)), 120)
            except TimeoutError:
                log("  some proctors could not connect and watch within 120 s")
            log(f"  {sum(p.watching.is_set() for p in proctors)} proctors watching their rooms")
        lag = asyncio.create_task(self._lag_monitor())
        gc.callbacks.append(self._gc_callback)
        # Thousands of long-lived connections make full collections long (a second and more,
        # during which no ack is read): collect young objects less often, and freeze what
        # exists once everyone is connected and again once every paper is in.
        thresholds = gc.get_threshold()
        gc.set_threshold(20_000, 50, 100)
        self._mark("connect")
        cands = [Candidate(self, ident, k) for k, ident in enumerate(self.identities)]
        droppers = set(rng.sample(range(len(cands)), round(len(cands) * cfg.drop_rate)))
        lives: list[asyncio.Task] = []
        try:
            lives = [asyncio.create_task(c.life()) for c in cands]
            await asyncio.wait_for(
                asyncio.gather(*(c.ready.wait() for c in cands)), cfg.ready_timeout
            )
            ready_deadline = time.monotonic() + 60
            while time.monotonic() < ready_deadline and any(
                c.state != "waiting" and not c.failed for c in cands
            ):
                await asyncio.sleep(0.5)
            r.counts["ready"] = sum(1 for c in cands if c.state == "waiting")
            log(
                f"  {r.counts['ready']} of {len(cands)} candidates waiting, "
                f"{r.connected_now} connected, after {time.time() - r.phases['connect']:.1f} s"
            )
            gc.collect()
            gc.freeze()
            self._mark("start")
            t = time.perf_counter()
            await start()
            r.lat("start_request", time.perf_counter() - t)
            paper_deadline = time.monotonic() + cfg.paper_timeout
            while time.monotonic() < paper_deadline and len(r.paper_at) < len(cands):
                await asyncio.sleep(0.1)
            delays = r.paper_delays()
            log(
                f"  {len(r.paper_at)} papers delivered, last {delays[-1] if delays else 0:.1f} s "
                "after the start"
            )
            gc.collect()
            gc.freeze()
            self._mark("steady")
            self.steady.set()
            await phase_hook("steady")
            now = time.monotonic()
            for k in sorted(droppers):
                at = now + cfg.duration * (0.1 + 0.8 * rng.random())
                cands[k].drop_task = asyncio.create_task(cands[k].dropper(at))
            await asyncio.sleep(cfg.duration)
            self._mark("end")
            await phase_hook("end")
            if cfg.heartbeat_only > 0:
                self.quiet = True
                await asyncio.sleep(3)  # saves and signals under way settle
                self._mark("hb_only")
                await phase_hook("hb_only")
                await asyncio.sleep(cfg.heartbeat_only)
                self._mark("drain")
                await phase_hook("drain")
                self.quiet = False
            self.ending.set()
            _done, pending = await asyncio.wait(lives, timeout=cfg.finish_timeout)
            for t_ in pending:
                t_.cancel()
                r.err("finish:timeout")
            self._mark("done")
        finally:
            for t_ in lives:
                t_.cancel()
            for c in cands:
                if c.drop_task is not None:
                    c.drop_task.cancel()
            await asyncio.gather(*lives, return_exceptions=True)
            for c in cands:
                if c.sio is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(c.sio.disconnect(), 2)
            await asyncio.sleep(2 if proctors else 0)  # the last pushes (seats batches) arrive
            for p in proctors:
                await p.close()
            for t_ in proctor_tasks:
                t_.cancel()
            await asyncio.gather(*proctor_tasks, return_exceptions=True)
            if self.proctor_http is not None:
                await self.proctor_http.close()
            lag.cancel()
            gc.callbacks.remove(self._gc_callback)
            gc.unfreeze()
            gc.set_threshold(*thresholds)
            for s in self.http.values():
                await s.close()
        return r

"""Proctoring on the live path: real server processes, real python-socketio clients.

Candidates connect to ``/candidate`` (with a device id), proctors to ``/proctor`` (bearer token
or session cookie); proctor actions go through the HTTP API. The multi-process test runs two
server processes on PostgreSQL + Redis; the Redis test starts its own ``redis-server`` and
stops it under a running server. The SQL count of heartbeats is measured in process.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlalchemy import create_engine, event, text

from exam_server.extensions import db
from tests.conftest import service_missing
from tests.live_support import (
    ServerProcess,
    answer_for,
    assign_proctor,
    free_port,
    migrated_app,
    prepare_exam,
    release_database,
    sign_in,
)

pytestmark = pytest.mark.live

CANDIDATE = "/candidate"
PROCTOR = "/proctor"
CANDIDATE_EVENTS = ("state", "warning", "submitted", "started")
CONSOLE_EVENTS = ("seats", "incident", "beats", "warning_ack")
REDIS_URL = "redis://127.0.0.1:6379/15"


# -- helpers -------------------------------------------------------------------------------------


class Recorder:
    """Collects pushed events; ``wait`` returns the first matching one (or fails)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, float]] = []
        self.cond = threading.Condition()

    def handler(self, name: str) -> Callable:
        def on_event(data: Any = None) -> None:
            with self.cond:
                self.events.append((name, data, time.monotonic()))
                self.cond.notify_all()

        return on_event

    def wait(
        self, name: str, pred: Callable[[Any], bool] = lambda d: True, timeout: float = 10
    ) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for n, data, _t in self.events:
                    if n == name and pred(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(n, d) for n, d, _t in self.events][-10:]
                    raise AssertionError(f"no matching {name!r} within {timeout} s; last: {seen}")
                self.cond.wait(left)

    def arrived(self, data: Any) -> float:
        """When ``data`` (an event returned by :meth:`wait`) arrived (monotonic)."""
        with self.cond:
            return next(t for _n, d, t in self.events if d is data)

    def clear(self) -> None:
        with self.cond:
            self.events.clear()


def prepare(
    database_url: str,
    tmp_path: Path,
    *,
    candidates: int = 3,
    policy: dict[str, Any] | None = None,
):
    """An exam ready to sit, the demo proctor assigned to its room, an optional policy."""
    app = migrated_app(database_url, tmp_path / "prep")
    world = prepare_exam(app, candidates=candidates, duration_minutes=60)
    assign_proctor(app, world, policy=policy)
    release_database(app)
    return world


def request_json(
    srv: ServerProcess, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        f"{srv.url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def staff_token(srv: ServerProcess, username: str = "proctor") -> str:
    status, body = request_json(
        srv,
        "POST",
        "/api/auth/token",
        {"username": username, "password": f"{username}-demo-1"},
    )
    assert status == 200, body
    return body["token"]


def act(srv: ServerProcess, token: str, world, action: str, **fields: Any) -> dict[str, Any]:
    status, body = request_json(
        srv,
        "POST",
        f"/api/v1/proctor/sessions/{world.session_id}/actions",
        {"action": action, "reason": fields.pop("reason", "监考处理"), **fields},
        token,
    )
    assert status == 200, body
    return body


def candidate(srv: ServerProcess, token: str, device: str | None = "dev-a") -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.rec = Recorder()
    for name in CANDIDATE_EVENTS:
        client.on(name, client.rec.handler(name), namespace=CANDIDATE)
    auth = {"token": token}
    if device is not None:
        auth["device"] = device
    client.connect(
        srv.url, namespaces=[CANDIDATE], auth=auth, transports=["websocket"], wait_timeout=10
    )
    return client


def refused(srv: ServerProcess, token: str, device: str) -> dict[str, Any]:
    """Connect and expect a refusal; returns the connect_error data."""
    client = socketio.Client(reconnection=False)
    got: list[Any] = []
    client.on("connect_error", lambda data=None: got.append(data), namespace=CANDIDATE)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(
                srv.url,
                namespaces=[CANDIDATE],
                auth={"token": token, "device": device},
                transports=["websocket"],
                wait_timeout=10,
            )
    finally:
        client.disconnect()
    assert got and isinstance(got[0], dict), got
    # Socket.IO's connect_error: {message, data}; the server's {error, message, …} is the data.
    return got[0]["data"]


def call(client: socketio.Client, event: str, data: Any = None, ns: str = CANDIDATE):
    return client.call(event, data if data is not None else {}, namespace=ns, timeout=15)


def beat(client: socketio.Client, **over: Any) -> dict[str, Any]:
    body = {
        "visible": True,
        "focused": True,
        "fullscreen": True,
        "client_time": time.time() * 1000,
        **over,
    }
    return call(client, "heartbeat", body)


def console(
    srv: ServerProcess,
    token: str | None,
    session_id: int,
    *,
    headers: dict[str, str] | None = None,
) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.rec = Recorder()
    for name in CONSOLE_EVENTS:
        client.on(name, client.rec.handler(name), namespace=PROCTOR)
    client.connect(
        srv.url,
        namespaces=[PROCTOR],
        auth={"token": token} if token else None,
        headers=headers or {},
        transports=["websocket"],
        wait_timeout=10,
    )
    client.snapshot = call(client, "watch", {"session_id": session_id}, ns=PROCTOR)
    assert client.snapshot["ok"], client.snapshot
    return client


def seat_row(client: socketio.Client, reg_id: int, pred: Callable[[dict], bool], timeout=10):
    """Wait for a ``seats`` push whose row of ``reg_id`` satisfies ``pred``."""

    def match(data: dict) -> bool:
        return any(s["registration_id"] == reg_id and pred(s) for s in data["seats"])

    data = client.rec.wait("seats", match, timeout)
    return next(s for s in data["seats"] if s["registration_id"] == reg_id)


def watched_seat(
    srv: ServerProcess, world, i: int = 0
) -> tuple[int, str, socketio.Client, socketio.Client]:
    """Candidate ``i`` signed in and connected (``hello`` done) while the demo proctor watches
    the session: ``(registration id, proctor token, console, candidate client)``."""
    proctor_token = staff_token(srv)
    proctor = console(srv, proctor_token, world.session_id)
    client = candidate(srv, sign_in(srv, world, i))
    call(client, "hello")
    return world.candidates[i].registration_id, proctor_token, proctor, client


def no_tracebacks(*servers: ServerProcess) -> None:
    for srv in servers:
        assert "Traceback" not in srv.log(), srv.log()


@pytest.fixture
def world(database_url: str, tmp_path: Path):
    return database_url, prepare(database_url, tmp_path)


@pytest.fixture
def server(world, tmp_path: Path):
    url, _world = world
    srv = ServerProcess(url, tmp_path / "server", extra_env={"EXAM_SWEEP_INTERVAL_SECONDS": "0.5"})
    yield srv
    srv.stop()
    no_tracebacks(srv)


# -- one seat, one device ------------------------------------------------------------------------


def test_second_device_is_refused_and_the_proctor_sees_a_high_incident(world, server):
    _url, w = world
    reg = w.candidates[0].registration_id
    proctor = console(server, staff_token(server), w.session_id)
    snap = proctor.snapshot
    assert snap["read_only"] is False and [r["id"] for r in snap["rooms"]] == [w.room_id]
    seats = {s["registration_id"]: s for s in snap["rooms"][0]["seats"]}
    assert set(seats) == {c.registration_id for c in w.candidates}
    assert seats[reg]["connected"] is False and seats[reg]["total"] == 38

    token = sign_in(server, w)
    first = candidate(server, token, "dev-first")
    hello = call(first, "hello")
    assert hello["state"] == "running" and hello["heartbeat_seconds"] == 5
    assert hello["warnings"] == [] and hello["small_window_ratio"] == 0.5
    assert beat(first)["ok"]
    seat_row(proctor, reg, lambda s: s["connected"] and s["state"] == "answering")

    # Another computer with the same credentials, while the seat is connected: refused.
    again = sign_in(server, w)
    started = time.monotonic()
    data = refused(server, again, "dev-second")
    assert data.get("error") == "seat_in_use" and data["incident"], data
    pushed = proctor.rec.wait(
        "incident", lambda d: d["incident"]["kind"] == "second_device", timeout=5
    )
    assert proctor.rec.arrived(pushed) - started < 2.0
    incident = pushed["incident"]
    assert incident["severity"] == "high" and incident["registration_id"] == reg
    assert incident["evidence"]["device"] == "dev-second"
    assert incident["evidence"]["seat_device"] == "dev-first"
    seat_row(proctor, reg, lambda s: s["max_severity"] == "high" and s["open_incidents"] >= 1)

    # Trying again adds to the same incident; the first device goes on undisturbed.
    assert refused(server, again, "dev-second")["incident"] == incident["id"]
    assert proctor.rec.wait(
        "incident", lambda d: d["incident"]["id"] == incident["id"] and d["incident"]["count"] == 2
    )
    item = hello["paper"]["items"][0]
    saved = call(first, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})
    assert saved["ok"] and saved["accepted"], (saved, item)
    # A reload on the same device is fine.
    first.disconnect()
    same = candidate(server, again, "dev-first")
    assert call(same, "hello")["answers"] == {"1": "T"}
    same.disconnect()
    proctor.disconnect()


def test_move_to_a_spare_machine_after_the_proctor_approves(world, server):
    _url, w = world
    reg = w.candidates[1].registration_id
    proctor_token = staff_token(server)
    proctor = console(server, proctor_token, w.session_id)
    old = candidate(server, sign_in(server, w, 1), "pc-07")
    state = call(old, "hello")
    items = state["paper"]["items"]
    for seq, item in enumerate(items[:5], start=1):
        reply = call(
            old,
            "save",
            {
                "seq": seq,
                "kind": "answer",
                "position": item["position"],
                "answer": answer_for(item),
            },
        )
        assert reply["accepted"]
    assert call(old, "save", {"seq": 6, "kind": "flag", "position": 3, "flagged": True})["ok"]
    old.disconnect()  # the machine died
    seat_row(proctor, reg, lambda s: not s["connected"])

    # The spare machine: refused until the proctor approves the move.
    token = sign_in(server, w, 1)
    data = refused(server, token, "pc-spare")
    assert data["error"] == "move_required"
    incident = proctor.rec.wait("incident", lambda d: d["incident"]["kind"] == "device_change")[
        "incident"
    ]
    assert incident["severity"] == "medium" and incident["evidence"]["device"] == "pc-spare"
    assert incident["evidence"]["ip"] == "127.0.0.1"
    seat_row(proctor, reg, lambda s: s["move_pending"])
    assert refused(server, token, "pc-spare")["error"] == "move_required"  # still waiting

    outcome = act(
        server, proctor_token, w, "approve_move", registration_ids=[reg], reason="原机器死机"
    )
    assert outcome["applied"] == 1 and outcome["results"][0]["device"] == "pc-spare"
    resolved = proctor.rec.wait(
        "incident",
        lambda d: d["incident"]["id"] == incident["id"] and d["incident"]["status"] == "resolved",
    )["incident"]
    assert resolved["resolution"] == "原机器死机"
    seat_row(proctor, reg, lambda s: not s["move_pending"])

    spare = candidate(server, token, "pc-spare")
    resumed = call(spare, "hello")
    assert resumed["paper"] == state["paper"]
    assert resumed["answers"] == {str(i["position"]): answer_for(i) for i in items[:5]}
    assert resumed["flags"] == [3] and resumed["last_seq"] == 6
    assert 0 <= state["remaining_seconds"] - resumed["remaining_seconds"] < 30
    assert call(spare, "save", {"seq": 7, "kind": "answer", "position": 6, "answer": None})["ok"]
    # The old machine, should it come back, is now the other device.
    assert refused(server, sign_in(server, w, 1), "pc-07")["error"] == "seat_in_use"
    spare.disconnect()
    proctor.disconnect()


# -- proctor actions reach the candidate -------------------------------------------------------------


def test_pause_and_resume_keep_the_remaining_time_exact(world, server):
    url, w = world
    reg, proctor_token, proctor, client = watched_seat(server, w)

    paused = act(server, proctor_token, w, "pause", registration_ids=[reg], reason="考生身体不适")
    left = paused["results"][0]["remaining_seconds"]
    push = client.rec.wait("state", lambda d: d["reason"] == "pause")
    assert push["state"] == "paused" and "paper" not in push
    # While paused the clock stands still: the same figure now and a moment later.
    assert push["remaining_seconds"] == pytest.approx(left, abs=1e-6)
    time.sleep(1.5)
    hello = call(client, "hello")
    assert hello["state"] == "paused"
    assert hello["remaining_seconds"] == pytest.approx(left, abs=1e-6)
    refused_save = call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})
    assert refused_save["error"] == "not_started"
    seat_row(proctor, reg, lambda s: s["state"] == "paused")

    resumed = act(server, proctor_token, w, "resume", registration_ids=[reg], reason="恢复考试")
    # At the moment of resuming exactly the time left at the pause remains.
    assert resumed["results"][0]["remaining_seconds"] == pytest.approx(left, abs=1e-6)
    push = client.rec.wait("state", lambda d: d["reason"] == "resume")
    assert push["state"] == "running"
    assert left - 1.0 < push["remaining_seconds"] <= left
    engine = create_engine(url)
    with engine.connect() as conn:
        paused_seconds = conn.execute(
            text("SELECT paused_seconds FROM attempts WHERE registration_id = :r"), {"r": reg}
        ).scalar_one()
    engine.dispose()
    assert paused_seconds >= 1
    seat_row(proctor, reg, lambda s: s["state"] == "answering")

    extra = act(server, proctor_token, w, "extra_time", registration_ids=[reg], seconds=300)
    assert extra["applied"] == 1
    push = client.rec.wait("state", lambda d: d["reason"] == "extra_time")
    assert push["extra_seconds"] == 300 and push["seconds"] == 300
    assert left + 298 < push["remaining_seconds"] <= left + 300
    assert call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})["ok"]

    act(server, proctor_token, w, "force_submit", registration_ids=[reg], reason="违纪收卷")
    assert client.rec.wait("submitted")["reason"] == "proctor"
    assert client.rec.wait("state", lambda d: d["reason"] == "force_submit")["state"] == (
        "submitted"
    )
    seat_row(proctor, reg, lambda s: s["state"] == "submitted")
    client.disconnect()
    proctor.disconnect()


def test_a_warning_is_pushed_shown_in_hello_and_its_ack_reaches_the_proctor(world, server):
    _url, w = world
    reg, proctor_token, proctor, client = watched_seat(server, w, 2)

    outcome = act(
        server, proctor_token, w, "warn", registration_ids=[reg], text="请勿东张西望", reason="提醒"
    )
    warning_id = outcome["results"][0]["warning_id"]
    warning = client.rec.wait("warning")
    assert warning == {"id": warning_id, "text": "请勿东张西望", "sent_at": warning["sent_at"]}
    seat_row(proctor, reg, lambda s: s["warnings_unacked"] == 1)
    # A reload shows it again until it is acknowledged.
    client.disconnect()
    client = candidate(server, sign_in(server, w, 2))
    assert call(client, "hello")["warnings"] == [warning]

    ack = call(client, "ack_warning", {"id": warning_id})
    assert ack["ok"] and ack["id"] == warning_id and ack["acked_at"]
    got = proctor.rec.wait("warning_ack", lambda d: d["warning_id"] == warning_id)
    assert got["registration_id"] == reg
    seat_row(proctor, reg, lambda s: s["warnings_unacked"] == 0)
    assert call(client, "hello")["warnings"] == []
    assert call(client, "ack_warning", {"id": warning_id})["ok"]  # twice is harmless
    assert call(client, "ack_warning", {"id": 999999})["error"] == "not_found"
    assert call(client, "ack_warning", {"id": "x"})["error"] == "validation_error"
    client.disconnect()
    proctor.disconnect()


# -- signals, heartbeats, disconnections ------------------------------------------------------------


def test_hidden_tab_reaches_the_console_within_two_seconds(world, server):
    _url, w = world
    reg, _token, proctor, client = watched_seat(server, w)

    ack = beat(client, width=1920, height=1080, screen_width=1920, screen_height=1080, screens=1)
    assert ack["ok"] and abs(ack["server_time"] / 1000 - time.time()) < 5
    bad = call(client, "heartbeat", {"visible": "yes", "focused": True})
    assert bad["ok"] is False and bad["error"] == "validation_error" and bad["field"]
    assert call(client, "signal", {"kind": "teleport", "client_time": 1})["field"] == "kind"

    # A short glance away (under hidden_min_seconds) is no incident.
    short = {"kind": "hidden", "duration_ms": 1500, "client_time": time.time() * 1000}
    assert call(client, "signal", short) == {"ok": True}
    sent = time.monotonic()
    hidden = {"kind": "hidden", "duration_ms": 8000, "client_time": time.time() * 1000}
    assert call(client, "signal", hidden) == {"ok": True}
    incident = proctor.rec.wait("incident", lambda d: d["incident"]["kind"] == "left_page")
    delay = time.monotonic() - sent
    assert delay < 2.0, delay
    inc = incident["incident"]
    assert inc["registration_id"] == reg and inc["severity"] == "low" and inc["count"] == 1
    assert inc["evidence"]["events"][0]["seconds"] == 8.0
    assert not [
        d for n, d, _t in proctor.rec.events if n == "incident" and d["incident"]["id"] != inc["id"]
    ], "the short leave made an incident"
    # Clipboard use twice: one incident, counted twice (merged within the policy's window).
    for _ in range(2):
        assert call(client, "signal", {"kind": "paste", "client_time": time.time() * 1000})["ok"]
    clip = proctor.rec.wait(
        "incident", lambda d: d["incident"]["kind"] == "clipboard" and d["incident"]["count"] == 2
    )["incident"]
    assert clip["severity"] == "medium"

    # A save shows up as progress; heartbeats as beats (presence only).
    item = call(client, "hello")["paper"]["items"][0]
    call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": answer_for(item)})
    seat_row(proctor, reg, lambda s: s["answered"] == 1 and s["open_incidents"] == 2)
    beat(client)
    beats = proctor.rec.wait("beats", lambda d: str(reg) in d["beats"], timeout=12)
    assert beats["room_id"] == w.room_id and abs(beats["beats"][str(reg)] - time.time()) < 10
    client.disconnect()
    proctor.disconnect()


def test_a_silent_seat_gets_a_disconnection_record_and_its_time_back(database_url, tmp_path):
    w = prepare(database_url, tmp_path, policy={"heartbeat_gap_seconds": 5})
    srv = ServerProcess(
        database_url, tmp_path / "server", extra_env={"EXAM_SWEEP_INTERVAL_SECONDS": "0.5"}
    )
    try:
        reg, proctor_token, proctor, client = watched_seat(srv, w)
        beat(client)
        # The socket stays open but no heartbeat comes (a frozen page, a cable pulled).
        opened = proctor.rec.wait(
            "incident", lambda d: d["incident"]["kind"] == "disconnected", timeout=15
        )["incident"]
        assert opened["registration_id"] == reg and opened["evidence"]["to"] is None
        seat_row(proctor, reg, lambda s: s["state"] == "disconnected" and not s["connected"])
        time.sleep(1)
        beat(client)  # back
        closed = proctor.rec.wait(
            "incident",
            lambda d: d["incident"]["id"] == opened["id"] and d["incident"]["evidence"]["to"],
        )["incident"]
        seconds = closed["evidence"]["seconds"]
        assert 5 <= seconds <= 12
        seat_row(proctor, reg, lambda s: s["state"] == "answering")

        outcome = act(
            srv,
            proctor_token,
            w,
            "credit_disconnection",
            registration_ids=[reg],
            incident_id=opened["id"],
            reason="网络故障补时",
        )
        assert outcome["results"][0]["seconds"] == seconds
        push = client.rec.wait("state", lambda d: d["reason"] == "credit_disconnection")
        assert push["extra_seconds"] == seconds
        client.disconnect()
        proctor.disconnect()
    finally:
        srv.stop()
    no_tracebacks(srv)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_room_and_server_outages_are_credited_to_everyone(database_url, tmp_path):
    w = prepare(database_url, tmp_path, candidates=2, policy={"room_outage_seconds": 5})
    srv = ServerProcess(
        database_url, tmp_path / "server", extra_env={"EXAM_SWEEP_INTERVAL_SECONDS": "0.5"}
    )
    try:
        proctor = console(srv, staff_token(srv), w.session_id)
        clients = [candidate(srv, sign_in(srv, w, i), f"dev-{i}") for i in range(2)]
        for c in clients:
            call(c, "hello")
            beat(c)
        # The whole room goes silent (its network, say) for longer than room_outage_seconds.
        time.sleep(6.5)
        beat(clients[0])  # the first heartbeat after the silence credits it to everyone
        room = proctor.rec.wait("incident", lambda d: d["incident"]["kind"] == "room_outage")
        inc = room["incident"]
        assert inc["registration_id"] is None and 5 <= inc["credited_seconds"] <= 9
        for c in clients:
            push = c.rec.wait("state", lambda d: d["reason"] == "outage_credit")
            assert push["kind"] == "room_outage" and push["seconds"] == inc["credited_seconds"]
            assert push["extra_seconds"] == inc["credited_seconds"]
            beat(c)

        # The server itself stops (frozen) for longer than 15 s: each process's sweeper stamps
        # "alive"; the first sweep after the freeze credits the gap before any deadline.
        srv.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(16.5)
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        server = proctor.rec.wait(
            "incident", lambda d: d["incident"]["kind"] == "server_outage", timeout=15
        )["incident"]
        assert 15 <= server["credited_seconds"] <= 20
        for c in clients:
            push = c.rec.wait(
                "state", lambda d: d["reason"] == "outage_credit" and d["kind"] == "server_outage"
            )
            assert push["extra_seconds"] == inc["credited_seconds"] + server["credited_seconds"]
            beat(c)
        time.sleep(1)
        # The same silence is not credited twice as a room outage.
        assert [
            d["incident"]["id"]
            for n, d, _t in proctor.rec.events
            if n == "incident" and d["incident"]["kind"] == "room_outage"
        ] == [inc["id"]]
        for c in clients:
            c.disconnect()
        proctor.disconnect()
    finally:
        srv.stop()
    no_tracebacks(srv)


# -- the console's sign-in and roles ----------------------------------------------------------------


def test_console_accepts_the_session_cookie_and_enforces_roles(world, server):
    _url, w = world
    # Browser-style sign-in: the login form with its CSRF token, then the cookie on the socket.
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{server.url}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"username": "supervisor", "password": "supervisor-demo-1", "csrf_token": csrf}
    ).encode()
    opener.open(f"{server.url}/login", data=form, timeout=10).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    watcher = console(server, None, w.session_id, headers={"Cookie": cookie})
    assert watcher.snapshot["read_only"] is True  # supervisors watch every room, act nowhere
    assert len(watcher.snapshot["rooms"][0]["seats"]) == 3
    status, body = request_json(
        server,
        "POST",
        f"/api/v1/proctor/sessions/{w.session_id}/actions",
        {"action": "pause", "reason": "试试", "room_id": w.room_id},
        staff_token(server, "supervisor"),
    )
    assert status == 403, body
    bad = call(watcher, "watch", {"session_id": "one"}, ns=PROCTOR)
    assert bad["error"] == "validation_error" and bad["field"] == "session_id"
    assert call(watcher, "watch", {"session_id": 99999}, ns=PROCTOR)["error"] == "not_found"
    watcher.disconnect()

    for auth in (None, {"token": "forged"}, {"token": staff_token(server, "editor")}):
        client = socketio.Client(reconnection=False)
        errors: list[Any] = []
        client.on("connect_error", lambda d=None, e=errors: e.append(d), namespace=PROCTOR)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(server.url, namespaces=[PROCTOR], auth=auth, transports=["websocket"])
        client.disconnect()
        assert errors and errors[0]["data"]["error"] in ("unauthorized", "forbidden"), errors
    # A candidate token is no staff credential either.
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            server.url,
            namespaces=[PROCTOR],
            auth={"token": sign_in(server, w)},
            transports=["websocket"],
        )
    client.disconnect()


# -- no SQL per heartbeat (in process) ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"])
def test_heartbeats_cause_no_sql_and_a_signal_only_its_incident(app):
    from exam_server.extensions import socketio as server_io

    world = prepare_exam(app, candidates=1, duration_minutes=60)
    client = app.test_client()
    resp = client.post("/api/candidate/sign-in", json=world.sign_in_body(0))
    assert resp.status_code == 200, resp.get_json()
    sio = server_io.test_client(
        app, namespace=CANDIDATE, auth={"token": resp.get_json()["token"], "device": "dev-1"}
    )
    assert sio.is_connected(CANDIDATE)
    hello = sio.emit("hello", {}, namespace=CANDIDATE, callback=True)
    assert hello["state"] == "running" and hello["heartbeat_seconds"] == 5

    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        n = 500
        started = time.perf_counter()
        for i in range(n):
            ack = sio.emit(
                "heartbeat",
                {
                    "visible": i % 7 != 0,
                    "focused": True,
                    "fullscreen": True,
                    "client_time": time.time() * 1000,
                    "width": 1600,
                    "height": 900,
                    "screen_width": 1920,
                    "screen_height": 1080,
                    "screens": 1,
                },
                namespace=CANDIDATE,
                callback=True,
            )
            assert ack["ok"], ack
        elapsed = time.perf_counter() - started
        assert statements == [], statements[:5]
        print(f"\n{n} heartbeats: 0 SQL statements, {elapsed / n * 1e6:.0f} µs each in process")

        copy = {"kind": "copy", "client_time": time.time() * 1000, "detail": {"len": 12}}
        assert sio.emit("signal", copy, namespace=CANDIDATE, callback=True) == {"ok": True}
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith(
            "INSERT INTO INCIDENTS"
        ), statements
        statements.clear()
        # A leave shorter than the policy's minimum: the rules drop it, no SQL at all.
        short = {"kind": "blur", "duration_ms": 900, "client_time": time.time() * 1000}
        assert sio.emit("signal", short, namespace=CANDIDATE, callback=True) == {"ok": True}
        assert statements == []
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
        sio.disconnect(namespace=CANDIDATE)


# -- several processes on PostgreSQL + Redis ---------------------------------------------------------


def _redis_or_skip(url: str = REDIS_URL) -> None:
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except Exception as exc:
        service_missing("Redis", f"{url}: {exc}")


@pytest.mark.postgres
@pytest.mark.redis
def test_candidate_on_one_process_and_proctor_on_another(request, tmp_path: Path):
    _redis_or_skip()
    url = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate_postgres

    _truncate_postgres(url)
    w = prepare(url, tmp_path, candidates=4)
    env = {
        "EXAM_SWEEP_INTERVAL_SECONDS": "0.5",
        "EXAM_PRESENCE_PREFIX": f"exam-test-{uuid.uuid4().hex[:8]}:",
    }
    a = ServerProcess(url, tmp_path / "a", redis_url=REDIS_URL, extra_env=env)
    b = ServerProcess(url, tmp_path / "b", redis_url=REDIS_URL, extra_env=env)
    try:
        reg = w.candidates[0].registration_id
        proctor_token = staff_token(b)
        proctor = console(b, proctor_token, w.session_id)
        client = candidate(a, sign_in(a, w), "dev-on-a")
        state = call(client, "hello")
        beat(client)
        # Process A's batcher computes the seat; B's console gets it through Redis.
        seat_row(proctor, reg, lambda s: s["connected"] and s["state"] == "answering")
        item = state["paper"]["items"][0]
        call(
            client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": answer_for(item)}
        )
        seat_row(proctor, reg, lambda s: s["answered"] == 1)

        sent = time.monotonic()
        call(client, "signal", {"kind": "hidden", "duration_ms": 6000, "client_time": 1})
        inc = proctor.rec.wait("incident", lambda d: d["incident"]["kind"] == "left_page")
        assert time.monotonic() - sent < 2.0 and inc["incident"]["registration_id"] == reg

        # Presence is shared: a second device on B meets the seat connected on A.
        data = refused(b, sign_in(b, w), "dev-on-b")
        assert data["error"] == "seat_in_use"
        proctor.rec.wait("incident", lambda d: d["incident"]["kind"] == "second_device")
        beats = proctor.rec.wait("beats", lambda d: d["beats"].get(str(reg)), timeout=12)
        assert beats["room_id"] == w.room_id

        # An action on B reaches the candidate on A.
        act(b, proctor_token, w, "pause", registration_ids=[reg], reason="核对身份")
        assert client.rec.wait("state", lambda d: d["reason"] == "pause")["state"] == "paused"
        act(b, proctor_token, w, "warn", registration_ids=[reg], text="请坐好", reason="提醒")
        warning = client.rec.wait("warning")
        call(client, "ack_warning", {"id": warning["id"]})
        proctor.rec.wait("warning_ack", lambda d: d["warning_id"] == warning["id"])
        act(b, proctor_token, w, "resume", registration_ids=[reg], reason="核对完毕")
        assert client.rec.wait("state", lambda d: d["reason"] == "resume")["state"] == "running"
        seat_row(proctor, reg, lambda s: s["state"] == "answering" and s["warnings_unacked"] == 0)
        client.disconnect()
        proctor.disconnect()
    finally:
        a.stop()
        b.stop()
    no_tracebacks(a, b)


# -- Redis going away and coming back ---------------------------------------------------------------


class RedisServer:
    """A private ``redis-server`` on a free port, no persistence."""

    def __init__(self, port: int | None = None) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            service_missing("redis-server", "not installed")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)
        self.client = redis.Redis.from_url(self.url, decode_responses=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.mark.redis
@pytest.mark.parametrize("backend", ["sqlite"])
def test_redis_restart_keeps_heartbeats_and_saves_working(database_url, tmp_path: Path):
    w = prepare(database_url, tmp_path)
    redis_server = RedisServer()
    srv = None
    try:
        srv = ServerProcess(
            database_url,
            tmp_path / "server",
            redis_url=redis_server.url,
            extra_env={"EXAM_SWEEP_INTERVAL_SECONDS": "0.5"},
        )
        reg = w.candidates[0].registration_id
        proctor = console(srv, staff_token(srv), w.session_id)
        client = candidate(srv, sign_in(srv, w))
        items = call(client, "hello")["paper"]["items"]
        assert beat(client)["ok"]
        assert redis_server.client.hget(f"exam:p:{reg}", "device") == "dev-a"

        redis_server.stop()
        # Redis is gone: heartbeats are still answered, saves still commit to the database.
        for seq, item in enumerate(items[:5], start=1):
            assert beat(client)["ok"]
            reply = call(
                client,
                "save",
                {"seq": seq, "kind": "answer", "position": seq, "answer": answer_for(item)},
            )
            assert reply["ok"] and reply["accepted"], reply
        time.sleep(2)  # a few sweeps and batches without Redis
        assert beat(client)["ok"]
        assert srv.proc.poll() is None

        redis_server = RedisServer(redis_server.port)  # back, empty
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert beat(client)["ok"]
            if redis_server.client.hget(f"exam:p:{reg}", "last_beat"):
                break
            time.sleep(0.5)
        else:
            pytest.fail("presence did not come back after Redis restarted")
        # Pushes work again too (the console is on this process; the queue is Redis).
        call(client, "signal", {"kind": "copy", "client_time": time.time() * 1000})
        proctor.rec.wait("incident", lambda d: d["incident"]["kind"] == "clipboard")
        resumed = call(client, "hello")
        assert resumed["last_seq"] == 5 and len(resumed["answers"]) == 5
        client.disconnect()
        proctor.disconnect()
    finally:
        if srv is not None:
            srv.stop()
        redis_server.stop()
    assert srv is not None
    no_tracebacks(srv)


def test_protocol_version_is_documented():
    from exam_server.live import PROTOCOL_VERSION

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    assert f"# Candidate protocol (version {PROTOCOL_VERSION})" in doc
    for name in ("heartbeat", "signal", "ack_warning", "warning_ack", "/proctor", "beats"):
        assert f"`{name}" in doc, name

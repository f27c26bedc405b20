"""The live path against real server processes and real python-socketio clients.

Each test prepares an exam on its own database, then starts ``exam-server serve`` in a
subprocess (two of them, sharing PostgreSQL and Redis, for the multi-process test).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest
import socketio
from sqlalchemy import create_engine, text, update

from exam_server import create_app
from tests.conftest import service_missing
from tests.live_support import (
    ServerProcess,
    answer_for,
    migrated_app,
    prepare_exam,
    release_database,
    sign_in,
)

pytestmark = pytest.mark.live


@pytest.fixture
def exam_db(database_url: str, tmp_path: Path):
    """An exam ready to sit on this test's database (SQLite file or PostgreSQL)."""
    app = migrated_app(database_url, tmp_path / "prep")
    world = prepare_exam(app, candidates=3, duration_minutes=60, earliest_submit_minutes=0)
    release_database(app)
    return database_url, world


@pytest.fixture
def server(exam_db, tmp_path: Path):
    url, _world = exam_db
    srv = ServerProcess(url, tmp_path / "server")
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def connect(srv: ServerProcess, token: str) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(
        srv.url,
        namespaces=["/candidate"],
        auth={"token": token},
        transports=["websocket"],
        wait_timeout=10,
    )
    return client


def call(client: socketio.Client, event: str, data=None):
    return client.call(event, data if data is not None else {}, namespace="/candidate", timeout=15)


def test_reconnect_and_reload_resume_exactly(exam_db, server):
    _url, world = exam_db
    token = sign_in(server, world)
    first = connect(server, token)
    state = call(first, "hello")
    items = state["paper"]["items"]
    for seq, item in enumerate(items[:6], start=1):
        assert call(
            first,
            "save",
            {
                "seq": seq,
                "kind": "answer",
                "position": item["position"],
                "answer": answer_for(item),
            },
        )["accepted"]
    assert call(first, "save", {"seq": 7, "kind": "flag", "position": 2, "flagged": True})["ok"]
    assert call(first, "save", {"seq": 8, "kind": "position", "position": 5})["ok"]
    first.disconnect()
    # A new connection (a reload, or a spare machine signing in again) gets everything back.
    again = connect(server, sign_in(server, world))
    resumed = call(again, "hello")
    assert resumed["paper"] == state["paper"]
    assert resumed["answers"] == {str(i["position"]): answer_for(i) for i in items[:6]}
    assert resumed["flags"] == [2] and resumed["position"] == 5 and resumed["last_seq"] == 8
    assert 0 <= state["remaining_seconds"] - resumed["remaining_seconds"] < 30
    again.disconnect()


def test_duplicate_out_of_order_and_concurrent_saves(exam_db, server):
    url, world = exam_db
    token = sign_in(server, world)
    clients = [connect(server, token) for _ in range(3)]
    state = call(clients[0], "hello")
    tf = next(i for i in state["paper"]["items"] if i["type"] == "true_false")
    replies: list[dict] = []
    lock = threading.Lock()

    def send(client, seqs):
        for seq in seqs:
            reply = call(
                client,
                "save",
                {
                    "seq": seq,
                    "kind": "answer",
                    "position": tf["position"],
                    "answer": "T" if seq % 2 else "F",
                },
            )
            with lock:
                replies.append(reply)

    # Three connections race; seqs 1..60 arrive interleaved, out of order and some twice.
    plans = [list(range(60, 0, -3)), list(range(1, 61, 2)), [*range(2, 61, 2), 60, 59]]
    threads = [
        threading.Thread(target=send, args=(c, p)) for c, p in zip(clients, plans, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(replies) == sum(len(p) for p in plans)
    assert all(r["ok"] for r in replies), [r for r in replies if not r["ok"]][:3]
    final = call(clients[0], "hello")
    assert final["answers"][str(tf["position"])] == "F"  # seq 60 is even
    assert final["last_seq"] == 60
    accepted = [r["seq"] for r in replies if r["accepted"]]
    assert 60 in accepted and len(accepted) == len(set(accepted))
    engine = create_engine(url)
    with engine.connect() as conn:
        logged = [row[0] for row in conn.execute(text("SELECT seq FROM answer_log ORDER BY id"))]
    engine.dispose()
    # The log holds exactly the accepted saves, each once, and they only ever increase.
    assert sorted(logged) == sorted(accepted) and logged == sorted(logged)
    for c in clients:
        c.disconnect()


def _due_soon(url: str, seconds: float) -> None:
    """Move every running attempt's deadline to a few seconds from now (instead of waiting
    an hour): the server's own sweeper must then submit them."""
    from exam_server.delivery.models import Attempt

    engine = create_engine(url)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    with engine.begin() as conn:
        conn.execute(
            update(Attempt.__table__)
            .where(Attempt.__table__.c.state == "running")
            .values(deadline=soon)
        )
    engine.dispose()


def _states(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("SELECT state FROM attempts ORDER BY id"))]
    engine.dispose()
    return rows


def test_deadline_auto_submit_with_no_client_connected(exam_db, server):
    url, world = exam_db
    client = connect(server, sign_in(server, world))
    got_event = threading.Event()
    client.on("submitted", lambda data: got_event.set(), namespace="/candidate")
    call(client, "hello")  # this candidate is connected; the other two never connect
    _due_soon(url, 2)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and set(_states(url)) != {"submitted"}:
        time.sleep(0.3)
    assert _states(url) == ["submitted"] * 3
    assert got_event.wait(5), "the connected candidate was not told"
    late = call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})
    assert late["ok"] is False and late["error"] == "submitted"
    client.disconnect()


@pytest.mark.postgres
@pytest.mark.redis
def test_two_processes_share_postgres_and_redis_and_submit_exactly_once(request, tmp_path: Path):
    import redis

    redis_url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(redis_url).ping()
    except Exception as exc:
        service_missing("Redis", f"{redis_url}: {exc}")
    url = request.getfixturevalue("postgres_database")
    from tests.conftest import _truncate_postgres

    _truncate_postgres(url)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(tmp_path / "prep"),
            "SECRET_KEY": "live-test-secret",
        }
    )
    world = prepare_exam(app, candidates=12, duration_minutes=60)
    release_database(app)
    fast = {"EXAM_SWEEP_INTERVAL_SECONDS": "0.2"}
    a = ServerProcess(url, tmp_path / "a", redis_url=redis_url, extra_env=fast)
    b = ServerProcess(url, tmp_path / "b", redis_url=redis_url, extra_env=fast)
    try:
        # Candidates on both processes; the submission of each may happen in either.
        clients, events = [], []
        for i, srv in enumerate([a, b] * 2):
            client = connect(srv, sign_in(srv, world, i))
            got = threading.Event()
            client.on("submitted", lambda data, got=got: got.set(), namespace="/candidate")
            call(client, "hello")
            clients.append(client)
            events.append(got)
        _due_soon(url, 2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and set(_states(url)) != {"submitted"}:
            time.sleep(0.3)
        assert _states(url) == ["submitted"] * 12
        engine = create_engine(url)
        with engine.connect() as conn:
            per_attempt = [
                json.loads(r[0])["registration"]
                for r in conn.execute(
                    text("SELECT data FROM audit_events WHERE action = 'attempt.submitted'")
                )
            ]
        engine.dispose()
        # Exactly once: one submission event per candidate, though two sweepers raced.
        assert sorted(per_attempt) == sorted(c.registration_id for c in world.candidates)
        # Every connected candidate heard of it, whichever process submitted (Redis queue).
        assert all(e.wait(10) for e in events)
        for c in clients:
            c.disconnect()
    finally:
        a.stop()
        b.stop()
    for srv in (a, b):
        assert "Traceback" not in srv.log(), srv.log()


def test_waiting_candidates_hear_the_room_start(database_url, tmp_path: Path):
    app = migrated_app(database_url, tmp_path / "prep")
    world = prepare_exam(app, candidates=2, start=False)
    release_database(app)
    srv = ServerProcess(database_url, tmp_path / "server")
    try:
        client = connect(srv, sign_in(srv, world))
        started = threading.Event()
        client.on("started", lambda data: started.set(), namespace="/candidate")
        assert call(client, "hello")["state"] == "waiting"
        token = (
            app.test_client()
            .post("/api/auth/token", json={"username": "admin", "password": "admin-demo-1"})
            .get_json()["token"]
        )
        import urllib.request

        req = urllib.request.Request(
            f"{srv.url}/api/sessions/{world.session_id}/rooms/{world.room_id}/start",
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        assert started.wait(10), "the waiting candidate was not told of the start"
        state = call(client, "hello")
        assert state["state"] == "running" and state["paper"]["item_count"] == 38
        client.disconnect()
    finally:
        srv.stop()

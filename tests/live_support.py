"""Support for tests of the live path: an exam ready to sit, and a real server process.

:func:`prepare_exam` builds, through the staff JSON API (Flask test client) on the given app's
database, everything an exam day needs: the demo bank and users, a blueprint, a session with
one room, approved candidates, opened (papers assembled) and, by default, started.
:class:`ServerProcess` runs ``exam-server serve`` on that database in a subprocess, so tests
talk to it over real HTTP and websockets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exam_server import create_app
from exam_server.demo import setup_demo
from exam_server.extensions import db
from tests.conftest import Api

# Fits the demo bank (电工 level 4): 38 questions, 100 points, quotas per module.
DEMO_BLUEPRINT = {
    "sections": [
        {"type": "true_false", "count": 10, "points": 1, "quota_depth": 1},
        {"type": "single_choice", "count": 20, "points": 2, "quota_depth": 1},
        {"type": "multiple_choice", "count": 5, "points": 4, "quota_depth": 1},
        {"type": "fill_blank", "count": 3, "points": 10, "quotas": {"A": 1, "B": 2}},
    ],
    "duration_minutes": 90,
    "difficulty": {"tolerance": 0.02},
}


def resident_id(seq: int) -> str:
    """A valid resident ID number (GB 11643 check character, ISO 7064 MOD 11-2)."""
    first17 = f"11010519900101{seq:03d}"
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    c = (12 - total % 11) % 11
    return first17 + ("X" if c == 10 else str(c))


@dataclass
class Candidate:
    name: str
    ticket_number: str
    id_number: str
    registration_id: int


@dataclass
class ExamWorld:
    session_id: int
    session_code: str
    room_id: int
    access_code: str
    candidates: list[Candidate] = field(default_factory=list)

    def sign_in_body(self, i: int = 0) -> dict[str, str]:
        c = self.candidates[i]
        return {
            "ticket_number": c.ticket_number,
            "id_number": c.id_number,
            "access_code": self.access_code,
        }


def _api(client, username: str, password: str) -> Api:
    resp = client.post("/api/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return Api(client, resp.get_json()["token"])


def migrated_app(database_url: str, instance: Path, secret_key: str = "live-test-secret"):
    """A testing app on ``database_url`` (instance folder ``instance``), its schema upgraded to
    the newest migration."""
    from exam_server.cli import upgrade_database

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": secret_key,
        }
    )
    with app.app_context():
        upgrade_database()
        db.session.remove()
    return app


def release_database(app) -> None:
    """Close the app's database connections (before a server process takes the database)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def assign_proctor(
    app, world: ExamWorld, *, policy: dict[str, Any] | None = None, reason: str = "监考安排"
) -> None:
    """The demo proctor assigned to the world's room and, when given, ``policy`` set as the
    session's integrity policy (both by the demo administrator, with ``reason``)."""
    admin = _api(app.test_client(), "admin", "admin-demo-1")
    resp = admin.put(
        f"/api/sessions/{world.session_id}/rooms/{world.room_id}/proctors",
        json={"usernames": ["proctor"], "reason": reason},
    )
    assert resp.status_code == 200, resp.get_json()
    if policy:
        resp = admin.put(
            f"/api/v1/proctor/sessions/{world.session_id}/policy",
            json={"policy": policy, "reason": reason},
        )
        assert resp.status_code == 200, resp.get_json()


def prepare_exam(
    app,
    *,
    candidates: int = 3,
    duration_minutes: int = 90,
    earliest_submit_minutes: int = 0,
    start: bool = True,
    start_mode: str = "unified",
    scheduled_start: dt.datetime | None = None,
    code: str = "LIVE-1",
) -> ExamWorld:
    with app.app_context():
        setup_demo()
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    admin = _api(client, "admin", "admin-demo-1")
    editor = _api(client, "editor", "editor-demo-1")
    release = editor.get("/api/releases").get_json()["releases"][0]["id"]
    resp = editor.get("/api/blueprints/E4-LIVE")
    if resp.status_code == 404:
        resp = editor.post(
            "/api/blueprints",
            json={
                "occupation": "6-31-01-03",
                "level": 4,
                "code": "E4-LIVE",
                "name": "电工四级理论",
                "spec": DEMO_BLUEPRINT,
            },
        )
        assert resp.status_code == 201, resp.get_json()
        version = resp.get_json()["version"]["id"]
    else:
        version = resp.get_json()["versions"][-1]["id"]
    start_at = scheduled_start or (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    body = {
        "code": code,
        "name": "实时测试场次",
        "occupation": "6-31-01-03",
        "level": 4,
        "scheduled_start": start_at.isoformat(),
        "duration_minutes": duration_minutes,
        "late_entry_minutes": 30,
        "earliest_submit_minutes": earliest_submit_minutes,
        "start_mode": start_mode,
        "release_id": release,
        "blueprint_version_id": version,
        "rooms": [{"name": "第一考场", "capacity": max(candidates, 1) + 5}],
    }
    if start_mode == "window":
        body["start_window_minutes"] = 60
    resp = admin.post("/api/sessions", json=body)
    assert resp.status_code == 201, resp.get_json()
    es = resp.get_json()["session"]
    sid, room = es["id"], es["rooms"][0]
    world = ExamWorld(sid, code, room["id"], room["access_code"])
    for i in range(candidates):
        idn = resident_id(i + 1)
        resp = admin.post(
            f"/api/sessions/{sid}/registrations",
            json={
                "candidate_name": f"考生{'甲乙丙丁戊己庚辛壬癸'[i % 10]}{'一二三四五六七八九十'[i // 10 % 10]}",
                "id_number": idn,
                "room": "第一考场",
            },
        )
        assert resp.status_code == 201, resp.get_json()
        reg = resp.get_json()["registration"]
        world.candidates.append(
            Candidate(reg["candidate_name"], reg["ticket_number"], idn, reg["id"])
        )
    resp = admin.post(
        f"/api/sessions/{sid}/eligibility",
        json={
            "registration_ids": [c.registration_id for c in world.candidates],
            "status": "approved",
        },
    )
    assert resp.status_code == 200, resp.get_json()
    resp = admin.post(f"/api/sessions/{sid}/transitions", json={"action": "open"})
    assert resp.status_code == 200, resp.get_json()
    if start and start_mode == "unified":
        resp = admin.post(f"/api/sessions/{sid}/rooms/{room['id']}/start", json={})
        assert resp.status_code == 200, resp.get_json()
    return world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``exam-server serve`` in a subprocess on a given database; stops on ``stop()``."""

    def __init__(
        self,
        database_url: str,
        instance: Path,
        *,
        redis_url: str | None = None,
        extra_env: dict[str, str] | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "EXAM_DATABASE_URL": database_url,
            "EXAM_INSTANCE_PATH": str(instance),
            "EXAM_SECRET_KEY": "live-test-secret",
        }
        env.pop("EXAM_REDIS_URL", None)
        if redis_url:
            env["EXAM_REDIS_URL"] = redis_url
        env.update(extra_env or {})
        exe = Path(sys.executable).with_name("exam-server")
        self.log_path = instance / f"server-{self.port}.log"
        instance.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start:\n{self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@contextmanager
def serving(app, database_url: str, instance: Path, **options: Any) -> Iterator[ServerProcess]:
    """A :class:`ServerProcess` on ``app``'s database (``options`` as for it); at the end it
    stops and the app's connections are closed."""
    server = ServerProcess(database_url, instance, **options)
    try:
        yield server
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()


def sign_in(srv: ServerProcess, world: ExamWorld, i: int = 0) -> str:
    """Candidate ``i`` of ``world`` signs in on ``srv``: their token."""
    status, body = srv.post_json("/api/candidate/sign-in", world.sign_in_body(i))
    assert status == 200, body
    return body["token"]


def answer_for(item: dict):
    """An answer of the right shape for a paper ``item``."""
    if item["type"] == "true_false":
        return "T"
    if item["type"] == "fill_blank":
        return ["答"] * item["blanks"]
    return ["A"]

"""Factory helpers and fixtures of the exam-session tests: valid ID numbers, a bank release,
a session with rooms, an injectable clock."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from tests.question_bank.helpers import OCC, add_item, approve, setup_bank

# 09:00 in Beijing on the exam day.
T0 = dt.datetime(2026, 6, 15, 1, 0, tzinfo=dt.UTC)


def valid_id(seq: int, birth: str = "19900101", region: str = "110105") -> str:
    """A resident ID number with a correct check character.

    The check character is computed here in the ISO 7064 MOD 11-2 form of GB 11643:
    S = sum of d_i * (2**(17 - i) mod 11) over the first 17 digits, then
    c = (12 - S mod 11) mod 11, written as X when c = 10 — a different formula from the
    lookup table in exam_server.sessions.idcard, so each checks the other.
    """
    first17 = f"{region}{birth}{seq:03d}"
    assert len(first17) == 17
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    c = (12 - total % 11) % 11
    return first17 + ("X" if c == 10 else str(c))


def wrong_check(number: str) -> str:
    """The same number with a different, wrong check character."""
    last = number[-1]
    return number[:-1] + ("0" if last != "0" else "1")


class Clock:
    """app.config["CLOCK"]: returns ``now``, which tests move by hand."""

    def __init__(self, now: dt.datetime = T0 - dt.timedelta(hours=1)):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, minutes_after_t0: float) -> None:
        self.now = T0 + dt.timedelta(minutes=minutes_after_t0)


def make_release(api_as) -> int:
    """An occupation (electrician, level 4) with two approved items, a release R1 and a
    blueprint "BP-T" (one single-choice question worth 100 points) for it."""
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    add_item(ed, "Q1")
    approve(ed, rev, "Q1")
    add_item(ed, "Q2", stem="<p>电功率的单位是？</p>", key=["B"])
    approve(ed, rev, "Q2")
    resp = ed.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "R1"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["release"]["id"]


BLUEPRINT_SPEC = {
    "sections": [{"type": "single_choice", "count": 1, "points": 100, "quotas": {"A": 1}}],
    "duration_minutes": 90,
    "difficulty": {"tolerance": 0.5},
}


def make_blueprint(api_as) -> int:
    """The id of blueprint version 1 of "BP-T" (needs the bank of :func:`make_release`)."""
    resp = api_as("editor").post(
        "/api/blueprints",
        json={
            "occupation": OCC,
            "level": 4,
            "code": "BP-T",
            "name": "电工四级理论（测试）",
            "spec": BLUEPRINT_SPEC,
        },
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["version"]["id"]


def session_body(**over: Any) -> dict[str, Any]:
    body = {
        "code": "E2026061501",
        "name": "2026年6月电工四级理论考试",
        "occupation": OCC,
        "level": 4,
        "scheduled_start": T0.isoformat(),
        "duration_minutes": 90,
        "late_entry_minutes": 15,
        "earliest_submit_minutes": 30,
        "rooms": [{"name": "第一考场", "capacity": 30}, {"name": "第二考场", "capacity": 2}],
    }
    body.update(over)
    return body


def create_session(admin, **over: Any) -> dict[str, Any]:
    resp = admin.post("/api/sessions", json=session_body(**over))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["session"]


def patch(api, path: str, json: Any):
    return api.client.patch(path, json=json, headers=api._headers())


def delete(api, path: str, json: Any = None):
    return api.client.delete(path, json=json, headers=api._headers())


def add_candidate(admin, sid: int, name: str, seq: int, **over: Any) -> dict[str, Any]:
    body = {"candidate_name": name, "id_number": valid_id(seq), "room": "第一考场", **over}
    resp = admin.post(f"/api/sessions/{sid}/registrations", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["registration"]


def png(width: int = 60, height: int = 80, color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """Staff users are made per test; scrypt's deliberate slowness is not under test here."""
    from werkzeug.security import generate_password_hash

    import exam_server.models

    monkeypatch.setattr(
        exam_server.models,
        "generate_password_hash",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"),
    )


@pytest.fixture
def clock(app) -> Clock:
    c = Clock()
    app.config["CLOCK"] = c
    return c


@pytest.fixture
def world(app, api_as, clock) -> dict[str, Any]:
    """A planned session with a pinned release, two rooms (30 and 2 seats), a proctor on
    room 1, and three candidates in room 1: two approved (张三, 李四), one pending (王五)."""
    admin = api_as("admin")
    release = make_release(api_as)
    blueprint_version = make_blueprint(api_as)
    es = create_session(admin, release_id=release, blueprint_version_id=blueprint_version)
    sid = es["id"]
    room1, room2 = es["rooms"]
    api_as("proctor")
    resp = admin.put(
        f"/api/sessions/{sid}/rooms/{room1['id']}/proctors", json={"usernames": ["proctor"]}
    )
    assert resp.status_code == 200, resp.get_json()
    regs = [
        add_candidate(admin, sid, "张三", 1),
        add_candidate(admin, sid, "李四", 2),
        add_candidate(admin, sid, "王五", 3),
    ]
    resp = admin.post(
        f"/api/sessions/{sid}/eligibility",
        json={"registration_ids": [regs[0]["id"], regs[1]["id"]], "status": "approved"},
    )
    assert resp.status_code == 200, resp.get_json()
    return {
        "admin": admin,
        "sid": sid,
        "release": release,
        "room1": room1,
        "room2": room2,
        "regs": regs,
        "clock": clock,
    }


def open_session(world) -> dict[str, Any]:
    resp = world["admin"].post(f"/api/sessions/{world['sid']}/transitions", json={"action": "open"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()

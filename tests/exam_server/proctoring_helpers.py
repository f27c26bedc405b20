"""Fixtures of the proctoring tests: an exam with two started rooms, their proctors, a
supervisor, in-memory presence and an injected clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from exam_server.delivery.models import Attempt
from exam_server.extensions import db
from exam_server.proctoring import services
from exam_server.proctoring.presence import MemoryPresence
from tests.exam_server import sessions_helpers as helpers
from tests.exam_server.sessions_helpers import T0, add_candidate, open_session

clock, world, fast_passwords = helpers.clock, helpers.world, helpers.fast_passwords


@dataclass
class Proctored:
    sid: int
    room_a: int  # 第一考场: proctor "proctor"; 张三, 李四 (王五 is not approved)
    room_b: int  # 第二考场: proctor "proctor-b"; 赵六
    regs: dict[str, int]  # name -> registration id
    admin: Any
    proctor: Any
    proctor_b: Any
    supervisor: Any
    clock: helpers.Clock
    presence: MemoryPresence
    pushed: list[tuple[str, list[int], list[int], dict]] = field(default_factory=list)
    incidents_pushed: list[list[dict]] = field(default_factory=list)

    def attempt(self, name: str) -> Attempt:
        db.session.expire_all()
        return db.session.scalar(select(Attempt).where(Attempt.registration_id == self.regs[name]))

    def now(self) -> dt.datetime:
        return self.clock.now

    def advance(self, seconds: float) -> dt.datetime:
        self.clock.now += dt.timedelta(seconds=seconds)
        return self.clock.now


@pytest.fixture
def proctored(app, api_as, world, monkeypatch) -> Proctored:
    admin, sid = world["admin"], world["sid"]
    room_a, room_b = world["room1"]["id"], world["room2"]["id"]
    zhao = add_candidate(admin, sid, "赵六", 4, room="第二考场")
    resp = admin.post(
        f"/api/sessions/{sid}/eligibility",
        json={"registration_ids": [zhao["id"]], "status": "approved"},
    )
    assert resp.status_code == 200, resp.get_json()
    proctor_b = api_as("proctor", username="proctor-b")
    resp = admin.put(
        f"/api/sessions/{sid}/rooms/{room_b}/proctors", json={"usernames": ["proctor-b"]}
    )
    assert resp.status_code == 200, resp.get_json()
    open_session(world)
    world["clock"].now = T0
    proctor = api_as("proctor")
    for api, room in ((proctor, room_a), (proctor_b, room_b)):
        resp = api.post(f"/api/sessions/{sid}/rooms/{room}/start", json={"reason": "开考"})
        assert resp.status_code == 200, resp.get_json()
    regs = {r["candidate_name"]: r["id"] for r in world["regs"]}
    regs["赵六"] = zhao["id"]
    presence = MemoryPresence()
    app.extensions["presence"] = presence
    p = Proctored(
        sid=sid,
        room_a=room_a,
        room_b=room_b,
        regs=regs,
        admin=admin,
        proctor=proctor,
        proctor_b=proctor_b,
        supervisor=api_as("supervisor"),
        clock=world["clock"],
        presence=presence,
    )
    monkeypatch.setattr(
        services, "ACTION_LISTENERS", [lambda *args: p.pushed.append(args)], raising=True
    )
    monkeypatch.setattr(services, "INCIDENT_LISTENERS", [p.incidents_pushed.append], raising=True)
    # Every approved candidate's attempt runs from T0.
    for name in ("张三", "李四", "赵六"):
        a = p.attempt(name)
        services.delivery.ensure_started(db.session, a, T0)
    db.session.commit()
    return p

"""Candidate check-in: POST /api/candidate/sign-in with ticket number, ID number and room access
code; the late-entry cutoff on an injected clock; rate limiting; the append-only record; the
candidate token."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from exam_server.extensions import db
from exam_server.sessions import checkin
from exam_server.sessions.models import CheckIn
from question_bank.audit import AuditEvent, verify_chain
from tests.exam_server import sessions_helpers as helpers
from tests.exam_server.sessions_helpers import open_session, patch, valid_id

clock, world, fast_passwords = helpers.clock, helpers.world, helpers.fast_passwords

URL = "/api/candidate/sign-in"
UA = {"User-Agent": "ExamKiosk/1.0 (Windows NT 10.0)"}


def credentials(world, index: int = 0, **over) -> dict[str, str]:
    reg = world["regs"][index]
    body = {
        "ticket_number": reg["ticket_number"],
        "id_number": valid_id(index + 1),
        "access_code": world["room1"]["access_code"],
    }
    body.update(over)
    return body


def sign_in(app, body, **kw):
    return app.test_client().post(URL, json=body, headers=UA, **kw)


def attempts() -> list[CheckIn]:
    db.session.expire_all()
    return list(db.session.scalars(select(CheckIn).order_by(CheckIn.id)))


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_successful_sign_in(app, api_as, world):
    open_session(world)
    clock = world["clock"]
    clock.at(-20)
    resp = sign_in(app, credentials(world), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["protocol"] == 1 and body["first_check_in"] is True
    assert body["server_time"] == "2026-06-15T00:40:00+00:00"
    assert body["candidate"] == {
        "name": "张三",
        "ticket_number": "E202606150101001",
        "room": "第一考场",
        "seat": 1,
    }
    session = body["session"]
    assert session["code"] == "E2026061501" and session["state"] == "open"
    assert session["duration_minutes"] == 90 and session["level_name"][0] == "四级/中级工"
    # Nothing secret goes back: no access code, no ID number.
    raw = resp.get_data(as_text=True)
    assert world["room1"]["access_code"] not in raw and valid_id(1) not in raw
    (attempt,) = attempts()
    assert attempt.ok and attempt.ip == "10.1.2.3" and attempt.user_agent == UA["User-Agent"]
    assert attempt.registration_id == world["regs"][0]["id"] and attempt.failure == ""
    (ev,) = audit("candidate.checked_in")
    assert ev.actor == "candidate:E202606150101001" and json.loads(ev.data)["first"] is True
    reg = world["admin"].get(f"/api/sessions/{world['sid']}/registrations?checked_in=1")
    assert reg.get_json()["registrations"][0]["first_check_in_at"] == "2026-06-15T00:40:00+00:00"
    # The token identifies the registration and the check-in, with its own salt.
    identity = checkin.candidate_from_token(db.session, body["token"])
    assert identity.registration.id == world["regs"][0]["id"]
    assert identity.check_in_id == attempt.id
    assert checkin.candidate_from_token(db.session, body["token"] + "x") is None
    assert checkin.candidate_from_token(db.session, world["admin"].token) is None
    staff = app.test_client().get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert staff.status_code == 401
    # Typed loosely: lower case, spaces, full-width characters.
    loose = credentials(
        world,
        ticket_number=" e2026 0615 0101 001 ",
        access_code=" ".join(world["room1"]["access_code"].lower()),
        id_number="".join(chr(ord(c) + 0xFEE0) for c in valid_id(1)),
    )
    resp = sign_in(app, loose)
    assert resp.status_code == 200 and resp.get_json()["first_check_in"] is False


def test_wrong_credentials_get_one_generic_answer_and_are_recorded(app, api_as, world):
    open_session(world)
    other_room_code = world["room2"]["access_code"]
    bad = [
        credentials(world, ticket_number="NOSUCHTICKET"),
        credentials(world, id_number=valid_id(2)),
        credentials(world, access_code=other_room_code),
        credentials(world, id_number="x" * 64),
    ]
    answers = []
    for body in bad:
        resp = sign_in(app, body)
        assert resp.status_code == 401
        answers.append(resp.get_json())
    assert all(a == answers[0] for a in answers)
    assert answers[0]["error"] == "sign_in_failed" and "field" not in answers[0]
    # The refusals are committed although the replies are errors.
    assert [a.failure for a in attempts()] == [
        "unknown_ticket",
        "wrong_id_number",
        "wrong_access_code",
        "wrong_id_number",
    ]
    assert all(not a.ok and a.registration_id is None for a in attempts())
    refused = audit("candidate.sign_in_refused")
    assert len(refused) == 4 and json.loads(refused[0].data)["ticket"] == "NOSUCHTICKET"
    assert verify_chain(db.session).ok
    for body, field in [({}, "ticket_number"), ({"ticket_number": "A"}, "id_number")]:
        resp = sign_in(app, body)
        assert resp.status_code == 422 and resp.get_json()["field"] == field
    assert sign_in(app, credentials(world, access_code="")).get_json()["field"] == "access_code"
    assert len(attempts()) == 4  # malformed requests are not attempts


def test_state_and_eligibility_are_told_once_credentials_match(app, api_as, world):
    resp = sign_in(app, credentials(world))
    assert resp.status_code == 409 and resp.get_json()["error"] == "session_not_open"
    open_session(world)
    resp = sign_in(app, credentials(world, index=2))  # 王五 is pending
    assert resp.status_code == 403 and resp.get_json()["error"] == "not_eligible"
    admin, sid, regs = world["admin"], world["sid"], world["regs"]
    admin.post(
        f"/api/sessions/{sid}/registrations/{regs[2]['id']}/eligibility",
        json={"status": "rejected", "reason": "冒名顶替"},
    )
    resp = sign_in(app, credentials(world, index=2))
    assert resp.status_code == 403 and "冒名顶替" not in resp.get_data(as_text=True)
    assert [a.failure for a in attempts()] == [
        "session_not_open",
        "not_eligible_pending",
        "not_eligible_rejected",
    ]
    assert all(a.registration_id is not None for a in attempts())
    world["clock"].at(0)
    admin.post(f"/api/sessions/{sid}/transitions", json={"action": "start"})
    world["clock"].at(100)
    admin.post(f"/api/sessions/{sid}/transitions", json={"action": "close"})
    resp = sign_in(app, credentials(world))
    assert resp.status_code == 409 and "ended" in resp.get_json()["message"]
    assert attempts()[-1].failure == "session_closed"


def test_late_entry_cutoff_on_the_injected_clock(app, api_as, world):
    clock, admin, sid = world["clock"], world["admin"], world["sid"]
    late_room = helpers.add_candidate(admin, sid, "赵六", 4, room="第二考场")
    admin.post(
        f"/api/sessions/{sid}/registrations/{late_room['id']}/eligibility",
        json={"status": "approved"},
    )
    open_session(world)
    clock.at(-5)
    assert sign_in(app, credentials(world, index=0)).status_code == 200
    # The proctor starts room 1 ten minutes late: its cutoff moves with it (15 min later).
    clock.at(10)
    api_as("proctor").post(f"/api/sessions/{sid}/rooms/{world['room1']['id']}/start", json={})
    clock.at(25)  # exactly the cutoff: still in
    assert sign_in(app, credentials(world, index=1)).status_code == 200
    clock.at(25.01)
    admin.post(
        f"/api/sessions/{sid}/registrations/{world['regs'][2]['id']}/eligibility",
        json={"status": "approved"},
    )
    resp = sign_in(app, credentials(world, index=2))
    assert resp.status_code == 403 and resp.get_json()["error"] == "check_in_closed"
    assert "01:25:00" in resp.get_json()["message"]
    assert attempts()[-1].failure == "late"
    # Who checked in in time may sign in again later (reload, spare machine).
    clock.at(60)
    resp = sign_in(app, credentials(world, index=0))
    assert resp.status_code == 200 and resp.get_json()["first_check_in"] is False
    # Nobody is late before their room has started (room 2 has not).
    body = {
        "ticket_number": late_room["ticket_number"],
        "id_number": valid_id(4),
        "access_code": world["room2"]["access_code"],
    }
    assert sign_in(app, body).status_code == 200
    # Once the session starts every room, room 2's cutoff is 15 minutes from then.
    admin.post(f"/api/sessions/{sid}/registrations/{late_room['id']}/eligibility",
               json={"status": "approved"})  # fmt: skip
    detail = admin.get(f"/api/sessions/{sid}").get_json()["session"]
    assert detail["rooms"][1]["check_in_deadline"] == "2026-06-15T01:15:00+00:00"


def test_window_start_closes_check_in_with_the_window(app, api_as, world):
    admin, sid, clock = world["admin"], world["sid"], world["clock"]
    patch(admin, f"/api/sessions/{sid}", {"start_mode": "window", "start_window_minutes": 60})
    open_session(world)
    clock.at(59)
    assert sign_in(app, credentials(world, index=0)).status_code == 200
    clock.at(61)
    assert sign_in(app, credentials(world, index=1)).status_code == 403


def test_sign_in_is_rate_limited_per_address(app, api_as, world):
    open_session(world)
    app.config["CANDIDATE_SIGN_IN_RATE_PER_MINUTE"] = 3
    client = app.test_client()
    bad = credentials(world, id_number=valid_id(9))
    codes = [client.post(URL, json=bad).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    resp = client.post(URL, json=credentials(world))
    assert resp.status_code == 429 and resp.get_json()["error"] == "too_many_requests"
    other = app.test_client().post(
        URL, json=credentials(world), environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert other.status_code == 200  # another address has its own allowance


def test_sign_in_needs_no_csrf_token_but_staff_writes_do(app, api_as, world):
    open_session(world)
    client = app.test_client()
    client.get("/login")  # a session cookie exists, as in a browser
    assert client.post(URL, json=credentials(world)).status_code == 200
    resp = client.post(f"/api/sessions/{world['sid']}/transitions", json={"action": "start"})
    assert resp.status_code in (400, 401)


def test_check_ins_are_append_only(app, api_as, world):
    open_session(world)
    sign_in(app, credentials(world))
    for statement in ("UPDATE check_ins SET ok = false", "DELETE FROM check_ins"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    assert attempts()[0].ok
    listed = world["admin"].get(f"/api/sessions/{world['sid']}/check-ins").get_json()
    assert [c["ok"] for c in listed["check_ins"]] == [True]
    proctor = api_as("proctor")
    assert len(proctor.get(f"/api/sessions/{world['sid']}/check-ins").get_json()["check_ins"]) == 1


def test_sign_in_from_a_second_device_while_the_seat_is_connected(app, api_as, world):
    """One seat, one device (docs/proctoring.md): while the seat's first device is connected
    with a fresh heartbeat, a sign-in from another device is refused with 409 ``seat_in_use``
    and a high ``second_device`` incident; the same device may sign in again; once the first
    device is gone, another device may sign in (its connection then waits for the proctor)."""
    from exam_server.delivery.models import Attempt
    from exam_server.proctoring.models import Incident
    from exam_server.proctoring.presence import get_presence

    open_session(world)
    clock = world["clock"]
    clock.at(-20)
    first = sign_in(app, credentials(world, device="device-A"))
    assert first.status_code == 200, first.get_json()
    reg_id = db.session.scalar(
        select(CheckIn.registration_id).where(CheckIn.ok.is_(True)).order_by(CheckIn.id.desc())
    )
    attempt = db.session.scalar(select(Attempt).where(Attempt.registration_id == reg_id))
    attempt.device_id = "device-A"  # bound by the first socket connection
    db.session.commit()
    now = clock.now.timestamp()
    presence = get_presence(app)
    presence.connect(
        reg_id, sid="sid-1", device="device-A", ip="10.0.0.5", ua="Kiosk", process="p", now=now
    )

    refused = sign_in(app, credentials(world, device="device-B"))
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "seat_in_use"
    last = attempts()[-1]
    assert (last.ok, last.failure) == (False, "seat_in_use")
    incidents = db.session.scalars(select(Incident).where(Incident.registration_id == reg_id))
    assert [(i.kind, i.severity) for i in incidents] == [("second_device", "high")]
    assert audit("candidate.sign_in_refused")[-1].entity_id == str(last.id)

    again = sign_in(app, credentials(world, device="device-A"))
    assert again.status_code == 200

    presence.disconnect(reg_id, "sid-1", now)
    clock.at(-19)  # a minute later: the first device's last beat is long stale
    moved = sign_in(app, credentials(world, device="device-B"))
    assert moved.status_code == 200, moved.get_json()
    db.session.expire_all()
    kinds = sorted(
        i.kind
        for i in db.session.scalars(select(Incident).where(Incident.registration_id == reg_id))
    )
    assert kinds == ["device_change", "second_device"]
    assert db.session.get(Attempt, attempt.id).device_id == "device-A"  # until approved

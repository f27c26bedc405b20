"""Sessions, rooms, proctors, registrations and eligibility through the JSON API: every rule,
bad input for every field, roles, state transitions and their audit events."""

from __future__ import annotations

import json

from sqlalchemy import select

from exam_server.extensions import db
from exam_server.sessions import hooks
from question_bank.audit import AuditEvent, verify_chain
from tests.exam_server import sessions_helpers as helpers
from tests.exam_server.sessions_helpers import (
    OCC,
    T0,
    add_candidate,
    create_session,
    delete,
    make_blueprint,
    make_release,
    open_session,
    patch,
    png,
    session_body,
    valid_id,
    wrong_check,
)
from tests.question_bank.helpers import setup_bank

clock, world, fast_passwords = helpers.clock, helpers.world, helpers.fast_passwords


def events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


# -- sessions ---------------------------------------------------------------------------------


def test_create_session_with_rooms_and_read_it_back(app, api_as, clock):
    admin = api_as("admin")
    release = make_release(api_as)
    es = create_session(admin, release_id=release, blueprint_version_id=7, note="备注")
    assert es["code"] == "E2026061501" and es["state"] == "planned"
    assert es["actions"] == ["open"]
    assert es["occupation"]["code"] == OCC and es["level"] == 4
    assert es["release_name"] == "R1" and es["blueprint_version_id"] == 7
    assert es["scheduled_end"] == "2026-06-15T02:30:00+00:00"
    assert [r["number"] for r in es["rooms"]] == [1, 2]
    codes = [r["access_code"] for r in es["rooms"]]
    assert all(len(c) == 6 and c.isalnum() and c.isupper() for c in codes)
    assert len(set(codes)) == 2
    assert es["rooms"][0]["check_in_deadline"] == "2026-06-15T01:15:00+00:00"
    listed = admin.get("/api/sessions").get_json()["sessions"]
    assert [s["code"] for s in listed] == ["E2026061501"]
    created = events("exam_session.created")
    assert len(created) == 1 and created[0].actor == "admin"
    assert len(events("exam_room.created")) == 2
    # Access codes never reach the audit log, which supervisors read.
    assert not any(c in e.data for e in db.session.scalars(select(AuditEvent)) for c in codes)


BAD_SESSION_FIELDS = [
    ({"code": ""}, "code"),
    ({"code": "bad code!"}, "code"),
    ({"code": "X" * 21}, "code"),
    ({"name": ""}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"level": 0}, "level"),
    ({"level": 6}, "level"),
    ({"level": "four"}, "level"),
    ({"scheduled_start": "2026-06-15T09:00:00"}, "scheduled_start"),
    ({"scheduled_start": "tomorrow"}, "scheduled_start"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": 601}, "duration_minutes"),
    ({"late_entry_minutes": -1}, "late_entry_minutes"),
    ({"late_entry_minutes": 90}, "late_entry_minutes"),
    ({"earliest_submit_minutes": -5}, "earliest_submit_minutes"),
    ({"earliest_submit_minutes": 91}, "earliest_submit_minutes"),
    ({"start_mode": "whenever"}, "start_mode"),
    ({"start_mode": "window"}, "start_window_minutes"),
    ({"start_window_minutes": 30}, "start_window_minutes"),
    ({"start_mode": "window", "start_window_minutes": 0}, "start_window_minutes"),
    ({"release_id": 0}, "release_id"),
    ({"blueprint_version_id": -1}, "blueprint_version_id"),
    ({"note": "x" * 2001}, "note"),
    ({"rooms": [{"name": "", "capacity": 3}]}, "rooms.0.name"),
    ({"rooms": [{"name": "A", "capacity": 0}]}, "rooms.0.capacity"),
    ({"rooms": [{"name": "A", "capacity": 501}]}, "rooms.0.capacity"),
    ({"unknown_field": 1}, "unknown_field"),
]


def test_bad_session_fields_are_refused_by_name(app, api_as):
    setup_bank(api_as("editor"))
    admin = api_as("admin")
    for over, field in BAD_SESSION_FIELDS:
        resp = admin.post("/api/sessions", json=session_body(**over))
        assert resp.status_code == 422, (over, resp.get_json())
        body = resp.get_json()
        assert body["error"] == "validation_error" and body["field"] == field, (over, body)
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action.like("exam_%"))) is None


def test_session_references_and_conflicts(app, api_as):
    admin = api_as("admin")
    resp = admin.post("/api/sessions", json=session_body())
    assert resp.status_code == 404 and resp.get_json()["field"] == "occupation"
    release = make_release(api_as)
    resp = admin.post("/api/sessions", json=session_body(release_id=release + 99))
    assert resp.status_code == 404 and resp.get_json()["field"] == "release_id"
    resp = admin.post("/api/sessions", json=session_body(release_id=release, level=3))
    assert resp.status_code == 422 and resp.get_json()["field"] == "release_id"
    rooms = [{"name": "A", "capacity": 5}, {"name": "A", "capacity": 6}]
    resp = admin.post("/api/sessions", json=session_body(rooms=rooms))
    assert resp.status_code == 409 and resp.get_json()["field"] == "rooms"
    create_session(admin)
    resp = admin.post("/api/sessions", json=session_body())
    assert resp.status_code == 409 and resp.get_json()["field"] == "code"
    assert admin.get("/api/sessions/999").status_code == 404


def test_update_session_while_planned(app, api_as):
    setup_bank(api_as("editor"))
    admin = api_as("admin")
    es = create_session(admin)
    sid = es["id"]
    resp = patch(
        admin,
        f"/api/sessions/{sid}",
        {
            "duration_minutes": 120,
            "start_mode": "window",
            "start_window_minutes": 45,
            "reason": "改期",
        },
    )
    assert resp.status_code == 200, resp.get_json()
    es = resp.get_json()["session"]
    assert es["duration_minutes"] == 120 and es["start_mode"] == "window"
    assert es["window_end"] == "2026-06-15T01:45:00+00:00"
    # In window mode check-in closes with the window.
    assert es["rooms"][0]["check_in_deadline"] == es["window_end"]
    (ev,) = events("exam_session.updated")
    assert ev.reason == "改期"
    assert json.loads(ev.data)["changes"]["duration_minutes"] == [90, 120]
    resp = patch(admin, f"/api/sessions/{sid}", {"start_mode": "unified"})
    assert resp.get_json()["session"]["start_window_minutes"] is None
    for body, field in [
        ({"name": None}, "name"),
        ({"duration_minutes": 10, "earliest_submit_minutes": 5}, "late_entry_minutes"),
        ({"earliest_submit_minutes": 200}, "earliest_submit_minutes"),
        ({"code": "NEW"}, "code"),
        ({"scheduled_start": "2026-06-15 09:00"}, "scheduled_start"),
    ]:
        resp = patch(admin, f"/api/sessions/{sid}", body)
        assert resp.status_code == 422 and resp.get_json()["field"] == field, (
            body,
            resp.get_json(),
        )


def test_roles_on_session_routes(app, api_as, world):
    sid, room1 = world["sid"], world["room1"]
    editor = api_as("editor")
    assert editor.get("/api/sessions").status_code == 403
    assert editor.get(f"/api/sessions/{sid}").status_code == 403
    for role in ("proctor", "supervisor"):
        api = api_as(role)
        assert api.post("/api/sessions", json=session_body(code="X1")).status_code == 403
        assert patch(api, f"/api/sessions/{sid}", {"name": "x"}).status_code == 403
        assert (
            api.post(f"/api/sessions/{sid}/transitions", json={"action": "open"}).status_code == 403
        )
    # The assigned proctor sees the session and only their own room's access code.
    proctor = api_as("proctor")
    assert [s["id"] for s in proctor.get("/api/sessions").get_json()["sessions"]] == [sid]
    rooms = proctor.get(f"/api/sessions/{sid}").get_json()["session"]["rooms"]
    assert [r["id"] for r in rooms] == [room1["id"]]
    assert rooms[0]["access_code"] == room1["access_code"]
    # The supervisor sees every room but no access code, and ID numbers masked.
    sup = api_as("supervisor")
    rooms = sup.get(f"/api/sessions/{sid}").get_json()["session"]["rooms"]
    assert len(rooms) == 2 and all(r["access_code"] is None for r in rooms)
    regs = sup.get(f"/api/sessions/{sid}/registrations").get_json()["registrations"]
    assert regs[0]["id_number"].startswith("1101") and "*" in regs[0]["id_number"]
    regs = proctor.get(f"/api/sessions/{sid}/registrations").get_json()["registrations"]
    assert regs[0]["id_number"] == valid_id(1)
    # A proctor of another session's rooms only sees nothing.
    other = api_as("proctor", username="other-proctor")
    assert other.get("/api/sessions").get_json()["sessions"] == []
    assert other.get(f"/api/sessions/{sid}").status_code == 403
    assert other.get(f"/api/sessions/{sid}/registrations").status_code == 403


# -- rooms and proctors -----------------------------------------------------------------------


def test_rooms(app, api_as, world):
    admin, sid, room1, room2 = world["admin"], world["sid"], world["room1"], world["room2"]
    base = f"/api/sessions/{sid}/rooms"
    resp = admin.post(base, json={"name": "第三考场", "capacity": 40, "location": "实训楼301"})
    assert resp.status_code == 201
    room3 = next(r for r in resp.get_json()["session"]["rooms"] if r["name"] == "第三考场")
    assert room3["number"] == 3 and room3["location"] == "实训楼301"
    assert admin.post(base, json={"name": "第三考场", "capacity": 4}).status_code == 409
    for body, field in [
        ({"name": "", "capacity": 4}, "name"),
        ({"name": "X", "capacity": 0}, "capacity"),
        ({"name": "X", "capacity": "many"}, "capacity"),
        ({"name": "X", "capacity": 3, "location": "l" * 201}, "location"),
        ({"capacity": 3}, "name"),
    ]:
        resp = admin.post(base, json=body)
        assert resp.status_code == 422 and resp.get_json()["field"] == field, body
    resp = patch(admin, f"{base}/{room1['id']}", {"capacity": 2})  # seats 1-3 are taken
    assert resp.status_code == 409 and resp.get_json()["field"] == "capacity"
    resp = patch(admin, f"{base}/{room1['id']}", {"name": "第二考场"})
    assert resp.status_code == 409 and resp.get_json()["field"] == "name"
    resp = patch(admin, f"{base}/{room2['id']}", {"capacity": 25, "reason": "换大教室"})
    assert resp.status_code == 200
    assert delete(admin, f"{base}/{room1['id']}").status_code == 409  # it has candidates
    assert delete(admin, f"{base}/{room3['id']}").status_code == 200
    assert delete(admin, f"{base}/9999").status_code == 404
    # A new access code replaces the old one and is audited without the code.
    resp = admin.post(f"{base}/{room2['id']}/access-code", json={"reason": "泄露"})
    new_code = next(r for r in resp.get_json()["session"]["rooms"] if r["id"] == room2["id"])
    assert new_code["access_code"] != room2["access_code"]
    (ev,) = events("exam_room.access_code_changed")
    assert ev.reason == "泄露" and new_code["access_code"] not in ev.data
    assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
        "exam_room.created",
        "exam_room.updated",
        "exam_room.deleted",
    }


def test_proctor_assignment(app, api_as, world):
    admin, sid, room2 = world["admin"], world["sid"], world["room2"]
    path = f"/api/sessions/{sid}/rooms/{room2['id']}/proctors"
    api_as("editor")
    resp = admin.put(path, json={"usernames": ["editor"]})
    assert resp.status_code == 422 and resp.get_json()["field"] == "usernames.0"
    resp = admin.put(path, json={"usernames": ["proctor", "nobody"]})
    assert resp.status_code == 404 and resp.get_json()["field"] == "usernames.1"
    assert admin.put(path, json={"usernames": "proctor"}).status_code == 422
    resp = admin.put(path, json={"usernames": ["proctor", "proctor"], "reason": "排班"})
    rooms = resp.get_json()["session"]["rooms"]
    assert [p["username"] for p in rooms[1]["proctors"]] == ["proctor"]
    ev = events("exam_room.proctors_assigned")[-1]
    assert json.loads(ev.data)["after"] == ["proctor"] and ev.reason == "排班"
    assert [p["username"] for p in admin.get("/api/proctors").get_json()["proctors"]] == ["proctor"]


# -- state transitions ------------------------------------------------------------------------


def test_state_machine_with_audit_and_open_hook(app, api_as, world, monkeypatch):
    admin, sid, clock = world["admin"], world["sid"], world["clock"]
    calls = []
    monkeypatch.setattr(
        hooks, "on_session_open", lambda s, es, actor: calls.append((es.code, es.state))
    )
    path = f"/api/sessions/{sid}/transitions"
    assert admin.post(path, json={"action": "launch"}).get_json()["field"] == "action"
    for action in ("start", "close"):
        resp = admin.post(path, json={"action": action})
        assert resp.status_code == 409 and "planned" in resp.get_json()["message"], action
    resp = admin.post(path, json={"action": "open", "reason": "准备就绪"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["session"]["state"] == "open" and body["session"]["actions"] == ["start"]
    assert any("pending" in w for w in body["warnings"])
    assert any("第二考场" in w for w in body["warnings"])  # no proctor there
    assert calls == [("E2026061501", "open")]
    assert admin.post(path, json={"action": "open"}).status_code == 409
    clock.at(0)
    body = admin.post(path, json={"action": "start"}).get_json()
    assert body["session"]["state"] == "running"
    assert all(r["started_at"] == T0.isoformat() for r in body["session"]["rooms"])
    clock.at(30)
    resp = admin.post(path, json={"action": "close"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "reason"
    resp = admin.post(path, json={"action": "close", "reason": "停电，考试作废"})
    assert resp.status_code == 200 and resp.get_json()["session"]["state"] == "closed"
    assert resp.get_json()["session"]["actions"] == []
    assert admin.post(path, json={"action": "close", "reason": "x"}).status_code == 409
    opened, started, closed = (
        events("exam_session.opened"),
        events("exam_session.started"),
        events("exam_session.closed"),
    )
    assert opened[0].reason == "准备就绪" and opened[0].actor == "admin"
    assert json.loads(started[0].data)["to"] == "running"
    assert closed[0].reason == "停电，考试作废"
    assert verify_chain(db.session).ok


def test_open_needs_rooms_release_and_approved_candidates(app, api_as, clock):
    admin = api_as("admin")
    release = make_release(api_as)
    es = create_session(admin, rooms=[])
    path = f"/api/sessions/{es['id']}/transitions"
    resp = admin.post(path, json={"action": "open"})
    assert resp.status_code == 409 and resp.get_json()["field"] == "rooms"
    admin.post(f"/api/sessions/{es['id']}/rooms", json={"name": "A", "capacity": 5})
    resp = admin.post(path, json={"action": "open"})
    assert resp.status_code == 409 and resp.get_json()["field"] == "release_id"
    patch(admin, f"/api/sessions/{es['id']}", {"release_id": release})
    reg = add_candidate(admin, es["id"], "赵六", 9, room="")  # one room: the room may be omitted
    resp = admin.post(path, json={"action": "open"})
    assert resp.status_code == 409 and resp.get_json()["field"] == "registrations"
    admin.post(
        f"/api/sessions/{es['id']}/registrations/{reg['id']}/eligibility",
        json={"status": "approved"},
    )
    # Papers are assembled on opening, so a blueprint is needed too.
    resp = admin.post(path, json={"action": "open"})
    assert resp.status_code == 409 and resp.get_json()["field"] == "blueprint_version_id"
    patch(admin, f"/api/sessions/{es['id']}", {"blueprint_version_id": make_blueprint(api_as)})
    assert admin.post(path, json={"action": "open"}).status_code == 200


def test_a_refusing_open_hook_rolls_the_opening_back(app, api_as, world, monkeypatch):
    from question_bank.errors import Conflict

    def refuse(_session, _es, _actor):
        raise Conflict("the blueprint cannot be satisfied by the release", field="blueprint")

    monkeypatch.setattr(hooks, "on_session_open", refuse)
    admin, sid = world["admin"], world["sid"]
    resp = admin.post(f"/api/sessions/{sid}/transitions", json={"action": "open"})
    assert resp.status_code == 409 and resp.get_json()["field"] == "blueprint"
    assert admin.get(f"/api/sessions/{sid}").get_json()["session"]["state"] == "planned"
    assert events("exam_session.opened") == []


def test_what_can_change_after_opening(app, api_as, world):
    admin, sid, room1, regs = world["admin"], world["sid"], world["room1"], world["regs"]
    open_session(world)
    base = f"/api/sessions/{sid}"
    refused = [
        patch(admin, base, {"name": "新名称"}),
        admin.post(f"{base}/rooms", json={"name": "X", "capacity": 3}),
        patch(admin, f"{base}/rooms/{room1['id']}", {"capacity": 50}),
        delete(admin, f"{base}/rooms/{world['room2']['id']}"),
        admin.post(
            f"{base}/registrations", json={"candidate_name": "钱七", "id_number": valid_id(7)}
        ),
        patch(admin, f"{base}/registrations/{regs[0]['id']}", {"seat": 9}),
        delete(admin, f"{base}/registrations/{regs[0]['id']}"),
        delete(admin, base),
    ]
    for resp in refused:
        assert resp.status_code == 409, resp.get_json()
        assert "open" in resp.get_json()["message"]
    # Still possible: proctors, access codes, eligibility, photos.
    assert (
        admin.put(f"{base}/rooms/{room1['id']}/proctors", json={"usernames": []}).status_code == 200
    )
    assert admin.post(f"{base}/rooms/{room1['id']}/access-code", json={}).status_code == 200
    resp = admin.post(
        f"{base}/registrations/{regs[2]['id']}/eligibility", json={"status": "approved"}
    )
    assert resp.status_code == 200


def test_delete_planned_session(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    resp = delete(admin, f"/api/sessions/{sid}", {"reason": "取消"})
    assert resp.status_code == 200 and resp.get_json()["deleted"] == "E2026061501"
    assert admin.get(f"/api/sessions/{sid}").status_code == 404
    (ev,) = events("exam_session.deleted")
    assert ev.reason == "取消" and json.loads(ev.data)["registrations"] == 3


def test_proctor_starts_their_room(app, api_as, world):
    admin, sid, room1, room2, clock = (
        world[k] for k in ("admin", "sid", "room1", "room2", "clock")
    )
    proctor = api_as("proctor")
    path = f"/api/sessions/{sid}/rooms/{room1['id']}/start"
    assert proctor.post(path, json={}).status_code == 409  # still planned
    open_session(world)
    clock.at(3)
    other_room = f"/api/sessions/{sid}/rooms/{room2['id']}/start"
    assert proctor.post(other_room, json={}).status_code == 403
    resp = proctor.post(path, json={})
    assert resp.status_code == 200, resp.get_json()
    es = resp.get_json()["session"]
    assert es["state"] == "running"
    room = next(r for r in es["rooms"] if r["id"] == room1["id"])
    assert room["started_at"] == "2026-06-15T01:03:00+00:00"
    assert room["check_in_deadline"] == "2026-06-15T01:18:00+00:00"  # 15 min after its start
    assert proctor.post(path, json={}).status_code == 409
    assert json.loads(events("exam_session.started")[0].data)["by_room"] == "第一考场"
    assert events("exam_room.started")[0].actor == "proctor"
    assert admin.post(other_room, json={}).status_code == 200


def test_rooms_of_window_sessions_are_not_started(app, api_as, world):
    admin, sid, room1 = world["admin"], world["sid"], world["room1"]
    patch(admin, f"/api/sessions/{sid}", {"start_mode": "window", "start_window_minutes": 60})
    open_session(world)
    resp = admin.post(f"/api/sessions/{sid}/rooms/{room1['id']}/start", json={})
    assert resp.status_code == 409 and resp.get_json()["field"] == "start_mode"


# -- registrations ----------------------------------------------------------------------------


def test_add_registration_generates_ticket_and_seat(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    reg = add_candidate(admin, sid, " 阿依古丽·买买提 ", 4, id_number=valid_id(4).lower())
    assert reg["candidate_name"] == "阿依古丽·买买提"
    assert reg["seat"] == 4 and reg["ticket_number"] == "E202606150101004"
    assert reg["eligibility"] == "pending" and reg["id_type"] == "resident_id"
    reg = add_candidate(
        admin,
        sid,
        "John Smith",
        0,
        id_type="护照",
        id_number="e 1234 5678",
        ticket_number="t-0009",
        room="第二考场",
        seat=2,
    )
    assert (reg["id_type"], reg["id_number"], reg["ticket_number"]) == (
        "passport",
        "E12345678",
        "T-0009",
    )
    assert reg["room"] == "第二考场" and reg["seat"] == 2
    (ev,) = [e for e in events("registration.created") if "John" in e.data]
    assert "E12345678" not in ev.data  # no ID numbers in the audit log


BAD_REGISTRATIONS = [
    ({"candidate_name": ""}, 422, "candidate_name", "missing"),
    ({"candidate_name": "张3"}, 422, "candidate_name", "digits"),
    ({"candidate_name": "名" * 51}, 422, "candidate_name", "50"),
    ({"id_number": wrong_check(valid_id(5))}, 422, "id_number", "check digit"),
    ({"id_number": "11010519900230" + "0011"}, 422, "id_number", "birth date"),
    ({"id_number": "1101051990010100"}, 422, "id_number", "17 digits"),
    ({"id_number": ""}, 422, "id_number", "missing"),
    ({"id_type": "驾照"}, 422, "id_type", "unknown ID type"),
    ({"id_type": "passport", "id_number": "A#1"}, 422, "id_number", "letters, digits"),
    ({"ticket_number": "T 1"}, 422, "ticket_number", "4 to 32"),
    ({"ticket_number": "E202606150101001"}, 409, "ticket_number", "duplicate ticket"),
    ({"id_number": valid_id(1)}, 409, "id_number", "duplicate ID number"),
    ({"room": "第九考场"}, 422, "room", "unknown room"),
    ({"room": ""}, 422, "room", "missing"),
    ({"seat": 31}, 422, "seat", "capacity"),
    ({"seat": 0}, 422, "seat", "from 1"),
    ({"seat": 1}, 409, "seat", "duplicate seat"),
    ({"seat": "one"}, 422, "seat", "whole number"),
    ({"candidate_name": None}, 422, "candidate_name", ""),
    ({"extra": 1}, 422, "extra", ""),
]


def test_bad_registrations_are_refused(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    for over, status, field, words in BAD_REGISTRATIONS:
        body = {"candidate_name": "钱七", "id_number": valid_id(7), "room": "第一考场", **over}
        resp = admin.post(f"/api/sessions/{sid}/registrations", json=body)
        assert resp.status_code == status, (over, resp.get_json())
        message = resp.get_json()["message"]
        assert resp.get_json()["field"] == field and words in message, (over, message)
    assert admin.get(f"/api/sessions/{sid}/registrations").get_json()["total"] == 3


def test_full_room_is_refused(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    add_candidate(admin, sid, "甲", 11, room="第二考场")
    add_candidate(admin, sid, "乙", 12, room="第二考场")
    resp = admin.post(
        f"/api/sessions/{sid}/registrations",
        json={"candidate_name": "丙", "id_number": valid_id(13), "room": "第二考场"},
    )
    assert resp.status_code == 409 and "full" in resp.get_json()["message"]


def test_edit_registration_resets_eligibility_when_identity_changes(app, api_as, world):
    admin, sid, regs = world["admin"], world["sid"], world["regs"]
    path = f"/api/sessions/{sid}/registrations/{regs[0]['id']}"
    resp = patch(admin, path, {"room": "第二考场"})  # seat follows: the lowest free one
    reg = resp.get_json()["registration"]
    assert (reg["room"], reg["seat"], reg["eligibility"]) == ("第二考场", 1, "approved")
    resp = patch(admin, path, {"seat": 2, "ticket_number": "A-0001"})
    assert resp.get_json()["registration"]["ticket_number"] == "A-0001"
    resp = patch(admin, path, {"candidate_name": "张叁", "reason": "姓名录入错误"})
    reg = resp.get_json()["registration"]
    assert reg["candidate_name"] == "张叁" and reg["eligibility"] == "pending"
    ev = events("registration.updated")[-1]
    assert json.loads(ev.data)["eligibility_reset"] is True and ev.reason == "姓名录入错误"
    resp = patch(admin, path, {"ticket_number": regs[1]["ticket_number"]})
    assert resp.status_code == 409 and resp.get_json()["field"] == "ticket_number"
    resp = patch(admin, path, {"id_number": wrong_check(valid_id(1))})
    assert resp.status_code == 422 and resp.get_json()["field"] == "id_number"
    assert delete(admin, path, {"reason": "退考"}).status_code == 200
    assert admin.get(path).status_code == 404


def test_eligibility_decisions(app, api_as, world):
    admin, sid, regs = world["admin"], world["sid"], world["regs"]
    one = f"/api/sessions/{sid}/registrations/{regs[2]['id']}/eligibility"
    resp = admin.post(one, json={"status": "rejected"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "reason"
    resp = admin.post(one, json={"status": "rejected", "reason": "   "})
    assert resp.status_code == 422 and resp.get_json()["field"] == "reason"
    assert admin.post(one, json={"status": "maybe"}).get_json()["field"] == "status"
    resp = admin.post(one, json={"status": "rejected", "reason": "工作年限不足"})
    reg = resp.get_json()["registration"]
    assert reg["eligibility"] == "rejected" and reg["eligibility_reason"] == "工作年限不足"
    assert reg["eligibility_by_id"] is not None and reg["eligibility_at"]
    ev = events("registration.eligibility_set")[-1]
    assert (
        ev.reason == "工作年限不足" and json.loads(ev.data)["registrations"][0]["from"] == "pending"
    )
    bulk = f"/api/sessions/{sid}/eligibility"
    ids = [r["id"] for r in regs]
    resp = admin.post(bulk, json={"registration_ids": ids, "status": "pending"})
    assert resp.status_code == 200 and resp.get_json()["session"]["counts"]["pending"] == 3
    resp = admin.post(bulk, json={"registration_ids": [*ids, 9999], "status": "approved"})
    assert resp.status_code == 404
    assert admin.post(bulk, json={"registration_ids": [], "status": "approved"}).status_code == 422
    assert api_as("proctor").post(one, json={"status": "approved"}).status_code == 403
    listed = admin.get(f"/api/sessions/{sid}/registrations?eligibility=pending").get_json()
    assert listed["total"] == 3
    assert admin.get(f"/api/sessions/{sid}/registrations?eligibility=nope").status_code == 422
    found = admin.get(f"/api/sessions/{sid}/registrations?q=李").get_json()["registrations"]
    assert [r["candidate_name"] for r in found] == ["李四"]


def test_candidate_photos(app, api_as, world):
    admin, sid, regs = world["admin"], world["sid"], world["regs"]
    path = f"/api/sessions/{sid}/registrations/{regs[0]['id']}/photo"
    assert admin.get(path).status_code == 404
    resp = admin.put(path, data={"file": (__import__("io").BytesIO(b"not an image"), "p.png")})
    assert resp.status_code == 422 and resp.get_json()["field"] == "file"
    assert admin.put(path, data={}).status_code == 422
    image = png()
    resp = admin.put(path, data={"file": (__import__("io").BytesIO(image), "p.png")})
    assert resp.status_code == 200 and len(resp.get_json()["registration"]["photo"]) == 64
    got = api_as("supervisor").get(path)
    assert got.status_code == 200 and got.data == image and got.mimetype == "image/png"
    other = api_as("proctor", username="p2")
    assert other.get(path).status_code == 403
    assert delete(admin, path).status_code == 200
    assert admin.get(path).status_code == 404

"""The proctor HTTP API (/api/v1/proctor) on SQLite and PostgreSQL: snapshot, incidents,
actions with their audit events and rows, roles and rooms, payload errors, the policy."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from exam_server.delivery import services as delivery
from exam_server.extensions import db
from exam_server.proctoring import services
from exam_server.proctoring.models import Incident, ProctorAction
from question_bank.audit import AuditEvent, verify_chain
from tests.exam_server import proctoring_helpers
from tests.exam_server.sessions_helpers import T0

clock, world, fast_passwords = (
    proctoring_helpers.clock,
    proctoring_helpers.world,
    proctoring_helpers.fast_passwords,
)
proctored = proctoring_helpers.proctored


def url(p, tail: str = "") -> str:
    return f"/api/v1/proctor/sessions/{p.sid}{tail}"


def act(api, p, **body):
    return api.post(url(p, "/actions"), json=body)


def audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def action_rows(action: str) -> list[ProctorAction]:
    db.session.expire_all()
    return list(db.session.scalars(select(ProctorAction).where(ProctorAction.action == action)))


def signal(p, name: str, kind: str = "copy") -> Incident:
    [inc] = services.handle_signal(db.session, p.regs[name], {"kind": kind}, p.now())
    db.session.commit()
    return inc


def test_snapshot_shows_a_proctor_their_rooms_and_a_supervisor_everything(app, proctored):
    p = proctored
    signal(p, "张三")
    signal(p, "赵六")
    resp = p.proctor.get(url(p))
    assert resp.status_code == 200, resp.get_json()
    snap = resp.get_json()
    assert [r["id"] for r in snap["rooms"]] == [p.room_a] and snap["read_only"] is False
    assert [s["name"] for s in snap["rooms"][0]["seats"]] == ["张三", "李四"]
    assert [i["registration_id"] for i in snap["incidents"]] == [p.regs["张三"]]
    assert snap["server_time"] == p.now().isoformat() and snap["policy"]["hidden_min_seconds"] == 3
    sup = p.supervisor.get(url(p)).get_json()
    assert [r["id"] for r in sup["rooms"]] == [p.room_a, p.room_b] and sup["read_only"] is True
    assert len(sup["incidents"]) == 2
    assert p.proctor.get(url(p, f"?rooms={p.room_b}")).status_code == 403
    assert p.supervisor.get(url(p, f"?rooms={p.room_b}")).get_json()["rooms"][0]["id"] == p.room_b
    # Someone with no room in the session, or no staff role, sees nothing.
    assert p.proctor_b.get(url(p)).get_json()["rooms"][0]["id"] == p.room_b
    assert p.admin.get(url(p)).status_code == 200
    assert p.proctor.get("/api/v1/proctor/sessions/9999").status_code == 404


def test_incident_list_filters(app, proctored):
    p = proctored
    copy = signal(p, "张三", "copy")
    menu = signal(p, "李四", "context_menu")
    signal(p, "赵六", "fullscreen_exit")

    def ids(api, query=""):
        resp = api.get(url(p, "/incidents" + query))
        assert resp.status_code == 200, resp.get_json()
        return [i["id"] for i in resp.get_json()["incidents"]]

    assert ids(p.proctor) == [menu.id, copy.id]  # newest first, own room only
    assert ids(p.proctor, "?severity=medium") == [copy.id]
    assert ids(p.proctor, f"?registration={p.regs['李四']}") == [menu.id]
    assert ids(p.proctor, "?status=dismissed") == []
    assert len(ids(p.supervisor)) == 3
    assert len(ids(p.supervisor, f"?room={p.room_b}")) == 1
    assert p.proctor.get(url(p, f"/incidents?room={p.room_b}")).status_code == 403
    bad = p.proctor.get(url(p, "/incidents?severity=apocalyptic"))
    assert bad.status_code == 422 and bad.get_json()["field"] == "severity"
    assert p.proctor.get(url(p, "/incidents?room=abc")).get_json()["field"] == "room"


def test_supervisors_read_but_never_act(app, proctored):
    p = proctored
    resp = act(p.supervisor, p, action="pause", reason="巡考发现异常", room_id=p.room_a)
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
    assert p.attempt("张三").state == "running" and action_rows("pause") == []


def test_a_proctor_cannot_act_in_another_room(app, proctored):
    p = proctored
    for body in (
        {"room_id": p.room_b},
        {"registration_ids": [p.regs["赵六"]]},
        {"registration_ids": [p.regs["张三"], p.regs["赵六"]]},
    ):
        resp = act(p.proctor, p, action="pause", reason="越权操作", **body)
        assert resp.status_code == 403, body
    inc = signal(p, "赵六")
    resp = act(p.proctor, p, action="dismiss_incident", reason="误报", incident_id=inc.id)
    assert resp.status_code == 403
    assert p.attempt("张三").state == "running" and p.attempt("赵六").state == "running"
    assert action_rows("pause") == []
    # Close the session: needs the proctor of every room, or an administrator.
    assert act(p.proctor, p, action="close_session", reason="提前结束").status_code == 403


def test_bad_payloads_name_the_field(app, proctored):
    p = proctored
    reg = p.regs["张三"]
    cases = [
        ({"action": "pause", "reason": "x", "registration_ids": [reg]}, "reason"),
        ({"action": "pause", "registration_ids": [reg]}, "reason"),
        ({"action": "shout", "reason": "理由充分", "registration_ids": [reg]}, "action"),
        ({"action": "pause", "reason": "理由充分"}, "registration_ids"),
        ({"action": "pause", "reason": "理由充分", "registration_ids": []}, "registration_ids"),
        (
            {"action": "pause", "reason": "理由充分", "registration_ids": ["1"]},
            "registration_ids.0",
        ),
        ({"action": "extra_time", "reason": "理由充分", "registration_ids": [reg]}, "seconds"),
        (
            {"action": "extra_time", "reason": "理由充分", "registration_ids": [reg], "seconds": 0},
            "seconds",
        ),
        ({"action": "warn", "reason": "理由充分", "registration_ids": [reg]}, "text"),
        ({"action": "dismiss_incident", "reason": "理由充分"}, "incident_id"),
        ({"action": "start_room", "reason": "理由充分"}, "room_id"),
        ({"action": "pause", "reason": "理由充分", "room_id": p.room_a, "evil": 1}, "evil"),
    ]
    for body, field in cases:
        resp = act(p.proctor, p, **body)
        assert resp.status_code == 422, (body, resp.get_json())
        assert resp.get_json()["field"] == field, (body, resp.get_json())
    resp = p.proctor.post(url(p, "/actions"), data="nope", content_type="text/plain")
    assert resp.status_code == 422 and resp.get_json()["field"] == "body"
    resp = act(p.proctor, p, action="pause", reason="理由充分", room_id=987654)
    assert resp.status_code == 404 and resp.get_json()["field"] == "room_id"
    assert p.attempt("张三").state == "running"


def test_bulk_with_one_bad_seat_reports_it_and_applies_the_others(app, proctored):
    p = proctored
    act(p.proctor, p, action="force_submit", reason="提前交卷", registration_ids=[p.regs["李四"]])
    resp = act(
        p.proctor,
        p,
        action="pause",
        reason="教室停电",
        registration_ids=[p.regs["张三"], p.regs["李四"], 424242],
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["applied"], body["failed"]) == (1, 2)
    results = {r["registration_id"]: r for r in body["results"]}
    assert results[p.regs["张三"]]["ok"] is True
    assert results[p.regs["李四"]]["ok"] is False and results[p.regs["李四"]]["error"] == "conflict"
    assert results[424242]["error"] == "not_found"
    assert p.attempt("张三").state == "paused" and p.attempt("李四").state == "submitted"
    assert [r.registration_id for r in action_rows("pause")] == [p.regs["张三"]]


def test_pause_and_resume_keep_the_remaining_time_exact(app, proctored):
    p = proctored
    p.advance(600)
    remaining = delivery.remaining_seconds(p.attempt("张三"), p.now())
    assert remaining == 80 * 60
    resp = act(p.proctor, p, action="pause", reason="考生身体不适", room_id=p.room_a)
    assert resp.status_code == 200 and resp.get_json()["applied"] == 2
    p.advance(437)  # paused time is not counted
    seats = p.proctor.get(url(p)).get_json()["rooms"][0]["seats"]
    assert {s["state"] for s in seats} == {"paused"}
    assert {s["remaining_seconds"] for s in seats} == {remaining}
    resp = act(p.proctor, p, action="resume", reason="恢复考试", room_id=p.room_a)
    assert resp.get_json()["applied"] == 2
    a = p.attempt("张三")
    assert delivery.remaining_seconds(a, p.now()) == remaining and a.paused_seconds == 437
    p.advance(60)
    assert delivery.remaining_seconds(p.attempt("李四"), p.now()) == remaining - 60
    assert len(audit("proctor.pause")) == 2 and len(audit("attempt.resumed")) == 2
    # The candidates and the consoles were told, after the commit.
    assert [x[0] for x in p.pushed] == ["pause", "resume"]
    assert p.pushed[0][1] == sorted([p.regs["张三"], p.regs["李四"]])


def test_every_action_writes_its_row_and_audit_event(app, proctored):
    p = proctored
    zhang, li, zhao = p.regs["张三"], p.regs["李四"], p.regs["赵六"]
    inc1, inc2 = signal(p, "张三", "copy"), signal(p, "李四", "context_menu")
    # A seat that needs a move, and a seat with an ended disconnection.
    a = p.attempt("张三")
    a.device_id = "dev-1"
    db.session.commit()
    try:
        services.check_device(db.session, a, "dev-2", p.presence, p.now(), ip="10.0.0.9")
    except services.MoveRequired:
        db.session.commit()
    earlier = p.now().timestamp() - 90  # 李四's computer stopped 90 s ago
    p.presence.connect(li, sid="s", device="d", ip="1.2.3.4", ua="ua", process="t", now=earlier)
    p.presence.save_rules(li, {"ip": "1.2.3.4", "ua": "ua"})
    services.handle_connect(
        db.session,
        li,
        sid="s",
        device="d",
        ip="1.2.3.4",
        ua="ua",
        process="t",
        now=p.now(),
    )
    db.session.commit()
    [gap] = db.session.scalars(select(Incident).where(Incident.kind == "disconnected")).all()
    steps = [
        ({"action": "warn", "registration_ids": [zhang], "text": "请保持安静"}, zhang),
        ({"action": "extra_time", "registration_ids": [zhang], "seconds": 120}, zhang),
        ({"action": "pause", "registration_ids": [zhang]}, zhang),
        ({"action": "resume", "registration_ids": [zhang]}, zhang),
        ({"action": "approve_move", "registration_ids": [zhang]}, zhang),
        ({"action": "credit_disconnection", "registration_ids": [li], "incident_id": gap.id}, li),
        ({"action": "dismiss_incident", "incident_id": inc1.id}, zhang),
        ({"action": "confirm_incident", "incident_id": inc2.id}, li),
        ({"action": "force_submit", "registration_ids": [li]}, li),
        ({"action": "void", "registration_ids": [zhao]}, zhao),
    ]
    for body, reg in steps:
        api = p.proctor_b if reg == zhao else p.proctor
        resp = act(api, p, reason=f"理由：{body['action']}", **body)
        assert resp.status_code == 200, resp.get_json()
        out = resp.get_json()
        assert out["applied"] == 1 and out["failed"] == 0, out
        [row] = action_rows(body["action"])
        assert row.registration_id == reg and row.reason == f"理由：{body['action']}"
        assert row.actor == ("proctor-b" if reg == zhao else "proctor")
        [event] = audit(f"proctor.{body['action']}")
        assert event.reason == row.reason and json.loads(event.data)["action_id"] == row.id
    assert p.attempt("张三").device_id == "dev-2" and p.attempt("张三").extra_seconds == 120
    assert p.attempt("李四").state == "submitted" and p.attempt("赵六").state == "voided"
    assert gap.evidence["seconds"] == 90 and p.attempt("李四").extra_seconds == 90
    db.session.expire_all()
    assert db.session.get(Incident, inc1.id).status == "dismissed"
    assert db.session.get(Incident, inc2.id).status == "confirmed"
    assert len(audit("incident.dismissed")) == 1 and len(audit("attempt.voided")) == 1
    assert services.pending_warnings(db.session, zhang)[0]["text"] == "请保持安静"
    # Start and close: room- and session-level.
    assert verify_chain(db.session).ok


def test_start_room_and_close_session(app, api_as, proctored):
    p = proctored
    # Room A was started by its proctor in the fixture; starting again is refused per room.
    resp = act(p.proctor, p, action="start_room", reason="开考", room_id=p.room_a)
    assert resp.status_code == 200
    assert resp.get_json()["results"][0]["ok"] is False
    resp = act(p.admin, p, action="close_session", reason="考试结束")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["results"] == [{"session_id": p.sid, "ok": True}]
    assert p.attempt("张三").state == "submitted" and p.attempt("赵六").state == "submitted"
    [row] = action_rows("close_session")
    assert row.registration_id is None and row.room_id is None
    assert len(audit("proctor.close_session")) == 1
    assert p.pushed[-1][0] == "close_session"
    assert set(p.pushed[-1][2]) == {p.room_a, p.room_b}


def test_start_room_through_the_console(app, api_as, world, monkeypatch):
    from exam_server.proctoring.presence import MemoryPresence
    from tests.exam_server.sessions_helpers import open_session

    app.extensions["presence"] = MemoryPresence()
    open_session(world)
    world["clock"].now = T0
    proctor = api_as("proctor")
    sid, room = world["sid"], world["room1"]["id"]
    pushed = []
    monkeypatch.setattr(services, "ACTION_LISTENERS", [lambda *a: pushed.append(a)])
    resp = proctor.post(
        f"/api/v1/proctor/sessions/{sid}/actions",
        json={"action": "start_room", "reason": "开考", "room_id": room},
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["results"] == [{"room_id": room, "ok": True}]
    snap = proctor.get(f"/api/v1/proctor/sessions/{sid}").get_json()
    assert snap["rooms"][0]["started_at"] == T0.isoformat()
    assert {s["state"] for s in snap["rooms"][0]["seats"]} == {"not_checked_in"}
    assert pushed and pushed[0][0] == "start_room" and pushed[0][2] == [room]
    [row] = action_rows("start_room")
    assert row.room_id == room and len(audit("proctor.start_room")) == 1


def test_the_integrity_policy_is_read_by_staff_and_set_by_administrators(app, proctored):
    p = proctored
    resp = p.proctor.get(url(p, "/policy"))
    assert resp.status_code == 200 and resp.get_json()["stored"] is None
    assert resp.get_json()["policy"]["pause_after_high"] is None
    body = {"policy": {"pause_after_high": 3, "hidden_min_seconds": 5}, "reason": "省级要求"}
    assert p.proctor.put(url(p, "/policy"), json=body).status_code == 403
    assert p.supervisor.put(url(p, "/policy"), json=body).status_code == 403
    resp = p.admin.put(url(p, "/policy"), json=body)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["stored"] == {"pause_after_high": 3, "hidden_min_seconds": 5.0}
    assert p.supervisor.get(url(p, "/policy")).get_json()["policy"]["hidden_min_seconds"] == 5
    # The rules use it at once in this process: 4 s hidden is no leave any more.
    assert (
        services.handle_signal(
            db.session, p.regs["张三"], {"kind": "hidden", "duration_ms": 4000}, p.now()
        )
        == []
    )
    bad = p.admin.put(url(p, "/policy"), json={"policy": {"hidden_min_seconds": -1}})
    assert bad.status_code == 422 and bad.get_json()["field"] == "policy.hidden_min_seconds"
    bad = p.admin.put(url(p, "/policy"), json={"policy": {"nonsense": 1}})
    assert bad.status_code == 422 and bad.get_json()["field"] == "policy.nonsense"
    [event] = audit("exam_session.integrity_policy")
    assert event.reason == "省级要求"
    resp = p.admin.put(url(p, "/policy"), json={"policy": None, "reason": "恢复默认"})
    assert resp.get_json()["stored"] is None


def test_reason_is_recorded_with_who_and_when(app, proctored):
    p = proctored
    p.advance(30)
    act(
        p.proctor,
        p,
        action="extra_time",
        reason="机器故障",
        registration_ids=[p.regs["张三"]],
        seconds=90,
    )
    [row] = action_rows("extra_time")
    assert row.at == p.now() and row.actor == "proctor" and row.data["seconds"] == 90
    assert p.attempt("张三").deadline == T0 + dt.timedelta(minutes=90, seconds=90)

"""Proctoring services on SQLite and PostgreSQL: incidents from signals, the pause policy, one
seat one device, disconnections, outage credit, warnings, void, seat rows, pushes after
commit. Time is an injected clock; presence is in memory."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from exam_server.delivery import saves
from exam_server.delivery import services as delivery
from exam_server.delivery.services import AlreadySubmitted
from exam_server.extensions import db
from exam_server.models import User
from exam_server.proctoring import services
from exam_server.proctoring.models import Incident, ProctorAction
from exam_server.sessions.models import ExamSession
from question_bank.audit import Actor, AuditEvent, verify_chain
from tests.exam_server import proctoring_helpers
from tests.exam_server.sessions_helpers import T0

clock, world, fast_passwords = (
    proctoring_helpers.clock,
    proctoring_helpers.world,
    proctoring_helpers.fast_passwords,
)
proctored = proctoring_helpers.proctored


def leave(seconds: float = 5.0) -> dict:
    return {"kind": "hidden", "duration_ms": seconds * 1000}


def incidents(reg_id: int | None = None, kind: str | None = None) -> list[Incident]:
    db.session.expire_all()
    q = select(Incident).order_by(Incident.id)
    if reg_id is not None:
        q = q.where(Incident.registration_id == reg_id)
    if kind is not None:
        q = q.where(Incident.kind == kind)
    return list(db.session.scalars(q))


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def connect(p, name: str, *, sid: str = "s1", device: str = "dev-1", ip: str = "10.0.0.1"):
    services.handle_connect(
        db.session,
        p.regs[name],
        sid=sid,
        device=device,
        ip=ip,
        ua="Firefox/128",
        process="test",
        now=p.now(),
    )
    db.session.commit()


def user(name: str) -> User:
    return db.session.scalar(select(User).where(User.username == name))


def act(p, who: str, action: str, reason: str, **fields) -> services.ActionOutcome:
    """``who`` performs the proctor ``action`` now (not committed)."""
    body = {"action": action, "reason": reason, **fields}
    return services.perform_action(db.session, user(who), p.sid, body, p.now())


def save_an_answer(p, a):
    """Answer ``["A"]`` to the first question of attempt ``a``, now (sequence number 1),
    through the live path's group commit (commits the session)."""
    return saves.save(
        db.session,
        a.registration_id,
        kind="answer",
        seq=1,
        position=1,
        value=["A"],
        client_time=None,
        now=p.now(),
        grace_seconds=5,
    )


def test_signals_become_incidents_merged_and_escalated(app, proctored):
    p = proctored
    reg = p.regs["张三"]
    assert services.handle_signal(db.session, reg, leave(2.0), p.now()) == []
    for _ in range(5):
        p.advance(60)
        [inc] = services.handle_signal(db.session, reg, leave(), p.now())
    db.session.commit()
    [inc] = incidents(reg)
    assert (inc.kind, inc.severity, inc.count, inc.status) == ("left_page", "high", 5, "open")
    assert [e["leaves_in_window"] for e in inc.evidence["events"]] == [1, 2, 3, 4, 5]
    assert inc.first_at == T0 + dt.timedelta(seconds=60) and inc.last_at == p.now()
    # The rule state lives in presence, not in SQL.
    assert len(p.presence.get_many([reg])[reg].rules["leaves"]) == 5
    # Other kinds are separate incidents.
    services.handle_signal(db.session, reg, {"kind": "paste"}, p.advance(1))
    db.session.commit()
    assert [i.kind for i in incidents(reg)] == ["left_page", "clipboard"]
    # A dismissed incident is not merged into: the next signal opens a new one.
    clip = incidents(reg, "clipboard")[0]
    clip.status = "dismissed"
    db.session.commit()
    services.handle_signal(db.session, reg, {"kind": "copy"}, p.advance(1))
    db.session.commit()
    assert [i.status for i in incidents(reg, "clipboard")] == ["dismissed", "open"]


def test_pushes_go_out_after_commit_and_never_after_a_rollback(app, proctored):
    p = proctored
    services.handle_signal(db.session, p.regs["张三"], {"kind": "copy"}, p.now())
    assert services.dispatch(db.session) == 0  # nothing is durable yet
    db.session.rollback()
    assert services.dispatch(db.session) == 0 and p.incidents_pushed == []
    services.handle_signal(db.session, p.regs["李四"], {"kind": "copy"}, p.now())
    db.session.commit()
    assert services.dispatch(db.session) == 1
    [[pushed]] = p.incidents_pushed
    assert pushed["kind"] == "clipboard" and pushed["registration_id"] == p.regs["李四"]


def test_policy_pauses_the_candidate_after_n_high_incidents(app, proctored):
    p = proctored
    es = db.session.get(ExamSession, p.sid)
    services.set_policy(
        db.session,
        Actor(None, "admin"),
        es,
        {"pause_after_high": 2, "leaves_high_count": 1, "merge_minutes": 0},
        "严格执行",
    )
    db.session.commit()
    reg = p.regs["张三"]
    services.handle_signal(db.session, reg, leave(), p.advance(10))
    db.session.commit()
    assert p.attempt("张三").state == "running"
    found = services.handle_signal(db.session, reg, leave(), p.advance(10))
    db.session.commit()
    services.dispatch(db.session)
    assert [i.kind for i in found] == ["left_page", "policy_pause"]
    a = p.attempt("张三")
    assert a.state == "paused" and a.paused_at == p.now()
    [event] = events("attempt.paused")
    assert event.actor == "integrity-policy" and "2 high incidents" in event.reason
    assert ("policy_pause", [reg], [p.room_a], {"by": "policy"}) in p.pushed


def test_one_seat_one_device_and_an_approved_move(app, proctored):
    p = proctored
    reg = p.regs["张三"]
    a = p.attempt("张三")
    services.check_device(db.session, a, "dev-1", p.presence, p.now(), ip="10.0.0.1")
    assert a.device_id == "dev-1"
    connect(p, "张三")
    services.check_device(db.session, a, "dev-1", p.presence, p.now())  # a reload: fine
    # Another device while the seat is connected: refused, high incident.
    with pytest.raises(services.SeatInUse) as refused:
        services.check_device(
            db.session, a, "dev-2", p.presence, p.advance(5), ip="10.0.0.2", ua="Chrome"
        )
    db.session.commit()
    [second] = incidents(reg, "second_device")
    assert second.severity == "high" and second.evidence["device"] == "dev-2"
    assert refused.value.details == {"incident": second.id}
    assert refused.value.to_dict()["error"] == "seat_in_use"
    # The first computer crashed: no heartbeat for longer than the gap.
    p.advance(30)
    a = p.attempt("张三")
    with pytest.raises(services.MoveRequired):
        services.check_device(
            db.session, a, "dev-2", p.presence, p.now(), ip="10.0.0.2", ua="Chrome"
        )
    db.session.commit()
    with pytest.raises(services.MoveRequired):  # the page retries: the same incident
        services.check_device(
            db.session, p.attempt("张三"), "dev-2", p.presence, p.advance(3), ip="10.0.0.2"
        )
    db.session.commit()
    [move] = incidents(reg, "device_change")
    assert move.count == 2 and move.severity == "medium"
    assert move.evidence["device"] == "dev-2" and move.evidence["ip"] == "10.0.0.2"
    assert move.evidence["seat_device"] == "dev-1"
    rows = services.seat_rows(db.session, [p.room_a], p.presence, p.now())[p.room_a]
    assert next(r for r in rows if r["registration_id"] == reg)["move_pending"] is True
    # The proctor approves the move.
    outcome = act(p, "proctor", "approve_move", "原机器蓝屏", registration_ids=[reg])
    db.session.commit()
    assert outcome.results == [
        {"registration_id": reg, "ok": True, "device": "dev-2", "incident_id": move.id}
    ]
    a = p.attempt("张三")
    assert a.device_id == "dev-2"
    services.check_device(db.session, a, "dev-2", p.presence, p.now())  # now it passes
    [moved] = events("attempt.device_moved")
    assert json.loads(moved.data)["from"] == "dev-1" and moved.reason == "原机器蓝屏"
    assert incidents(reg, "device_change")[0].status == "resolved"


def test_a_disconnection_record_and_its_one_click_credit(app, proctored):
    p = proctored
    reg = p.regs["李四"]
    connect(p, "李四")
    services.handle_heartbeat(db.session, reg, "s1", {"visible": True}, p.advance(5))
    last_beat = p.now()
    p.advance(20)
    assert services.sweep(db.session, p.now()) == []  # exactly 20 s: not yet
    p.advance(1)
    [opened] = services.sweep(db.session, p.now())
    db.session.commit()
    assert opened.kind == "disconnected" and opened.severity == "info"
    assert opened.evidence["from"] == last_beat.isoformat() and opened.evidence["to"] is None
    assert services.sweep(db.session, p.advance(5)) == []  # recorded once
    rows = services.seat_rows(db.session, [p.room_a], p.presence, p.now())[p.room_a]
    assert next(r for r in rows if r["registration_id"] == reg)["state"] == "disconnected"
    # Back after 47 s: the record gets its end and seconds.
    back = last_beat + dt.timedelta(seconds=47)
    p.clock.now = back
    _rec, changed = services.handle_heartbeat(db.session, reg, "s2", {"visible": True}, back)
    db.session.commit()
    [closed] = [i for i in changed if i.kind == "disconnected"]
    assert closed.id == opened.id
    assert closed.evidence["to"] == back.isoformat() and closed.evidence["seconds"] == 47
    remaining = delivery.remaining_seconds(p.attempt("李四"), p.now())
    outcome = act(
        p,
        "proctor",
        "credit_disconnection",
        "网络中断，补时",
        registration_ids=[reg],
        incident_id=opened.id,
    )
    db.session.commit()
    assert outcome.results[0]["ok"] and outcome.results[0]["seconds"] == 47
    a = p.attempt("李四")
    assert delivery.remaining_seconds(a, p.now()) == remaining + 47 and a.extra_seconds == 47
    inc = incidents(reg, "disconnected")[0]
    assert inc.credited_seconds == 47 and inc.status == "resolved"
    again = act(p, "proctor", "credit_disconnection", "再补", registration_ids=[reg])
    assert again.results[0]["ok"] is False and again.results[0]["error"] == "conflict"


def test_no_disconnection_record_for_an_attempt_that_is_over(app, proctored):
    p = proctored
    connect(p, "李四")
    a = p.attempt("李四")
    es = db.session.get(ExamSession, p.sid)
    delivery.submit(db.session, Actor(None, "x"), a, es, p.now(), reason="proctor")
    db.session.commit()
    assert services.sweep(db.session, p.advance(60)) == []
    assert incidents(p.regs["李四"], "disconnected") == []
    assert p.presence.stale(p.now().timestamp()) == []  # not looked at again


def test_a_silent_room_gets_its_lost_time_back_once(app, proctored):
    p = proctored
    for name in ("张三", "李四"):
        connect(p, name)
        services.handle_heartbeat(db.session, p.regs[name], "s1", {}, p.now())
    before = {n: p.attempt(n).deadline for n in ("张三", "李四", "赵六")}
    p.advance(25)  # the room's network is down for 40 s
    assert len(services.sweep(db.session, p.now())) == 2  # two disconnection records
    p.advance(15)
    _rec, found = services.handle_heartbeat(db.session, p.regs["张三"], "s1", {}, p.now())
    db.session.commit()
    [outage] = [i for i in found if i.kind == "room_outage"]
    assert outage.room_id == p.room_a and outage.registration_id is None
    assert outage.credited_seconds == 40 and outage.evidence["attempts"] == 2
    services.handle_heartbeat(db.session, p.regs["李四"], "s1", {}, p.advance(1))
    db.session.commit()
    for name in ("张三", "李四"):
        assert p.attempt(name).deadline == before[name] + dt.timedelta(seconds=40)
    assert p.attempt("赵六").deadline == before["赵六"]  # another room
    assert len(incidents(kind="room_outage")) == 1
    # The seats' own disconnection records are covered by the room's credit.
    gaps = incidents(kind="disconnected")
    assert [(g.credited_seconds, g.status) for g in gaps] == [(40, "resolved")] * 2
    assert all(g.evidence["credited_by"] == "room_outage" for g in gaps)
    [credited] = events("attempt.outage_credited")
    assert json.loads(credited.data)["seconds"] == 40
    assert verify_chain(db.session).ok


def test_a_server_outage_is_credited_to_everyone_once(app, proctored):
    p = proctored
    connect(p, "张三")
    services.handle_heartbeat(db.session, p.regs["张三"], "s1", {}, p.now())
    assert services.sweep(db.session, p.now()) == []  # first stamp
    before = {n: p.attempt(n).deadline for n in ("张三", "李四", "赵六")}
    p.advance(60)  # every server process was down
    found = services.sweep(db.session, p.now())
    db.session.commit()
    assert sorted((i.kind, i.room_id) for i in found if i.kind == "server_outage") == [
        ("server_outage", p.room_a),
        ("server_outage", p.room_b),
    ]
    # The room's first heartbeat after the outage does not credit the same silence again.
    services.handle_heartbeat(db.session, p.regs["张三"], "s1", {}, p.advance(1))
    db.session.commit()
    for name in ("张三", "李四", "赵六"):
        assert p.attempt(name).deadline == before[name] + dt.timedelta(seconds=60)
    assert incidents(kind="room_outage") == []


def test_late_sweeps_while_heartbeats_are_handled_are_no_outage(app, proctored):
    """An overloaded process runs its sweeper late, but it still handles heartbeats: that is
    no server outage, and nobody gets time credited for it."""
    p = proctored
    connect(p, "张三")
    services.handle_heartbeat(db.session, p.regs["张三"], "s1", {}, p.now())
    assert services.sweep(db.session, p.now()) == []  # first stamp
    before = {n: p.attempt(n).deadline for n in ("张三", "李四", "赵六")}
    for _ in range(6):  # 60 s without a sweep, heartbeats every 10 s
        services.handle_heartbeat(db.session, p.regs["张三"], "s1", {}, p.advance(10))
    found = services.sweep(db.session, p.now())
    db.session.commit()
    assert [i for i in found if i.kind == "server_outage"] == []
    for name in ("张三", "李四", "赵六"):
        assert p.attempt(name).deadline == before[name]


def test_warnings_are_sent_listed_and_acknowledged(app, proctored):
    p = proctored
    reg = p.regs["张三"]
    act(p, "proctor", "warn", "东张西望", registration_ids=[reg], text="请勿交头接耳")
    db.session.commit()
    services.dispatch(db.session)
    [warning] = services.pending_warnings(db.session, reg)
    assert warning["text"] == "请勿交头接耳"
    action, regs, rooms, extra = p.pushed[-1]
    assert (action, regs, rooms) == ("warn", [reg], [p.room_a])
    assert extra["warnings"][str(reg)] == warning
    with pytest.raises(services.NotFound):
        services.ack_warning(db.session, p.regs["李四"], warning["id"], p.now())
    services.ack_warning(db.session, reg, warning["id"], p.advance(3))
    services.ack_warning(db.session, reg, warning["id"], p.advance(3))  # twice is harmless
    db.session.commit()
    assert services.pending_warnings(db.session, reg) == []
    assert len(events("candidate.warning_acknowledged")) == 1


def test_void_makes_saves_refuse(app, proctored):
    p = proctored
    act(p, "proctor", "void", "替考", registration_ids=[p.regs["张三"]])
    db.session.commit()
    a = p.attempt("张三")
    assert a.state == "voided"
    with pytest.raises(AlreadySubmitted):
        save_an_answer(p, a)
    [voided] = events("attempt.voided")
    assert voided.reason == "替考" and json.loads(voided.data)["from"] == "running"


def test_seat_rows_show_each_state(app, proctored):
    p = proctored
    connect(p, "张三")
    services.handle_heartbeat(db.session, p.regs["张三"], "s1", {"visible": True}, p.now())
    services.handle_signal(db.session, p.regs["张三"], {"kind": "paste"}, p.now())
    a = p.attempt("张三")
    save_an_answer(p, a)
    db.session.commit()
    rows = services.seat_rows(db.session, [p.room_a, p.room_b], p.presence, p.now())
    zhang = next(r for r in rows[p.room_a] if r["name"] == "张三")
    assert zhang["state"] == "answering" and zhang["connected"] is True
    assert (zhang["answered"], zhang["total"]) == (1, 1)
    assert zhang["open_incidents"] == 1 and zhang["max_severity"] == "medium"
    assert zhang["ip"] == "10.0.0.1" and zhang["last_beat"] == p.now().timestamp()
    assert zhang["remaining_seconds"] == 90 * 60
    li = next(r for r in rows[p.room_a] if r["name"] == "李四")
    assert li["state"] == "not_checked_in" and li["connected"] is False  # never came
    assert [r["name"] for r in rows[p.room_b]] == ["赵六"]
    assert "王五" not in [r["name"] for r in rows[p.room_a]]  # not approved: no seat
    # Only the changed seats of a batch.
    only = services.seat_rows(db.session, [p.room_a], p.presence, p.now(), reg_ids=[p.regs["李四"]])
    assert [r["name"] for r in only[p.room_a]] == ["李四"]
    # Paused, submitted and voided seats.
    for name, action in (("张三", "pause"), ("李四", "force_submit"), ("赵六", "void")):
        act(p, "admin", action, "测试状态", registration_ids=[p.regs[name]])
    db.session.commit()
    rows = services.seat_rows(db.session, [p.room_a, p.room_b], p.presence, p.now())
    states = {r["name"]: r["state"] for room in rows.values() for r in room}
    assert states == {"张三": "paused", "李四": "submitted", "赵六": "voided"}


def test_each_seat_of_a_bulk_action_is_its_own_transaction(app, proctored):
    p = proctored
    es = db.session.get(ExamSession, p.sid)
    delivery.submit(db.session, Actor(None, "x"), p.attempt("李四"), es, p.now(), reason="proctor")
    db.session.commit()
    outcome = act(p, "proctor", "extra_time", "停电补时", room_id=p.room_a, seconds=300)
    db.session.commit()
    by_reg = {r["registration_id"]: r for r in outcome.results}
    assert by_reg[p.regs["张三"]]["ok"] is True
    assert by_reg[p.regs["李四"]]["ok"] is False and by_reg[p.regs["李四"]]["error"] == "conflict"
    assert p.attempt("张三").extra_seconds == 300 and p.attempt("李四").extra_seconds == 0
    rows = db.session.scalars(select(ProctorAction)).all()
    assert [(r.registration_id, r.action) for r in rows] == [(p.regs["张三"], "extra_time")]
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "proctor.extra_time")
        )
        == 1
    )
    assert verify_chain(db.session).ok

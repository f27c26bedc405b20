"""Proctor actions: each target in its own savepoint, with a reason, a ``ProctorAction`` row
and an audit event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed

from ...delivery import services as delivery
from ...delivery.models import Attempt, AttemptState
from ...sessions import services as session_svc
from ...sessions.models import Eligibility, ExamSession, Registration, Room
from ..models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    ProctorAction,
)
from .access import ProctorScope, scope_for
from .devices import approve_move
from .incidents import _resolve
from .notify import _queue_action, _queue_incidents
from .warnings import send_warning

S = AttemptState
K = IncidentKind


def void_attempt(
    db_session: Session, actor: Actor, a: Attempt, now: dt.datetime, reason: str
) -> None:
    """Void an attempt (取消考试资格): it takes no more answers and counts for nothing. Open or
    submitted attempts can be voided; the score stays on record."""
    if a.state == S.VOIDED:
        raise Conflict("this attempt is voided already", field="state")
    before = a.state
    a.state = S.VOIDED
    a.paused_at = None
    db_session.flush()
    record(
        db_session,
        actor,
        "attempt.voided",
        "attempt",
        a.id,
        reason=reason,
        data={"from": before, "registration": a.registration_id},
        at=now,
    )


ActionName = Literal[
    "start_room",
    "pause",
    "resume",
    "extra_time",
    "warn",
    "approve_move",
    "force_submit",
    "void",
    "dismiss_incident",
    "confirm_incident",
    "credit_disconnection",
    "close_session",
]
ACTIONS: tuple[str, ...] = get_args(ActionName)
SEAT_ACTIONS = (
    "pause",
    "resume",
    "extra_time",
    "warn",
    "approve_move",
    "force_submit",
    "void",
    "credit_disconnection",
)
INCIDENT_ACTIONS = ("dismiss_incident", "confirm_incident")


class ActionIn(BaseModel):
    """``POST /api/v1/proctor/sessions/{id}/actions``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: ActionName
    reason: str = Field(min_length=2, max_length=1000)
    registration_ids: list[StrictInt] | None = Field(None, min_length=1, max_length=5000)
    room_id: StrictInt | None = None
    seconds: StrictInt | None = Field(None, ge=1, le=4 * 3600)
    text: str | None = Field(None, min_length=1, max_length=1000)
    incident_id: StrictInt | None = None


@dataclass
class ActionOutcome:
    action: str
    results: list[dict[str, Any]]

    @property
    def applied(self) -> int:
        return sum(1 for r in self.results if r["ok"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "results": self.results,
            "applied": self.applied,
            "failed": len(self.results) - self.applied,
        }


def _log_action(
    db_session: Session,
    actor: Actor,
    es: ExamSession,
    action: str,
    reason: str,
    now: dt.datetime,
    *,
    room_id: int | None = None,
    registration_id: int | None = None,
    incident_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> ProctorAction:
    row = ProctorAction(
        session_id=es.id,
        room_id=room_id,
        registration_id=registration_id,
        incident_id=incident_id,
        action=action,
        reason=reason,
        data=data or {},
        actor_id=actor.id,
        actor=actor.name,
        at=now,
    )
    db_session.add(row)
    db_session.flush()
    if registration_id is not None:
        entity, entity_id = "registration", registration_id
    elif incident_id is not None:
        entity, entity_id = "incident", incident_id
    elif room_id is not None:
        entity, entity_id = "exam_room", room_id
    else:
        entity, entity_id = "exam_session", es.id
    record(
        db_session,
        actor,
        f"proctor.{action}",
        entity,
        entity_id,
        reason=reason,
        data={
            "session": es.code,
            "action_id": row.id,
            "room": room_id,
            "incident": incident_id,
            **(data or {}),
        },
        at=now,
    )
    return row


def _error_result(key: str, value: int, exc: DomainError) -> dict[str, Any]:
    return {key: value, "ok": False, **exc.to_dict()}


def _require(p: ActionIn) -> None:
    if p.action == "extra_time" and p.seconds is None:
        raise ValidationFailed("extra_time needs seconds (1 to 14400)", field="seconds")
    if p.action == "warn" and not p.text:
        raise ValidationFailed("a warning needs a text", field="text")
    if p.action in SEAT_ACTIONS and not p.registration_ids and p.room_id is None:
        raise ValidationFailed(
            f"{p.action} needs registration_ids or a room_id", field="registration_ids"
        )
    if p.action in INCIDENT_ACTIONS and p.incident_id is None and not p.registration_ids:
        raise ValidationFailed(
            f"{p.action} needs an incident_id (or registration_ids)", field="incident_id"
        )
    if p.action == "start_room" and p.room_id is None and not p.registration_ids:
        raise ValidationFailed("start_room needs a room_id", field="room_id")


def perform_action(
    db_session: Session,
    actor_user: Any,
    session_id: int,
    payload: ActionIn | dict[str, Any],
    now: dt.datetime,
) -> ActionOutcome:
    """Carry out a proctor action on its targets, each in its own savepoint: one bad seat is
    reported (``{"registration_id", "ok": false, "error", "message"}``) and the others apply.
    Every applied target gets a ``proctor_actions`` row and a ``proctor.<action>`` audit event
    (besides the domain's own events, e.g. ``attempt.paused``). Proctors act in their rooms
    only, supervisors never (403), administrators everywhere; a target outside the user's
    rooms refuses the whole request. Pushes are queued for :func:`dispatch` after commit."""
    if isinstance(payload, dict):
        from ...validation import validate

        payload = validate(ActionIn, payload)
    p = payload
    _require(p)
    es = session_svc.get_session(db_session, session_id)
    scope = scope_for(db_session, actor_user, es)
    if scope.read_only:
        raise Forbidden("supervisors watch; only proctors and administrators act")
    actor: Actor = actor_user.actor
    reason = p.reason
    if p.room_id is not None:
        room = db_session.get(Room, p.room_id)
        if room is None or room.session_id != es.id:
            raise NotFound(f"no room {p.room_id} in session {es.code}", field="room_id")
        if not scope.can_act(room.id):
            raise Forbidden(f"you are not assigned to room {room.name}", field="room_id")

    if p.action == "close_session":
        return _close_session(db_session, actor, es, scope, reason, now)
    if p.action == "start_room":
        return _start_rooms(db_session, actor, es, scope, p, now)
    if p.action in INCIDENT_ACTIONS:
        return _incident_action(db_session, actor, es, scope, p, now)

    regs = _target_registrations(db_session, es, scope, p)
    results: list[dict[str, Any]] = []
    done: list[Registration] = []
    extra: dict[str, Any] = {"reason": reason}
    warnings: dict[str, dict[str, Any]] = {}
    changed_incidents: list[Incident] = []
    for reg_id, reg in regs:
        if reg is None:
            results.append(
                _error_result(
                    "registration_id",
                    reg_id,
                    NotFound(f"no registration {reg_id} in session {es.code}"),
                )
            )
            continue
        try:
            with db_session.begin_nested():
                data, incs = _seat_action(db_session, actor, es, reg, p, now, warnings)
                _log_action(
                    db_session,
                    actor,
                    es,
                    p.action,
                    reason,
                    now,
                    room_id=reg.room_id,
                    registration_id=reg.id,
                    incident_id=incs[0].id if len(incs) == 1 else None,
                    data=data,
                )
        except DomainError as exc:
            warnings.pop(str(reg.id), None)
            results.append(_error_result("registration_id", reg.id, exc))
            continue
        changed_incidents += incs
        results.append({"registration_id": reg.id, "ok": True, **data})
        done.append(reg)
    if warnings:
        extra["warnings"] = warnings
    if p.seconds is not None:
        extra["seconds"] = p.seconds
    if done:
        _queue_action(db_session, p.action, [r.id for r in done], [r.room_id for r in done], extra)
    _queue_incidents(db_session, changed_incidents)
    return ActionOutcome(p.action, results)


def _target_registrations(
    db_session: Session, es: ExamSession, scope: ProctorScope, p: ActionIn
) -> list[tuple[int, Registration | None]]:
    if p.registration_ids:
        ids = list(dict.fromkeys(p.registration_ids))
        found = {
            r.id: r
            for r in db_session.scalars(
                select(Registration).where(
                    Registration.id.in_(ids), Registration.session_id == es.id
                )
            )
        }
        outside = sorted({r.room_id for r in found.values() if not scope.can_act(r.room_id)})
        if outside:
            raise Forbidden(
                "some of these candidates are in rooms you are not assigned to",
                field="registration_ids",
                details={"rooms": outside},
            )
        if p.room_id is not None:  # both given: the listed seats of that room
            found = {i: r for i, r in found.items() if r.room_id == p.room_id}
        return [(i, found.get(i)) for i in ids]
    regs = db_session.scalars(
        select(Registration)
        .where(
            Registration.room_id == p.room_id,
            Registration.eligibility == Eligibility.APPROVED,
        )
        .order_by(Registration.seat)
    ).all()
    return [(r.id, r) for r in regs]


def _locked_attempt(db_session: Session, reg: Registration) -> Attempt:
    return delivery.get_attempt(db_session, reg.id, lock=True)


def _seat_action(
    db_session: Session,
    actor: Actor,
    es: ExamSession,
    reg: Registration,
    p: ActionIn,
    now: dt.datetime,
    warnings: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], list[Incident]]:
    """One seat's part of an action; returns what to record with it and changed incidents."""
    reason = p.reason
    if p.action == "warn":
        msg = send_warning(db_session, actor, reg, p.text or "", now)
        warnings[str(reg.id)] = msg.to_candidate()
        return {"warning_id": msg.id}, []
    a = _locked_attempt(db_session, reg)
    if p.action in ("pause", "extra_time", "force_submit"):
        delivery.ensure_started(db_session, a, now)
    if p.action == "pause":
        delivery.pause(db_session, actor, a, now, reason)
        return {"remaining_seconds": delivery.remaining_seconds(a, now)}, []
    if p.action == "resume":
        delivery.resume(db_session, actor, a, now, reason)
        return {"remaining_seconds": delivery.remaining_seconds(a, now)}, []
    if p.action == "extra_time":
        delivery.grant_extra_time(db_session, actor, a, int(p.seconds or 0), reason)
        return {"seconds": p.seconds, "remaining_seconds": delivery.remaining_seconds(a, now)}, []
    if p.action == "force_submit":
        if not delivery.submit(db_session, actor, a, es, now, reason="proctor"):
            raise Conflict(f"the attempt is {a.state} already", field="state")
        return {"state": a.state}, []
    if p.action == "void":
        void_attempt(db_session, actor, a, now, reason)
        return {"state": a.state}, []
    if p.action == "approve_move":
        inc = approve_move(db_session, actor, a, now, reason, p.incident_id)
        return {"device": a.device_id, "incident_id": inc.id}, [inc]
    if p.action == "credit_disconnection":
        return _credit_disconnection(db_session, actor, a, now, reason, p.incident_id)
    raise ValidationFailed(f"unknown action {p.action!r}", field="action")  # pragma: no cover


def _credit_disconnection(
    db_session: Session,
    actor: Actor,
    a: Attempt,
    now: dt.datetime,
    reason: str,
    incident_id: int | None,
) -> tuple[dict[str, Any], list[Incident]]:
    """Grant the seconds of the seat's disconnection record(s) as extra time: the one named
    by ``incident_id``, else every ended, uncredited one of the seat."""
    if incident_id is not None:
        inc = db_session.get(Incident, incident_id)
        if inc is None or inc.registration_id != a.registration_id:
            raise NotFound(f"no incident {incident_id} for this seat", field="incident_id")
        if inc.kind != K.DISCONNECTED:
            raise Conflict(f"incident {inc.id} is not a disconnection", field="incident_id")
        if inc.credited_seconds is not None:
            raise Conflict(
                f"incident {inc.id} was credited already ({inc.credited_seconds} s)",
                field="incident_id",
            )
        if (inc.evidence or {}).get("seconds") is None:
            raise Conflict("the candidate is still disconnected", field="incident_id")
        records = [inc]
    else:
        records = [
            i
            for i in db_session.scalars(
                select(Incident)
                .where(
                    Incident.registration_id == a.registration_id,
                    Incident.kind == K.DISCONNECTED,
                    Incident.credited_seconds.is_(None),
                )
                .order_by(Incident.id)
            )
            if (i.evidence or {}).get("seconds") is not None
        ]
        if not records:
            raise Conflict("no ended disconnection of this seat waits for credit")
    seconds = sum(int((i.evidence or {}).get("seconds") or 0) for i in records)
    if seconds < 1:
        raise Conflict("the disconnection lasted under a second; nothing to credit")
    delivery.grant_extra_time(db_session, actor, a, seconds, reason)
    for inc in records:
        inc.credited_seconds = int(inc.evidence.get("seconds") or 0)
        _resolve(inc, actor, now, reason, IncidentStatus.RESOLVED)
    db_session.flush()
    return {"seconds": seconds, "incidents": [i.id for i in records]}, records


def _incident_action(
    db_session: Session,
    actor: Actor,
    es: ExamSession,
    scope: ProctorScope,
    p: ActionIn,
    now: dt.datetime,
) -> ActionOutcome:
    status = (
        IncidentStatus.DISMISSED if p.action == "dismiss_incident" else IncidentStatus.CONFIRMED
    )
    if p.incident_id is not None:
        inc = db_session.get(Incident, p.incident_id)
        if inc is None or inc.session_id != es.id:
            raise NotFound(f"no incident {p.incident_id} in session {es.code}", field="incident_id")
        if not scope.can_act(inc.room_id):
            raise Forbidden("this incident is in a room you are not assigned to")
        targets = [inc]
    else:
        regs = [r for _i, r in _target_registrations(db_session, es, scope, p) if r is not None]
        targets = list(
            db_session.scalars(
                select(Incident)
                .where(
                    Incident.registration_id.in_([r.id for r in regs] or [-1]),
                    Incident.status == IncidentStatus.OPEN,
                )
                .order_by(Incident.id)
            )
        )
    results: list[dict[str, Any]] = []
    changed: list[Incident] = []
    for inc in targets:
        try:
            with db_session.begin_nested():
                if inc.status != IncidentStatus.OPEN:
                    raise Conflict(f"incident {inc.id} is {inc.status} already", field="status")
                _resolve(inc, actor, now, p.reason, status)
                db_session.flush()
                record(
                    db_session,
                    actor,
                    f"incident.{status}",
                    "incident",
                    inc.id,
                    reason=p.reason,
                    data={"kind": inc.kind, "registration": inc.registration_id},
                    at=now,
                )
                _log_action(
                    db_session,
                    actor,
                    es,
                    p.action,
                    p.reason,
                    now,
                    room_id=inc.room_id,
                    registration_id=inc.registration_id,
                    incident_id=inc.id,
                    data={"kind": inc.kind},
                )
        except DomainError as exc:
            results.append(_error_result("incident_id", inc.id, exc))
            continue
        changed.append(inc)
        results.append({"incident_id": inc.id, "ok": True, "status": inc.status})
    if changed:
        _queue_incidents(db_session, changed)
        _queue_action(
            db_session,
            p.action,
            [i.registration_id for i in changed if i.registration_id is not None],
            [i.room_id for i in changed],
            {"reason": p.reason, "incidents": [i.id for i in changed]},
        )
    return ActionOutcome(p.action, results)


def _start_rooms(
    db_session: Session,
    actor: Actor,
    es: ExamSession,
    scope: ProctorScope,
    p: ActionIn,
    now: dt.datetime,
) -> ActionOutcome:
    if p.room_id is not None:
        room_ids = [p.room_id]
    else:
        room_ids = sorted(
            {r.room_id for _i, r in _target_registrations(db_session, es, scope, p) if r}
        )
    results: list[dict[str, Any]] = []
    started: list[int] = []
    for rid in room_ids:
        room = db_session.get(Room, rid)
        try:
            with db_session.begin_nested():
                # Starts the room's waiting attempts too (sessions.hooks.on_rooms_started).
                session_svc.start_room(db_session, actor, room, now=now, reason=p.reason)
                _log_action(db_session, actor, es, "start_room", p.reason, now, room_id=rid)
        except DomainError as exc:
            results.append(_error_result("room_id", rid, exc))
            continue
        started.append(rid)
        results.append({"room_id": rid, "ok": True})
    if started:
        regs = db_session.scalars(
            select(Attempt.registration_id).where(Attempt.room_id.in_(started))
        ).all()
        _queue_action(db_session, "start_room", regs, started, {"reason": p.reason})
    return ActionOutcome("start_room", results)


def _close_session(
    db_session: Session,
    actor: Actor,
    es: ExamSession,
    scope: ProctorScope,
    reason: str,
    now: dt.datetime,
) -> ActionOutcome:
    if not scope.admin and any(not scope.can_act(r.id) for r in es.rooms):
        raise Forbidden("closing the session needs an administrator or the proctor of every room")
    open_regs = db_session.scalars(
        select(Attempt.registration_id).where(
            Attempt.session_id == es.id, Attempt.state.in_(S.OPEN)
        )
    ).all()
    try:
        with db_session.begin_nested():
            session_svc.transition(db_session, actor, es, "close", now=now, reason=reason)
            _log_action(db_session, actor, es, "close_session", reason, now)
    except DomainError as exc:
        return ActionOutcome("close_session", [_error_result("session_id", es.id, exc)])
    _queue_action(
        db_session, "close_session", open_regs, [r.id for r in es.rooms], {"reason": reason}
    )
    return ActionOutcome("close_session", [{"session_id": es.id, "ok": True}])

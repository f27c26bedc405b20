"""What a console shows: seat rows, incidents, the snapshot."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.errors import Forbidden, NotFound, ValidationFailed
from question_bank.models import StoredPaper

from ...delivery import services as delivery
from ...delivery.models import Attempt, AttemptAnswer, AttemptState
from ...sessions.models import Eligibility, ExamSession, Registration
from ..models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    ProctorMessage,
    Severity,
)
from ..policy import IntegrityPolicy, policy_for
from ..presence import Presence, get_presence
from .access import ProctorScope
from .context import _cache, session_policy

S = AttemptState
K = IncidentKind


def _paper_totals(db_session: Session, paper_ids: set[int]) -> dict[int, int]:
    _paper_sizes = _cache("paper_sizes")
    missing = [p for p in paper_ids if p not in _paper_sizes]
    if missing:
        for pid, items in db_session.execute(
            select(StoredPaper.id, StoredPaper.items).where(StoredPaper.id.in_(missing))
        ):
            _paper_sizes[pid] = len(items or [])
    return {p: _paper_sizes.get(p, 0) for p in paper_ids}


def _seat_state_name(reg: Registration, a: Attempt | None, fresh: bool, seen: bool) -> str:
    if a is not None and a.state == S.VOIDED:
        return "voided"
    if a is not None and a.state == S.SUBMITTED:
        return "submitted"
    if a is not None and a.state == S.PAUSED:
        return "paused"
    if reg.first_check_in_at is None and not seen:
        return "not_checked_in"
    if a is not None and a.state == S.RUNNING:
        return "answering" if fresh else "disconnected"
    return "waiting"


def seat_rows(
    db_session: Session,
    room_ids: Iterable[int],
    presence: Presence | None,
    now: dt.datetime,
    reg_ids: Iterable[int] | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """The console's seat rows of approved candidates, per room, by seat number (only
    ``reg_ids`` when given: the changed seats of a batch). A handful of queries per call,
    whatever the number of seats."""
    presence = presence or get_presence()
    rooms = sorted(set(room_ids))
    out: dict[int, list[dict[str, Any]]] = {r: [] for r in rooms}
    if not rooms:
        return out
    q = (
        select(Registration, Attempt)
        .outerjoin(Attempt, Attempt.registration_id == Registration.id)
        .where(Registration.room_id.in_(rooms), Registration.eligibility == Eligibility.APPROVED)
        .order_by(Registration.room_id, Registration.seat)
    )
    if reg_ids is not None:
        wanted = sorted(set(reg_ids))
        if not wanted:
            return out
        q = q.where(Registration.id.in_(wanted))
    pairs = db_session.execute(q).all()
    if not pairs:
        return out
    ids = [reg.id for reg, _a in pairs]
    attempts = {a.id: a for _r, a in pairs if a is not None}
    totals = _paper_totals(db_session, {a.paper_id for a in attempts.values()})
    answered: dict[int, int] = defaultdict(int)
    if attempts:
        for attempt_id, response in db_session.execute(
            select(AttemptAnswer.attempt_id, AttemptAnswer.response).where(
                AttemptAnswer.attempt_id.in_(list(attempts)), AttemptAnswer.answer_seq > 0
            )
        ):
            if response is not None:
                answered[attempt_id] += 1
    open_count: dict[int, int] = defaultdict(int)
    worst: dict[int, str] = {}
    moving: set[int] = set()
    for reg_id, severity, kind in db_session.execute(
        select(Incident.registration_id, Incident.severity, Incident.kind).where(
            Incident.registration_id.in_(ids), Incident.status == IncidentStatus.OPEN
        )
    ):
        open_count[reg_id] += 1
        worst[reg_id] = Severity.max(worst.get(reg_id, severity), severity)
        if kind == K.DEVICE_CHANGE:
            moving.add(reg_id)
    unacked: dict[int, int] = defaultdict(int)
    for (reg_id,) in db_session.execute(
        select(ProctorMessage.registration_id).where(
            ProctorMessage.registration_id.in_(ids), ProctorMessage.acked_at.is_(None)
        )
    ):
        unacked[reg_id] += 1
    records = presence.get_many(ids)
    t = now.timestamp()
    policies: dict[int, IntegrityPolicy] = {}
    for reg, a in pairs:
        if reg.session_id not in policies:
            policies[reg.session_id] = session_policy(db_session, reg.session_id)
        rec = records.get(reg.id)
        fresh = rec is not None and rec.fresh(t, policies[reg.session_id].heartbeat_gap_seconds)
        out.setdefault(reg.room_id, []).append(
            {
                "registration_id": reg.id,
                "room_id": reg.room_id,
                "seat": reg.seat,
                "name": reg.candidate_name,
                "ticket_number": reg.ticket_number,
                "state": _seat_state_name(reg, a, fresh, rec is not None),
                "answered": answered.get(a.id, 0) if a is not None else 0,
                "total": totals.get(a.paper_id, 0) if a is not None else 0,
                "remaining_seconds": delivery.remaining_seconds(a, now) if a else None,
                "deadline": a.deadline.isoformat() if a is not None and a.deadline else None,
                "connected": fresh,
                "last_beat": rec.last_beat if rec is not None else None,
                "ip": rec.ip if rec is not None and rec.ip else None,
                "open_incidents": open_count.get(reg.id, 0),
                "max_severity": worst.get(reg.id),
                "move_pending": reg.id in moving,
                "warnings_unacked": unacked.get(reg.id, 0),
            }
        )
    return out


def list_incidents(
    db_session: Session,
    es: ExamSession,
    scope: ProctorScope,
    *,
    room_id: int | None = None,
    status: str | None = None,
    severity: str | None = None,
    registration_id: int | None = None,
    after_id: int = 0,
    limit: int = 200,
) -> list[Incident]:
    """Incidents of the session the scope may see, newest first (``after_id``: only newer)."""
    if status is not None and status not in IncidentStatus.ALL:
        raise ValidationFailed(f"status is one of {', '.join(IncidentStatus.ALL)}", field="status")
    if severity is not None and severity not in Severity.ALL:
        raise ValidationFailed(f"severity is one of {', '.join(Severity.ALL)}", field="severity")
    if room_id is not None and not scope.can_view(room_id):
        raise Forbidden("you are not assigned to this room", field="room")
    q = select(Incident).where(Incident.session_id == es.id, Incident.id > after_id)
    if scope.view_rooms is not None:
        q = q.where(Incident.room_id.in_(sorted(scope.view_rooms) or [-1]))
    if room_id is not None:
        q = q.where(Incident.room_id == room_id)
    if status is not None:
        q = q.where(Incident.status == status)
    if severity is not None:
        q = q.where(Incident.severity == severity)
    if registration_id is not None:
        q = q.where(Incident.registration_id == registration_id)
    return list(db_session.scalars(q.order_by(Incident.id.desc()).limit(limit)))


def snapshot(
    db_session: Session,
    es: ExamSession,
    scope: ProctorScope,
    now: dt.datetime,
    *,
    presence: Presence | None = None,
    room_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """What a console shows first: the visible rooms (``room_ids`` narrows them) with their
    seat rows, the open incidents, the server time and whether the viewer is read-only."""
    presence = presence or get_presence()
    rooms = [r for r in es.rooms if scope.can_view(r.id)]
    if room_ids is not None:
        wanted = set(room_ids)
        hidden = wanted - {r.id for r in rooms}
        if hidden - {r.id for r in es.rooms}:
            raise NotFound("no such room in this session", field="room_ids")
        if hidden:
            raise Forbidden("you are not assigned to this room", field="room_ids")
        rooms = [r for r in rooms if r.id in wanted]
    rows = seat_rows(db_session, [r.id for r in rooms], presence, now)
    incidents: list[Incident] = []
    if rooms:
        incidents = list(
            db_session.scalars(
                select(Incident)
                .where(
                    Incident.session_id == es.id,
                    Incident.room_id.in_([r.id for r in rooms]),
                    Incident.status == IncidentStatus.OPEN,
                )
                .order_by(Incident.id.desc())
                .limit(500)
            )
        )
    return {
        "session": {
            "id": es.id,
            "code": es.code,
            "name": es.name,
            "state": es.state,
            "start_mode": es.start_mode,
        },
        "rooms": [
            {
                "id": r.id,
                "name": r.name,
                "number": r.number,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "can_act": scope.can_act(r.id),
                "seats": rows.get(r.id, []),
            }
            for r in rooms
        ],
        "incidents": [i.to_dict() for i in incidents],
        "server_time": now.isoformat(),
        "server_ts": now.timestamp(),
        "read_only": scope.read_only,
        "policy": policy_for(es).to_dict(),
    }

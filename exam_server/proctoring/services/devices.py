"""One seat, one device: the device check on connect and the proctor's approval of a move."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import Conflict, DomainError, NotFound

from ...delivery.models import Attempt, AttemptState
from .. import rules
from ..models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    Severity,
)
from ..presence import Presence, get_presence
from .context import SeatContext, session_policy
from .incidents import _apply_drafts, _merge_into, _open_incident, _resolve, record_incident
from .notify import _queue_incidents

S = AttemptState
K = IncidentKind


class SeatInUse(DomainError):
    """Another device asked for a seat that is connected now."""

    code = "seat_in_use"
    status = 409


class MoveRequired(DomainError):
    """Another device asked for a seat whose device went away: the proctor must approve."""

    code = "move_required"
    status = 409


def check_device(
    db_session: Session,
    attempt: Attempt,
    device: str | None,
    presence: Presence | None,
    now: dt.datetime,
    *,
    ip: str = "",
    ua: str = "",
) -> None:
    """One seat, one device. The first device is remembered on the attempt; the same device
    always passes. Another device is refused: :class:`SeatInUse` (with a ``second_device`` high
    incident) while the seat is connected with a fresh heartbeat, else :class:`MoveRequired`
    (with a ``device_change`` incident carrying the new device, address and browser, waiting
    for the proctor's ``approve_move``). Repeated tries of one device update its open incident.

    The incident is flushed but the error rolls the request back: the caller commits before
    letting the error out (``except (SeatInUse, MoveRequired): db.session.commit(); raise``).
    """
    device = (device or "").strip()[:64]
    if not device or attempt.state not in S.OPEN:
        return
    if attempt.device_id is None:
        attempt.device_id = device
        db_session.flush()
        return
    if attempt.device_id == device:
        return
    presence = presence or get_presence()
    ctx = SeatContext(attempt.registration_id, attempt.session_id, attempt.room_id)
    policy = session_policy(db_session, ctx.session_id)
    rec = presence.get_many([ctx.registration_id]).get(ctx.registration_id)
    facts = {
        "device": device,
        "ip": ip,
        "ua": ua,
        "seat_device": attempt.device_id,
        "seat_ip": rec.ip if rec else None,
    }
    event = {"device": device, "ip": ip, "ua": ua}
    if rec is not None and rec.fresh(now.timestamp(), policy.heartbeat_gap_seconds):
        kind, severity = K.SECOND_DEVICE, Severity.HIGH
    else:
        kind, severity = K.DEVICE_CHANGE, Severity.MEDIUM
    existing = _open_incident(db_session, ctx.registration_id, kind, device)
    if existing is not None:
        _merge_into(existing, severity, now, {"at": now.timestamp(), **event})
        db_session.flush()
        _queue_incidents(db_session, [existing])
        inc = existing
    else:
        inc = record_incident(
            db_session,
            session_id=ctx.session_id,
            room_id=ctx.room_id,
            registration_id=ctx.registration_id,
            kind=kind,
            severity=severity,
            now=now,
            evidence=facts,
            event_data=event,
        )
        if severity == Severity.HIGH:
            state = dict(rec.rules) if rec else {}
            state, drafts = rules.on_high(policy, state, now)
            state, _more = _apply_drafts(db_session, ctx, policy, state, drafts, now)
            presence.save_rules(ctx.registration_id, state)
    if kind == K.SECOND_DEVICE:
        raise SeatInUse(
            "this seat is in use on another computer; ask the proctor",
            field="device",
            details={"incident": inc.id},
        )
    raise MoveRequired(
        "this exam was started on another computer; the proctor must approve the move",
        field="device",
        details={"incident": inc.id},
    )


def approve_move(
    db_session: Session,
    actor: Actor,
    a: Attempt,
    now: dt.datetime,
    reason: str,
    incident_id: int | None = None,
) -> Incident:
    """The proctor approves the seat's move to the device of its open ``device_change``
    incident (the newest, or ``incident_id``): the attempt's device becomes that one."""
    if incident_id is not None:
        inc = db_session.get(Incident, incident_id)
        if inc is None or inc.registration_id != a.registration_id:
            raise NotFound(f"no incident {incident_id} for this seat", field="incident_id")
    else:
        inc = _open_incident(db_session, a.registration_id, K.DEVICE_CHANGE)
        if inc is None:
            raise Conflict("no move is waiting for approval on this seat", field="incident_id")
    if inc.kind not in (K.DEVICE_CHANGE, K.SECOND_DEVICE) or inc.status != IncidentStatus.OPEN:
        raise Conflict(f"incident {inc.id} is not an open device change", field="incident_id")
    if a.state not in S.OPEN:
        raise Conflict(f"the attempt is {a.state}; nothing to move", field="state")
    device = (inc.evidence or {}).get("device")
    if not device:
        raise Conflict(f"incident {inc.id} names no device", field="incident_id")
    before = a.device_id
    a.device_id = device
    _resolve(inc, actor, now, reason, IncidentStatus.RESOLVED)
    db_session.flush()
    record(
        db_session,
        actor,
        "attempt.device_moved",
        "attempt",
        a.id,
        reason=reason,
        data={"from": before, "to": device, "incident": inc.id, "ip": inc.evidence.get("ip")},
        at=now,
    )
    _queue_incidents(db_session, [inc])
    return inc

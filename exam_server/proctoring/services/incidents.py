"""Incidents: recording, merging repeated signals, carrying out the pause policy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.audit import Actor

from ...delivery import services as delivery
from ...delivery.models import Attempt, AttemptState
from .. import rules
from ..models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    Severity,
)
from ..policy import IntegrityPolicy
from ..presence import Presence, SeatPresence
from .context import SeatContext
from .notify import _queue_action, _queue_incidents

S = AttemptState
K = IncidentKind


MAX_EVENTS = 50  # merged signals kept in an incident's evidence


def _when(value: float | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def _iso(value: float | dt.datetime | None) -> str | None:
    when = _when(value)
    return when.isoformat() if when is not None else None


def _readable(facts: dict[str, Any]) -> dict[str, Any]:
    """Evidence with epoch times (``at``, ``from``, ``to``) as ISO text."""
    out = dict(facts)
    for key in ("at", "from", "to"):
        if isinstance(out.get(key), (int, float)) and not isinstance(out.get(key), bool):
            out[key] = _iso(out[key])
    return out


def record_incident(
    db_session: Session,
    *,
    session_id: int,
    room_id: int,
    registration_id: int | None,
    kind: str,
    severity: str,
    now: dt.datetime,
    evidence: dict[str, Any] | None = None,
    event_data: dict[str, Any] | None = None,
    first_at: dt.datetime | None = None,
    credited_seconds: int | None = None,
) -> Incident:
    """Insert one incident (flushed; queued for the consoles)."""
    facts = _readable(evidence or {})
    facts["events"] = [_readable({"at": now.timestamp(), **(event_data or {})})]
    inc = Incident(
        session_id=session_id,
        room_id=room_id,
        registration_id=registration_id,
        kind=kind,
        severity=severity,
        status=IncidentStatus.OPEN,
        count=1,
        first_at=first_at or now,
        last_at=now,
        evidence=facts,
        credited_seconds=credited_seconds,
        created_at=now,
    )
    db_session.add(inc)
    db_session.flush()
    _queue_incidents(db_session, [inc])
    return inc


def _merge_into(inc: Incident, severity: str, now: dt.datetime, event_data: dict[str, Any]):
    facts = dict(inc.evidence or {})
    events = list(facts.get("events") or [])
    events.append(_readable(event_data))
    facts["events"] = events[-MAX_EVENTS:]
    inc.evidence = facts
    inc.count += 1
    inc.last_at = now
    inc.severity = Severity.max(inc.severity, severity)


def _store_drafts(
    db_session: Session,
    ctx: SeatContext,
    state: rules.State,
    drafts: list[rules.IncidentDraft],
    now: dt.datetime,
) -> tuple[rules.State, list[Incident]]:
    """Persist drafts for one seat: insert, merge into the open incident, or close a
    disconnection record. Returns the new state (incident ids remembered) and the incidents."""
    out: list[Incident] = []
    for d in drafts:
        inc: Incident | None = None
        if d.close and d.kind == K.DISCONNECTED:
            inc = db_session.get(Incident, d.incident_id) if d.incident_id else None
            if inc is not None:
                facts = dict(inc.evidence or {})
                facts.update(_readable(d.evidence))
                facts["events"] = [*list(facts.get("events") or []), _readable(d.event)][
                    -MAX_EVENTS:
                ]
                inc.evidence = facts
                inc.last_at = now
                db_session.flush()
                _queue_incidents(db_session, [inc])
                out.append(inc)
                continue
        if d.merge:
            target = state.get("ids", {}).get(d.kind)
            existing = db_session.get(Incident, target) if target else None
            if (
                existing is not None
                and existing.status == IncidentStatus.OPEN
                and existing.registration_id == ctx.registration_id
            ):
                _merge_into(existing, d.severity, now, d.event)
                db_session.flush()
                _queue_incidents(db_session, [existing])
                out.append(existing)
                continue
        facts = dict(d.evidence)
        first = _when(facts.get("from")) if d.kind == K.DISCONNECTED else None
        inc = record_incident(
            db_session,
            session_id=ctx.session_id,
            room_id=ctx.room_id,
            registration_id=ctx.registration_id,
            kind=d.kind,
            severity=d.severity,
            now=now,
            evidence=facts,
            event_data=d.event,
            first_at=first,
        )
        state = rules.remember(state, d, inc.id)
        out.append(inc)
    return state, out


def _apply_drafts(
    db_session: Session,
    ctx: SeatContext,
    policy: IntegrityPolicy,
    state: rules.State,
    drafts: list[rules.IncidentDraft],
    now: dt.datetime,
) -> tuple[rules.State, list[Incident]]:
    """Store drafts and carry out a ``policy_pause`` draft (pause the running attempt)."""
    state, incidents = _store_drafts(db_session, ctx, state, drafts, now)
    if any(d.kind == K.POLICY_PAUSE for d in drafts):
        a = db_session.scalar(
            select(Attempt).where(Attempt.registration_id == ctx.registration_id).with_for_update()
        )
        if a is not None:
            delivery.ensure_started(db_session, a, now)
        if a is not None and a.state == S.RUNNING:
            reason = (
                f"integrity policy: {state.get('highs')} high incidents "
                f"(pause after {policy.pause_after_high})"
            )
            delivery.pause(db_session, Actor.system("integrity-policy"), a, now, reason)
            _queue_action(
                db_session, "policy_pause", [ctx.registration_id], [ctx.room_id], {"by": "policy"}
            )
    return state, incidents


def _seat_state(presence: Presence, reg_id: int) -> tuple[SeatPresence | None, rules.State]:
    rec = presence.get_many([reg_id]).get(reg_id)
    return rec, dict(rec.rules) if rec is not None else {}


def _attempt_state(db_session: Session, reg_id: int) -> str | None:
    return db_session.scalar(select(Attempt.state).where(Attempt.registration_id == reg_id))


def _open_incident(
    db_session: Session, reg_id: int, kind: str, device: str | None = None
) -> Incident | None:
    q = (
        select(Incident)
        .where(
            Incident.registration_id == reg_id,
            Incident.kind == kind,
            Incident.status == IncidentStatus.OPEN,
        )
        .order_by(Incident.id.desc())
    )
    for inc in db_session.scalars(q.limit(20)):
        if device is None or (inc.evidence or {}).get("device") == device:
            return inc
    return None


def _resolve(inc: Incident, actor: Actor, now: dt.datetime, reason: str, status: str) -> None:
    inc.status = status
    inc.resolved_by_id = actor.id
    inc.resolved_by = actor.name
    inc.resolved_at = now
    inc.resolution = reason

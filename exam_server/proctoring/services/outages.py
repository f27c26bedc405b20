"""Disconnections and lost time: a seat's disconnection record, room and server outages
credited to running attempts, and the proctoring part of the sweep."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import NotFound

from ...delivery.models import Attempt, AttemptState
from .. import rules
from ..models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    Severity,
)
from ..policy import DEFAULT_POLICY, IntegrityPolicy
from ..presence import Presence, get_presence
from .context import _ROOM_TOUCHED, _cache, seat_context, session_policy
from .incidents import _attempt_state, _resolve, _seat_state, _store_drafts, _when, record_incident
from .notify import _queue_action, _queue_incidents

S = AttemptState
K = IncidentKind


def open_disconnection(
    db_session: Session,
    reg_id: int,
    last_beat: float | dt.datetime,
    now: dt.datetime,
    *,
    presence: Presence | None = None,
) -> Incident | None:
    """No heartbeat from the seat since ``last_beat``: open its disconnection record when the
    gap exceeds the policy and the attempt is running. The seat leaves ``presence.stale`` until
    it beats again (unless the gap is still too short for its session's policy)."""
    presence = presence or get_presence()
    ctx = seat_context(db_session, reg_id)
    policy = session_policy(db_session, ctx.session_id)
    _rec, state = _seat_state(presence, reg_id)
    new_state, drafts = rules.on_gap(policy, state, last_beat, now)
    if not drafts:
        if state.get("gap"):
            presence.drop_beat(reg_id)
        return None
    presence.drop_beat(reg_id)
    if _attempt_state(db_session, reg_id) != S.RUNNING:
        return None
    new_state, incidents = _store_drafts(db_session, ctx, new_state, drafts, now)
    presence.save_rules(reg_id, new_state)
    return incidents[0] if incidents else None


def close_disconnection(
    db_session: Session,
    reg_id: int,
    now: dt.datetime,
    *,
    presence: Presence | None = None,
) -> Incident | None:
    """The seat is back: complete its open disconnection record (``to``, ``seconds``).
    (:func:`handle_heartbeat` and :func:`handle_connect` do this themselves.)"""
    presence = presence or get_presence()
    ctx = seat_context(db_session, reg_id)
    _rec, state = _seat_state(presence, reg_id)
    drafts = rules.close_gap(state, now.timestamp())
    if not drafts:
        return None
    state, incidents = _store_drafts(db_session, ctx, state, drafts, now)
    presence.save_rules(reg_id, state)
    return incidents[0] if incidents else None


def stale_seats(presence: Presence, now: dt.datetime) -> list[int]:
    """Seats the sweeper should look at: no beat for the shortest gap any known policy uses."""
    gaps = [p.heartbeat_gap_seconds for _t, p in _cache("policies").values()]
    floor = min([DEFAULT_POLICY.heartbeat_gap_seconds, *gaps])
    return presence.stale(now.timestamp() - floor)


def credit_outage(
    db_session: Session,
    room_id: int | None,
    seconds: float,
    now: dt.datetime,
    kind: str,
    *,
    since: dt.datetime | None = None,
) -> list[Incident]:
    """Credit lost time to every running attempt of a room (``room_id``) or of every room
    (``None``, a server outage): each gets the part of ``seconds`` that fell after its start,
    as extra time. One audit event and one ``kind`` incident (info) per room."""
    seconds = float(seconds)
    if seconds <= 0:
        return []
    since = since or now - dt.timedelta(seconds=seconds)
    q = select(Attempt).where(Attempt.state == S.RUNNING)
    if room_id is not None:
        q = q.where(Attempt.room_id == room_id)
    attempts = db_session.scalars(q.order_by(Attempt.id).with_for_update()).all()
    by_room: dict[int, list[tuple[Attempt, int]]] = defaultdict(list)
    for a in attempts:
        began = max(since, a.started_at) if a.started_at else since
        credit = round(min(seconds, (now - began).total_seconds()))
        if credit < 1 or a.deadline is None:
            continue
        a.extra_seconds += credit
        a.deadline = a.deadline + dt.timedelta(seconds=credit)
        by_room[a.room_id].append((a, credit))
    db_session.flush()
    incidents = []
    actor = Actor.system(kind.replace("_", "-"))
    for rid, rows in sorted(by_room.items()):
        session_id = rows[0][0].session_id
        lost = round(seconds)
        record(
            db_session,
            actor,
            "attempt.outage_credited",
            "exam_room",
            rid,
            reason=kind,
            data={
                "kind": kind,
                "from": since.isoformat(),
                "to": now.isoformat(),
                "seconds": lost,
                "attempts": {str(a.id): c for a, c in rows},
            },
            at=now,
        )
        inc = record_incident(
            db_session,
            session_id=session_id,
            room_id=rid,
            registration_id=None,
            kind=kind,
            severity=Severity.INFO,
            now=now,
            evidence={
                "from": since.timestamp(),
                "to": now.timestamp(),
                "seconds": lost,
                "attempts": len(rows),
            },
            first_at=since,
            credited_seconds=lost,
        )
        incidents.append(inc)
        incidents += _mark_gaps_credited(db_session, rows, kind, now)
        _queue_action(
            db_session,
            "outage_credit",
            [a.registration_id for a, _c in rows],
            [rid],
            {"kind": kind, "seconds": lost, "reason": kind},
        )
    return incidents


def _mark_gaps_credited(
    db_session: Session, rows: list[tuple[Attempt, int]], kind: str, now: dt.datetime
) -> list[Incident]:
    """The seats' open disconnection records covered by an outage credit are credited with
    it, so the proctor's one click cannot grant the same time twice."""
    credit = {a.registration_id: c for a, c in rows}
    gaps = db_session.scalars(
        select(Incident).where(
            Incident.registration_id.in_(list(credit)),
            Incident.kind == K.DISCONNECTED,
            Incident.status == IncidentStatus.OPEN,
            Incident.credited_seconds.is_(None),
        )
    ).all()
    for inc in gaps:
        inc.credited_seconds = credit[inc.registration_id]
        inc.evidence = {**(inc.evidence or {}), "credited_by": kind}
        _resolve(inc, Actor.system(kind.replace("_", "-")), now, kind, IncidentStatus.RESOLVED)
    db_session.flush()
    _queue_incidents(db_session, gaps)
    return list(gaps)


ROOM_TOUCH_EVERY = 1.0  # seconds


def note_room_contact(
    db_session: Session,
    room_id: int,
    now: dt.datetime,
    *,
    presence: Presence | None = None,
    policy: IntegrityPolicy | None = None,
) -> list[Incident]:
    """Someone in the room is alive: if nobody was for longer than ``room_outage_seconds``
    (and at least two of its running seats have been online), credit the silence to the
    room's running attempts (once, across processes). A silence already credited as a server
    outage is not credited again."""
    policy = policy or DEFAULT_POLICY
    t = now.timestamp()
    # Every seat beats every few seconds; the room's contact needs a stamp about once a
    # second per process, not one Redis round trip per heartbeat.
    presence = presence or get_presence()
    key = (id(presence), room_id)
    if 0 <= t - _ROOM_TOUCHED.get(key, -1e18) < ROOM_TOUCH_EVERY:
        return []
    _ROOM_TOUCHED[key] = t
    anywhere = (id(presence), None)
    if not 0 <= t - _ROOM_TOUCHED.get(anywhere, -1e18) < ROOM_TOUCH_EVERY:
        # The server handled a heartbeat: it was not down, however late its sweeps ran.
        _ROOM_TOUCHED[anywhere] = t
        presence.stamp("contact", t)
    prev = presence.touch_room(room_id, t)
    if prev is None or t - prev <= policy.room_outage_seconds:
        return []
    start = max(prev, presence.read_stamp("outage-end") or 0.0)
    if t - start <= policy.room_outage_seconds:
        return []
    # One seat alone cannot tell a room outage from its own disconnection (its record and
    # the proctor's one click handle that): a room outage needs two seats that were online.
    running = db_session.scalars(
        select(Attempt.registration_id).where(
            Attempt.room_id == room_id, Attempt.state == S.RUNNING
        )
    ).all()
    if len(presence.get_many(list(running))) < 2:
        return []
    if not presence.claim(f"room-outage:{room_id}:{int(prev)}", 3600):
        return []
    return credit_outage(db_session, room_id, t - start, now, K.ROOM_OUTAGE, since=_when(start))


def check_server_outage(
    db_session: Session, now: dt.datetime, *, presence: Presence | None = None
) -> list[Incident]:
    """Each sweep of each process calls this first: stamps ``alive`` and, when the previous
    stamp (of any process) is older than ``room_outage_seconds``, credits every running attempt
    the gap (once, across processes) before any deadline submission in that sweep."""
    presence = presence or get_presence()
    t = now.timestamp()
    prev = presence.server_alive(t)
    if prev is None or t - prev <= DEFAULT_POLICY.room_outage_seconds:
        return []
    # Late sweeps alone are no outage: an overloaded process runs its sweeper late but still
    # handles heartbeats. Only a silence of both (every process down or frozen) is.
    contact = presence.read_stamp("contact")
    if contact is not None and contact > prev:
        if t - contact <= DEFAULT_POLICY.room_outage_seconds:
            return []
        prev = contact
    if not presence.claim(f"server-outage:{int(prev)}", 3600):
        return []
    presence.stamp("outage-end", t)
    return credit_outage(db_session, None, t - prev, now, K.SERVER_OUTAGE, since=_when(prev))


def sweep(
    db_session: Session, now: dt.datetime, *, presence: Presence | None = None
) -> list[Incident]:
    """The proctoring part of a sweep: server outage credit, then disconnection records for
    seats gone silent. Run it before the deadline sweep; commit, then :func:`dispatch`."""
    presence = presence or get_presence()
    incidents = check_server_outage(db_session, now, presence=presence)
    stale = stale_seats(presence, now)
    if stale:
        records = presence.get_many(stale)
        for reg_id in stale:
            rec = records.get(reg_id)
            if rec is None or rec.last_beat is None:
                presence.drop_beat(reg_id)
                continue
            try:
                inc = open_disconnection(db_session, reg_id, rec.last_beat, now, presence=presence)
            except NotFound:
                presence.drop_beat(reg_id)
                continue
            if inc is not None:
                incidents.append(inc)
    return incidents

"""Proctoring services: incidents from signals, the one-seat-one-device rule, disconnections and
outage credit, seat rows for the console, warnings, and proctor actions.

Like every service, these take the current time ``now`` (an aware datetime) from the caller,
flush and never commit. Presence (:mod:`.presence`) is passed in or taken from the current app.

**Notifications after commit.** What the live layer must push (a candidate's new state after a
pause, a warning, consoles' changed seats, new incidents) is queued on the SQLAlchemy session
while the services run. When the transaction commits, the queue becomes ready; whoever
committed then calls :func:`dispatch` (the HTTP API and the live handlers do), which calls:

- every ``ACTION_LISTENERS`` callable as ``fn(action, registration_ids, room_ids, extra)``:
  ``action`` is a proctor action name (``pause``, ``resume``, ``extra_time``, ``warn``,
  ``approve_move``, ``force_submit``, ``void``, ``credit_disconnection``, ``start_room``,
  ``close_session``, ``dismiss_incident``, ``confirm_incident``) or one of ``policy_pause``,
  ``outage_credit``, ``warning_acked``; ``registration_ids`` are the seats whose state changed,
  ``room_ids`` their rooms; ``extra`` has ``reason`` and action details (``warnings``:
  registration id → the warning as the candidate gets it; ``seconds``; ``by``).
- every ``INCIDENT_LISTENERS`` callable as ``fn(incidents)`` with the new or changed incidents
  as dicts (:meth:`Incident.to_dict`).

A rolled-back transaction drops its queue. Listeners run after the commit, outside any
transaction of the caller's; an exception in one is logged and does not stop the others.
This module never imports Flask-SocketIO.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from flask import current_app, has_app_context
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from question_bank.models import StoredPaper

from ..delivery import services as delivery
from ..delivery.models import Attempt, AttemptAnswer, AttemptState
from ..models import Role
from ..sessions import services as session_svc
from ..sessions.models import Eligibility, ExamSession, Registration, Room
from ..validation import validation_failed
from . import rules
from .models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    ProctorAction,
    ProctorMessage,
    Severity,
)
from .policy import DEFAULT_POLICY, IntegrityPolicy, parse_policy, policy_for
from .presence import Presence, SeatPresence, get_presence

log = logging.getLogger(__name__)
S = AttemptState
K = IncidentKind

ActionListener = Callable[[str, list[int], list[int], dict[str, Any]], None]
IncidentListener = Callable[[list[dict[str, Any]]], None]
ACTION_LISTENERS: list[ActionListener] = []
INCIDENT_LISTENERS: list[IncidentListener] = []

MAX_EVENTS = 50  # merged signals kept in an incident's evidence
POLICY_TTL = 30.0  # seconds a process trusts its cached copy of a session's policy
SEAT_TTL = 300.0  # seconds a process trusts its cached seat context (session, room)


class SeatInUse(DomainError):
    """Another device asked for a seat that is connected now."""

    code = "seat_in_use"
    status = 409


class MoveRequired(DomainError):
    """Another device asked for a seat whose device went away: the proctor must approve."""

    code = "move_required"
    status = 409


# -- notifications after commit ---------------------------------------------------------------

_PENDING = "proctoring_pending"
_READY = "proctoring_ready"


def _queue(db_session: Session, item: tuple[str, tuple[Any, ...]]) -> None:
    db_session.info.setdefault(_PENDING, []).append(item)


def _queue_action(
    db_session: Session,
    action: str,
    reg_ids: Iterable[int],
    room_ids: Iterable[int],
    extra: dict[str, Any] | None = None,
) -> None:
    _queue(
        db_session, ("action", (action, sorted(set(reg_ids)), sorted(set(room_ids)), extra or {}))
    )


def _queue_incidents(db_session: Session, incidents: Iterable[Incident]) -> None:
    rows = [i.to_dict() for i in incidents]
    if rows:
        _queue(db_session, ("incidents", (rows,)))


@event.listens_for(Session, "after_commit")
def _committed(db_session: Session) -> None:
    pending = db_session.info.pop(_PENDING, None)
    if pending:
        db_session.info.setdefault(_READY, []).extend(pending)


@event.listens_for(Session, "after_transaction_end")
def _ended(db_session: Session, transaction) -> None:
    if transaction.parent is None:
        # Whatever is still pending was not committed (after_commit ran before this).
        db_session.info.pop(_PENDING, None)


def dispatch(db_session: Session) -> int:
    """Run the listeners for everything committed since the last call; returns how many
    notifications went out. Call it after ``commit()``."""
    ready = db_session.info.pop(_READY, None) or []
    for kind, args in ready:
        targets: list[Callable[..., None]] = (
            list(ACTION_LISTENERS) if kind == "action" else list(INCIDENT_LISTENERS)
        )
        for fn in targets:
            try:
                fn(*args)
            except Exception:
                log.exception("proctoring listener %r failed", fn)
    return len(ready)


def discard_notifications(db_session: Session) -> None:
    """Drop anything queued (tests, or a caller that will not push)."""
    db_session.info.pop(_PENDING, None)
    db_session.info.pop(_READY, None)


# -- small caches: seat context and policies --------------------------------------------------


@dataclass(frozen=True)
class SeatContext:
    registration_id: int
    session_id: int
    room_id: int


_process_caches: dict[str, dict[Any, Any]] = {}


def _cache(name: str) -> dict[Any, Any]:
    """A cache of the current app (so one per server process, and one per test app)."""
    if has_app_context():
        caches = current_app.extensions.setdefault("proctoring_caches", {})
    else:
        caches = _process_caches
    return caches.setdefault(name, {})


def seat_context(db_session: Session, reg_id: int) -> SeatContext:
    """Session and room of a registration (cached in this process for a few minutes)."""
    _seat_cache = _cache("seats")
    hit = _seat_cache.get(reg_id)
    clock = time.monotonic()
    if hit is not None and hit[0] > clock:
        return hit[1]
    row = db_session.execute(
        select(Registration.session_id, Registration.room_id).where(Registration.id == reg_id)
    ).first()
    if row is None:
        raise NotFound(f"no registration {reg_id}", field="registration")
    ctx = SeatContext(reg_id, row.session_id, row.room_id)
    if len(_seat_cache) > 50_000:
        _seat_cache.clear()
    _seat_cache[reg_id] = (clock + SEAT_TTL, ctx)
    return ctx


def session_policy(db_session: Session, session_id: int) -> IntegrityPolicy:
    """The session's policy (cached in this process for ``POLICY_TTL`` seconds; a change in
    another process is seen within that time)."""
    _policy_cache = _cache("policies")
    hit = _policy_cache.get(session_id)
    clock = time.monotonic()
    if hit is not None and hit[0] > clock:
        return hit[1]
    es = db_session.get(ExamSession, session_id)
    policy = policy_for(es) if es is not None else DEFAULT_POLICY
    _policy_cache[session_id] = (clock + POLICY_TTL, policy)
    return policy


def forget_caches() -> None:
    _cache("seats").clear()
    _cache("policies").clear()
    _cache("paper_sizes").clear()
    _ROOM_TOUCHED.clear()


def refresh_caches(db_session: Session, ahead: float = 10.0) -> int:
    """Reload the cached policies and seat contexts that expire within ``ahead`` seconds (at
    most two queries). The sweeper calls it every second, so a heartbeat never meets an
    expired entry and never queries. (Added for the live layer, see exam_server/live.py.)"""
    _policy_cache, _seat_cache = _cache("policies"), _cache("seats")
    horizon = time.monotonic() + ahead
    sessions = [s for s, (t, _p) in list(_policy_cache.items()) if t <= horizon]
    regs = [r for r, (t, _c) in list(_seat_cache.items()) if t <= horizon]
    clock = time.monotonic()
    if sessions:
        for es in db_session.scalars(select(ExamSession).where(ExamSession.id.in_(sessions))):
            _policy_cache[es.id] = (clock + POLICY_TTL, policy_for(es))
    if regs:
        for row in db_session.execute(
            select(Registration.id, Registration.session_id, Registration.room_id).where(
                Registration.id.in_(regs)
            )
        ):
            ctx = SeatContext(row.id, row.session_id, row.room_id)
            _seat_cache[row.id] = (clock + SEAT_TTL, ctx)
    # Entries whose row is gone were not refreshed: drop them rather than query them again.
    for key in sessions:
        if _policy_cache.get(key, (horizon + 1,))[0] <= horizon:
            _policy_cache.pop(key, None)
    for key in regs:
        if _seat_cache.get(key, (horizon + 1,))[0] <= horizon:
            _seat_cache.pop(key, None)
    return len(sessions) + len(regs)


def get_policy(es: ExamSession) -> IntegrityPolicy:
    return policy_for(es)


def set_policy(
    db_session: Session,
    actor: Actor,
    es: ExamSession,
    data: dict[str, Any] | None,
    reason: str = "",
) -> IntegrityPolicy:
    """Replace the session's policy (``None`` or ``{}``: the defaults). Only the keys that
    differ from the defaults are stored."""
    try:
        policy = parse_policy(data)
    except ValidationError as exc:
        raise validation_failed(exc) from None
    stored = policy.model_dump(exclude_defaults=True) or None
    before = es.integrity_policy
    es.integrity_policy = stored
    db_session.flush()
    record(
        db_session,
        actor,
        "exam_session.integrity_policy",
        "exam_session",
        es.id,
        reason=reason,
        data={"code": es.code, "before": before, "after": stored},
    )
    _cache("policies")[es.id] = (time.monotonic() + POLICY_TTL, policy)
    return policy


# -- incidents --------------------------------------------------------------------------------


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


def handle_signal(
    db_session: Session,
    reg_id: int,
    signal: dict[str, Any],
    now: dt.datetime,
    *,
    presence: Presence | None = None,
) -> list[Incident]:
    """A ``signal`` from the candidate page: run the rules, store the incidents (an insert, or
    an update of the incident it merges into, is the only SQL a signal causes once the seat's
    context and the session's policy are cached), apply the pause policy. Returns the new or
    changed incidents (already queued for :func:`dispatch`)."""
    presence = presence or get_presence()
    ctx = seat_context(db_session, reg_id)
    policy = session_policy(db_session, ctx.session_id)
    _rec, state = _seat_state(presence, reg_id)
    new_state, drafts = rules.on_signal(policy, state, signal, now)
    new_state, incidents = _apply_drafts(db_session, ctx, policy, new_state, drafts, now)
    if new_state != state:
        presence.save_rules(reg_id, new_state)
    return incidents


def handle_heartbeat(
    db_session: Session,
    reg_id: int,
    sid: str,
    beat: dict[str, Any],
    now: dt.datetime,
    *,
    presence: Presence | None = None,
) -> tuple[SeatPresence, list[Incident]]:
    """A heartbeat: presence updated (no SQL), the room's contact stamped (a room outage is
    credited when the whole room was silent), the heartbeat rules run (a window that became
    small, a second screen, the end of a disconnection). Returns the seat's record and the
    new or changed incidents."""
    presence = presence or get_presence()
    ctx = seat_context(db_session, reg_id)
    policy = session_policy(db_session, ctx.session_id)
    rec = presence.heartbeat(reg_id, sid, beat, now.timestamp())
    incidents = note_room_contact(db_session, ctx.room_id, now, presence=presence, policy=policy)
    state = dict(rec.rules)
    new_state, drafts = rules.on_heartbeat(policy, state, beat, now)
    if drafts:
        new_state, more = _apply_drafts(db_session, ctx, policy, new_state, drafts, now)
        incidents += more
    if new_state != state:
        presence.save_rules(reg_id, new_state)
        rec.rules = new_state
    return rec, incidents


def handle_connect(
    db_session: Session,
    reg_id: int,
    *,
    sid: str,
    device: str,
    ip: str,
    ua: str,
    process: str,
    now: dt.datetime,
    presence: Presence | None = None,
) -> tuple[SeatPresence | None, list[Incident]]:
    """A socket connection of the seat (after :func:`check_device` let it in): presence
    marked connected, and the reconnection rules run (new address or browser; a disconnection
    closed or, if the sweeper missed it, recorded whole). Returns the previous presence record
    and the new or changed incidents."""
    presence = presence or get_presence()
    ctx = seat_context(db_session, reg_id)
    policy = session_policy(db_session, ctx.session_id)
    prev = presence.connect(
        reg_id, sid=sid, device=device, ip=ip, ua=ua, process=process, now=now.timestamp()
    )
    state = dict(prev.rules) if prev is not None else {}
    last_beat = prev.last_beat if prev is not None and not state.get("gap") else None
    new_state, drafts = rules.on_reconnect(policy, state, ip, ua, now, last_beat=last_beat)
    # A gap is worth a record only while the attempt runs.
    opens_gap = any(d.kind == K.DISCONNECTED and not d.close for d in drafts)
    if opens_gap and _attempt_state(db_session, reg_id) != S.RUNNING:
        drafts = [d for d in drafts if d.kind != K.DISCONNECTED or d.close]
    incidents: list[Incident] = []
    if drafts:
        new_state, incidents = _apply_drafts(db_session, ctx, policy, new_state, drafts, now)
    if new_state != state or prev is None:
        presence.save_rules(reg_id, new_state)
    return prev, incidents


def _attempt_state(db_session: Session, reg_id: int) -> str | None:
    return db_session.scalar(select(Attempt.state).where(Attempt.registration_id == reg_id))


# -- disconnections and lost time --------------------------------------------------------------


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
# (presence, room id or None for any room) -> the last contact this process stamped
_ROOM_TOUCHED: dict[tuple[int, int | None], float] = {}


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


# -- one seat, one device ----------------------------------------------------------------------


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


# -- void ---------------------------------------------------------------------------------------


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


# -- warnings -----------------------------------------------------------------------------------


def send_warning(
    db_session: Session, actor: Actor, reg: Registration, text: str, now: dt.datetime
) -> ProctorMessage:
    """A warning the candidate must acknowledge (pushed after commit with action ``warn``)."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("a warning needs a text", field="text")
    msg = ProctorMessage(
        session_id=reg.session_id,
        registration_id=reg.id,
        text=text[:1000],
        sent_by_id=actor.id,
        sent_by=actor.name,
        sent_at=now,
    )
    db_session.add(msg)
    db_session.flush()
    return msg


def ack_warning(
    db_session: Session, reg_id: int, warning_id: int, now: dt.datetime
) -> ProctorMessage:
    """The candidate acknowledged a warning (idempotent; audited the first time)."""
    msg = db_session.get(ProctorMessage, warning_id)
    if msg is None or msg.registration_id != reg_id:
        raise NotFound(f"no warning {warning_id} for you", field="id")
    if msg.acked_at is None:
        msg.acked_at = now
        db_session.flush()
        reg = db_session.get(Registration, reg_id)
        record(
            db_session,
            Actor(None, f"candidate:{reg.ticket_number}"),
            "candidate.warning_acknowledged",
            "proctor_message",
            msg.id,
            data={"registration": reg_id},
            at=now,
        )
        _queue_action(db_session, "warning_acked", [reg_id], [reg.room_id], {"warning_id": msg.id})
    return msg


def pending_warnings(db_session: Session, reg_id: int) -> list[dict[str, Any]]:
    """Unacknowledged warnings of the seat, oldest first, as the candidate gets them."""
    rows = db_session.scalars(
        select(ProctorMessage)
        .where(ProctorMessage.registration_id == reg_id, ProctorMessage.acked_at.is_(None))
        .order_by(ProctorMessage.id)
    ).all()
    return [m.to_candidate() for m in rows]


# -- who sees and does what ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProctorScope:
    """What one staff user may see and do in one session. ``None``: every room."""

    view_rooms: frozenset[int] | None
    act_rooms: frozenset[int] | None
    admin: bool = False

    @property
    def read_only(self) -> bool:
        return self.act_rooms is not None and not self.act_rooms

    def can_view(self, room_id: int) -> bool:
        return self.view_rooms is None or room_id in self.view_rooms

    def can_act(self, room_id: int) -> bool:
        return self.act_rooms is None or room_id in self.act_rooms


def scope_for(db_session: Session, user: Any, es: ExamSession) -> ProctorScope:
    """Admins see and act everywhere; supervisors see every room read-only (and act in rooms
    they proctor, if they are proctors too); proctors see and act in their rooms only."""
    if user.has_role(Role.ADMIN):
        return ProctorScope(None, None, admin=True)
    roles = user.roles
    mine = (
        frozenset(session_svc.proctored_room_ids(db_session, es, user.id))
        if Role.PROCTOR in roles
        else frozenset()
    )
    if Role.SUPERVISOR in roles:
        return ProctorScope(None, mine)
    if not mine:
        raise Forbidden(f"you are not assigned to a room of session {es.code}")
    return ProctorScope(mine, mine)


# -- seat rows and the snapshot -----------------------------------------------------------------


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


# -- proctor actions ---------------------------------------------------------------------------

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


def _resolve(inc: Incident, actor: Actor, now: dt.datetime, reason: str, status: str) -> None:
    inc.status = status
    inc.resolved_by_id = actor.id
    inc.resolved_by = actor.name
    inc.resolved_at = now
    inc.resolution = reason


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
        from ..validation import validate

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

"""What a candidate's page sends on the live path: signals, heartbeats, connections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ...delivery.models import AttemptState
from .. import rules
from ..models import (
    Incident,
    IncidentKind,
)
from ..presence import Presence, SeatPresence, get_presence
from .context import seat_context, session_policy
from .incidents import _apply_drafts, _attempt_state, _seat_state
from .outages import note_room_contact

S = AttemptState
K = IncidentKind


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

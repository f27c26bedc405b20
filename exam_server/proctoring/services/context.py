"""Small per-process caches: a seat's session and room, sessions' integrity policies; and
reading or replacing a session's policy."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import NotFound

from ...sessions.models import ExamSession, Registration
from ...validation import validation_failed
from ..policy import DEFAULT_POLICY, IntegrityPolicy, parse_policy, policy_for

POLICY_TTL = 30.0  # seconds a process trusts its cached copy of a session's policy
SEAT_TTL = 300.0  # seconds a process trusts its cached seat context (session, room)


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


# (presence, room id or None for any room) -> the last contact this process stamped
_ROOM_TOUCHED: dict[tuple[int, int | None], float] = {}


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

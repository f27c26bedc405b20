"""Warnings a proctor sends and the candidate acknowledges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import NotFound, ValidationFailed

from ...sessions.models import Registration
from ..models import (
    ProctorMessage,
)
from .notify import _queue_action


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

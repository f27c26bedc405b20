"""Notifications after commit: what the live layer must push is queued on the SQLAlchemy
session while the services run and becomes ready when the transaction commits (see the
package docstring)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..models import (
    Incident,
)

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


def take_ready(db_session: Session) -> list[tuple[str, tuple[Any, ...]]]:
    """Everything committed since the last call, in order (the package's dispatch runs it)."""
    return db_session.info.pop(_READY, None) or []


def discard_notifications(db_session: Session) -> None:
    """Drop anything queued (tests, or a caller that will not push)."""
    db_session.info.pop(_PENDING, None)
    db_session.info.pop(_READY, None)

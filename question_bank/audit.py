"""The append-only, hash-chained audit log.

Every state change in the system appends one :class:`AuditEvent` in the same transaction as the
change itself. Each event stores the SHA-256 of its own canonical form, which includes the hash of
the event before it, so changing, removing or reordering any event breaks the chain at that point;
:func:`verify_chain` walks the chain and names the first bad event. ``audit_head`` keeps the newest
seq and hash so that removing events from the end is detected too. The database refuses UPDATE and
DELETE on ``audit_events`` with triggers (see the migration), so tampering needs deliberate
privileged access, and then the chain shows it.

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by its
single writer. ``seq`` is unique, so a lost race can never fork the chain silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, UTCDateTime, utcnow

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x45584D41  # "EXMA": one advisory lock id for the audit chain


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    # Canonical JSON text (not a JSON column) so the hashed bytes are exactly what is stored.
    data: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "reason": self.reason,
            "data": json.loads(self.data),
            "hash": self.hash,
        }


class AuditHead(Base):
    """One row: the newest event's seq and hash (detects truncation of the chain's end)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def canonical_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    reason: str,
    data: str,
    prev_hash: str,
) -> str:
    at_utc = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = [
        str(seq),
        at_utc,
        "" if actor_id is None else str(actor_id),
        actor,
        action,
        entity_type,
        entity_id,
        reason,
        data,
        prev_hash,
    ]
    # Length-prefix each field so no two different events serialise to the same bytes.
    blob = "".join(f"{len(f)}:{f};" for f in fields)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, or the system itself (``id=None``, e.g. the deadline sweeper)."""

    id: int | None
    name: str

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(None, what)


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any,
    *,
    reason: str = "",
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction (flushes, does not commit)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = session.get(AuditHead, 1)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    at = at or utcnow()
    body = canonical_json(data or {})
    event = AuditEvent(
        seq=head.seq + 1,
        at=at,
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        reason=reason or "",
        data=body,
        prev_hash=head.hash,
    )
    event.hash = event_hash(
        seq=event.seq,
        at=at,
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        entity_type=entity_type,
        entity_id=event.entity_id,
        reason=event.reason,
        data=body,
        prev_hash=head.hash,
    )
    session.add(event)
    head.seq, head.hash = event.seq, event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in order; report the first changed, removed or reordered event."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            last_id = ev.id
            if ev.seq != expected_seq:
                kind = "removed" if ev.seq > expected_seq else "reordered or duplicated"
                return ChainReport(
                    False,
                    count,
                    prev,
                    ev.seq,
                    f"event seq {ev.seq} found where seq {expected_seq} was expected: "
                    f"events {kind}",
                )
            if ev.prev_hash != prev:
                return ChainReport(
                    False,
                    count,
                    prev,
                    ev.seq,
                    f"event seq {ev.seq} does not follow the event before it "
                    f"(previous event removed, changed or reordered)",
                )
            recomputed = event_hash(
                seq=ev.seq,
                at=ev.at,
                actor_id=ev.actor_id,
                actor=ev.actor,
                action=ev.action,
                entity_type=ev.entity_type,
                entity_id=ev.entity_id,
                reason=ev.reason,
                data=ev.data,
                prev_hash=ev.prev_hash,
            )
            if recomputed != ev.hash:
                return ChainReport(
                    False,
                    count,
                    prev,
                    ev.seq,
                    f"event seq {ev.seq} ({ev.action}) was changed after it was written",
                )
            prev = ev.hash
            expected_seq += 1
            count += 1
        session.expunge_all()
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return ChainReport(
            False,
            count,
            prev,
            count + 1 if head_seq > count else head_seq,
            f"the chain ends at seq {count} but the head records seq {head_seq}: "
            f"events at the end were removed or the head was altered",
        )
    return ChainReport(True, count, prev)

"""Tables of proctoring: incidents, proctor actions and proctor messages (warnings).

An :class:`Incident` is evidence for a human to judge: a kind, a severity, how often it happened
(``count``; signals of the same kind within the policy's merge window join the open incident)
and the evidence itself (times, durations, addresses, devices). A :class:`ProctorAction` row
records every action a proctor took, with its reason, next to the audit event. A
:class:`ProctorMessage` is a warning sent to a candidate, acknowledged by them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from question_bank.db import Base, JSONDoc, UTCDateTime, utcnow


class Severity:
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ALL = (INFO, LOW, MEDIUM, HIGH)

    @classmethod
    def rank(cls, severity: str | None) -> int:
        return cls.ALL.index(severity) if severity in cls.ALL else -1

    @classmethod
    def max(cls, a: str, b: str) -> str:
        return a if cls.rank(a) >= cls.rank(b) else b


class IncidentStatus:
    OPEN = "open"
    DISMISSED = "dismissed"  # the proctor judged it harmless
    CONFIRMED = "confirmed"  # the proctor judged it a real breach
    RESOLVED = "resolved"  # handled: a move approved, a disconnection credited
    ALL = (OPEN, DISMISSED, CONFIRMED, RESOLVED)


class IncidentKind:
    LEFT_PAGE = "left_page"
    FULLSCREEN_EXIT = "fullscreen_exit"
    CLIPBOARD = "clipboard"
    CONTEXT_MENU = "context_menu"
    SECOND_SCREEN = "second_screen"
    SMALL_WINDOW = "small_window"
    DISCONNECTED = "disconnected"
    SECOND_DEVICE = "second_device"
    DEVICE_CHANGE = "device_change"
    NEW_IP = "new_ip"
    NEW_BROWSER = "new_browser"
    ROOM_OUTAGE = "room_outage"
    SERVER_OUTAGE = "server_outage"
    POLICY_PAUSE = "policy_pause"
    ALL = (
        LEFT_PAGE,
        FULLSCREEN_EXIT,
        CLIPBOARD,
        CONTEXT_MENU,
        SECOND_SCREEN,
        SMALL_WINDOW,
        DISCONNECTED,
        SECOND_DEVICE,
        DEVICE_CHANGE,
        NEW_IP,
        NEW_BROWSER,
        ROOM_OUTAGE,
        SERVER_OUTAGE,
        POLICY_PAUSE,
    )


class Incident(Base):
    """Something a proctor should judge, for one seat (or a whole room for outages)."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("severity IN ('info', 'low', 'medium', 'high')", name="severity_known"),
        CheckConstraint(
            "status IN ('open', 'dismissed', 'confirmed', 'resolved')", name="status_known"
        ),
        Index("ix_incidents_session_status", "session_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"))
    room_id: Mapped[int] = mapped_column(ForeignKey("exam_rooms.id"), index=True)
    # NULL for room-wide incidents (room and server outages).
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10), default=IncidentStatus.OPEN)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Kind-specific facts (``from``/``to``/``seconds`` of a disconnection, ``device``/``ip``/
    # ``ua`` of a device change …) plus ``events``: the merged signals, newest last (capped).
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    # A disconnection granted back as extra time (credit_disconnection) or an outage credit.
    credited_seconds: Mapped[int | None] = mapped_column(Integer)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_by: Mapped[str] = mapped_column(String(100), default="")
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "room_id": self.room_id,
            "registration_id": self.registration_id,
            "kind": self.kind,
            "severity": self.severity,
            "status": self.status,
            "count": self.count,
            "first_at": _iso(self.first_at),
            "last_at": _iso(self.last_at),
            "evidence": self.evidence or {},
            "credited_seconds": self.credited_seconds,
            "resolved_by": self.resolved_by or None,
            "resolved_at": _iso(self.resolved_at),
            "resolution": self.resolution or "",
        }


class ProctorAction(Base):
    """One action a proctor (or administrator) took on one target, with the reason."""

    __tablename__ = "proctor_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("exam_rooms.id"))
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    action: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "room_id": self.room_id,
            "registration_id": self.registration_id,
            "incident_id": self.incident_id,
            "action": self.action,
            "reason": self.reason,
            "data": self.data or {},
            "actor": self.actor,
            "at": _iso(self.at),
        }


class ProctorMessage(Base):
    """A warning sent to one candidate; the candidate must acknowledge it."""

    __tablename__ = "proctor_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_by: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def to_candidate(self) -> dict[str, Any]:
        """What the candidate page gets (``warning`` push, ``hello`` reply)."""
        return {"id": self.id, "text": self.text, "sent_at": _iso(self.sent_at)}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.to_candidate(),
            "registration_id": self.registration_id,
            "sent_by": self.sent_by,
            "acked_at": _iso(self.acked_at),
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

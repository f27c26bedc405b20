"""Tables of exam sessions: sessions, rooms, proctor assignments, registrations, photos and
check-ins.

An :class:`ExamSession` (场次) examines one occupation and level from a pinned bank release; it
has rooms (考场) with seats and an access code each. A :class:`Registration` (报名) places one
candidate on one seat with an admission ticket number (准考证号) and an eligibility decision.
:class:`CheckIn` rows are append-only (database triggers refuse UPDATE and DELETE): one per
sign-in attempt whose ticket was given, successful or not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from question_bank.db import Base, JSONDoc, UTCDateTime, utcnow
from question_bank.models import BankRelease, Occupation


class SessionState:
    PLANNED = "planned"
    OPEN = "open"
    RUNNING = "running"
    CLOSED = "closed"
    ALL = (PLANNED, OPEN, RUNNING, CLOSED)


class StartMode:
    UNIFIED = "unified"  # each room starts at once (its proctor, or the schedule)
    WINDOW = "window"  # each candidate starts on their own within a window
    ALL = (UNIFIED, WINDOW)


class Eligibility:
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ALL = (PENDING, APPROVED, REJECTED)


class IdType:
    RESIDENT_ID = "resident_id"  # 居民身份证 (GB 11643, 18 characters)
    PASSPORT = "passport"  # 护照
    HK_MACAO = "hk_macao_permit"  # 港澳居民来往内地通行证
    TAIWAN = "taiwan_permit"  # 台湾居民来往大陆通行证
    FOREIGN_PERMANENT = "foreign_permanent_id"  # 外国人永久居留身份证
    OTHER = "other"
    ALL = (RESIDENT_ID, PASSPORT, HK_MACAO, TAIWAN, FOREIGN_PERMANENT, OTHER)


class ExamSession(Base):
    """One sitting (场次) of a theory exam for one occupation and level."""

    __tablename__ = "exam_sessions"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
        CheckConstraint("state IN ('planned', 'open', 'running', 'closed')", name="state_known"),
        CheckConstraint("start_mode IN ('unified', 'window')", name="start_mode_known"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    # The blueprint tables come with paper assembly (issue 3); a plain id until then.
    blueprint_version_id: Mapped[int | None] = mapped_column(Integer)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("bank_releases.id"))
    scheduled_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    late_entry_minutes: Mapped[int] = mapped_column(Integer)
    earliest_submit_minutes: Mapped[int] = mapped_column(Integer)
    start_mode: Mapped[str] = mapped_column(String(10), default=StartMode.UNIFIED)
    # Window mode: candidates may start from scheduled_start until this many minutes after it.
    start_window_minutes: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default=SessionState.PLANNED)
    note: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # exam_server.proctoring.policy.IntegrityPolicy values that differ from the defaults.
    integrity_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)

    occupation: Mapped[Occupation] = relationship()
    release: Mapped[BankRelease | None] = relationship()
    rooms: Mapped[list[Room]] = relationship(
        back_populates="session", order_by="Room.number", cascade="all, delete-orphan"
    )

    @property
    def scheduled_end(self) -> dt.datetime:
        return self.scheduled_start + dt.timedelta(minutes=self.duration_minutes)

    @property
    def window_end(self) -> dt.datetime | None:
        if self.start_mode != StartMode.WINDOW or self.start_window_minutes is None:
            return None
        return self.scheduled_start + dt.timedelta(minutes=self.start_window_minutes)


class Room(Base):
    """An exam room (考场) of a session: numbered seats and the access code candidates type."""

    __tablename__ = "exam_rooms"
    __table_args__ = (
        UniqueConstraint("session_id", "number"),
        UniqueConstraint("session_id", "name"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    # 1, 2, 3 … in the order rooms were added; part of generated ticket numbers.
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    location: Mapped[str] = mapped_column(String(200), default="")
    capacity: Mapped[int] = mapped_column(Integer)
    # Kept in plain text because proctors read it out in the room; never sent to candidates.
    access_code: Mapped[str] = mapped_column(String(16))
    # Unified start: when the proctor (or the schedule) started this room.
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[ExamSession] = relationship(back_populates="rooms")
    proctors: Mapped[list[RoomProctor]] = relationship(
        back_populates="room", cascade="all, delete-orphan"
    )


class RoomProctor(Base):
    """A proctor (监考员) assigned to a room."""

    __tablename__ = "room_proctors"

    room_id: Mapped[int] = mapped_column(ForeignKey("exam_rooms.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    room: Mapped[Room] = relationship(back_populates="proctors")


class CandidatePhoto(Base):
    """A candidate's photo, content-addressed by SHA-256. Kept apart from the bank's assets:
    photos are personal data that only session staff may see."""

    __tablename__ = "candidate_photos"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(50))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Registration(Base):
    """One candidate (考生) registered for a session, on one seat of one room."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("session_id", "ticket_number"),
        UniqueConstraint("room_id", "seat"),
        UniqueConstraint("session_id", "id_type", "id_number"),
        CheckConstraint("seat > 0", name="seat_positive"),
        CheckConstraint(
            "eligibility IN ('pending', 'approved', 'rejected')", name="eligibility_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("exam_rooms.id"), index=True)
    seat: Mapped[int] = mapped_column(Integer)
    # Stored upper case; sign-in looks it up across sessions, hence its own index.
    ticket_number: Mapped[str] = mapped_column(String(32), index=True)
    candidate_name: Mapped[str] = mapped_column(String(100))
    id_type: Mapped[str] = mapped_column(String(24), default=IdType.RESIDENT_ID)
    id_number: Mapped[str] = mapped_column(String(32))
    photo_sha256: Mapped[str | None] = mapped_column(ForeignKey("candidate_photos.sha256"))
    eligibility: Mapped[str] = mapped_column(String(10), default=Eligibility.PENDING)
    eligibility_reason: Mapped[str] = mapped_column(Text, default="")
    eligibility_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    eligibility_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Denormalised from check_ins: the first successful sign-in (rosters show it).
    first_check_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[ExamSession] = relationship()
    room: Mapped[Room] = relationship()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "ticket_number": self.ticket_number,
            "candidate_name": self.candidate_name,
            "id_type": self.id_type,
            "id_number": self.id_number,
            "room_id": self.room_id,
            "room": self.room.name,
            "seat": self.seat,
            "photo": self.photo_sha256,
            "eligibility": self.eligibility,
            "eligibility_reason": self.eligibility_reason,
            "eligibility_by_id": self.eligibility_by_id,
            "eligibility_at": _iso(self.eligibility_at),
            "first_check_in_at": _iso(self.first_check_in_at),
            "created_at": _iso(self.created_at),
        }


class CheckIn(Base):
    """One sign-in attempt (签到). Append-only: the database refuses UPDATE and DELETE.

    ``registration_id`` is set when ticket, ID number and room access code all matched a
    registration (the attempt may still be refused: session not open, not eligible, too late);
    it is NULL when the credentials matched nothing. ``failure`` says why an attempt was refused
    (for staff only; the candidate gets one generic message for wrong credentials).
    """

    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("exam_rooms.id"))
    ticket_number: Mapped[str] = mapped_column(String(32))
    ok: Mapped[bool] = mapped_column(Boolean)
    failure: Mapped[str] = mapped_column(String(32), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "registration_id": self.registration_id,
            "room_id": self.room_id,
            "ticket_number": self.ticket_number,
            "ok": self.ok,
            "failure": self.failure,
            "ip": self.ip,
            "user_agent": self.user_agent,
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

"""Tables of live delivery: attempts, the latest answer per question, and the answer log."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from question_bank.db import Base, JSONDoc, UTCDateTime, utcnow
from question_bank.models import StoredPaper

from ..sessions.models import Registration


class AttemptState:
    WAITING = "waiting"  # paper ready, the start has not come
    RUNNING = "running"
    PAUSED = "paused"
    SUBMITTED = "submitted"
    VOIDED = "voided"
    OPEN = (WAITING, RUNNING, PAUSED)
    ALL = (WAITING, RUNNING, PAUSED, SUBMITTED, VOIDED)


class Attempt(Base):
    """One candidate's sitting of one paper."""

    __tablename__ = "attempts"
    __table_args__ = (
        CheckConstraint(
            "state IN ('waiting', 'running', 'paused', 'submitted', 'voided')", name="state_known"
        ),
        Index("ix_attempts_due", "state", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("exam_rooms.id"), index=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id"))
    state: Mapped[str] = mapped_column(String(10), default=AttemptState.WAITING)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # While running: the moment time is up. While paused: the deadline as it stood when the
    # pause began (resuming adds the paused time).
    deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extra_seconds: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=1)
    position_seq: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submit_reason: Mapped[str] = mapped_column(String(20), default="")
    score: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    max_score: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # One seat, one device: the candidate page's device id, set on the first connection and
    # on a move the proctor approved (docs/proctoring.md).
    device_id: Mapped[str | None] = mapped_column(String(64))

    registration: Mapped[Registration] = relationship()
    paper: Mapped[StoredPaper] = relationship()


class AttemptAnswer(Base):
    """The newest answer and flag of one question of an attempt."""

    __tablename__ = "attempt_answers"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1-based, display order
    response: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    answer_seq: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    points: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))  # set when graded


class AnswerLog(Base):
    """Every accepted save, append-only: what the candidate did, in order, with both clocks."""

    __tablename__ = "answer_log"
    __table_args__ = (UniqueConstraint("attempt_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # answer, flag, position
    position: Mapped[int] = mapped_column(Integer)
    value: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    client_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    server_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)

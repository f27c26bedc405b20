"""Candidate check-in (签到): sign-in with ticket number + ID number + room access code.

Every attempt whose ticket number was given leaves a :class:`CheckIn` row and an audit event,
whether it succeeds or not. Wrong credentials get one generic refusal that does not say which
field was wrong; once all three match, the candidate is told plainly why they cannot enter
(session not open, not approved, too late). The late-entry cutoff applies to the first
successful check-in only: a candidate who checked in in time may sign in again later (a reload,
a spare machine).

A successful sign-in returns a candidate token (itsdangerous, its own salt, bound to the
registration and the check-in) that the live delivery uses.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import DomainError
from question_bank.schema import LEVEL_NAMES

from .models import CheckIn, Eligibility, ExamSession, Registration, SessionState
from .services import check_in_closed_at, normalize_access_code

PROTOCOL_VERSION = 1
TOKEN_SALT = "exam-candidate-token"  # distinct from the staff API's "exam-api-token"
DEFAULT_TOKEN_HOURS = 12


class SignInFailed(DomainError):
    """Ticket, ID number and access code do not match a registration (one generic message)."""

    code = "sign_in_failed"
    status = 401


class SessionNotOpen(DomainError):
    code = "session_not_open"
    status = 409


class NotEligible(DomainError):
    code = "not_eligible"
    status = 403


class CheckInClosed(DomainError):
    code = "check_in_closed"
    status = 403


GENERIC_FAILURE = (
    "the admission ticket number, ID number and room access code do not match; "
    "check them and try again, or ask the proctor"
)


@dataclass
class SignInOutcome:
    check_in: CheckIn
    registration: Registration | None
    error: DomainError | None
    first: bool = False


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).upper()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _find(
    session: Session, ticket: str, id_number: str, code: str
) -> tuple[Registration | None, str]:
    """The registration all three credentials match, else None and the reason (staff only)."""
    regs = list(session.scalars(select(Registration).where(Registration.ticket_number == ticket)))
    if not regs:
        return None, "unknown_ticket"
    live = (SessionState.OPEN, SessionState.RUNNING)
    regs.sort(key=lambda r: (r.session.state in live, r.session.scheduled_start), reverse=True)
    failure = ""
    for reg in regs:
        id_ok = _same(reg.id_number, id_number)
        code_ok = _same(reg.room.access_code, code)
        if id_ok and code_ok:
            return reg, ""
        failure = failure or ("wrong_access_code" if id_ok else "wrong_id_number")
    return None, failure


def sign_in(
    session: Session,
    *,
    ticket_number: str,
    id_number: str,
    access_code: str,
    now: dt.datetime,
    ip: str = "",
    user_agent: str = "",
    device: str | None = None,
) -> SignInOutcome:
    """Check a candidate in. Always records the attempt (flushed, not committed); the outcome
    carries the error to reply with when the attempt was refused. The caller audits it with
    :func:`record_sign_in` right before committing."""
    ticket = _plain(ticket_number)
    reg, failure = _find(session, ticket, _plain(id_number), normalize_access_code(access_code))
    error: DomainError | None = None
    es: ExamSession | None = reg.session if reg is not None else None
    if reg is None:
        error = SignInFailed(GENERIC_FAILURE)
    elif es.state == SessionState.PLANNED:
        failure = "session_not_open"
        error = SessionNotOpen(
            f"the exam session {es.name} is not open for check-in yet", field="session"
        )
    elif es.state == SessionState.CLOSED:
        failure = "session_closed"
        error = SessionNotOpen(f"the exam session {es.name} has ended", field="session")
    elif reg.eligibility != Eligibility.APPROVED:
        failure = f"not_eligible_{reg.eligibility}"
        error = NotEligible(
            "your registration has not been approved for this exam; please see the exam staff",
            field="eligibility",
        )
    elif reg.first_check_in_at is None and (deadline := check_in_closed_at(es, reg.room, now)):
        failure = "late"
        error = CheckInClosed(
            f"check-in for room {reg.room.name} closed at {deadline.isoformat()}; late "
            "candidates cannot enter",
            field="time",
        )
    if error is None and device:
        error = _seat_taken(session, reg, device, now, ip, user_agent)
        failure = "seat_in_use" if error is not None else failure
    attempt = CheckIn(
        at=now,
        registration_id=reg.id if reg is not None else None,
        session_id=es.id if es is not None else None,
        room_id=reg.room_id if reg is not None else None,
        ticket_number=ticket[:32],
        ok=error is None,
        failure=failure,
        ip=(ip or "")[:45],
        user_agent=(user_agent or "")[:300],
    )
    session.add(attempt)
    first = False
    if error is None:
        first = reg.first_check_in_at is None
        if first:
            reg.first_check_in_at = now
    session.flush()
    return SignInOutcome(attempt, reg, error, first)


def record_sign_in(session: Session, outcome: SignInOutcome) -> None:
    """The audit event of a sign-in, accepted or refused.

    Kept apart from :func:`sign_in` so the caller writes it last, just before its commit: an
    audit event serialises with every other one (the hash chain), and in a sign-in storm the
    chain must be held only for that insert and the commit."""
    attempt, reg = outcome.check_in, outcome.registration
    if outcome.error is None:
        es = reg.session
        record(
            session,
            Actor(None, f"candidate:{reg.ticket_number}"),
            "candidate.checked_in",
            "registration",
            reg.id,
            data={
                "session": es.code,
                "room": reg.room.name,
                "seat": reg.seat,
                "check_in": attempt.id,
                "first": outcome.first,
                "ip": attempt.ip,
            },
            at=attempt.at,
        )
    else:
        record(
            session,
            Actor(None, "candidate"),
            "candidate.sign_in_refused",
            "check_in",
            attempt.id,
            data={"ticket": attempt.ticket_number, "failure": attempt.failure, "ip": attempt.ip},
            at=attempt.at,
        )


def _seat_taken(
    session: Session, reg: Registration, device: str, now: dt.datetime, ip: str, ua: str
) -> DomainError | None:
    """One seat, one device (docs/proctoring.md): a sign-in from another device while the
    seat is connected is refused (``seat_in_use``, with a high incident for the proctor).
    Another device after the first one went away may sign in; its connection then waits for
    the proctor to approve the move (``move_required`` on the socket)."""
    from ..delivery.models import Attempt
    from ..proctoring import services as proctoring

    attempt = session.scalar(select(Attempt).where(Attempt.registration_id == reg.id))
    if attempt is None or attempt.device_id in (None, device):
        return None
    try:
        proctoring.check_device(session, attempt, device, None, now, ip=ip, ua=ua)
    except proctoring.SeatInUse as exc:
        return exc
    except proctoring.MoveRequired:
        pass  # its incident stays: the proctor sees the request before the socket asks
    return None


# -- candidate tokens -------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def token_max_age() -> int:
    hours = float(current_app.config.get("CANDIDATE_TOKEN_HOURS", DEFAULT_TOKEN_HOURS))
    return int(hours * 3600)


def issue_candidate_token(outcome: SignInOutcome) -> str:
    reg = outcome.registration
    return _serializer().dumps({"r": reg.id, "s": reg.session_id, "c": outcome.check_in.id})


@dataclass(frozen=True)
class CandidateIdentity:
    registration: Registration
    check_in_id: int


def candidate_from_token(session: Session, token: str) -> CandidateIdentity | None:
    """The registration a candidate token was issued for, or None (bad, expired, or the
    registration is gone). Whether it may still act (approved, session live) is the caller's
    rule."""
    try:
        data = _serializer().loads(token, max_age=token_max_age())
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    reg = session.get(Registration, data.get("r"))
    if reg is None or reg.session_id != data.get("s"):
        return None
    return CandidateIdentity(reg, int(data.get("c", 0)))


def sign_in_reply(outcome: SignInOutcome, token: str, now: dt.datetime) -> dict[str, Any]:
    """The success reply of ``POST /api/candidate/sign-in`` (see docs/sessions.md)."""
    reg = outcome.registration
    es, room = reg.session, reg.room
    occ = es.occupation
    return {
        "protocol": PROTOCOL_VERSION,
        "token": token,
        "token_expires_in": token_max_age(),
        "server_time": now.isoformat(),
        "first_check_in": outcome.first,
        "candidate": {
            "name": reg.candidate_name,
            "ticket_number": reg.ticket_number,
            "room": room.name,
            "seat": reg.seat,
        },
        "session": {
            "code": es.code,
            "name": es.name,
            "state": es.state,
            "occupation": {"code": occ.code, "name": occ.name, "name_en": occ.name_en},
            "level": es.level,
            "level_name": list(LEVEL_NAMES.get(es.level, ("", ""))),
            "scheduled_start": es.scheduled_start.isoformat(),
            "duration_minutes": es.duration_minutes,
            "earliest_submit_minutes": es.earliest_submit_minutes,
            "start_mode": es.start_mode,
            "window_end": es.window_end.isoformat() if es.window_end else None,
            "room_started_at": room.started_at.isoformat() if room.started_at else None,
        },
    }

"""Registrations (报名): candidates on seats, eligibility decisions and photos.

:class:`SeatPlan` checks candidates against a session's rooms and existing registrations,
collecting every problem instead of stopping at the first, so the roster import can report all
bad rows at once and a single registration gets the same rules. Seats left empty are given the
lowest free seat of the room, in row order; tickets left empty are generated as session code +
room number (2 digits) + seat (3 digits), e.g. ``E2026060101`` + ``01`` + ``007``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import Conflict, NotFound, ValidationFailed
from question_bank.formats import Problem

from .idcard import normalize_id_number, parse_id_type
from .models import (
    CandidatePhoto,
    CheckIn,
    Eligibility,
    ExamSession,
    Registration,
    Room,
    SessionState,
)
from .schemas import RegistrationIn, RegistrationPatch
from .services import require_state

TICKET = re.compile(r"^[A-Z0-9][A-Z0-9\-]{3,31}$")
MAX_NAME = 50
MAX_PHOTO_BYTES = 2 * 1024 * 1024
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
EDITABLE_STATES = (SessionState.PLANNED,)
DECIDABLE_STATES = (SessionState.PLANNED, SessionState.OPEN, SessionState.RUNNING)


# -- one candidate, as given ------------------------------------------------------------------


@dataclass
class CandidateRow:
    """One candidate as a roster row or an API body gives it (text, not yet checked)."""

    place: str
    name: str = ""
    id_type: str = ""
    id_number: str = ""
    ticket: str = ""
    room: str = ""
    seat: Any = None
    photo: bytes | None = None
    photo_name: str = ""


@dataclass
class PlannedRow:
    place: str
    name: str
    id_type: str
    id_number: str
    room: Room
    seat: int | None
    ticket: str | None
    photo: bytes | None = None


def _key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).casefold()


def clean_name(text: str) -> str:
    """A candidate's name: whitespace collapsed; raises ``ValueError`` saying what is wrong."""
    name = " ".join(unicodedata.normalize("NFC", str(text or "")).split())
    if not name:
        raise ValueError("the name is missing")
    if len(name) > MAX_NAME:
        raise ValueError(f"a name has at most {MAX_NAME} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ValueError("the name contains control characters")
    if any(c.isdigit() for c in name):
        raise ValueError("the name contains digits (are the columns in the right order?)")
    return name


def clean_ticket(text: str) -> str:
    ticket = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text or ""))).upper()
    if not TICKET.match(ticket):
        raise ValueError(
            "an admission ticket number has 4 to 32 letters, digits or hyphens, "
            f"starting with a letter or digit; got {ticket!r}"
        )
    return ticket


def parse_seat(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("the seat must be a whole number")
    if isinstance(value, int):
        seat = value
    elif isinstance(value, float) and value.is_integer():
        seat = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        match = re.fullmatch(r"0*(\d{1,4})\s*[号座]?", text)
        if not match:
            raise ValueError(f"the seat must be a whole number, got {text!r}")
        seat = int(match.group(1))
    if seat < 1:
        raise ValueError("seats are numbered from 1")
    return seat


def check_photo(data: bytes) -> str:
    """The media type of a candidate photo (JPEG or PNG, at most 2 MB), or ``ValueError``."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ValueError("the photo is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise ValueError(f"a photo may be at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValueError("the photo is not a readable JPEG or PNG image") from None
    if fmt not in PHOTO_TYPES:
        raise ValueError(f"photos must be JPEG or PNG, got {fmt}")
    return PHOTO_TYPES[fmt]


# -- the seat plan ----------------------------------------------------------------------------


@dataclass
class _Problem:
    problem: Problem
    conflict: bool = False  # a clash with other registrations rather than a bad value


@dataclass
class SeatPlan:
    """Rules of a session's roster, checked over many candidates at once.

    ``add`` each row, then ``finish``; ``problems`` lists every bad row. Existing registrations
    of the session count unless ``replace`` (an import that replaces the roster) or listed in
    ``exclude`` (the registration being edited).
    """

    session: Session
    es: ExamSession
    replace: bool = False
    exclude: set[int] = field(default_factory=set)
    problems: list[_Problem] = field(default_factory=list)
    rows: list[PlannedRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rooms_by_key: dict[str, Room] = {_key(r.name): r for r in self.es.rooms}
        for r in self.es.rooms:
            self.rooms_by_key.setdefault(str(r.number), r)
        self.seats: dict[tuple[int, int], str] = {}
        self.tickets: dict[str, str] = {}
        self.ids: dict[tuple[str, str], str] = {}
        if self.replace:
            return
        existing = self.session.scalars(
            select(Registration).where(Registration.session_id == self.es.id)
        )
        for reg in existing:
            if reg.id in self.exclude:
                continue
            owner = f"registration {reg.ticket_number} ({reg.candidate_name})"
            self.seats[(reg.room_id, reg.seat)] = owner
            self.tickets[reg.ticket_number] = owner
            self.ids[(reg.id_type, reg.id_number)] = owner

    def _bad(self, place: str, field_name: str, message: str, *, conflict=False) -> None:
        self.problems.append(_Problem(Problem(place, message, field_name), conflict))

    def add(self, row: CandidateRow) -> None:
        place = row.place
        before = len(self.problems)
        name = id_type = id_number = ticket = None
        try:
            name = clean_name(row.name)
        except ValueError as exc:
            self._bad(place, "candidate_name", str(exc))
        try:
            id_type = parse_id_type(row.id_type)
        except ValueError as exc:
            self._bad(place, "id_type", str(exc))
        if id_type is not None:
            try:
                id_number = normalize_id_number(id_type, row.id_number)
            except ValueError as exc:
                self._bad(place, "id_number", str(exc))
        if id_number is not None:
            owner = self.ids.get((id_type, id_number))
            if owner:
                self._bad(
                    place, "id_number", f"duplicate ID number {id_number} ({owner})", conflict=True
                )
            else:
                self.ids[(id_type, id_number)] = place
        if str(row.ticket or "").strip():
            try:
                ticket = clean_ticket(row.ticket)
            except ValueError as exc:
                self._bad(place, "ticket_number", str(exc))
            else:
                if owner := self.tickets.get(ticket):
                    self._bad(
                        place,
                        "ticket_number",
                        f"duplicate ticket {ticket} ({owner})",
                        conflict=True,
                    )
                else:
                    self.tickets[ticket] = place
        room = self._room(place, row.room)
        seat = None
        if row.seat not in (None, "") and str(row.seat).strip():
            try:
                seat = parse_seat(row.seat)
            except ValueError as exc:
                self._bad(place, "seat", str(exc))
            if seat is not None and room is not None:
                if seat > room.capacity:
                    self._bad(
                        place,
                        "seat",
                        f"seat {seat} is beyond the capacity ({room.capacity}) of room {room.name}",
                    )
                elif owner := self.seats.get((room.id, seat)):
                    self._bad(
                        place,
                        "seat",
                        f"duplicate seat {seat} in room {room.name} ({owner})",
                        conflict=True,
                    )
                else:
                    self.seats[(room.id, seat)] = place
        if row.photo is not None:
            try:
                check_photo(row.photo)
            except ValueError as exc:
                label = f"{row.photo_name}: " if row.photo_name else ""
                self._bad(place, "photo", label + str(exc))
        if len(self.problems) == before and room is not None:
            self.rows.append(
                PlannedRow(place, name, id_type, id_number, room, seat, ticket, row.photo)
            )

    def _room(self, place: str, text: str) -> Room | None:
        if not str(text or "").strip():
            if len(self.es.rooms) == 1:
                return self.es.rooms[0]
            self._bad(place, "room", "the room is missing (the session has several rooms)")
            return None
        room = self.rooms_by_key.get(_key(text))
        if room is None:
            known = ", ".join(r.name for r in self.es.rooms) or "none"
            self._bad(place, "room", f"unknown room {str(text).strip()!r} (rooms: {known})")
        return room

    def finish(self) -> list[PlannedRow]:
        """Give seats and tickets to the rows without them; returns the rows if no problems."""
        for row in self.rows:
            if row.seat is not None:
                continue
            free = next(
                (s for s in range(1, row.room.capacity + 1) if (row.room.id, s) not in self.seats),
                None,
            )
            if free is None:
                self._bad(
                    row.place,
                    "seat",
                    f"room {row.room.name} is full (capacity {row.room.capacity})",
                    conflict=True,
                )
                continue
            row.seat = free
            self.seats[(row.room.id, free)] = row.place
        for row in self.rows:
            if row.ticket is not None or row.seat is None:
                continue
            ticket = generated_ticket(self.es, row.room, row.seat)
            if owner := self.tickets.get(ticket):
                self._bad(
                    row.place,
                    "ticket_number",
                    f"the generated ticket {ticket} is taken ({owner}); give this row a ticket "
                    "number",
                    conflict=True,
                )
                continue
            row.ticket = ticket
            self.tickets[ticket] = row.place
        return [] if self.problems else self.rows

    def raise_first(self) -> None:
        """For a single registration: the first problem as a 422 (bad value) or 409 (clash)."""
        if not self.problems:
            return
        first = self.problems[0]
        cls = Conflict if first.conflict else ValidationFailed
        raise cls(first.problem.message, field=first.problem.field)


def generated_ticket(es: ExamSession, room: Room, seat: int) -> str:
    return f"{es.code.upper()}{room.number:02d}{seat:03d}"


# -- writing ----------------------------------------------------------------------------------


def store_photo(session: Session, data: bytes, uploaded_by_id: int | None) -> str:
    media = check_photo(data)
    digest = hashlib.sha256(data).hexdigest()
    if session.get(CandidatePhoto, digest) is None:
        session.add(
            CandidatePhoto(
                sha256=digest,
                media_type=media,
                data=data,
                size=len(data),
                uploaded_by_id=uploaded_by_id,
            )
        )
        session.flush()
    return digest


def create_from_plan(
    session: Session,
    actor: Actor,
    es: ExamSession,
    rows: list[PlannedRow],
    *,
    eligibility: str = Eligibility.PENDING,
    now: dt.datetime | None = None,
) -> list[Registration]:
    made = []
    for row in rows:
        reg = Registration(
            session_id=es.id,
            room_id=row.room.id,
            seat=row.seat,
            ticket_number=row.ticket,
            candidate_name=row.name,
            id_type=row.id_type,
            id_number=row.id_number,
            eligibility=eligibility,
            created_by_id=actor.id,
        )
        if row.photo is not None:
            reg.photo_sha256 = store_photo(session, row.photo, actor.id)
        if eligibility != Eligibility.PENDING:
            reg.eligibility_by_id = actor.id
            reg.eligibility_at = now
        session.add(reg)
        made.append(reg)
    session.flush()
    return made


def add_registration(
    session: Session, actor: Actor, es: ExamSession, body: RegistrationIn
) -> Registration:
    require_state(es, *EDITABLE_STATES, doing="adding a registration")
    plan = SeatPlan(session, es)
    plan.add(
        CandidateRow(
            "registration",
            body.candidate_name,
            body.id_type,
            body.id_number,
            body.ticket_number,
            body.room,
            body.seat,
        )
    )
    rows = plan.finish()
    plan.raise_first()
    (reg,) = create_from_plan(session, actor, es, rows)
    record(
        session,
        actor,
        "registration.created",
        "registration",
        reg.id,
        data={"session": es.code, **_reg_data(reg)},
    )
    return reg


def _reg_data(reg: Registration) -> dict[str, Any]:
    # The audit log keeps who sat where, not the ID number (supervisors read the log).
    return {
        "ticket": reg.ticket_number,
        "name": reg.candidate_name,
        "room": reg.room.name if reg.room else reg.room_id,
        "seat": reg.seat,
    }


def get_registration(session: Session, es: ExamSession, registration_id: int) -> Registration:
    reg = session.get(Registration, registration_id)
    if reg is None or reg.session_id != es.id:
        raise NotFound(
            f"session {es.code} has no registration {registration_id}", field="registration"
        )
    return reg


def update_registration(
    session: Session, actor: Actor, reg: Registration, patch: RegistrationPatch
) -> Registration:
    es = reg.session
    require_state(es, *EDITABLE_STATES, doing="changing a registration")
    given = patch.model_dump(exclude_unset=True)
    reason = given.pop("reason", "")
    plan = SeatPlan(session, es, exclude={reg.id})
    same_room = "room" not in given or _key(given["room"] or "") == _key(reg.room.name)
    seat = given.get("seat", reg.seat if same_room else None)

    def pick(name: str, current: Any) -> Any:
        return given[name] if given.get(name) is not None else current

    plan.add(
        CandidateRow(
            "registration",
            pick("candidate_name", reg.candidate_name),
            pick("id_type", reg.id_type),
            pick("id_number", reg.id_number),
            pick("ticket_number", reg.ticket_number),
            given.get("room") or reg.room.name,
            seat,
        )
    )
    rows = plan.finish()
    plan.raise_first()
    (row,) = rows
    before = _reg_data(reg)
    identity_changed = (row.name, row.id_type, row.id_number) != (
        reg.candidate_name,
        reg.id_type,
        reg.id_number,
    )
    reg.candidate_name, reg.id_type, reg.id_number = row.name, row.id_type, row.id_number
    reg.ticket_number, reg.room, reg.seat = row.ticket, row.room, row.seat
    reset = identity_changed and reg.eligibility != Eligibility.PENDING
    if reset:
        # The decision was about the person as registered before; it must be taken again.
        reg.eligibility = Eligibility.PENDING
        reg.eligibility_reason = ""
        reg.eligibility_by_id = None
        reg.eligibility_at = None
    session.flush()
    record(
        session,
        actor,
        "registration.updated",
        "registration",
        reg.id,
        reason=reason,
        data={
            "session": es.code,
            "before": before,
            "after": _reg_data(reg),
            "identity_changed": identity_changed,
            "eligibility_reset": reset,
        },
    )
    return reg


def delete_registration(session: Session, actor: Actor, reg: Registration, reason="") -> None:
    es = reg.session
    require_state(es, *EDITABLE_STATES, doing="removing a registration")
    if session.scalar(select(CheckIn.id).where(CheckIn.registration_id == reg.id).limit(1)):
        raise Conflict(
            f"registration {reg.ticket_number} has sign-in attempts on record; reject it "
            "instead of removing it",
            field="registration",
        )
    record(
        session,
        actor,
        "registration.deleted",
        "registration",
        reg.id,
        reason=reason,
        data={"session": es.code, **_reg_data(reg)},
    )
    session.delete(reg)
    session.flush()


def set_eligibility(
    session: Session,
    actor: Actor,
    es: ExamSession,
    regs: list[Registration],
    status: str,
    reason: str,
    *,
    now: dt.datetime,
) -> list[Registration]:
    """Approve, reject (reason required) or return to pending; one audit event for all."""
    require_state(es, *DECIDABLE_STATES, doing="an eligibility decision")
    if status not in Eligibility.ALL:
        raise ValidationFailed(
            f"status must be one of {', '.join(Eligibility.ALL)}", field="status"
        )
    reason = reason.strip()
    if status == Eligibility.REJECTED and not reason:
        raise ValidationFailed("a rejection needs a reason", field="reason")
    changed = []
    for reg in regs:
        if reg.session_id != es.id:
            raise NotFound(
                f"session {es.code} has no registration {reg.id}", field="registration_ids"
            )
        if reg.eligibility == status and reg.eligibility_reason == reason:
            continue
        changed.append({"id": reg.id, "ticket": reg.ticket_number, "from": reg.eligibility})
        reg.eligibility = status
        reg.eligibility_reason = reason
        reg.eligibility_by_id = actor.id
        reg.eligibility_at = now
    if changed:
        session.flush()
        record(
            session,
            actor,
            "registration.eligibility_set",
            "exam_session" if len(regs) > 1 else "registration",
            es.id if len(regs) > 1 else regs[0].id,
            reason=reason,
            data={"session": es.code, "status": status, "registrations": changed},
            at=now,
        )
    return regs


def registrations_by_ids(session: Session, es: ExamSession, ids: list[int]) -> list[Registration]:
    regs = list(
        session.scalars(
            select(Registration).where(
                Registration.session_id == es.id, Registration.id.in_(set(ids))
            )
        )
    )
    found = {r.id for r in regs}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(
            f"session {es.code} has no registration {missing[0]}", field="registration_ids"
        )
    return regs


def set_photo(
    session: Session, actor: Actor, reg: Registration, data: bytes | None, reason: str = ""
) -> Registration:
    """Set (or with ``None`` remove) a candidate's photo."""
    require_state(reg.session, *DECIDABLE_STATES, doing="changing a photo")
    if data is None:
        digest = None
    else:
        try:
            digest = store_photo(session, data, actor.id)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field="file") from None
    reg.photo_sha256 = digest
    session.flush()
    record(
        session,
        actor,
        "registration.photo_set" if digest else "registration.photo_removed",
        "registration",
        reg.id,
        reason=reason,
        data={"session": reg.session.code, "ticket": reg.ticket_number, "photo": digest},
    )
    return reg


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationFilter:
    room_ids: set[int] | None = None  # None: every room
    room_id: int | None = None
    eligibility: str | None = None
    checked_in: bool | None = None
    text: str | None = None
    page: int = 1
    per_page: int = 100


def search_registrations(
    session: Session, es: ExamSession, f: RegistrationFilter
) -> tuple[list[Registration], int]:
    q = select(Registration).where(Registration.session_id == es.id)
    if f.room_ids is not None:
        q = q.where(Registration.room_id.in_(f.room_ids or {-1}))
    if f.room_id is not None:
        q = q.where(Registration.room_id == f.room_id)
    if f.eligibility:
        if f.eligibility not in Eligibility.ALL:
            raise ValidationFailed(
                f"eligibility must be one of {', '.join(Eligibility.ALL)}", field="eligibility"
            )
        q = q.where(Registration.eligibility == f.eligibility)
    if f.checked_in is not None:
        col = Registration.first_check_in_at
        q = q.where(col.is_not(None) if f.checked_in else col.is_(None))
    if f.text:
        like = f"%{f.text.strip()}%"
        q = q.where(
            or_(
                Registration.candidate_name.like(like),
                Registration.ticket_number.like(like.upper()),
                Registration.id_number.like(like.upper()),
            )
        )
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.join(Room, Room.id == Registration.room_id)
        .order_by(Room.number, Registration.seat)
        .offset((f.page - 1) * f.per_page)
        .limit(f.per_page)
    ).all()
    return list(rows), total

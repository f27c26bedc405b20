"""Sessions, rooms, proctors and the session state machine.

States: ``planned → open → running → closed``, one action each (``open``, ``start``,
``close``); any other move is a 409. A planned session can be edited freely; from ``open`` on
its schedule, rooms and roster are fixed (proctors, access codes and eligibility may still
change until it is closed). Every change appends an audit event in the same transaction.

Functions take a SQLAlchemy ``Session``, an :class:`~question_bank.audit.Actor` and plain values;
time-dependent rules take ``now`` from the caller. They flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import Conflict, NotFound, ValidationFailed
from question_bank.knowledge import get_occupation
from question_bank.models import BankRelease

from ..models import Role, User
from . import hooks
from .models import (
    CheckIn,
    Eligibility,
    ExamSession,
    Registration,
    Room,
    RoomProctor,
    SessionState,
    StartMode,
)
from .schemas import RoomIn, RoomPatch, SessionIn, SessionPatch

MAX_ROOMS = 99
# Unambiguous when read aloud or off a board: no 0/O, 1/I/L.
ACCESS_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
ACCESS_CODE_LENGTH = 6

# action -> (from state, to state)
TRANSITIONS: dict[str, tuple[str, str]] = {
    "open": (SessionState.PLANNED, SessionState.OPEN),
    "start": (SessionState.OPEN, SessionState.RUNNING),
    "close": (SessionState.RUNNING, SessionState.CLOSED),
}


# -- lookups ----------------------------------------------------------------------------------


def get_session(session: Session, session_id: int) -> ExamSession:
    es = session.get(ExamSession, session_id)
    if es is None:
        raise NotFound(f"no exam session {session_id}", field="session")
    return es


def get_session_by_code(session: Session, code: str) -> ExamSession:
    es = session.scalar(select(ExamSession).where(ExamSession.code == code))
    if es is None:
        raise NotFound(f"no exam session with code {code!r}", field="session")
    return es


def get_room(session: Session, es: ExamSession, room_id: int) -> Room:
    room = session.get(Room, room_id)
    if room is None or room.session_id != es.id:
        raise NotFound(f"session {es.code} has no room {room_id}", field="room")
    return room


def list_sessions(
    session: Session,
    *,
    state: str | None = None,
    occupation: str | None = None,
    proctor_id: int | None = None,
) -> list[ExamSession]:
    """Sessions, newest scheduled first; ``proctor_id`` keeps those where that user proctors."""
    q = select(ExamSession).order_by(ExamSession.scheduled_start.desc(), ExamSession.id.desc())
    if state:
        if state not in SessionState.ALL:
            raise ValidationFailed(
                f"state must be one of {', '.join(SessionState.ALL)}", field="state"
            )
        q = q.where(ExamSession.state == state)
    if occupation:
        q = q.where(ExamSession.occupation_id == get_occupation(session, occupation).id)
    if proctor_id is not None:
        q = q.where(ExamSession.id.in_(proctored_session_ids(session, proctor_id)))
    return list(session.scalars(q.limit(500)))


def proctored_session_ids(session: Session, user_id: int):
    return (
        select(Room.session_id)
        .join(RoomProctor, RoomProctor.room_id == Room.id)
        .where(RoomProctor.user_id == user_id)
    )


def proctored_room_ids(session: Session, es: ExamSession, user_id: int) -> set[int]:
    return set(
        session.scalars(
            select(RoomProctor.room_id)
            .join(Room, Room.id == RoomProctor.room_id)
            .where(Room.session_id == es.id, RoomProctor.user_id == user_id)
        )
    )


# -- rules ------------------------------------------------------------------------------------


def require_state(es: ExamSession, *states: str, doing: str) -> None:
    if es.state not in states:
        allowed = " or ".join(states)
        raise Conflict(
            f"session {es.code} is {es.state}; {doing} needs a session that is {allowed}",
            field="state",
        )


def _check_session_rules(session: Session, es: ExamSession) -> None:
    """Rules across fields, checked after every create and edit."""
    if es.earliest_submit_minutes > es.duration_minutes:
        raise ValidationFailed(
            f"earliest submission ({es.earliest_submit_minutes} min) cannot be later than the "
            f"duration ({es.duration_minutes} min)",
            field="earliest_submit_minutes",
        )
    if es.late_entry_minutes >= es.duration_minutes:
        raise ValidationFailed(
            f"the late-entry cutoff ({es.late_entry_minutes} min) must fall within the "
            f"duration ({es.duration_minutes} min)",
            field="late_entry_minutes",
        )
    if es.start_mode == StartMode.WINDOW and es.start_window_minutes is None:
        raise ValidationFailed(
            "a session started per candidate needs start_window_minutes: how long after the "
            "scheduled start candidates may still begin",
            field="start_window_minutes",
        )
    if es.start_mode == StartMode.UNIFIED and es.start_window_minutes is not None:
        raise ValidationFailed(
            "start_window_minutes applies only to start_mode 'window'",
            field="start_window_minutes",
        )
    if es.release_id is not None:
        rel = session.get(BankRelease, es.release_id)
        if rel is None:
            raise NotFound(f"no bank release {es.release_id}", field="release_id")
        if rel.occupation_id != es.occupation.id or rel.level != es.level:
            raise ValidationFailed(
                f"release {rel.name} is for another occupation or level than the session",
                field="release_id",
            )


def new_access_code(taken: Iterable[str] = ()) -> str:
    taken = set(taken)
    while True:
        code = "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))
        if code not in taken:
            return code


def normalize_access_code(text: str) -> str:
    return "".join(text.split()).upper()


def check_in_deadline(es: ExamSession, room: Room) -> dt.datetime:
    """The last moment a candidate of ``room`` may check in for the first time.

    Unified start: the late-entry cutoff after the room's actual start (before it has started,
    the projected one after the scheduled start). Window start: the end of the start window.
    """
    if es.start_mode == StartMode.WINDOW and es.window_end is not None:
        return es.window_end
    start = room.started_at or es.scheduled_start
    return start + dt.timedelta(minutes=es.late_entry_minutes)


def check_in_closed_at(es: ExamSession, room: Room, now: dt.datetime) -> dt.datetime | None:
    """The deadline if first check-in is over at ``now``, else None. Nobody is late before
    their room has started: a room started late moves the cutoff with it."""
    if es.start_mode == StartMode.UNIFIED and room.started_at is None:
        return None
    deadline = check_in_deadline(es, room)
    return deadline if now > deadline else None


def latest_end(es: ExamSession) -> dt.datetime:
    """When the last candidate's regular time is up (without extra time granted later)."""
    if es.start_mode == StartMode.WINDOW and es.window_end is not None:
        return es.window_end + dt.timedelta(minutes=es.duration_minutes)
    starts = [r.started_at or es.scheduled_start for r in es.rooms] or [es.scheduled_start]
    return max(starts) + dt.timedelta(minutes=es.duration_minutes)


def _session_data(es: ExamSession) -> dict[str, Any]:
    return {
        "code": es.code,
        "name": es.name,
        "occupation": es.occupation.code,
        "level": es.level,
        "scheduled_start": es.scheduled_start.isoformat(),
        "duration_minutes": es.duration_minutes,
        "late_entry_minutes": es.late_entry_minutes,
        "earliest_submit_minutes": es.earliest_submit_minutes,
        "start_mode": es.start_mode,
        "start_window_minutes": es.start_window_minutes,
        "release_id": es.release_id,
        "blueprint_version_id": es.blueprint_version_id,
    }


# -- sessions ---------------------------------------------------------------------------------


def create_session(session: Session, actor: Actor, spec: SessionIn) -> ExamSession:
    if session.scalar(select(ExamSession.id).where(ExamSession.code == spec.code)) is not None:
        raise Conflict(f"a session with code {spec.code} exists already", field="code")
    occ = get_occupation(session, spec.occupation)
    es = ExamSession(
        code=spec.code,
        name=spec.name,
        occupation=occ,
        level=spec.level,
        scheduled_start=spec.scheduled_start,
        duration_minutes=spec.duration_minutes,
        late_entry_minutes=spec.late_entry_minutes,
        earliest_submit_minutes=spec.earliest_submit_minutes,
        start_mode=spec.start_mode,
        start_window_minutes=spec.start_window_minutes,
        release_id=spec.release_id,
        blueprint_version_id=spec.blueprint_version_id,
        note=spec.note,
        state=SessionState.PLANNED,
        created_by_id=actor.id,
    )
    _check_session_rules(session, es)
    names = [r.name for r in spec.rooms]
    dup = next((n for n, c in Counter(names).items() if c > 1), None)
    if dup is not None:
        raise Conflict(f"two rooms are named {dup}", field="rooms")
    session.add(es)
    session.flush()
    record(session, actor, "exam_session.created", "exam_session", es.id, data=_session_data(es))
    for index, room_spec in enumerate(spec.rooms):
        try:
            add_room(session, actor, es, room_spec)
        except (Conflict, ValidationFailed) as exc:
            exc.field = f"rooms.{index}.{exc.field}" if exc.field else f"rooms.{index}"
            raise
    return es


def update_session(
    session: Session, actor: Actor, es: ExamSession, patch: SessionPatch
) -> ExamSession:
    require_state(es, SessionState.PLANNED, doing="changing the session")
    given = patch.model_dump(exclude_unset=True)
    reason = given.pop("reason", "")
    for name, value in given.items():
        if value is None and name not in SessionPatch.NULLABLE:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    before = {**_session_data(es), "note": es.note}
    if "occupation" in given:
        es.occupation = get_occupation(session, given.pop("occupation"))
    for name, value in given.items():
        setattr(es, name, value)
    if given.get("start_mode") == StartMode.UNIFIED and "start_window_minutes" not in given:
        es.start_window_minutes = None  # switching to a unified start drops the window
    _check_session_rules(session, es)
    after = {**_session_data(es), "note": es.note}
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k] and k != "note"}
    if before["note"] != after["note"]:
        changed["note"] = "changed"
    if changed:
        session.flush()
        record(
            session,
            actor,
            "exam_session.updated",
            "exam_session",
            es.id,
            reason=reason,
            data={"code": es.code, "changes": changed},
        )
    return es


def delete_session(session: Session, actor: Actor, es: ExamSession, reason: str = "") -> None:
    require_state(es, SessionState.PLANNED, doing="deleting the session")
    if session.scalar(select(CheckIn.id).where(CheckIn.session_id == es.id).limit(1)):
        raise Conflict(
            f"session {es.code} has sign-in attempts on record, which are evidence and cannot "
            "be deleted",
            field="session",
        )
    count = session.scalar(
        select(func.count()).select_from(Registration).where(Registration.session_id == es.id)
    )
    record(
        session,
        actor,
        "exam_session.deleted",
        "exam_session",
        es.id,
        reason=reason,
        data={**_session_data(es), "registrations": count},
    )
    session.execute(delete(Registration).where(Registration.session_id == es.id))
    session.delete(es)
    session.flush()


def transition(
    session: Session, actor: Actor, es: ExamSession, action: str, *, now: dt.datetime, reason=""
) -> list[str]:
    """Apply ``open``, ``start`` or ``close``; returns warnings for the administrator."""
    if action not in TRANSITIONS:
        raise ValidationFailed(
            f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}", field="action"
        )
    source, target = TRANSITIONS[action]
    if es.state != source:
        raise Conflict(
            f"session {es.code} is {es.state}; '{action}' needs a session that is {source}",
            field="action",
        )
    warnings: list[str] = []
    if action == "open":
        warnings = _check_can_open(session, es)
        es.opened_at = now
    elif action == "start":
        es.started_at = now
        if es.start_mode == StartMode.UNIFIED:
            starting = [room for room in es.rooms if room.started_at is None]
            for room in starting:
                room.started_at = now
            session.flush()
            hooks.on_rooms_started(session, [room.id for room in starting], now)
    elif action == "close":
        if now < latest_end(es) and not reason.strip():
            raise ValidationFailed(
                "closing before every candidate's time is up needs a reason", field="reason"
            )
        es.closed_at = now
    es.state = target
    session.flush()
    record(
        session,
        actor,
        f"exam_session.{_PAST[action]}",
        "exam_session",
        es.id,
        reason=reason,
        data={"code": es.code, "from": source, "to": target, "warnings": warnings},
        at=now,
    )
    if action == "open":
        hooks.on_session_open(session, es, actor)
    elif action == "close":
        hooks.on_session_close(session, es, actor, now)
    return warnings


_PAST = {"open": "opened", "start": "started", "close": "closed"}


def _check_can_open(session: Session, es: ExamSession) -> list[str]:
    if not es.rooms:
        raise Conflict(f"session {es.code} has no rooms; add one first", field="rooms")
    if es.release_id is None:
        raise Conflict(
            f"session {es.code} has no bank release; pin one before opening (papers are "
            "drawn from it)",
            field="release_id",
        )
    counts = dict(
        session.execute(
            select(Registration.eligibility, func.count())
            .where(Registration.session_id == es.id)
            .group_by(Registration.eligibility)
        ).all()
    )
    if not counts.get(Eligibility.APPROVED):
        raise Conflict(
            f"session {es.code} has no approved candidates; review eligibility first",
            field="registrations",
        )
    warnings = []
    if counts.get(Eligibility.PENDING):
        warnings.append(
            f"{counts[Eligibility.PENDING]} registrations are still pending and cannot sign in"
        )
    for room in es.rooms:
        if not room.proctors:
            warnings.append(f"room {room.name} has no proctor")
    return warnings


# -- rooms ------------------------------------------------------------------------------------


def _room_data(room: Room) -> dict[str, Any]:
    return {"number": room.number, "name": room.name, "capacity": room.capacity}


def add_room(session: Session, actor: Actor, es: ExamSession, spec: RoomIn) -> Room:
    require_state(es, SessionState.PLANNED, doing="adding a room")
    if len(es.rooms) >= MAX_ROOMS:
        raise Conflict(f"a session has at most {MAX_ROOMS} rooms", field="rooms")
    if any(r.name == spec.name for r in es.rooms):
        raise Conflict(f"session {es.code} has a room named {spec.name} already", field="name")
    number = max((r.number for r in es.rooms), default=0) + 1
    room = Room(
        number=number,
        name=spec.name,
        location=spec.location,
        capacity=spec.capacity,
        access_code=new_access_code(r.access_code for r in es.rooms),
    )
    es.rooms.append(room)
    session.flush()
    record(
        session,
        actor,
        "exam_room.created",
        "exam_room",
        room.id,
        data={"session": es.code, **_room_data(room)},
    )
    return room


def _highest_seat(session: Session, room: Room) -> int:
    return (
        session.scalar(select(func.max(Registration.seat)).where(Registration.room_id == room.id))
        or 0
    )


def update_room(session: Session, actor: Actor, room: Room, patch: RoomPatch) -> Room:
    es = room.session
    require_state(es, SessionState.PLANNED, doing="changing a room")
    given = patch.model_dump(exclude_unset=True)
    reason = given.pop("reason", "")
    for name, value in given.items():
        if value is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    if "name" in given and any(r.name == given["name"] and r is not room for r in es.rooms):
        raise Conflict(f"session {es.code} has a room named {given['name']} already", field="name")
    if "capacity" in given and given["capacity"] < (highest := _highest_seat(session, room)):
        raise Conflict(
            f"seat {highest} of room {room.name} is taken; the capacity cannot be lower",
            field="capacity",
        )
    before = _room_data(room)
    for name, value in given.items():
        setattr(room, name, value)
    session.flush()
    record(
        session,
        actor,
        "exam_room.updated",
        "exam_room",
        room.id,
        reason=reason,
        data={"session": es.code, "before": before, "after": _room_data(room)},
    )
    return room


def delete_room(session: Session, actor: Actor, room: Room, reason: str = "") -> None:
    es = room.session
    require_state(es, SessionState.PLANNED, doing="removing a room")
    if session.scalar(select(Registration.id).where(Registration.room_id == room.id).limit(1)):
        raise Conflict(
            f"room {room.name} has registrations; move or remove them first", field="room"
        )
    record(
        session,
        actor,
        "exam_room.deleted",
        "exam_room",
        room.id,
        reason=reason,
        data={"session": es.code, **_room_data(room)},
    )
    es.rooms.remove(room)
    session.flush()


def regenerate_access_code(session: Session, actor: Actor, room: Room, reason: str = "") -> Room:
    """A new access code for ``room`` (e.g. the old one was seen outside the room)."""
    es = room.session
    require_state(
        es, SessionState.PLANNED, SessionState.OPEN, SessionState.RUNNING, doing="a new code"
    )
    room.access_code = new_access_code(r.access_code for r in es.rooms)
    session.flush()
    # The code itself never goes into the audit log, which supervisors read.
    record(
        session,
        actor,
        "exam_room.access_code_changed",
        "exam_room",
        room.id,
        reason=reason,
        data={"session": es.code, "room": room.name},
    )
    return room


def assign_proctors(
    session: Session, actor: Actor, room: Room, usernames: list[str], reason: str = ""
) -> Room:
    """Make exactly ``usernames`` the proctors of ``room``; each must hold the proctor role."""
    es = room.session
    require_state(
        es,
        SessionState.PLANNED,
        SessionState.OPEN,
        SessionState.RUNNING,
        doing="assigning proctors",
    )
    users: list[User] = []
    for index, name in enumerate(dict.fromkeys(usernames)):
        user = session.scalar(select(User).where(User.username == name))
        if user is None:
            raise NotFound(f"no user {name!r}", field=f"usernames.{index}")
        if not user.is_active or not user.has_role(Role.PROCTOR):
            raise ValidationFailed(
                f"user {name} is not an active proctor", field=f"usernames.{index}"
            )
        users.append(user)
    before = sorted(_proctor_names(session, room))
    room.proctors = [RoomProctor(user_id=u.id) for u in users]
    session.flush()
    record(
        session,
        actor,
        "exam_room.proctors_assigned",
        "exam_room",
        room.id,
        reason=reason,
        data={
            "session": es.code,
            "room": room.name,
            "before": before,
            "after": sorted(u.username for u in users),
        },
    )
    return room


def _proctor_names(session: Session, room: Room) -> list[str]:
    ids = [p.user_id for p in room.proctors]
    if not ids:
        return []
    return list(session.scalars(select(User.username).where(User.id.in_(ids))))


def start_room(
    session: Session, actor: Actor, room: Room, *, now: dt.datetime, reason: str = ""
) -> Room:
    """Unified start of one room by its proctor; the session becomes running with it."""
    es = room.session
    if es.start_mode != StartMode.UNIFIED:
        raise Conflict(
            f"session {es.code} starts per candidate within a window; rooms are not started",
            field="start_mode",
        )
    require_state(es, SessionState.OPEN, SessionState.RUNNING, doing="starting a room")
    if room.started_at is not None:
        raise Conflict(f"room {room.name} started at {room.started_at.isoformat()}", field="room")
    room.started_at = now
    session.flush()
    hooks.on_rooms_started(session, [room.id], now)
    if es.state == SessionState.OPEN:
        es.state = SessionState.RUNNING
        es.started_at = now
        session.flush()
        record(
            session,
            actor,
            "exam_session.started",
            "exam_session",
            es.id,
            reason=reason,
            data={"code": es.code, "from": "open", "to": "running", "by_room": room.name},
            at=now,
        )
    session.flush()
    record(
        session,
        actor,
        "exam_room.started",
        "exam_room",
        room.id,
        reason=reason,
        data={"session": es.code, "room": room.name},
        at=now,
    )
    return room


# -- reading ----------------------------------------------------------------------------------


def allowed_actions(es: ExamSession) -> list[str]:
    return [a for a, (source, _target) in TRANSITIONS.items() if es.state == source]


def session_summary(es: ExamSession) -> dict[str, Any]:
    rel = es.release
    return {
        "id": es.id,
        "code": es.code,
        "name": es.name,
        "occupation": es.occupation.to_dict(),
        "level": es.level,
        "release_id": es.release_id,
        "release_name": rel.name if rel is not None else None,
        "blueprint_version_id": es.blueprint_version_id,
        "scheduled_start": es.scheduled_start.isoformat(),
        "scheduled_end": es.scheduled_end.isoformat(),
        "duration_minutes": es.duration_minutes,
        "late_entry_minutes": es.late_entry_minutes,
        "earliest_submit_minutes": es.earliest_submit_minutes,
        "start_mode": es.start_mode,
        "start_window_minutes": es.start_window_minutes,
        "window_end": es.window_end.isoformat() if es.window_end else None,
        "state": es.state,
        "actions": allowed_actions(es),
        "note": es.note,
        "opened_at": _iso(es.opened_at),
        "started_at": _iso(es.started_at),
        "closed_at": _iso(es.closed_at),
        "created_at": _iso(es.created_at),
        "rooms_count": len(es.rooms),
    }


def session_detail(
    session: Session, es: ExamSession, *, code_rooms: set[int] | None, room_ids: set[int] | None
) -> dict[str, Any]:
    """The session with its rooms and counts. ``code_rooms``: rooms whose access code the
    reader may see (None: all); ``room_ids``: rooms the reader may see at all (None: all)."""
    counts: dict[int, Counter] = {}
    for room_id, eligibility, checked, n in session.execute(
        select(
            Registration.room_id,
            Registration.eligibility,
            Registration.first_check_in_at.is_not(None),
            func.count(),
        )
        .where(Registration.session_id == es.id)
        .group_by(
            Registration.room_id,
            Registration.eligibility,
            Registration.first_check_in_at.is_not(None),
        )
    ):
        c = counts.setdefault(room_id, Counter())
        c[eligibility] += n
        c["registered"] += n
        if checked:
            c["checked_in"] += n
    user_ids = {p.user_id for r in es.rooms for p in r.proctors}
    users = (
        {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    rooms = []
    total: Counter = Counter()
    for room in es.rooms:
        if room_ids is not None and room.id not in room_ids:
            continue
        c = counts.get(room.id, Counter())
        total.update(c)
        rooms.append(
            {
                "id": room.id,
                "number": room.number,
                "name": room.name,
                "location": room.location,
                "capacity": room.capacity,
                "access_code": room.access_code
                if code_rooms is None or room.id in code_rooms
                else None,
                "started_at": _iso(room.started_at),
                "check_in_deadline": check_in_deadline(es, room).isoformat(),
                "proctors": [
                    {
                        "id": p.user_id,
                        "username": users[p.user_id].username,
                        "display_name": users[p.user_id].display_name,
                    }
                    for p in room.proctors
                    if p.user_id in users
                ],
                "counts": _counts(c),
            }
        )
    return {**session_summary(es), "rooms": rooms, "counts": _counts(total)}


def _counts(c: Counter) -> dict[str, int]:
    keys = ("registered", *Eligibility.ALL, "checked_in")
    return {k: int(c.get(k, 0)) for k in keys}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

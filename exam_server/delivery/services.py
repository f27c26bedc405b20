"""Attempt services: start, state, pause, submission, the deadline sweep, grading (saves:
:mod:`.saves`).

Every function takes the current time ``now`` from its caller (the request or the sweeper reads
the injectable clock once), flushes, and never commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, joinedload

from question_bank.assembly import paper_for_delivery, paper_from_record
from question_bank.audit import Actor, record
from question_bank.errors import Conflict, DomainError, NotFound, ValidationFailed
from question_bank.models import ItemVersion, StoredPaper
from question_bank.schema import Blank, ItemContent

from .. import socket_json
from ..sessions.models import Eligibility, ExamSession, Registration, Room
from .assets import sign_images
from .models import Attempt, AttemptAnswer, AttemptState

S = AttemptState
MAX_TEXT = 200  # characters per fill-in blank


class TimeUp(DomainError):
    code = "time_up"
    status = 409


class AlreadySubmitted(DomainError):
    code = "submitted"
    status = 409


class NotStarted(DomainError):
    code = "not_started"
    status = 409


class TooEarly(DomainError):
    code = "too_early_to_submit"
    status = 409


# -- item content -------------------------------------------------------------------------------


# Item versions never change once written, so what the live path derives from them is kept
# per process under the version's content hash (never under a database id alone: a database
# that is emptied and filled again, as tests do, reuses ids).
_CONTENT: dict[tuple[str, int, str], dict[str, Any]] = {}
_VALIDATED: dict[tuple[str, int, str], ItemContent] = {}
_SHAPES: dict[tuple[str, int, str], list[tuple[str, int, Any]]] = {}
_CACHE_LIMIT = 50_000


def _database_key(session: Session) -> str:
    """Which database a per-process cache entry belongs to."""
    return session.get_bind().url.render_as_string(hide_password=True)


def _keys(session: Session, version_ids: list[int]) -> dict[int, tuple[str, int, str]]:
    db_key = _database_key(session)
    rows = session.execute(
        select(ItemVersion.id, ItemVersion.content_hash).where(ItemVersion.id.in_(set(version_ids)))
    ).all()
    found = {vid: (db_key, vid, h) for vid, h in rows}
    for vid in version_ids:
        if vid not in found:
            raise NotFound(f"item version {vid} is missing")
    return found


def raw_contents(session: Session, version_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Stored content of these item versions: one small query for their hashes, and the
    content only of versions not seen yet."""
    return _contents(session, _keys(session, version_ids), version_ids)


def _contents(
    session: Session, keys: dict[int, tuple[str, int, str]], version_ids: list[int]
) -> dict[int, dict[str, Any]]:
    missing = [vid for vid, key in keys.items() if key not in _CONTENT]
    if missing:
        if len(_CONTENT) + len(missing) > _CACHE_LIMIT:
            _CONTENT.clear()
            _VALIDATED.clear()
            missing = list(keys)
        rows = session.execute(
            select(ItemVersion.id, ItemVersion.content).where(ItemVersion.id.in_(missing))
        ).all()
        for vid, content in rows:
            _CONTENT[keys[vid]] = content
    return {vid: _CONTENT[keys[vid]] for vid in version_ids}


def paper_shapes(session: Session, paper_id: int, paper_hash: str) -> list[tuple[str, int, Any]]:
    """(type, number of blanks, displayed options) of every question of a paper, in order: all
    a save needs to check an answer. Kept per process under the paper's id and hash, so a hit
    needs neither the stored paper nor a query."""
    key = (_database_key(session), paper_id, paper_hash)
    hit = _SHAPES.get(key)
    if hit is None:
        stored = session.get(StoredPaper, paper_id)
        if stored is None:
            raise NotFound(f"paper {paper_id} is missing")
        vids = [int(it["version_id"]) for it in stored.items]
        contents = raw_contents(session, vids)
        hit = [
            (
                str(contents[v]["type"]),
                len(contents[v].get("blanks") or []),
                it.get("options") or [],
            )
            for v, it in zip(vids, stored.items, strict=True)
        ]
        if len(_SHAPES) >= _CACHE_LIMIT:
            _SHAPES.clear()
        _SHAPES[key] = hit
    return hit


def paper_contents(session: Session, version_ids: list[int]) -> dict[int, ItemContent]:
    """Validated contents of a paper's item versions (for grading)."""
    keys = _keys(session, version_ids)
    if any(keys[vid] not in _VALIDATED for vid in version_ids):
        raw = _contents(session, keys, version_ids)
        for vid in version_ids:
            if keys[vid] not in _VALIDATED:
                _VALIDATED[keys[vid]] = ItemContent.model_validate(raw[vid])
    return {vid: _VALIDATED[keys[vid]] for vid in version_ids}


# -- creating and starting ------------------------------------------------------------------------


def create_attempts(session: Session, es: ExamSession, papers: dict[str, StoredPaper]) -> int:
    """One waiting attempt per approved registration that has a paper (keyed by ticket)."""
    regs = session.scalars(
        select(Registration).where(
            Registration.session_id == es.id, Registration.eligibility == Eligibility.APPROVED
        )
    ).all()
    have = set(session.scalars(select(Attempt.registration_id).where(Attempt.session_id == es.id)))
    made = 0
    for reg in regs:
        paper = papers.get(reg.ticket_number)
        if paper is None or reg.id in have:
            continue
        total = sum(Decimal(str(it["points"])) for it in paper.items)
        session.add(
            Attempt(
                registration_id=reg.id,
                session_id=es.id,
                room_id=reg.room_id,
                paper_id=paper.id,
                duration_seconds=es.duration_minutes * 60,
                max_score=total,
            )
        )
        made += 1
    session.flush()
    return made


def start_waiting(session: Session, room_ids: list[int], at: dt.datetime) -> int:
    """Start every waiting attempt of these rooms at ``at``, set-based.

    One UPDATE per distinct (duration, extra time) in the rooms (usually one), instead of one
    row at a time, so the start of a whole session takes a few statements, and concurrent
    starters (the API, every process's sweeper) touch each row once: the ``state = 'waiting'``
    condition makes a second starter update nothing.
    """
    if not room_ids:
        return 0
    groups = session.execute(
        select(Attempt.duration_seconds, Attempt.extra_seconds)
        .where(Attempt.room_id.in_(room_ids), Attempt.state == S.WAITING)
        .distinct()
    ).all()
    started = 0
    for duration, extra in groups:
        started += session.execute(
            update(Attempt)
            .where(
                Attempt.room_id.in_(room_ids),
                Attempt.state == S.WAITING,
                Attempt.duration_seconds == duration,
                Attempt.extra_seconds == extra,
            )
            .values(
                state=S.RUNNING,
                started_at=at,
                deadline=at + dt.timedelta(seconds=duration + extra),
            )
            .execution_options(synchronize_session="fetch")
        ).rowcount
    session.flush()
    return started


def _start(a: Attempt, at: dt.datetime) -> None:
    a.state = S.RUNNING
    a.started_at = at
    a.deadline = at + dt.timedelta(seconds=a.duration_seconds + a.extra_seconds)


def get_attempt(
    session: Session, registration_id: int, *, lock: bool = False, with_paper: bool = False
) -> Attempt:
    """The registration's attempt; ``lock`` takes its row lock (saves and state changes of
    one attempt apply one at a time in every process); ``with_paper`` loads the stored paper
    in the same query."""
    q = select(Attempt).where(Attempt.registration_id == registration_id)
    if with_paper:
        q = q.options(joinedload(Attempt.paper, innerjoin=True))
    if lock:
        q = q.with_for_update(of=Attempt)
    a = session.scalar(q)
    if a is None:
        raise NotFound("no paper has been prepared for this candidate yet", field="registration")
    return a


def ensure_started(session: Session, a: Attempt, now: dt.datetime) -> None:
    """Start a waiting attempt whose start has come: the room's unified start, or the
    candidate's own start within the window (``start_window``)."""
    if a.state != S.WAITING:
        return
    room = session.get(Room, a.room_id)
    if room is not None and room.started_at is not None and room.started_at <= now:
        _start(a, room.started_at)
        session.flush()


def start_in_window(session: Session, a: Attempt, es: ExamSession, now: dt.datetime) -> None:
    """Window mode: the candidate starts their own clock, between the scheduled start and the
    end of the window."""
    if a.state != S.WAITING:
        return
    if es.start_mode != "window":
        raise NotStarted("this exam starts for the whole room at once; wait for the start")
    window_end = es.scheduled_start + dt.timedelta(minutes=es.start_window_minutes or 0)
    if now < es.scheduled_start:
        raise NotStarted("the exam has not started yet")
    if now > window_end:
        raise TimeUp("the window to start this exam has closed")
    _start(a, now)
    session.flush()


# -- time -----------------------------------------------------------------------------------------


def remaining_seconds(a: Attempt, now: dt.datetime) -> float | None:
    if a.deadline is None:
        return None
    if a.state == S.PAUSED and a.paused_at is not None:
        return max(0.0, (a.deadline - a.paused_at).total_seconds())
    if a.state in (S.SUBMITTED, S.VOIDED):
        return 0.0
    return max(0.0, (a.deadline - now).total_seconds())


def earliest_submit_at(a: Attempt, es: ExamSession) -> dt.datetime | None:
    if a.started_at is None:
        return None
    return a.started_at + dt.timedelta(minutes=es.earliest_submit_minutes)


def pause(session: Session, actor: Actor, a: Attempt, now: dt.datetime, reason: str) -> None:
    if a.state != S.RUNNING:
        raise Conflict(f"only a running attempt can be paused; this one is {a.state}")
    a.state, a.paused_at = S.PAUSED, now
    session.flush()
    record(
        session,
        actor,
        "attempt.paused",
        "attempt",
        a.id,
        reason=reason,
        data={"remaining": remaining_seconds(a, now)},
    )


def resume(session: Session, actor: Actor, a: Attempt, now: dt.datetime, reason: str) -> None:
    if a.state != S.PAUSED or a.paused_at is None:
        raise Conflict(f"only a paused attempt can be resumed; this one is {a.state}")
    credited = int((now - a.paused_at).total_seconds())
    a.deadline = a.deadline + (now - a.paused_at)
    a.paused_seconds += credited
    a.state, a.paused_at = S.RUNNING, None
    session.flush()
    record(
        session,
        actor,
        "attempt.resumed",
        "attempt",
        a.id,
        reason=reason,
        data={"credited_seconds": credited},
    )


def grant_extra_time(session: Session, actor: Actor, a: Attempt, seconds: int, reason: str) -> None:
    if a.state not in S.OPEN:
        raise Conflict(f"cannot add time to a {a.state} attempt")
    if not 0 < seconds <= 4 * 3600:
        raise ValidationFailed("extra time must be between 1 second and 4 hours", field="seconds")
    a.extra_seconds += seconds
    if a.deadline is not None:
        a.deadline = a.deadline + dt.timedelta(seconds=seconds)
    session.flush()
    record(
        session,
        actor,
        "attempt.extra_time",
        "attempt",
        a.id,
        reason=reason,
        data={"seconds": seconds},
    )


# -- saves ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveResult:
    seq: int
    accepted: bool  # False: an older or repeated seq, acknowledged but not applied
    server_time: dt.datetime


def validate_response(kind: str, blanks: int, options: list[str] | str, value: Any) -> Any:
    """Check a candidate's answer against the question's shape; ``None`` clears it.

    Choice answers are lists of *displayed* labels; true/false is ``"T"``/``"F"``; fill-in is a
    list of strings, one per blank.
    """
    if value is None:
        return None
    if kind == "true_false":
        if value not in ("T", "F"):
            raise ValidationFailed('a true/false answer is "T" or "F"', field="answer")
        return value
    if kind in ("single_choice", "multiple_choice"):
        labels = [chr(ord("A") + i) for i in range(len(options))]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationFailed("a choice answer is a list of option labels", field="answer")
        bad = [v for v in value if v not in labels]
        if bad:
            raise ValidationFailed(f"no option {', '.join(bad)} on this question", field="answer")
        if len(set(value)) != len(value):
            raise ValidationFailed("an option is listed twice", field="answer")
        if kind == "single_choice" and len(value) > 1:
            raise ValidationFailed("a single-choice answer has one option", field="answer")
        return sorted(value)
    if (
        not isinstance(value, list)
        or len(value) != blanks
        or not all(isinstance(v, str) for v in value)
    ):
        raise ValidationFailed(f"a fill-in answer is a list of {blanks} texts", field="answer")
    if any(len(v) > MAX_TEXT for v in value):
        raise ValidationFailed(f"a blank holds at most {MAX_TEXT} characters", field="answer")
    return value


_DELIVERED: dict[tuple[Any, ...], socket_json.Fragment] = {}


def delivered_paper(session: Session, stored: StoredPaper) -> socket_json.Fragment:
    """The keyless paper a candidate gets, rendered and encoded as JSON once per process.

    A stored paper and its item versions never change, so the encoded paper is cached under
    the database, the paper's id and its hash; a hit costs no query and no encoding: the
    Socket.IO encoder splices the bytes into the reply (exam_server/socket_json.py). Item
    content is stored in canonical, validated form, so it is read as is, without
    re-validating.
    """
    key = (_database_key(session), stored.id, stored.paper_hash)
    hit = _DELIVERED.get(key)
    if hit is None:
        paper = paper_from_record(stored)
        rendered = paper_for_delivery(paper, raw_contents(session, list(paper.version_ids)))
        hit = socket_json.Fragment(socket_json.encode(sign_images(rendered)))
        if len(_DELIVERED) >= 20_000:
            _DELIVERED.clear()
        _DELIVERED[key] = hit
    return hit


# -- state for the candidate ------------------------------------------------------------------------


def candidate_state(
    session: Session, a: Attempt, es: ExamSession, now: dt.datetime, *, with_paper: bool = True
) -> dict[str, Any]:
    """Everything the candidate page needs to resume exactly. The paper is included only once
    the attempt has started, and never holds keys."""
    out: dict[str, Any] = {
        "state": a.state,
        "server_time": now.isoformat(),
        "started_at": a.started_at.isoformat() if a.started_at else None,
        "deadline": a.deadline.isoformat() if a.deadline else None,
        "remaining_seconds": remaining_seconds(a, now),
        "duration_seconds": a.duration_seconds,
        "extra_seconds": a.extra_seconds,
        "scheduled_start": es.scheduled_start.isoformat(),
        "earliest_submit_at": (earliest_submit_at(a, es).isoformat() if a.started_at else None),
        "last_seq": a.last_seq,
        "position": a.position,
        "submitted_at": a.submitted_at.isoformat() if a.submitted_at else None,
    }
    if a.state == S.WAITING or not with_paper:
        return out
    out["paper"] = delivered_paper(session, a.paper)
    rows = session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == a.id)).all()
    out["answers"] = {str(r.position): r.response for r in rows if r.response is not None}
    out["flags"] = sorted(r.position for r in rows if r.flagged)
    # The seq that set each question's answer and flag, so a client can merge its outbox
    # exactly (its entry wins only where its seq is newer).
    out["answer_seqs"] = {str(r.position): r.answer_seq for r in rows if r.answer_seq}
    out["flag_seqs"] = {str(r.position): r.flag_seq for r in rows if r.flag_seq}
    out["position_seq"] = a.position_seq
    return out


# -- submission and grading -----------------------------------------------------------------------


def submit(
    session: Session,
    actor: Actor,
    a: Attempt,
    es: ExamSession,
    now: dt.datetime,
    *,
    reason: str,
    confirmed: bool = True,
) -> bool:
    """Submit ``a`` exactly once. Returns False if it was already submitted (by anyone).

    ``reason``: ``candidate`` (needs ``confirmed`` and the earliest-submission time),
    ``deadline`` (the sweeper), ``proctor`` (force-submit).
    """
    if reason == "candidate":
        if not confirmed:
            raise ValidationFailed("confirm the submission", field="confirm")
        earliest = earliest_submit_at(a, es)
        if earliest is not None and now < earliest:
            raise TooEarly(
                f"submission is possible from {earliest.isoformat()}",
                details={"earliest_submit_at": earliest.isoformat()},
            )
        if a.state == S.WAITING:
            raise NotStarted("the exam has not started yet")
        if a.state == S.PAUSED:
            raise NotStarted("the exam is paused; submit when it resumes")
    # The conditional UPDATE is the exactly-once guarantee: only one process can move an
    # attempt out of an open state.
    done = session.execute(
        update(Attempt)
        .where(Attempt.id == a.id, Attempt.state.in_(S.OPEN))
        .values(state=S.SUBMITTED, submitted_at=now, submit_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        session.refresh(a)
        return False
    session.refresh(a)
    grade(session, a)
    record(
        session,
        actor,
        "attempt.submitted",
        "attempt",
        a.id,
        data={
            "reason": reason,
            "score": str(a.score),
            "max_score": str(a.max_score),
            "registration": a.registration_id,
        },
    )
    return True


def grade(session: Session, a: Attempt) -> Decimal:
    """Score every answer against the key (all or nothing per question)."""
    rows = {
        r.position: r
        for r in session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == a.id))
    }
    total = Decimal(0)
    contents = paper_contents(session, [int(it["version_id"]) for it in a.paper.items])
    for n, item in enumerate(a.paper.items, start=1):
        content = contents[int(item["version_id"])]
        row = rows.get(n)
        points = Decimal(str(item["points"]))
        got = Decimal(0)
        if row is not None and row.response is not None and is_correct(content, item, row.response):
            got = points
        if row is not None:
            row.points = got
        total += got
    a.score = total
    session.flush()
    return total


def is_correct(content: ItemContent, item: dict[str, Any], response: Any) -> bool:
    kind = content.type.value
    if kind == "true_false":
        return [response] == content.key
    if kind in ("single_choice", "multiple_choice"):
        order = item["options"]
        original = sorted(order[ord(label) - ord("A")] for label in response)
        return original == sorted(content.key)
    blanks: list[Blank] = content.blanks
    return len(response) == len(blanks) and all(
        b.matches(r) for b, r in zip(blanks, response, strict=True)
    )


def due_attempts(
    session: Session, now: dt.datetime, grace_seconds: float, limit: int = 500
) -> list[int]:
    """Ids of running attempts whose deadline (plus grace) has passed, locked (PostgreSQL).

    Rows locked by someone else (a group of saves in flight) are skipped until the next pass:
    the sweeper holds every row it will submit before it submits any, so it never waits for a
    row while holding others, and a group of saves (which locks in id order) cannot deadlock
    with it."""
    cutoff = now - dt.timedelta(seconds=grace_seconds)
    q = (
        select(Attempt.id)
        .where(Attempt.state == S.RUNNING, Attempt.deadline <= cutoff)
        .order_by(Attempt.deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(q))


def start_due(session: Session, now: dt.datetime) -> int:
    """Start waiting attempts whose room has started (a unified start), connected or not."""
    rooms = session.execute(
        select(Room.id, Room.started_at).where(
            Room.started_at.is_not(None),
            Room.started_at <= now,
            Room.id.in_(select(Attempt.room_id).where(Attempt.state == S.WAITING)),
        )
    ).all()
    return sum(start_waiting(session, [room_id], started) for room_id, started in rooms)


SWEEP_LOCK_KEY = 0x45584D5357  # "EXMSW": one sweeper at a time across processes (PostgreSQL)


def sweep(
    session: Session, now: dt.datetime, grace_seconds: float, *, limit: int = 100
) -> list[int] | None:
    """Start attempts whose room started and submit up to ``limit`` attempts whose time is up.

    Safe to run in several processes at once. On PostgreSQL the sweepers take turns: a sweeper
    that finds another one at work returns None at once (it would only wait for the same
    rows); exactly-once submission never depends on that lock (see :func:`submit`). Callers
    commit and call again while a full batch came back, so a deadline shared by thousands of
    attempts is submitted in short transactions.
    """
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK_KEY}
    ):
        return None
    start_due(session, now)
    submitted = []
    actor = Actor.system("deadline")
    for attempt_id in due_attempts(session, now, grace_seconds, limit=limit):
        a = session.get(Attempt, attempt_id)
        es = session.get(ExamSession, a.session_id)
        if submit(session, actor, a, es, now, reason="deadline"):
            submitted.append(attempt_id)
    return submitted

"""The hot write path of a live exam: candidates' saves, committed in groups.

Every save is judged exactly as if it were applied alone, in the order the saves arrived:
the attempt's state, its deadline plus grace (at the moment the save arrived), the newest seq
per question and kind, the answer's shape. What is shared is the transaction: the saves that
arrive while one commit is in flight are written together by the next one (group commit):

1. one locked read of their attempts (``FOR UPDATE``, in id order, with the paper's hash),
2. one read of the answer rows they touch,
3. one upsert of the changed answer rows, one insert into the answer log, one update of the
   attempts' ``last_seq`` and position — each a single executemany,
4. one commit; only then does any of the waiting handlers return (an ack means durable).

Alone, a save costs one transaction as before, with plain Core statements instead of the ORM's
unit of work. Under load the statements, round trips and commits per save shrink with the size
of the group, and the saves of a process need one pooled database connection at a time, not
one per save in flight, so a burst (a room reconnecting and replaying its outboxes) cannot
starve every other event of connections.

A save refused by the rules (a ``DomainError``) is refused alone; the others of its group are
written. If the database fails a whole group (a deadlock, a lost connection, a constraint), the
group is rolled back and its saves are written again one at a time, so one bad save cannot fail
its neighbours.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from question_bank.errors import Conflict, DomainError, ValidationFailed
from question_bank.models import StoredPaper

from .. import metrics
from .models import AnswerLog, Attempt, AttemptAnswer, AttemptState
from .services import (
    AlreadySubmitted,
    NotStarted,
    SaveResult,
    TimeUp,
    ensure_started,
    paper_shapes,
    validate_response,
)

S = AttemptState
log = logging.getLogger(__name__)
MAX_GROUP = 200  # saves per transaction at most
KINDS = ("answer", "flag", "position")


@dataclass
class SaveRequest:
    """One save as the candidate sent it, and what became of it."""

    registration_id: int
    kind: str  # answer | flag | position
    seq: int
    position: int
    value: Any = None  # the answer, or the flag (a bool); not used for a position
    client_time: dt.datetime | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    result: SaveResult | None = None
    error: Exception | None = None
    room_id: int | None = None  # the attempt's room, once read
    done: bool = False


@dataclass
class _AttemptView:
    id: int
    state: str
    deadline: dt.datetime | None
    position: int
    position_seq: int
    last_seq: int
    room_id: int
    checks: list[tuple[str, int, Any]]  # per question: type, blanks, displayed options
    changed: bool = False


@dataclass
class _AnswerView:
    response: Any = None
    answer_seq: int = 0
    flagged: bool = False
    flag_seq: int = 0
    updated_at: dt.datetime | None = None  # set when a save changes the row


@dataclass(frozen=True)
class _Statements:
    """The statements of the save path, built once per dialect: a statement object that is
    reused keeps its compiled form and cache key, and its SQL text stays the same, so psycopg
    prepares it on the server once."""

    read: Any
    upsert: Any
    log: Any
    update: Any


_STATEMENTS: dict[str, _Statements] = {}


def _statements(dialect: str) -> _Statements:
    hit = _STATEMENTS.get(dialect)
    if hit is not None:
        return hit
    t, aa, sp = Attempt.__table__, AttemptAnswer.__table__, StoredPaper.__table__
    # Each attempt of the group (locked, in id order, with its paper's hash) and the answer
    # rows of the questions the group touches, in one round trip.
    read = (
        select(
            t.c.id,
            t.c.registration_id,
            t.c.state,
            t.c.deadline,
            t.c.position,
            t.c.position_seq,
            t.c.last_seq,
            t.c.room_id,
            t.c.paper_id,
            sp.c.paper_hash,
            aa.c.position.label("answer_position"),
            aa.c.response,
            aa.c.answer_seq,
            aa.c.flagged,
            aa.c.flag_seq,
        )
        .join(sp, sp.c.id == t.c.paper_id)
        .outerjoin(
            aa,
            and_(
                aa.c.attempt_id == t.c.id,
                tuple_(t.c.registration_id, aa.c.position).in_(
                    bindparam("questions", expanding=True)
                ),
            ),
        )
        .where(t.c.registration_id.in_(bindparam("registrations", expanding=True)))
        .order_by(t.c.id)  # locks taken in one order by every writer: no deadlock among saves
        .with_for_update(of=t)
    )
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(aa)
    upsert = ins.on_conflict_do_update(
        index_elements=[aa.c.attempt_id, aa.c.position],
        set_={
            name: ins.excluded[name]
            for name in ("response", "answer_seq", "flagged", "flag_seq", "updated_at")
        },
    )
    update_attempts = (
        update(t)
        .where(t.c.id == bindparam("attempt"))
        .values(
            last_seq=bindparam("last"),
            position=bindparam("pos"),
            position_seq=bindparam("pos_seq"),
        )
    )
    hit = _Statements(read, upsert, insert(AnswerLog.__table__), update_attempts)
    _STATEMENTS[dialect] = hit
    return hit


def write_group(session: Session, group: list[SaveRequest], grace_seconds: float) -> None:
    """Judge and write ``group`` in the caller's transaction (flushed, not committed).

    Sets each request's ``result`` (accepted or an older seq) or ``error`` (a DomainError:
    nothing of that save is written). Database errors propagate; the caller rolls back.
    """
    statements = _statements(session.get_bind().dialect.name)
    attempts, answers = _read(session, statements, group)
    logged: set[tuple[int, int]] = set()
    log_rows: list[dict[str, Any]] = []
    changed_answers: set[tuple[int, int]] = set()
    for req in group:
        req.result = req.error = None
        a = attempts.get(req.registration_id)
        if a is None:
            req.error = NotStarted("no paper has been prepared for this candidate yet")
            continue
        req.room_id = a.room_id
        try:
            req.result, value = _judge(a, answers, changed_answers, req, grace_seconds)
        except DomainError as exc:
            req.error = exc
            continue
        if not req.result.accepted:
            continue
        if (a.id, req.seq) in logged:
            # Two accepted saves of one attempt with one seq (a client bug): the log keeps one.
            raise _SeqReused(req.seq)
        logged.add((a.id, req.seq))
        log_rows.append(
            {
                "attempt_id": a.id,
                "seq": req.seq,
                "kind": req.kind,
                "position": req.position,
                "value": value,
                "client_time": req.client_time,
                "server_time": req.now,
            }
        )
    _write(session, statements, attempts, answers, changed_answers, log_rows)


class _SeqReused(Exception):
    def __init__(self, seq: int) -> None:
        super().__init__(f"seq {seq} was already used by another save of this attempt")


def _read(
    session: Session, statements: _Statements, group: list[SaveRequest]
) -> tuple[dict[int, _AttemptView], dict[tuple[int, int], _AnswerView]]:
    """The group's attempts by registration (locked) and their answer rows it touches."""
    questions = sorted(
        {(r.registration_id, r.position) for r in group if r.kind in ("answer", "flag")}
    )
    rows = session.connection().execute(
        statements.read,
        {
            "registrations": sorted({r.registration_id for r in group}),
            # An empty IN list is legal but renders a different statement; (0, 0) matches none.
            "questions": questions or [(0, 0)],
        },
    )
    attempts: dict[int, _AttemptView] = {}
    answers: dict[tuple[int, int], _AnswerView] = {}
    for row in rows:
        if row.registration_id not in attempts:
            attempts[row.registration_id] = _AttemptView(
                id=row.id,
                state=row.state,
                deadline=row.deadline,
                position=row.position,
                position_seq=row.position_seq,
                last_seq=row.last_seq,
                room_id=row.room_id,
                checks=paper_shapes(session, row.paper_id, row.paper_hash),
            )
        if row.answer_position is not None:
            answers[(row.id, row.answer_position)] = _AnswerView(
                row.response, row.answer_seq, row.flagged, row.flag_seq
            )
    for view in attempts.values():
        if view.state == S.WAITING:
            # The room's start has come but this attempt was not started with it (a start
            # racing this save): start it the way every other path does.
            orm = session.get(Attempt, view.id)
            ensure_started(session, orm, min(r.now for r in group))
            view.state, view.deadline = orm.state, orm.deadline
    return attempts, answers


def _judge(
    a: _AttemptView,
    answers: dict[tuple[int, int], _AnswerView],
    changed: set[tuple[int, int]],
    req: SaveRequest,
    grace_seconds: float,
) -> tuple[SaveResult, Any]:
    """Apply one save to the in-memory views if it is the newest for its question; returns
    the result and the value the answer log records. Raises DomainError, changing nothing."""
    now, seq, kind = req.now, req.seq, req.kind
    if a.state == S.SUBMITTED:
        raise AlreadySubmitted("this exam has been submitted; answers can no longer change")
    if a.state == S.VOIDED:
        raise AlreadySubmitted("this attempt was voided by the proctor")
    if a.state == S.WAITING:
        raise NotStarted("the exam has not started yet")
    if a.state == S.PAUSED and kind == "answer":
        raise NotStarted("the exam is paused; answers are taken again when it resumes")
    if (
        a.deadline is not None
        and a.state == S.RUNNING
        and now > a.deadline + dt.timedelta(seconds=grace_seconds)
    ):
        raise TimeUp("time is up; answers are no longer accepted")
    if not 1 <= req.position <= len(a.checks):
        raise ValidationFailed(f"position must be 1 to {len(a.checks)}", field="position")
    if kind not in KINDS:
        raise ValidationFailed(f"unknown save kind {kind!r}", field="kind")
    not_newer = SaveResult(seq, False, now)
    if kind == "position":
        if seq <= a.position_seq:
            return not_newer, None
        a.position, a.position_seq = req.position, seq
        value = req.value
    else:
        key = (a.id, req.position)
        row = answers.get(key) or _AnswerView()
        if kind == "answer":
            if seq <= row.answer_seq:
                return not_newer, None
            kind_of, blanks, options = a.checks[req.position - 1]
            row.response = validate_response(kind_of, blanks, options, req.value)
            row.answer_seq = seq
            value = row.response
        else:
            if seq <= row.flag_seq:
                return not_newer, None
            if not isinstance(req.value, bool):
                raise ValidationFailed("a flag is true or false", field="flagged")
            row.flagged, row.flag_seq = req.value, seq
            value = req.value
        row.updated_at = now
        answers[key] = row
        changed.add(key)
    a.last_seq = max(a.last_seq, seq)
    a.changed = True
    return SaveResult(seq, True, now), value


def _write(
    session: Session,
    statements: _Statements,
    attempts: dict[int, _AttemptView],
    answers: dict[tuple[int, int], _AnswerView],
    changed: set[tuple[int, int]],
    log_rows: list[dict[str, Any]],
) -> None:
    conn = session.connection()
    if changed:
        conn.execute(
            statements.upsert,
            [
                {
                    "attempt_id": attempt_id,
                    "position": position,
                    "response": row.response,
                    "answer_seq": row.answer_seq,
                    "flagged": row.flagged,
                    "flag_seq": row.flag_seq,
                    "updated_at": row.updated_at,
                }
                for attempt_id, position in sorted(changed)
                for row in (answers[(attempt_id, position)],)
            ],
        )
    if log_rows:
        conn.execute(statements.log, log_rows)
    moved = sorted((a for a in attempts.values() if a.changed), key=lambda a: a.id)
    if moved:
        conn.execute(
            statements.update,
            [
                {"attempt": a.id, "last": a.last_seq, "pos": a.position, "pos_seq": a.position_seq}
                for a in moved
            ],
        )


class SaveWriter:
    """Group commit for one process: whoever holds the turn writes every queued save.

    A handler queues its save and waits for the turn (a lock; a gevent lock in the server,
    whose waiters wake in order). Holding it, it finds its save already written by the previous
    holder (and returns), or writes the whole queue in one transaction and commits. No thread
    of its own, no timer: with nothing in flight a save is written at once, and the group grows
    only while a commit is in flight.
    """

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._queue: list[SaveRequest] = []
        self.groups = 0  # transactions written (for tests and the metrics)
        self.saves = 0

    def write(self, session: Session, req: SaveRequest, grace_seconds: float) -> SaveResult:
        """Write ``req`` (with whatever else is queued), commit, and return its result or
        raise its error. ``session`` is the caller's; it is committed or rolled back."""
        self._queue.append(req)
        while not req.done:
            with self._turn:
                if req.done:
                    break
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                self.commit_group(session, group, grace_seconds)
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _count(self, saves: int) -> None:
        self.groups += 1
        self.saves += saves
        metrics.add("save_groups")
        metrics.add("saves_in_groups", saves)

    def commit_group(
        self, session: Session, group: list[SaveRequest], grace_seconds: float
    ) -> None:
        """Write and commit ``group`` in one transaction; if the database fails it, roll back
        and write its saves one at a time. Every request ends ``done`` with a result or an
        error."""
        try:
            try:
                write_group(session, group, grace_seconds)
                session.commit()
                self._count(len(group))
                return
            except Exception as exc:
                session.rollback()
                if len(group) == 1:
                    group[0].error = _as_error(exc)
                    return
                log.warning(
                    "a group of %d saves failed (%s: %s); writing them one at a time",
                    len(group),
                    type(exc).__name__,
                    exc,
                )
            for req in group:
                try:
                    write_group(session, [req], grace_seconds)
                    session.commit()
                    self._count(1)
                except Exception as exc:
                    session.rollback()
                    req.error = _as_error(exc)
        finally:
            for req in group:
                if req.result is None and req.error is None:
                    req.error = RuntimeError("the save was not written")
                req.done = True


def _as_error(exc: Exception) -> Exception:
    """A single save's database failure, as its handler should see it."""
    if isinstance(exc, _SeqReused):
        return Conflict(str(exc), field="seq")
    if isinstance(exc, IntegrityError) and "answer_log" in str(exc.orig):
        return Conflict("this seq was already used by another save of this attempt", field="seq")
    return exc


writer = SaveWriter()


def save(
    session: Session,
    registration_id: int,
    *,
    kind: str,
    seq: int,
    position: int,
    value: Any,
    client_time: dt.datetime | None,
    now: dt.datetime,
    grace_seconds: float,
) -> SaveRequest:
    """Write one save through the process's group commit; returns the written request
    (``result``, ``room_id``) or raises its DomainError. Commits ``session``."""
    req = SaveRequest(registration_id, kind, seq, position, value, client_time, now)
    writer.write(session, req, grace_seconds)
    return req

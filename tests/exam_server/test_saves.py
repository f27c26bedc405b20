"""Group commit of saves (exam_server/delivery/saves.py), on SQLite and PostgreSQL.

The reference for a group is the same saves written one at a time, in the same order: the
outcome of every save (accepted, older seq, or which error) and everything stored (answer rows,
the answer log, the attempts' seq and position) must be identical. Random sequences mix valid
and invalid saves, older and repeated seqs, a reused seq, an unknown candidate and a submitted
attempt.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time

import pytest
from sqlalchemy import select

from exam_server.delivery import saves
from exam_server.delivery import services as delivery
from exam_server.delivery.models import AnswerLog, Attempt, AttemptAnswer
from exam_server.extensions import db
from question_bank.errors import DomainError
from tests.live_support import prepare_exam

GRACE = 5.0


ROUNDS = 6


@pytest.fixture
def world(app):
    """Candidates 0..23 in pairs of pairs (round k: 4k, 4k+1 write one at a time, 4k+2, 4k+3
    as a group, with the same papers as the first pair); candidate 24 has submitted."""
    exam = prepare_exam(app, candidates=4 * ROUNDS + 1, duration_minutes=60)
    with app.app_context():
        regs = [c.registration_id for c in exam.candidates]
        attempts = {reg: delivery.get_attempt(db.session, reg, with_paper=True) for reg in regs}
        for k in range(ROUNDS):
            for i in (0, 1):
                attempts[regs[4 * k + 2 + i]].paper_id = attempts[regs[4 * k + i]].paper_id
        submitted = attempts[regs[-1]]
        submitted.state, submitted.submitted_at = "submitted", dt.datetime.now(dt.UTC)
        db.session.commit()
        shapes = {}
        for reg, a in attempts.items():
            assert a.state in ("running", "submitted")
            shapes[reg] = [
                (kind, blanks, len(options))
                for kind, blanks, options in delivery.paper_shapes(
                    db.session, a.paper_id, a.paper.paper_hash
                )
            ]
        db.session.remove()
    return regs, shapes


def _valid_answer(rng: random.Random, kind: str, blanks: int, options: int):
    if kind == "true_false":
        return rng.choice(["T", "F"])
    labels = [chr(ord("A") + i) for i in range(options)]
    if kind == "single_choice":
        return [rng.choice(labels)]
    if kind == "multiple_choice":
        return rng.sample(labels, rng.randint(1, len(labels)))
    return [rng.choice(["欧姆", "ohm", "x" * 5]) for _ in range(blanks)]


def random_saves(rng: random.Random, shapes: list, n: int) -> list[dict]:
    """Saves of two live candidates (``who`` 0 and 1, with papers ``shapes``), a submitted
    one and an unknown one, with seqs that go back and repeat, and some invalid payloads."""
    out = []
    seqs = [0, 0]
    for _ in range(n):
        who = rng.choice([0, 1, 0, 1, "submitted", "unknown"])
        kind = rng.choice(["answer", "answer", "answer", "flag", "position"])
        paper = shapes[who] if who in (0, 1) else shapes[0]
        position = rng.randint(1, len(paper)) if rng.random() < 0.95 else len(paper) + 1
        if who in (0, 1) and rng.random() < 0.8:
            seqs[who] += 1
            seq = seqs[who]
        else:
            seq = rng.randint(1, max(1, seqs[0]))  # older or repeated
        value = None
        if kind == "answer":
            k, blanks, options = paper[min(position, len(paper)) - 1]
            value = _valid_answer(rng, k, blanks, options)
            if rng.random() < 0.1:
                value = ["Z"] if k != "fill_blank" else 42  # not this question's shape
        elif kind == "flag":
            value = rng.random() < 0.5 if rng.random() < 0.9 else "yes"
        out.append({"who": who, "kind": kind, "seq": seq, "position": position, "value": value})
    return out


def _request(spec: dict, cast: dict, now: dt.datetime) -> saves.SaveRequest:
    return saves.SaveRequest(
        cast[spec["who"]], spec["kind"], spec["seq"], spec["position"], spec["value"], None, now
    )


def _outcome(req: saves.SaveRequest):
    if req.error is not None:
        assert isinstance(req.error, DomainError), repr(req.error)
        return ("error", req.error.code, req.error.field)
    return ("ok", req.result.seq, req.result.accepted)


def _stored(regs: list[int]):
    """Answer rows, log and attempt fields of these candidates, by their index in ``regs``."""
    db.session.expire_all()
    index = {
        attempt_id: regs.index(reg)
        for reg, attempt_id in db.session.execute(
            select(Attempt.registration_id, Attempt.id).where(Attempt.registration_id.in_(regs))
        )
    }
    answers = db.session.execute(
        select(
            AttemptAnswer.attempt_id,
            AttemptAnswer.position,
            AttemptAnswer.response,
            AttemptAnswer.answer_seq,
            AttemptAnswer.flagged,
            AttemptAnswer.flag_seq,
        ).where(AttemptAnswer.attempt_id.in_(index))
    ).all()
    log = db.session.execute(
        select(
            AnswerLog.attempt_id,
            AnswerLog.seq,
            AnswerLog.kind,
            AnswerLog.position,
            AnswerLog.value,
        ).where(AnswerLog.attempt_id.in_(index))
    ).all()
    attempts = db.session.execute(
        select(Attempt.id, Attempt.last_seq, Attempt.position, Attempt.position_seq).where(
            Attempt.id.in_(index)
        )
    ).all()
    return tuple(sorted((index[r[0]], *r[1:]) for r in rows) for rows in (answers, log, attempts))


def test_a_group_stores_exactly_what_one_at_a_time_stores(app, world):
    regs, shapes = world
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(20261121)
    with app.app_context():
        for k in range(ROUNDS):
            alone = {0: regs[4 * k], 1: regs[4 * k + 1], "submitted": regs[-1], "unknown": 10**9}
            grouped = {**alone, 0: regs[4 * k + 2], 1: regs[4 * k + 3]}
            specs = random_saves(rng, [shapes[alone[0]], shapes[alone[1]]], rng.randint(5, 60))
            if k % 2 == 0:  # one seq used by two kinds of save: the log keeps the first
                first = next(s for s in specs if s["who"] == 0)
                specs.append(dict(first, kind="position", value=None))
            writer = saves.SaveWriter()
            one_by_one = []
            for spec in specs:
                req = _request(spec, alone, now)
                with contextlib.suppress(DomainError):
                    writer.write(db.session, req, GRACE)
                one_by_one.append(_outcome(req))

            group = [_request(spec, grouped, now) for spec in specs]
            saves.SaveWriter().commit_group(db.session, group, GRACE)
            assert [_outcome(r) for r in group] == one_by_one, f"round {k}"
            assert _stored([alone[0], alone[1]]) == _stored([grouped[0], grouped[1]])
            assert any(o[0] == "ok" and o[2] for o in one_by_one)


def test_refusals_name_their_reason_and_leave_the_rest_of_the_group_written(app, world):
    regs, shapes = world
    live, done = regs[0], regs[-1]
    now = dt.datetime.now(dt.UTC)
    kind, blanks, options = shapes[live][0]
    good = _valid_answer(random.Random(1), kind, blanks, options)
    group = [
        saves.SaveRequest(live, "answer", 1, 1, good, None, now),
        saves.SaveRequest(live, "answer", 2, 99, good, None, now),  # no question 99
        saves.SaveRequest(done, "answer", 1, 1, good, None, now),  # submitted
        saves.SaveRequest(live, "flag", 3, 1, "yes", None, now),  # not a bool
        saves.SaveRequest(live, "answer", 1, 1, good, None, now),  # repeated seq
        saves.SaveRequest(live, "flag", 4, 1, True, None, now),
        saves.SaveRequest(live, "position", 4, 2, None, None, now),  # seq 4 used by the flag
        saves.SaveRequest(10**9, "answer", 1, 1, good, None, now),  # nobody's attempt
    ]
    writer = saves.SaveWriter()
    with app.app_context():
        writer.commit_group(db.session, group, GRACE)
        assert [_outcome(r) for r in group] == [
            ("ok", 1, True),
            ("error", "validation_error", "position"),
            ("error", "submitted", None),
            ("error", "validation_error", "flagged"),
            ("ok", 1, False),
            ("ok", 4, True),
            ("error", "conflict", "seq"),
            ("error", "not_started", None),
        ]
        answers, log, attempts = _stored([live])
        assert [(r[1], r[3], r[4], r[5]) for r in answers] == [(1, 1, True, 4)]
        assert [(r[1], r[2]) for r in log] == [(1, "answer"), (4, "flag")]
        assert attempts[0][1:] == (4, 1, 0)  # last seq 4; the position save was refused


def test_time_up_is_judged_at_the_moment_each_save_arrived(app, world):
    regs, shapes = world
    with app.app_context():
        deadline = delivery.get_attempt(db.session, regs[0]).deadline
        db.session.remove()
        kind, blanks, options = shapes[regs[0]][0]
        good = _valid_answer(random.Random(2), kind, blanks, options)
        in_grace = deadline + dt.timedelta(seconds=GRACE - 1)
        late = deadline + dt.timedelta(seconds=GRACE + 1)
        group = [
            saves.SaveRequest(regs[0], "answer", 1, 1, good, None, in_grace),
            saves.SaveRequest(regs[0], "answer", 2, 1, good, None, late),
        ]
        saves.SaveWriter().commit_group(db.session, group, GRACE)
        assert [_outcome(r) for r in group] == [("ok", 1, True), ("error", "time_up", None)]


def test_saves_queued_during_a_commit_are_written_by_the_next_one_together(app, world):
    """Eight handlers (threads here, greenlets in the server) save while another holds the
    turn: the next holder writes all eight in one transaction and each gets its own result."""
    regs, shapes = world
    writer = saves.SaveWriter()
    now = dt.datetime.now(dt.UTC)
    results: dict[int, object] = {}

    def handler(i: int) -> None:
        reg = regs[i % 2]
        kind, blanks, options = shapes[reg][i]
        value = _valid_answer(random.Random(i), kind, blanks, options)
        with app.app_context():
            try:
                req = saves.SaveRequest(reg, "answer", i + 1, i + 1, value, None, now)
                results[i] = writer.write(db.session, req, GRACE)
            except Exception as exc:  # recorded, and the assertion below shows it
                results[i] = exc
            finally:
                db.session.remove()

    with writer._turn:  # a commit in flight
        threads = [threading.Thread(target=handler, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for _ in range(500):
            if len(writer._queue) == 8:
                break
            time.sleep(0.01)
        assert len(writer._queue) == 8
    for t in threads:
        t.join(30)
    assert writer.groups == 1 and writer.saves == 8
    assert all(isinstance(r, delivery.SaveResult) and r.accepted for r in results.values())
    assert sorted(r.seq for r in results.values()) == list(range(1, 9))
    with app.app_context():
        _answers, log, _attempts = _stored(regs[:2])
        assert len(log) == 8

"""Live delivery rules, through the candidate Socket.IO namespace in-process (Flask-SocketIO's
test client) with an injected clock: no test sleeps for a deadline."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from exam_server.delivery.models import AnswerLog, Attempt, AttemptAnswer
from exam_server.extensions import db, socketio
from exam_server.live import sweep_once
from question_bank.audit import AuditEvent
from question_bank.schema import ItemContent
from tests.live_support import prepare_exam


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(app) -> Clock:
    c = Clock()
    app.config["CLOCK"] = c
    return c


@pytest.fixture
def exam(app, clock):
    return prepare_exam(app, candidates=2, duration_minutes=60, earliest_submit_minutes=30)


def connect(app, exam, i: int = 0):
    resp = app.test_client().post("/api/candidate/sign-in", json=exam.sign_in_body(i))
    assert resp.status_code == 200, resp.get_json()
    client = socketio.test_client(
        app, namespace="/candidate", auth={"token": resp.get_json()["token"]}
    )
    assert client.is_connected("/candidate")
    return client


def call(client, event: str, data=None):
    return client.emit(
        event, data if data is not None else {}, namespace="/candidate", callback=True
    )


def _attempt(reg_id: int) -> Attempt:
    db.session.expire_all()
    return db.session.scalar(select(Attempt).where(Attempt.registration_id == reg_id))


def _answer_for(item: dict, correct: bool, contents: dict[int, ItemContent], version_id: int):
    """A displayed-label answer that is right (or wrong) for ``item``."""
    c = contents[version_id]
    if c.type.value == "true_false":
        return c.key[0] if correct else ("F" if c.key == ["T"] else "T")
    if c.type.value == "fill_blank":
        return [b.accepted[0] for b in c.blanks] if correct else ["x"] * len(c.blanks)
    return None  # choice items are mapped by the caller with the permutation


def test_connection_needs_a_valid_token(app, exam):
    bad = socketio.test_client(app, namespace="/candidate", auth={"token": "forged"})
    assert not bad.is_connected("/candidate")
    none = socketio.test_client(app, namespace="/candidate")
    assert not none.is_connected("/candidate")


def test_waiting_until_the_room_starts_then_the_paper_has_no_keys(app, clock):
    exam = prepare_exam(app, candidates=1, start=False)
    client = connect(app, exam)
    state = call(client, "hello")
    assert state["ok"] and state["state"] == "waiting" and "paper" not in state
    assert (
        call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})["error"]
        == "not_started"
    )
    admin = app.test_client()
    token = admin.post(
        "/api/auth/token", json={"username": "admin", "password": "admin-demo-1"}
    ).get_json()["token"]
    resp = admin.post(
        f"/api/sessions/{exam.session_id}/rooms/{exam.room_id}/start",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.get_json()
    state = call(client, "hello")
    assert state["state"] == "running" and state["paper"]["item_count"] == 38
    assert abs(state["remaining_seconds"] - 90 * 60) < 5
    # Nothing secret travels: no key, explanation, accepted answer or code of any item.
    from question_bank.models import ItemVersion

    a = _attempt(exam.candidates[0].registration_id)
    text = json.dumps(state, ensure_ascii=False)
    assert '"key"' not in text and "explanation" not in text and "accepted" not in text
    for item, shown in zip(a.paper.items, state["paper"]["items"], strict=True):
        c = ItemContent.model_validate(db.session.get(ItemVersion, item["version_id"]).content)
        mine = json.dumps(shown, ensure_ascii=False)
        if c.explanation:
            assert c.explanation not in text
        for blank in c.blanks:
            for ans in blank.accepted:
                assert f'"{ans}"' not in mine
        assert item["code"] not in text


def test_newest_seq_wins_and_every_accepted_save_is_logged(app, exam, clock):
    client = connect(app, exam)
    state = call(client, "hello")
    tf = next(i for i in state["paper"]["items"] if i["type"] == "true_false")
    pos = tf["position"]

    def save(seq, ans):
        return call(client, "save", {"seq": seq, "kind": "answer", "position": pos, "answer": ans})

    assert save(5, "T") == {
        "ok": True,
        "seq": 5,
        "accepted": True,
        "server_time": clock.now.isoformat(),
    }
    assert save(3, "F")["accepted"] is False  # older: acknowledged, not applied
    assert save(5, "F")["accepted"] is False  # repeated
    assert save(7, "F")["accepted"] is True
    assert call(client, "save", {"seq": 8, "kind": "flag", "position": pos, "flagged": True})[
        "accepted"
    ]
    assert (
        call(client, "save", {"seq": 6, "kind": "flag", "position": pos, "flagged": False})[
            "accepted"
        ]
        is False
    )
    assert call(client, "save", {"seq": 9, "kind": "position", "position": pos})["accepted"]
    state = call(client, "hello")
    assert state["answers"][str(pos)] == "F" and state["flags"] == [pos]
    assert state["position"] == pos and state["last_seq"] == 9
    a = _attempt(exam.candidates[0].registration_id)
    log = db.session.scalars(
        select(AnswerLog).where(AnswerLog.attempt_id == a.id).order_by(AnswerLog.seq)
    ).all()
    assert [(e.seq, e.kind, e.value) for e in log] == [
        (5, "answer", "T"),
        (7, "answer", "F"),
        (8, "flag", True),
        (9, "position", None),
    ]


def test_bad_payloads_are_refused_naming_the_field_and_change_nothing(app, exam, clock):
    client = connect(app, exam)
    state = call(client, "hello")
    items = state["paper"]["items"]
    single = next(i for i in items if i["type"] == "single_choice")
    multi = next(i for i in items if i["type"] == "multiple_choice")
    fill = next(i for i in items if i["type"] == "fill_blank")
    cases = [
        ({"seq": 0, "kind": "answer", "position": 1, "answer": "T"}, "seq"),
        ({"seq": 1, "kind": "shout", "position": 1}, "kind"),
        ({"seq": 1, "kind": "answer", "position": 999, "answer": "T"}, "position"),
        (
            {"seq": 1, "kind": "answer", "position": single["position"], "answer": ["A", "B"]},
            "answer",
        ),
        ({"seq": 1, "kind": "answer", "position": single["position"], "answer": ["Z"]}, "answer"),
        ({"seq": 1, "kind": "answer", "position": multi["position"], "answer": "A"}, "answer"),
        ({"seq": 1, "kind": "answer", "position": fill["position"], "answer": ["x"] * 9}, "answer"),
        ({"seq": 1, "kind": "answer", "position": 1, "answer": "T", "evil": 1}, "evil"),
        ({"seq": 1, "kind": "flag", "position": 1, "flagged": "yes"}, "flagged"),
    ]
    for payload, field in cases:
        reply = call(client, "save", payload)
        assert reply["ok"] is False and reply["field"] == field, (payload, reply)
    assert call(client, "hello")["last_seq"] == 0
    a = _attempt(exam.candidates[0].registration_id)
    assert (
        db.session.scalar(
            select(func.count()).select_from(AnswerLog).where(AnswerLog.attempt_id == a.id)
        )
        == 0
    )


def test_deadline_grace_and_exactly_once_submission_without_a_client(app, exam, clock):
    client = connect(app, exam)
    state = call(client, "hello")
    first = state["paper"]["items"][0]
    answer = (
        "T"
        if first["type"] == "true_false"
        else (["A"] if "options" in first else ["x"] * first.get("blanks", 1))
    )
    clock.advance(state["remaining_seconds"] + 3)  # past the deadline, inside the 5 s grace
    assert call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": answer})[
        "accepted"
    ]
    clock.advance(3)  # past the grace
    late = call(client, "save", {"seq": 2, "kind": "answer", "position": 1, "answer": answer})
    assert late["ok"] is False and late["error"] == "time_up"
    client.disconnect(namespace="/candidate")
    # The sweeper submits both candidates' attempts (one never connected) exactly once.
    submitted = sweep_once(app)
    assert len(submitted) == 2
    assert sweep_once(app) == []
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "attempt.submitted")
    ).all()
    assert len(events) == 2 and all(json.loads(e.data)["reason"] == "deadline" for e in events)
    for c in exam.candidates:
        a = _attempt(c.registration_id)
        assert a.state == "submitted" and a.submitted_at == clock.now and a.score is not None


def test_pause_and_resume_keep_the_remaining_time_exact(app, exam, clock):
    from exam_server.delivery import services
    from question_bank.audit import Actor

    client = connect(app, exam)
    remaining = call(client, "hello")["remaining_seconds"]
    clock.advance(600)
    a = _attempt(exam.candidates[0].registration_id)
    services.pause(db.session, Actor(None, "proctor"), a, clock.now, "停电")
    db.session.commit()
    clock.advance(300)  # five minutes paused: not counted
    state = call(client, "hello")
    assert state["state"] == "paused" and state["remaining_seconds"] == remaining - 600
    assert (
        call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})["error"]
        == "not_started"
    )
    a = _attempt(exam.candidates[0].registration_id)
    services.resume(db.session, Actor(None, "proctor"), a, clock.now, "恢复供电")
    services.grant_extra_time(db.session, Actor(None, "proctor"), a, 120, "机器故障")
    db.session.commit()
    state = call(client, "hello")
    assert state["state"] == "running"
    assert state["remaining_seconds"] == remaining - 600 + 120
    assert _attempt(exam.candidates[0].registration_id).paused_seconds == 300


def test_early_submission_needs_confirmation_and_the_earliest_time(app, exam, clock):
    client = connect(app, exam)
    state = call(client, "hello")
    assert call(client, "submit", {"confirm": False})["field"] == "confirm"
    early = call(client, "submit", {"confirm": True})
    assert early["error"] == "too_early_to_submit"
    assert early["details"]["earliest_submit_at"] == state["earliest_submit_at"]
    clock.advance(30 * 60)
    done = call(client, "submit", {"confirm": True})
    assert done["ok"] and done["state"] == "submitted"
    assert call(client, "submit", {"confirm": True})["ok"]  # twice is harmless
    assert (
        call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})["error"]
        == "submitted"
    )


def test_grading_maps_shuffled_options_back_to_the_key(app, exam, clock):
    from question_bank.models import ItemVersion

    client = connect(app, exam)
    state = call(client, "hello")
    a = _attempt(exam.candidates[0].registration_id)
    for n, (item, shown) in enumerate(
        zip(a.paper.items, state["paper"]["items"], strict=True), start=1
    ):
        c = ItemContent.model_validate(db.session.get(ItemVersion, item["version_id"]).content)
        if c.type.value in ("single_choice", "multiple_choice"):
            # The key in displayed labels: where each original key option is shown now.
            answer = sorted(chr(ord("A") + item["options"].index(k)) for k in c.key)
        elif c.type.value == "true_false":
            answer = c.key[0]
        else:
            answer = [f" {b.accepted[0]} " for b in c.blanks]  # trim rule applies
        if n == 1:  # one deliberately wrong answer
            answer = (
                _answer_for(shown, False, {0: c}, 0)
                if c.type.value in ("true_false", "fill_blank")
                else [x for x in "ABCD" if [x] != answer][:1]
            )
        assert call(client, "save", {"seq": n, "kind": "answer", "position": n, "answer": answer})[
            "accepted"
        ]
    clock.advance(31 * 60)
    assert call(client, "submit", {"confirm": True})["ok"]
    a = _attempt(exam.candidates[0].registration_id)
    first_points = db.session.get(AttemptAnswer, (a.id, 1)).points
    assert first_points == 0
    assert a.score == a.max_score - sum(Decimal(str(it["points"])) for it in a.paper.items[:1])


def test_closing_the_session_submits_every_open_attempt(app, exam, clock):
    client = connect(app, exam)
    call(client, "hello")
    token = (
        app.test_client()
        .post("/api/auth/token", json={"username": "admin", "password": "admin-demo-1"})
        .get_json()["token"]
    )
    resp = app.test_client().post(
        f"/api/sessions/{exam.session_id}/transitions",
        json={"action": "close", "reason": "考试结束"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.get_json()
    for c in exam.candidates:
        a = _attempt(c.registration_id)
        assert a.state == "submitted" and a.submit_reason == "session_closed"
    assert call(client, "save", {"seq": 1, "kind": "answer", "position": 1, "answer": "T"})[
        "error"
    ] in ("submitted", "unauthorized")


def test_a_closed_session_is_analysed_from_its_delivered_answers(app, clock):
    """Randomized papers: every candidate saw their own items; statistics land per version."""
    from question_bank.statistics import AnalysisRun, ItemStatistic

    exam = prepare_exam(app, candidates=4, duration_minutes=60, earliest_submit_minutes=0)
    for i in range(4):
        client = connect(app, exam, i)
        state = call(client, "hello")
        for item in state["paper"]["items"][: 10 + 5 * i]:
            answer = (
                "T"
                if item["type"] == "true_false"
                else (["A"] if "options" in item else ["0"] * item["blanks"])
            )
            assert call(
                client,
                "save",
                {
                    "seq": item["position"],
                    "kind": "answer",
                    "position": item["position"],
                    "answer": answer,
                },
            )["ok"]
        assert call(client, "submit", {"confirm": True})["ok"]
    token = (
        app.test_client()
        .post("/api/auth/token", json={"username": "admin", "password": "admin-demo-1"})
        .get_json()["token"]
    )
    auth = {"Authorization": f"Bearer {token}"}
    resp = app.test_client().post(
        f"/api/sessions/{exam.session_id}/transitions",
        json={"action": "close", "reason": "考试结束"},
        headers=auth,
    )
    assert resp.status_code == 200, resp.get_json()
    run = db.session.scalar(select(AnalysisRun).where(AnalysisRun.source == "session"))
    assert run is not None and run.n_candidates == 4 and run.source_ref == exam.session_code
    # Each item's n is the number of candidates whose paper held it.
    papers = [_attempt(c.registration_id).paper.items for c in exam.candidates]
    for st in db.session.scalars(select(ItemStatistic).where(ItemStatistic.run_id == run.id)):
        held = sum(any(int(it["version_id"]) == st.item_version_id for it in p) for p in papers)
        assert st.n == held
    # On demand, too (editors and reviewers).
    editor = (
        app.test_client()
        .post("/api/auth/token", json={"username": "editor", "password": "editor-demo-1"})
        .get_json()["token"]
    )
    resp = app.test_client().post(
        f"/api/sessions/{exam.session_id}/analysis", headers={"Authorization": f"Bearer {editor}"}
    )
    assert resp.status_code == 201 and resp.get_json()["run"]["n_candidates"] == 4


def test_a_corrected_key_rescores_delivered_answers(app, clock):
    from question_bank.models import ItemVersion

    exam = prepare_exam(app, candidates=1, duration_minutes=60, earliest_submit_minutes=0)
    client = connect(app, exam)
    call(client, "hello")
    a = _attempt(exam.candidates[0].registration_id)
    pos, item = next(
        (n, it)
        for n, it in enumerate(a.paper.items, start=1)
        if ItemContent.model_validate(
            db.session.get(ItemVersion, it["version_id"]).content
        ).type.value
        == "single_choice"
    )
    version = db.session.get(ItemVersion, item["version_id"])
    content, code = version.content, version.item.code
    wrong = next(o["label"] for o in content["options"] if o["label"] not in content["key"])
    shown = chr(ord("A") + item["options"].index(wrong))
    assert call(client, "save", {"seq": 1, "kind": "answer", "position": pos, "answer": [shown]})[
        "accepted"
    ]
    assert call(client, "submit", {"confirm": True})["ok"]
    before = _attempt(exam.candidates[0].registration_id).score

    def api(user: str, password: str):
        token = (
            app.test_client()
            .post("/api/auth/token", json={"username": user, "password": password})
            .get_json()["token"]
        )
        return {"Authorization": f"Bearer {token}"}

    ed, rev = api("editor", "editor-demo-1"), api("reviewer", "reviewer-demo-1")
    client_http = app.test_client()
    # The reviewers decide the key was wrong: the same question, key = the candidate's option.
    resp = client_http.post(
        f"/api/items/{code}/versions",
        headers=ed,
        json={"content": {**content, "key": [wrong]}, "note": "答案更正"},
    )
    assert resp.status_code == 201, resp.get_json()
    n = resp.get_json()["version"]["version"]
    client_http.post(
        f"/api/items/{code}/versions/{n}/review", headers=ed, json={"action": "submit"}
    )
    resp = client_http.post(
        f"/api/items/{code}/versions/{n}/review",
        headers=rev,
        json={"action": "approve", "comment": "答案更正"},
    )
    assert resp.status_code == 200, resp.get_json()
    after = _attempt(exam.candidates[0].registration_id)
    assert after.score == before + Decimal(str(item["points"]))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "attempt.rescored"))
    data = json.loads(event.data)
    assert data["item"] == code and Decimal(data["after"]) == after.score
    # A revision that changes the question itself (the stem) re-scores nothing.
    resp = client_http.post(
        f"/api/items/{code}/versions",
        headers=ed,
        json={"content": {**content, "key": content["key"], "stem": content["stem"] + "（修订）"}},
    )
    m = resp.get_json()["version"]["version"]
    client_http.post(
        f"/api/items/{code}/versions/{m}/review", headers=ed, json={"action": "submit"}
    )
    client_http.post(
        f"/api/items/{code}/versions/{m}/review",
        headers=rev,
        json={"action": "approve", "comment": "题干修订"},
    )
    assert _attempt(exam.candidates[0].registration_id).score == after.score

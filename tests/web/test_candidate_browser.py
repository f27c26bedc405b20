"""The candidate page in a real browser (Debian's Chromium via Playwright) against a real
``exam-server serve`` process (Socket.IO over websockets) on a temporary SQLite file.

- A candidate signs in, answers questions of every type, loses the network, answers more (the
  status says the answers are kept on this device), comes back, reloads and finds everything;
  the database holds the same answers and flags. Their computer's clock is two hours fast, and
  the countdown still shows the server's remaining time. They submit through the dialog.
- Another candidate waits in the waiting room until the proctor starts the room; the exam opens
  without a reload, and the submit dialog refuses before the earliest submission time.
- A window-mode candidate starts their own clock with the Start button.
- The English page, keyboard use, 640 px width (200 % zoom) and the server's `submitted` push at
  the deadline.

Screenshots go to /tmp/screens/candidate-*.png.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from exam_server import WEB_DIR
from exam_server.delivery.models import Attempt, AttemptAnswer
from exam_server.extensions import db
from tests.conftest import service_missing
from tests.live_support import migrated_app, prepare_exam, release_database, serving
from tests.web.conftest import Tabs, screenshot

pytestmark = pytest.mark.browser

TWO_HOURS_FAST = """
(() => {
  const shift = 2 * 3600 * 1000;
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + shift);
      else super(...args);
    }
    static now() { return realNow() + shift; }
  }
  globalThis.Date = ShiftedDate;
})();
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """Three sessions on one database, served by a real server process:
    ``running`` (unified, started), ``waiting`` (unified, starts in 10 minutes, submission
    from 30 minutes after the start) and ``window`` (each candidate starts within a window)."""
    if not (WEB_DIR / "node_modules" / "socket.io-client").is_dir():
        service_missing("web/node_modules", "run `./dev setup` (npm ci in web/) first")
    base = tmp_path_factory.mktemp("candidate")
    url = f"sqlite:///{base / 'exam.sqlite'}"
    app = migrated_app(url, base / "instance", "candidate-browser-test")
    running = prepare_exam(app, candidates=3, code="CAND-RUN")
    waiting = prepare_exam(
        app,
        candidates=1,
        code="CAND-WAIT",
        start=False,
        earliest_submit_minutes=30,
        scheduled_start=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
    )
    window = prepare_exam(app, candidates=1, code="CAND-WIN", start_mode="window")
    release_database(app)
    with serving(app, url, base / "instance") as server:
        yield SimpleNamespace(
            app=app, url=server.url, running=running, waiting=waiting, window=window, server=server
        )


@pytest.fixture
def new_page(browser, world):
    """``new_page(locale=…, fast_clock=False, width=1280)`` -> a tab in a fresh context; script
    errors and CSP violations fail the test."""
    # Expected while the network is switched off in a test.
    tabs = Tabs(
        browser, world.url, expected=("ERR_INTERNET_DISCONNECTED", "Failed to load resource")
    )

    def factory(locale: str = "zh-CN", *, fast_clock: bool = False, width: int = 1280):
        return tabs.open(locale, width=width, init_script=TWO_HOURS_FAST if fast_clock else None)

    yield factory
    tabs.close()


def shot(page, name: str) -> None:
    screenshot(page, f"candidate-{name}")


def sign_in(page, exam, i: int = 0, *, query: str = "") -> None:
    c = exam.candidates[i]
    page.goto(f"{page.base}/exam{query}")
    page.fill("#ticket", c.ticket_number.lower())  # case does not matter
    page.fill("#id-number", c.id_number)
    page.fill("#access-code", exam.access_code.lower())
    page.click("#signin button[type=submit]")
    page.wait_for_url(re.compile(r".*/exam/sit$"))


def wait_exam(page) -> None:
    page.wait_for_selector("#view-exam:not([hidden])")
    page.wait_for_selector("#conn[data-state=saved]")


def go(page, position: int) -> None:
    page.click(f"#cell-{position}")
    page.wait_for_function(
        "n => document.getElementById('q-heading').textContent.includes(String(n))", arg=position
    )


def settle(page) -> None:
    """Wait until the last change (typing and position saves wait ~0.6 s) is acknowledged."""
    page.wait_for_timeout(700)
    page.wait_for_selector("#conn[data-state=saved]")


def outbox(page) -> list[dict]:
    """The entries of the page's outbox in localStorage (keyed by the ticket number)."""
    return page.evaluate(
        "() => JSON.parse(localStorage.getItem("
        "'exam.outbox.' + sessionStorage.getItem('exam.ticket')) || '{\"entries\": []}').entries"
    )


def fill_blanks(page, prefix: str) -> list[str]:
    blanks = page.locator("#q-body input.blank")
    values = [f"{prefix}{n + 1}" for n in range(blanks.count())]
    for n, value in enumerate(values):
        blanks.nth(n).fill(value)
    return values


def no_horizontal_overflow(page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"horizontal overflow: {width}"


def attempt_rows(app, registration_id: int) -> tuple[Attempt, dict[int, AttemptAnswer]]:
    with app.app_context():
        try:
            a = db.session.scalar(select(Attempt).where(Attempt.registration_id == registration_id))
            rows = {
                r.position: r
                for r in db.session.scalars(
                    select(AttemptAnswer).where(AttemptAnswer.attempt_id == a.id)
                )
            }
            db.session.expunge_all()
            return a, rows
        finally:
            db.session.remove()


def server_post(world, path: str, body: dict) -> dict:
    """POST to the server process's JSON API as the demo administrator, so that what the
    server pushes afterwards (``started``, ``state``) reaches the pages."""

    def post(url: str, data: dict, token: str | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(
            f"{world.url}{url}", data=json.dumps(data).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200, resp.status
            return json.loads(resp.read())

    token = post("/api/auth/token", {"username": "admin", "password": "admin-demo-1"})["token"]
    return post(path, body, token)


def set_deadline(app, registration_id: int, from_now: dt.timedelta) -> None:
    """Move an attempt's deadline behind the server's back (as extra time or a pause would)."""
    with app.app_context():
        try:
            a = db.session.scalar(select(Attempt).where(Attempt.registration_id == registration_id))
            a.deadline = dt.datetime.now(dt.UTC) + from_now
            db.session.commit()
        finally:
            db.session.remove()
            db.engine.dispose()


# -- the main flow --------------------------------------------------------------------------------


def test_answers_survive_offline_and_reload_and_the_clock_is_the_servers(new_page, world):
    page = new_page(fast_clock=True)
    page.goto(f"{page.base}/exam")
    shot(page, "sign-in")
    # Wrong credentials: one generic message, nothing about which field was wrong.
    page.fill("#ticket", world.running.candidates[0].ticket_number)
    page.fill("#id-number", world.running.candidates[1].id_number)
    page.fill("#access-code", world.running.access_code)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#signin-alert p")
    assert "不匹配" in page.inner_text("#signin-alert")
    # An empty field is named before anything is sent.
    page.fill("#access-code", "")
    page.click("#signin button[type=submit]")
    assert page.get_attribute("#access-code", "aria-invalid") == "true"

    sign_in(page, world.running, 0)
    wait_exam(page)
    reg = world.running.candidates[0].registration_id
    assert page.evaluate("sessionStorage.getItem('exam.token')")
    assert page.evaluate("sessionStorage.getItem('exam.ticket')") == (
        world.running.candidates[0].ticket_number
    )

    # The countdown follows the server although this computer's clock is 2 hours fast.
    assert page.evaluate("Date.now() - performance.timeOrigin - performance.now()") > 7_000_000
    attempt, _ = attempt_rows(world.app, reg)
    page.wait_for_timeout(300)
    shown = int(page.get_attribute("#timer", "data-seconds"))
    remaining = (attempt.deadline - dt.datetime.now(dt.UTC)).total_seconds()
    assert abs(shown - remaining) < 4, (shown, remaining)
    assert page.inner_text("#timer").startswith("1:2")  # about 1:29:xx of 90 minutes

    # Online: true/false by click, true/false by key, single choice by key, multiple by click,
    # fill-in by typing, a flag by key.
    page.click("label[for='q1-T']")
    assert page.inner_text("label[for='q1-T']") == "对"
    page.keyboard.press("k")
    page.keyboard.press("2")
    go(page, 11)
    page.keyboard.press("3")
    page.keyboard.press("f")
    assert page.get_attribute("#flag-button", "aria-pressed") == "true"
    go(page, 31)
    page.click("label[for='q31-A']")
    page.click("label[for='q31-C']")
    go(page, 36)
    blanks36 = fill_blanks(page, "甲")
    settle(page)
    first_blank = page.locator("#q-body input.blank").first
    assert first_blank.get_attribute("aria-label").startswith("第 1 空")
    shot(page, "exam")

    # Offline: answers keep coming and stay on this device.
    page.context.set_offline(True)
    page.wait_for_selector("#conn[data-state=offline]")
    go(page, 12)
    page.click("label[for='q12-B']")
    page.click("#flag-button")
    go(page, 32)
    for key in ("1", "2", "4", "2"):  # A, B, D, then B off again
        page.keyboard.press(key)
    go(page, 37)
    blanks37 = fill_blanks(page, "离线")
    go(page, 11)
    page.keyboard.press("f")  # unflag 11 while offline
    page.wait_for_timeout(700)  # the typing pause that turns blanks into a save
    status = page.inner_text("#conn")
    assert "离线" in status and "保存在本机" in status
    entries = outbox(page)
    kinds = {(e["kind"], e["position"]) for e in entries}
    assert {("answer", 12), ("flag", 12), ("answer", 32), ("answer", 37), ("flag", 11)} <= kinds
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    shot(page, "offline")
    _, rows = attempt_rows(world.app, reg)
    assert 12 not in rows and 32 not in rows  # nothing reached the server yet

    # Back online: the outbox is replayed; a reload shows everything.
    page.context.set_offline(False)
    page.wait_for_selector("#conn[data-state=saved]", timeout=20_000)
    assert outbox(page) == []
    page.reload()
    wait_exam(page)
    assert "第 11 题" in page.inner_text("#q-heading")  # the position was saved too
    assert page.is_checked("#q11-C")
    assert page.get_attribute("#flag-button", "aria-pressed") == "false"
    go(page, 1)
    assert page.is_checked("#q1-T")
    go(page, 2)
    assert page.is_checked("#q2-F")
    go(page, 12)
    assert page.is_checked("#q12-B")
    assert page.get_attribute("#flag-button", "aria-pressed") == "true"
    go(page, 31)
    assert page.is_checked("#q31-A") and page.is_checked("#q31-C")
    assert not page.is_checked("#q31-B")
    go(page, 32)
    assert page.is_checked("#q32-A") and page.is_checked("#q32-D")
    assert not page.is_checked("#q32-B")
    go(page, 36)
    assert [b.input_value() for b in page.locator("#q-body input.blank").all()] == blanks36
    go(page, 37)
    assert [b.input_value() for b in page.locator("#q-body input.blank").all()] == blanks37
    assert page.inner_text("#sheet-count") == "已答 8 / 38 题"
    cell = page.get_attribute("#cell-12", "aria-label")
    assert "已作答" in cell and "已标记待复查" in cell
    assert "未作答" in page.get_attribute("#cell-3", "aria-label")
    assert page.get_attribute("#cell-37", "aria-current") == "step"
    settle(page)

    # The server holds the same answers and flags.
    attempt, rows = attempt_rows(world.app, reg)
    answers = {p: r.response for p, r in rows.items() if r.response is not None}
    assert answers == {
        1: "T",
        2: "F",
        11: ["C"],
        12: ["B"],
        31: ["A", "C"],
        32: ["A", "D"],
        36: blanks36,
        37: blanks37,
    }
    assert {p for p, r in rows.items() if r.flagged} == {12}
    assert attempt.position == 37

    # Submission through the dialog: unanswered and flagged questions are listed.
    page.click("#open-submit")
    dialog = page.locator("#submit-dialog")
    assert dialog.is_visible()
    summary = page.inner_text("#submit-summary")
    assert "未作答的题目（30 道）" in summary and "3、4、5" in summary
    assert "标记待复查的题目（1 道）" in summary and "\n12" in summary
    assert page.evaluate("document.activeElement.id") == "submit-cancel"
    shot(page, "submit-dialog")
    page.click("#submit-go")  # not confirmed yet
    assert "勾选" in page.inner_text("#submit-error")
    page.check("#submit-confirm")
    page.click("#submit-go")
    page.wait_for_selector("#view-done:not([hidden])")
    assert "答卷已提交" in page.inner_text("#done-title")
    shot(page, "submitted")
    attempt, _ = attempt_rows(world.app, reg)
    assert attempt.state == "submitted"


def test_waiting_room_opens_the_exam_when_the_room_starts(new_page, world):
    page = new_page()
    sign_in(page, world.waiting)
    page.wait_for_selector("#view-waiting:not([hidden])")
    page.evaluate("window.stillTheSamePage = true")
    assert "考场规则" in page.inner_text("#view-waiting")
    assert page.inner_text("#w-name") == world.waiting.candidates[0].name
    assert page.inner_text("#w-ticket") == world.waiting.candidates[0].ticket_number
    assert page.inner_text("#w-seat") == "1"
    assert "开考 30 分钟后方可交卷" in page.inner_text("#rule-earliest")
    countdown = page.inner_text("#w-countdown")
    assert re.fullmatch(r"距开考 0:(09|10):\d\d", countdown), countdown
    assert page.is_hidden("#start-button")  # unified start: the proctor starts the room
    shot(page, "waiting-room")

    # The proctor starts the room (the server pushes `started`); the page opens the exam by
    # itself (no reload).
    server_post(
        world, f"/api/sessions/{world.waiting.session_id}/rooms/{world.waiting.room_id}/start", {}
    )
    page.wait_for_selector("#view-exam:not([hidden])", timeout=10_000)
    assert page.evaluate("window.stillTheSamePage === true")  # no reload
    assert "第 1 题" in page.inner_text("#q-heading")

    # Submission is refused before the earliest submission time (30 minutes after the start).
    page.click("#open-submit")
    when = page.inner_text("#submit-when")
    assert "起方可交卷" in when
    assert page.is_disabled("#submit-go")
    page.keyboard.press("Escape")
    assert not page.locator("#submit-dialog").is_visible()
    assert page.evaluate("document.activeElement.id") == "open-submit"


def test_window_mode_candidate_starts_their_own_clock(new_page, world):
    page = new_page()
    sign_in(page, world.window)
    page.wait_for_selector("#view-waiting:not([hidden])")
    page.wait_for_selector("#start-button:not([disabled])")
    assert "现在可以开始考试" in page.inner_text("#w-countdown")
    page.click("#start-button")
    wait_exam(page)
    assert page.inner_text("#timer").startswith("1:29:") or page.inner_text("#timer") == "1:30:00"


def test_english_keyboard_narrow_screen_and_deadline_push(new_page, world):
    page = new_page("en-GB", width=640)
    sign_in(page, world.running, 1, query="?lang=en")
    wait_exam(page)
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#conn-text") == "Saved"
    assert page.inner_text("#q-heading").startswith("Question 1 of 38")
    assert page.inner_text("#q-section") == "True/false questions"
    assert page.inner_text("label[for='q1-T']") == "True"
    assert page.inner_text("label[for='q1-F']") == "False"
    # The demo bank has English translations; the original stays one click away.
    assert page.locator("#q-body details.original").count() == 1
    no_horizontal_overflow(page)

    # Keyboard only: 1 chooses True, F flags, K goes on, J goes back.
    page.keyboard.press("1")
    page.keyboard.press("f")
    page.keyboard.press("k")
    assert page.inner_text("#q-heading").startswith("Question 2 of 38")
    assert page.evaluate("document.activeElement.id") == "q-heading"
    page.keyboard.press("j")
    assert page.is_checked("#q1-T")
    label = page.get_attribute("#cell-1", "aria-label")
    assert label == "Question 1, answered, marked for review, current question"
    # Shortcuts do not fire while typing in a blank.
    go(page, 36)
    blank = page.locator("#q-body input.blank").first
    blank.click()
    page.keyboard.type("jkf12")
    assert blank.input_value() == "jkf12"
    assert "Question 36" in page.inner_text("#q-heading")
    assert page.get_attribute("#flag-button", "aria-pressed") == "false"
    page.wait_for_selector("#conn[data-state=saved]")
    no_horizontal_overflow(page)
    shot(page, "english-640")
    page.click("#open-submit")
    no_horizontal_overflow(page)
    assert "Without an answer (36)" in page.inner_text("#submit-summary")
    shot(page, "english-submit-dialog")
    page.keyboard.press("Escape")

    # Less than 15 minutes left: a visible warning, also announced at once.
    reg = world.running.candidates[1].registration_id
    set_deadline(world.app, reg, dt.timedelta(minutes=14))
    page.reload()
    wait_exam(page)
    page.wait_for_selector("#time-warning:not([hidden])")
    assert page.inner_text("#time-warning") == "Less than 15 minutes left."
    page.wait_for_function(
        "() => document.getElementById('announce-urgent').textContent.includes('15 minutes')"
    )
    assert re.match(r"0:1[34]:\d\d", page.inner_text("#timer"))

    # The server submits at the deadline and tells the page (`submitted`).
    set_deadline(world.app, reg, dt.timedelta(seconds=-5))
    page.wait_for_selector("#view-done:not([hidden])", timeout=15_000)
    assert "Your exam has been submitted" in page.inner_text("#done-title")
    attempt, rows = attempt_rows(world.app, reg)
    assert attempt.state == "submitted" and attempt.submit_reason == "deadline"
    assert rows[1].response == "T" and rows[1].flagged
    assert rows[36].response[0] == "jkf12"


def test_a_pause_holds_answers_on_the_device_until_it_ends(new_page, world):
    from exam_server.delivery import services as delivery
    from question_bank.audit import Actor

    def proctor(action: str) -> None:
        with world.app.app_context():
            try:
                a = db.session.scalar(select(Attempt).where(Attempt.registration_id == reg))
                getattr(delivery, action)(
                    db.session, Actor.system("test"), a, dt.datetime.now(dt.UTC), "test"
                )
                db.session.commit()
            finally:
                db.session.remove()
                db.engine.dispose()

    reg = world.running.candidates[2].registration_id
    page = new_page()
    sign_in(page, world.running, 2)
    wait_exam(page)
    proctor("pause")
    # The page has not heard of the pause yet: the answer is refused, kept, and the page
    # learns that the exam is paused.
    page.click("label[for='q1-F']")
    page.wait_for_selector("#paused-banner:not([hidden])")
    assert page.is_disabled("#q1-T") and page.is_disabled("#flag-button")
    assert "暂停" in page.inner_text("#exam-alert")
    entries = outbox(page)
    assert [(e["kind"], e["position"], e["answer"]) for e in entries] == [("answer", 1, "F")]
    frozen = page.inner_text("#timer")
    page.wait_for_timeout(1200)
    assert page.inner_text("#timer") == frozen  # the clock stands still
    _, rows = attempt_rows(world.app, reg)
    assert 1 not in rows

    # The proctor resumes through the server: the page hears it at once (a `state` push).
    server_post(
        world,
        f"/api/v1/proctor/sessions/{world.running.session_id}/actions",
        {"action": "resume", "reason": "test", "registration_ids": [reg]},
    )
    page.wait_for_selector("#paused-banner", state="hidden", timeout=10_000)
    page.wait_for_selector("#conn[data-state=saved]")
    assert page.is_enabled("#q1-T") and page.is_checked("#q1-F")
    assert page.inner_text("#exam-alert") == ""
    _, rows = attempt_rows(world.app, reg)
    assert rows[1].response == "F"

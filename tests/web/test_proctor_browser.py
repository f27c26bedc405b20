"""The proctor console in a real browser (Debian's Chromium via Playwright) against a real
``exam-server serve`` process on a temporary SQLite file: three candidates in separate browser
contexts and one proctor context.

- Candidate 甲 leaves the exam page for two seconds; the proctor's feed shows a ``left_page``
  incident with its evidence, and 甲's seat card counts it.
- Candidate 乙 goes offline (``context.set_offline``); the proctor sees the seat disconnected
  (and filters and sorts the seat map).
- The proctor sends 甲 a warning (seat menu, reason dialog); 甲 must acknowledge it; the console
  shows "not yet acknowledged" until then.
- The proctor pauses 丙 (bulk bar); 丙's questions are covered and the clock stands still; the
  proctor resumes and 丙 answers again.
- 甲's ticket signs in on another computer: refused (seat in use), and the proctor gets the high
  incident as a banner (role=alert) with a WebAudio beep.
- 乙 moves to a spare computer: it waits ("waiting for the proctor to approve the move", retrying
  by itself) until the proctor approves the move from the incident; then the exam continues
  there, and 乙's old computer, back online, is told the seat is in use elsewhere.
- The proctor dismisses 甲's leave (it moves from the open feed to "All incidents"); a supervisor
  sees the same console without any control.

How a hidden tab is simulated: headless Chromium keeps every page "visible" (bringing another
page to the front changes neither ``document.visibilityState`` nor ``hasFocus()``), so the test
overrides ``document.visibilityState``/``hidden`` on the page and dispatches ``blur``,
``visibilitychange`` and, two seconds later, the reverse — exactly the events a real tab switch
fires, handled by the page's own listeners.

Screenshots go to /tmp/screens/proctor-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from exam_server import WEB_DIR
from tests.conftest import service_missing
from tests.live_support import (
    assign_proctor,
    migrated_app,
    prepare_exam,
    release_database,
    serving,
)
from tests.web.conftest import Tabs, screenshot
from tests.web.test_candidate_browser import sign_in, wait_exam

pytestmark = pytest.mark.browser

HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
  window.dispatchEvent(new Event('blur'));
  document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = """() => {
  delete document.visibilityState;  // the own properties go; the real getters are back
  delete document.hidden;
  document.dispatchEvent(new Event('visibilitychange'));
  window.dispatchEvent(new Event('focus'));
}"""


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """One running session, one room with three candidates and the demo proctor, a policy with
    short thresholds (a 1 s leave counts, 5 s without heartbeat is a disconnection), served by a
    real server process whose candidate pages beat every second."""
    if not (WEB_DIR / "node_modules" / "socket.io-client").is_dir():
        service_missing("web/node_modules", "run `./dev setup` (npm ci in web/) first")
    base = tmp_path_factory.mktemp("proctor")
    url = f"sqlite:///{base / 'exam.sqlite'}"
    app = migrated_app(url, base / "instance", "proctor-browser-test")
    exam = prepare_exam(app, candidates=3, code="PROC-WEB")
    assign_proctor(
        app,
        exam,
        policy={"hidden_min_seconds": 1, "heartbeat_gap_seconds": 5},
        reason="browser test",
    )
    release_database(app)
    with serving(app, url, base / "instance", extra_env={"EXAM_HEARTBEAT_SECONDS": "1"}) as server:
        yield SimpleNamespace(app=app, url=server.url, exam=exam, server=server)


@pytest.fixture
def new_page(browser, world):
    """``new_page()`` -> a tab in a fresh context (its own storage: another computer); script
    errors and CSP violations fail the test."""
    expected = (
        "ERR_INTERNET_DISCONNECTED",
        "Failed to load resource",  # refusals (409) and the offline network
        "WebSocket connection",
    )
    tabs = Tabs(browser, world.url, expected=expected)

    def factory(width: int = 1280):
        return tabs.open(width=width)

    yield factory
    tabs.close()


def shot(page, name: str) -> None:
    screenshot(page, f"proctor-{name}")


def seat(console, reg_id: int) -> str:
    return f"#seat-{reg_id}"


def act(console, opener: str, *, reason: str, text: str | None = None, action: str | None = None):
    """Open an action dialog with ``opener``, fill it in and send it."""
    console.click(opener)
    dialog = console.locator("#action-dialog")
    assert dialog.is_visible()
    if action is not None:
        console.select_option("#a-action", action)
    if text is not None:
        console.fill("#a-text", text)
    console.fill("#a-reason", reason)
    console.click("#action-go")
    dialog.wait_for(state="hidden")
    console.wait_for_function("() => document.getElementById('status').textContent.length > 0")


def test_proctor_sees_a_hidden_tab_and_an_offline_seat_and_acts(new_page, world):
    exam = world.exam
    a, b, c = (cand.registration_id for cand in exam.candidates)

    # The proctor signs in and opens the console.
    console = new_page(width=1400)
    console.goto(f"{console.base}/login?next=/proctor/sessions/{exam.session_id}")
    console.fill("input[name=username]", "proctor")
    console.fill("input[name=password]", "proctor-demo-1")
    console.click("form button[type=submit]")
    console.wait_for_url(
        re.compile(rf".*/proctor/sessions/{exam.session_id}$"), wait_until="domcontentloaded"
    )
    console.wait_for_selector("#live[data-state=live]")
    console.wait_for_selector(f"{seat(console, c)}")
    assert console.locator(".seat").count() == 3
    assert "未签到" in console.inner_text(seat(console, a))  # nobody has signed in yet

    # Three candidates on three computers.
    pages = []
    for i in range(3):
        page = new_page()
        sign_in(page, exam, i)
        wait_exam(page)
        pages.append(page)
    pa, pb, pc = pages
    for reg in (a, b, c):
        console.wait_for_selector(f"{seat(console, reg)}[data-state=answering]")
    assert "答题中" in console.inner_text(seat(console, a))
    assert "最近心跳" in console.inner_text(seat(console, a))

    # 甲 leaves the page for two seconds: an incident with the evidence.
    pa.evaluate(HIDE)
    pa.wait_for_timeout(2000)
    pa.evaluate(SHOW)
    item = console.locator(f"#incident-feed li.incident[data-kind=left_page][data-reg='{a}']")
    item.wait_for()
    assert "离开考试页面" in item.inner_text()
    assert exam.candidates[0].name in item.inner_text()
    console.wait_for_selector(f"{seat(console, a)} .seat-flags .sev")
    # 乙 loses the network: the seat shows as disconnected.
    pb.context.set_offline(True)
    console.wait_for_selector(f"{seat(console, b)}[data-state=disconnected]", timeout=20_000)
    assert "已断线" in console.inner_text(seat(console, b))
    shot(console, "console-incidents")
    # Filters and sorting.
    console.select_option("#f-state", "disconnected")
    assert console.locator(".seat:not([hidden])").count() == 1
    console.select_option("#f-state", "")
    console.check("#f-incidents")
    console.wait_for_function("id => !document.getElementById(id).hidden", arg=f"seat-{a}")
    assert console.is_hidden(seat(console, c))
    console.uncheck("#f-incidents")
    console.select_option("#f-sort", "incidents")
    assert console.locator(".seat").first.get_attribute("id") == f"seat-{a}"
    console.select_option("#f-sort", "seat")

    # A warning to 甲, which 甲 must acknowledge.
    act(
        console,
        f"{seat(console, a)} .seat-act",
        action="warn",
        text="请不要离开考试页面。",
        reason="离开页面",
    )
    pa.wait_for_selector("#warning-dialog[open]")
    assert pa.inner_text("#warning-text") == "请不要离开考试页面。"
    console.wait_for_selector(f"{seat(console, a)} .flag-warn")
    shot(pa, "candidate-warning")
    pa.keyboard.press("Escape")  # does not close it: it must be acknowledged
    assert pa.locator("#warning-dialog[open]").count() == 1
    pa.click("#warning-ack")
    pa.wait_for_selector("#warning-dialog:not([open])", state="attached")
    console.wait_for_selector(f"{seat(console, a)} .flag-warn", state="detached")

    # Pause 丙 from the bulk bar: the questions are covered and the clock stands still.
    console.check(f"{seat(console, c)} .seat-check")
    assert "已选 1 个座位" in console.inner_text("#bulk-count")
    act(console, "[data-bulk=pause]", reason="考生身体不适")
    pc.wait_for_selector("#paused-overlay:not([hidden])")
    console.wait_for_selector(f"{seat(console, c)}[data-state=paused]")
    frozen = pc.inner_text("#timer")
    pc.wait_for_timeout(1200)
    assert pc.inner_text("#timer") == frozen
    assert pc.is_disabled("#q1-T")
    shot(pc, "candidate-paused")
    act(console, f"{seat(console, c)} .seat-act", action="resume", reason="已恢复")
    pc.wait_for_selector("#paused-overlay", state="hidden")
    console.wait_for_selector(f"{seat(console, c)}[data-state=answering]")
    pc.click("label[for='q1-T']")
    pc.wait_for_selector("#conn[data-state=saved]")

    # 甲's ticket on another computer while 甲 is connected: refused, and a high incident.
    intruder = new_page()
    cand = exam.candidates[0]
    intruder.goto(f"{intruder.base}/exam")
    intruder.fill("#ticket", cand.ticket_number)
    intruder.fill("#id-number", cand.id_number)
    intruder.fill("#access-code", exam.access_code)
    intruder.click("#signin button[type=submit]")
    # Refused at the sign-in (409) or, with a token, when its socket connects.
    intruder.wait_for_selector("#signin-alert p, #view-device:not([hidden])")
    assert "另一台计算机" in intruder.inner_text("main")
    shot(intruder, "candidate-seat-in-use")
    console.wait_for_selector("#high-alert:not([hidden])", timeout=5_000)
    assert "第二台设备" in console.inner_text("#high-alert-text")
    assert console.get_attribute("#high-alert", "data-sound") in ("played", "blocked")
    shot(console, "console-high-alert")

    # 乙's computer stays offline; 乙 moves to a spare one, which waits for the proctor.
    spare = new_page()
    sign_in(spare, exam, 1)
    spare.wait_for_selector("#view-device:not([hidden])")
    assert "批准换机" in spare.inner_text("#device-title")
    shot(spare, "candidate-move-required")
    move = f"#incident-feed li.incident[data-kind=device_change][data-reg='{b}']"
    console.wait_for_selector(move)
    console.wait_for_selector(f"{seat(console, b)} .flag-move")
    act(console, f"{move} button.primary", reason="原计算机故障，换到备用机")
    spare.wait_for_selector("#view-exam:not([hidden])", timeout=15_000)
    wait_exam(spare)
    console.wait_for_selector(f"{seat(console, b)}[data-state=answering]", timeout=10_000)
    # The old computer comes back: the seat is now on the spare one.
    pb.context.set_offline(False)
    pb.wait_for_selector("#view-device:not([hidden])", timeout=20_000)
    assert "另一台计算机" in pb.inner_text("#device-title")

    # The leave is dismissed: it leaves the open feed and shows under "All incidents".
    leave = f"#incident-feed li.incident[data-kind=left_page][data-reg='{a}']"
    act(console, f"{leave} button:has-text('排除')", reason="误操作，已核实")
    console.wait_for_selector(leave, state="detached")
    console.select_option("#f-incident-status", "")
    console.wait_for_selector(f"{leave}.st-dismissed")

    # A supervisor watches the same rooms read-only.
    watcher = new_page()
    watcher.goto(f"{watcher.base}/login?next=/proctor/sessions/{exam.session_id}")
    watcher.fill("input[name=username]", "supervisor")
    watcher.fill("input[name=password]", "supervisor-demo-1")
    watcher.click("form button[type=submit]")
    watcher.wait_for_selector("#live[data-state=live]")
    watcher.wait_for_selector(f"{seat(watcher, b)}[data-state=answering]")
    assert watcher.is_visible("#read-only") and watcher.is_hidden("#bulk-bar")
    assert watcher.locator(".seat-act, .seat-check, .room-tools").count() == 0
    watcher.wait_for_selector("#incident-feed li.incident")
    assert watcher.locator("#incident-feed button:has-text('排除')").count() == 0
    shot(watcher, "console-supervisor")

"""The session pages: who may open them, accessibility and CSP, the texts of their scripts in
both languages (SQLite only: the pages add nothing database-specific)."""

from __future__ import annotations

import re

import pytest

from exam_server import WEB_DIR
from tests.exam_server import sessions_helpers as helpers
from tests.exam_server.sessions_helpers import create_session, make_release
from tests.web.conftest import login
from tests.web.test_i18n import script_texts
from tests.web.test_pages import audit, check_markup

fast_passwords = helpers.fast_passwords
SCRIPTS = ("sessions.js", "sessions_detail.js", "sessions_common.js")


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    return request.param


def browser(app, *roles: str, username: str | None = None):
    """A browser signed in as a new user with ``roles`` (none: not signed in)."""
    if not roles:
        return app.test_client()
    return login(app, username or "web-" + "-".join(roles), *roles)


@pytest.fixture
def planned(app, api_as):
    admin = api_as("admin")
    es = create_session(admin, release_id=make_release(api_as))
    api_as("proctor", username="p1")
    room = es["rooms"][0]["id"]
    admin.put(f"/api/sessions/{es['id']}/rooms/{room}/proctors", json={"usernames": ["p1"]})
    return es


def test_who_may_open_the_pages(app, planned):
    sid = planned["id"]
    paths = ["/sessions", f"/sessions/{sid}"]
    for role in ("admin", "supervisor"):
        client = browser(app, role)
        for path in paths:
            assert client.get(path).status_code == 200, (role, path)
    unassigned = browser(app, "proctor", username="p9")
    assert unassigned.get("/sessions").status_code == 200
    assert unassigned.get(f"/sessions/{sid}").status_code == 403  # not on this session
    assert login(app, "p1").get(f"/sessions/{sid}").status_code == 200
    editor = browser(app, "editor")
    for path in paths:
        assert editor.get(path).status_code == 403
    resp = browser(app).get("/sessions")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    resp = browser(app, "admin", username="a2").get("/sessions/999")
    assert resp.status_code == 404 and "999" in resp.text


def test_pages_are_accessible_and_fit_the_csp(app, planned):
    client = browser(app, "admin")
    for path in ("/sessions", f"/sessions/{planned['id']}"):
        resp = client.get(path)
        page = audit(resp.text)
        check_markup(page, path)
        assert 'role="status"' in resp.text and 'role="alert"' in resp.text
        for asset in page.assets:
            assert client.get(asset).status_code == 200, asset


def test_chinese_by_default_english_on_request(app, planned):
    client = browser(app, "admin")
    html = client.get(f"/sessions/{planned['id']}").text
    assert '<html lang="zh-CN">' in html and "考场" in html and "准考证" in html
    assert "计划中" in html  # the state badge
    html = client.get("/sessions?lang=en").text
    assert '<html lang="en">' in html and "Exam sessions" in html and "Plan a new session" in html


def test_home_links_to_sessions_for_session_roles(app):
    assert "/sessions" in browser(app, "proctor").get("/").text
    assert 'href="/sessions"' not in browser(app, "editor").get("/").text


def test_every_script_text_exists_and_is_translated(app):
    from exam_server.views.sessions import session_strings

    english = script_texts(app, session_strings)
    js = WEB_DIR / "static" / "js"
    used = set()
    for name in SCRIPTS:
        used |= set(re.findall(r"\bs\('([\w.]+)'", (js / name).read_text()))
    missing = sorted(k for k in used if k not in english)
    assert not missing, missing
    assert len(used) > 40


def test_demo_session_report_shows_the_information_band_at_the_pass_mark(app):
    # The demo bank calibrated with the 2PL (simulated answers through the upload analysis);
    # the demo session's papers are balanced on information at the pass mark, and the page
    # shows the band, the SEM at the pass mark and how many papers rest on estimates.
    from sqlalchemy import select

    from exam_server.demo import calibrate_demo_bank, setup_demo, setup_demo_session
    from exam_server.extensions import db
    from exam_server.sessions.models import ExamSession
    from question_bank.db import utcnow
    from question_bank.models import PaperSet

    setup_demo()
    assert "2PL estimates" in calibrate_demo_bank()
    code, _, _ = setup_demo_session(utcnow())
    db.session.commit()
    pset = db.session.scalar(select(PaperSet).where(PaperSet.session_key == code))
    info = pset.report["information"]
    assert info["balanced"] is True and info["within_tolerance"] == pset.report["papers"]
    assert len(pset.item_parameters) == info["calibrated_items"] > 0
    sid = db.session.scalar(select(ExamSession.id).where(ExamSession.code == code))
    html = browser(app, "admin").get(f"/sessions/{sid}").text
    page = audit(html)
    check_markup(page, f"/sessions/{sid}")
    assert 'id="information-band"' in html and "<polygon" in html
    assert "及格线处的测验信息" in html and "及格线处的测量标准误" in html
    assert f"θ = {info['theta_cut']}" in html
    en = browser(app, "supervisor").get(f"/sessions/{sid}?lang=en").text
    assert "Information at the pass mark" in en and "Standard error at the pass mark" in en
    assert f"0 of {pset.report['papers']} papers hold items without IRT estimates" in en

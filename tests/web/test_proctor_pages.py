"""The proctor console page through the Flask test client: who may open it (a proctor only for a
session they proctor a room of, supervisors read-only), accessible CSP-friendly markup, both
languages, the texts of its script, the link from the session page, and that the shell carries
no candidate secrets (ID numbers, access codes, answer keys)."""

from __future__ import annotations

import re

from exam_server import WEB_DIR
from tests.conftest import make_user
from tests.exam_server import sessions_helpers as helpers
from tests.exam_server.sessions_helpers import create_session, open_session
from tests.web.conftest import login
from tests.web.test_i18n import i18n_block, script_texts
from tests.web.test_pages import audit, check_markup

JS = WEB_DIR / "static" / "js"

# Fixtures of the session tests: a planned session with two rooms, a proctor on room 1 and
# three candidates (two approved).
fast_passwords = helpers.fast_passwords
clock = helpers.clock
world = helpers.world


def console_root(html: str) -> dict[str, str]:
    tag = re.search(r'<div id="console"[^>]*>', html).group(0)
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', tag))


def test_who_may_open_the_console(app, world):
    sid = world["sid"]
    path = f"/proctor/sessions/{sid}"
    # Another session with its own proctor: that proctor may not watch this one.
    other = create_session(world["admin"], code="E2026061502", name="另一场次")
    make_user("p-other", ("proctor",))
    resp = world["admin"].put(
        f"/api/sessions/{other['id']}/rooms/{other['rooms'][0]['id']}/proctors",
        json={"usernames": ["p-other"]},
    )
    assert resp.status_code == 200, resp.get_json()

    admin = login(app, "web-admin", "admin")
    resp = admin.get(path)
    assert resp.status_code == 200
    assert console_root(resp.text) == {
        "session-id": str(sid),
        "read-only": "",
        "admin": "1",
    }
    assert 'id="close-session"' in resp.text

    proctor = login(app, "proctor")  # made by the world fixture, proctor of room 1
    resp = proctor.get(path)
    assert resp.status_code == 200
    assert console_root(resp.text)["read-only"] == ""
    assert 'id="close-session"' not in resp.text  # closing the session is for administrators
    assert 'id="bulk-bar"' in resp.text
    assert not re.search(r'<div id="bulk-bar"[^>]* hidden>', resp.text)

    supervisor = login(app, "web-supervisor", "supervisor")
    resp = supervisor.get(path)
    assert resp.status_code == 200
    assert console_root(resp.text)["read-only"] == "1"
    assert re.search(r'<span id="read-only" class="badge status-draft">', resp.text)
    assert re.search(r'<div id="bulk-bar"[^>]* hidden>', resp.text)
    assert 'id="close-session"' not in resp.text

    assert login(app, "p-other").get(path).status_code == 403
    assert login(app, "p-other").get(f"/proctor/sessions/{other['id']}").status_code == 200
    assert login(app, "web-editor", "editor").get(path).status_code == 403
    resp = app.test_client().get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    resp = admin.get("/proctor/sessions/999")
    assert resp.status_code == 404 and "999" in resp.text


def test_console_is_accessible_and_fits_the_csp(app, world):
    client = login(app, "web-admin", "admin")
    resp = client.get(f"/proctor/sessions/{world['sid']}")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self' ws: wss:" in csp
    page = audit(resp.text)
    check_markup(page)
    assert 'role="status"' in resp.text and 'role="alert"' in resp.text
    assert 'id="high-alert" class="high-alert" role="alert"' in resp.text
    # The Socket.IO client comes from the vendor route, before the page module.
    assert resp.text.index('src="/vendor/socket.io.min.js"') < resp.text.index(
        "js/proctor_console.js"
    )
    for asset in page.assets:
        assert client.get(asset).status_code == 200, asset


def test_console_speaks_chinese_by_default_and_english_on_request(app, world):
    client = login(app, "web-admin", "admin")
    html = client.get(f"/proctor/sessions/{world['sid']}").text
    assert '<html lang="zh-CN">' in html and "监考台" in html and "事件" in html
    texts = i18n_block(html)["proc"]
    assert texts["state"]["disconnected"] == "已断线"
    assert texts["action"]["warn"] == "发出警告"
    html = client.get(f"/proctor/sessions/{world['sid']}?lang=en").text
    assert '<html lang="en">' in html and "Proctor console" in html
    texts = i18n_block(html)["proc"]
    assert texts["state"]["disconnected"] == "Disconnected"


def test_session_page_links_to_the_console(app, world):
    html = login(app, "proctor").get(f"/sessions/{world['sid']}").text
    assert f'href="/proctor/sessions/{world["sid"]}"' in html


def test_the_shell_carries_no_candidate_secrets(app, world):
    opened = open_session(world)["session"]
    codes = [r["access_code"] for r in opened["rooms"] if r.get("access_code")]
    assert codes
    id_numbers = [r["id_number"] for r in world["regs"]]
    for who in (login(app, "web-admin", "admin"), login(app, "web-sup", "supervisor")):
        html = who.get(f"/proctor/sessions/{world['sid']}").text
        for secret in (*codes, *id_numbers):
            assert secret not in html
        # No paper, no candidate data: the page is a shell filled over the socket.
        for text in ("欧姆定律", "U = IR", "电功率", "张三", "李四"):
            assert text not in html


def test_every_script_text_exists_and_is_translated(app):
    from exam_server.views.proctor import proctor_strings

    english = script_texts(app, proctor_strings)
    source = (JS / "proctor_console.js").read_text()
    used = set(re.findall(r"\bp\('([\w.]+)'", source))
    assert len(used) > 40
    missing = sorted(k for k in used if k not in english)
    assert not missing, missing
    # Keys built at run time: every state, incident kind, severity and action has a text.
    for group, names in {
        "state": ("not_checked_in", "waiting", "answering", "disconnected", "paused"),
        "kind": ("left_page", "second_device", "device_change", "disconnected", "room_outage"),
        "action": ("start_room", "warn", "approve_move", "credit_disconnection", "close_session"),
        "severity": ("info", "low", "medium", "high"),
    }.items():
        for name in names:
            assert f"{group}.{name}" in english, (group, name)

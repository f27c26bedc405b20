"""The candidate pages through the Flask test client: sign-in and exam shells in Chinese and
English, security headers and CSP-friendly markup, the allow-listed vendor route that serves the
Socket.IO client from web/node_modules, translated script texts, and no answer keys anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from exam_server import WEB_DIR
from exam_server.views import candidate as candidate_views
from tests.conftest import service_missing
from tests.live_support import prepare_exam
from tests.web.test_i18n import i18n_block, script_texts
from tests.web.test_pages import audit, check_markup

PAGES = ("/exam", "/exam/sit")
SCRIPTS = (
    "candidate_common.js",
    "candidate_store.js",
    "candidate_signin.js",
    "candidate_exam.js",
    "candidate_proctoring.js",
)
JS = WEB_DIR / "static" / "js"
TYPES = ("true_false", "single_choice", "multiple_choice", "fill_blank")


def test_pages_open_without_an_account_and_fit_the_csp(app):
    client = app.test_client()
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 200, path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "connect-src 'self' ws: wss:" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        check_markup(audit(resp.text), path, captions=False)
        assert 'class="skip-link" href="#main"' in resp.text
        assert "/static/css/candidate.css" in resp.text
        # No staff navigation or staff session pieces on candidate pages.
        assert 'class="mainnav"' not in resp.text and "csrf" not in resp.text.lower()


def test_the_sign_in_form(app):
    html = app.test_client().get("/exam").text
    for field in ("ticket_number", "id_number", "access_code"):
        assert f'name="{field}"' in html
    assert 'role="alert"' in html and 'aria-live="polite"' in html
    assert "js/candidate_signin.js" in html
    assert 'data-next="/exam/sit"' in html


def test_the_exam_shell(app):
    html = app.test_client().get("/exam/sit").text
    # The Socket.IO client comes from the vendor route, before the page module.
    vendor = html.index('src="/vendor/socket.io.min.js"')
    assert vendor < html.index("js/candidate_exam.js")
    for view in ("view-loading", "view-waiting", "view-exam", "view-done", "view-problem"):
        assert f'id="{view}"' in html
    assert '<dialog id="submit-dialog"' in html and 'aria-labelledby="submit-title"' in html
    assert 'role="timer"' in html and 'id="conn"' in html
    assert 'role="alert" aria-live="assertive"' in html
    assert "<kbd>J</kbd>" in html and "<kbd>F</kbd>" in html


def test_chinese_by_default_and_english_on_request(app):
    client = app.test_client()
    html = client.get("/exam").text
    assert '<html lang="zh-CN">' in html
    assert "考生登录" in html and "准考证号" in html and "考场口令" in html
    texts = i18n_block(html)
    assert texts["status"]["offline"] == "离线——答案已保存在本机"
    assert texts["exam"]["true"] == "对" and texts["exam"]["false"] == "错"

    html = client.get("/exam/sit").text
    assert "考场规则" in html and "答题卡" in html and "交卷" in html

    html = client.get("/exam?lang=en").text
    assert '<html lang="en">' in html
    assert "Candidate sign-in" in html and "Room access code" in html
    texts = i18n_block(html)
    assert texts["status"]["offline"] == "Offline — answers are kept on this device"
    assert texts["exam"]["true"] == "True"
    # The choice is remembered for the exam page; the switch link goes back to Chinese.
    html = client.get("/exam/sit").text
    assert '<html lang="en">' in html and "Rules of the exam room" in html
    assert 'href="/exam/sit?lang=zh_CN"' in html

    fresh = app.test_client()
    html = fresh.get("/exam", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert '<html lang="en">' in html


def test_every_script_text_exists_and_is_translated(app):
    english = script_texts(app, candidate_views.candidate_strings)
    used = set()
    for name in SCRIPTS:
        source = (JS / name).read_text()
        used |= set(re.findall(r"\btr\('([\w.]+)'", source))
        # Keys built at run time: the time warnings and the item types.
        if "exam.warn_" in source:
            used |= {f"exam.warn_{m}" for m in (15, 5, 1)}
        if "`types.${" in source:
            used |= {f"types.{k}" for k in TYPES}
    missing = sorted(k for k in used if k not in english)
    assert not missing, missing
    unused = sorted(k for k in english if k not in used)
    assert not unused, unused


def test_candidate_scripts_stay_out_of_the_staff_helpers():
    """Candidate scripts import each other only as namespaces (import * as …), never names
    from common.js, and do not use the staff t() helper."""
    for name in SCRIPTS:
        source = (JS / name).read_text()
        assert not re.search(r"import\s*\{", source), name
        assert not re.search(r"\bt\('", source), name
        for target in re.findall(r"from\s*'\./([\w.]+)'", source):
            assert target.startswith("candidate_") and (JS / target).exists(), (name, target)


# -- the vendor route -----------------------------------------------------------------------------


def node_modules_installed() -> None:
    marker = WEB_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    if not marker.is_file():
        service_missing("web/node_modules", "run `./dev setup` (npm ci in web/) first")


def test_vendor_route_serves_the_pinned_socket_io_client(app):
    node_modules_installed()
    package = json.loads((WEB_DIR / "package.json").read_text())
    pinned = package["dependencies"]["socket.io-client"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin an exact version"
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/socket.io-client"]["version"] == pinned
    installed = json.loads(
        (WEB_DIR / "node_modules" / "socket.io-client" / "package.json").read_text()
    )
    assert installed["version"] == pinned, "web/node_modules is stale: run ./dev setup"

    resp = app.test_client().get("/vendor/socket.io.min.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    body = resp.get_data(as_text=True)
    assert f"Socket.IO v{pinned}" in body[:300]
    assert "Cache-Control" in resp.headers
    resp.close()


def test_vendor_route_serves_only_its_allow_list(app):
    client = app.test_client()
    for name in (
        "socket.io.js",
        "package.json",
        "..%2Fpackage.json",
        "socket.io-client%2Fpackage.json",
        "..%2F..%2Fexam_server%2F__init__.py",
    ):
        resp = client.get(f"/vendor/{name}")
        assert resp.status_code == 404, name
    assert client.get("/vendor/../package.json").status_code == 404
    assert client.get("/vendor/socket.io-client/dist/socket.io.js").status_code == 404


def test_vendor_route_says_how_to_install_missing_files(app, monkeypatch, tmp_path: Path):
    monkeypatch.setattr(candidate_views, "NODE_MODULES", tmp_path / "node_modules")
    resp = app.test_client().get("/vendor/socket.io.min.js")
    assert resp.status_code == 500
    assert "npm ci" in resp.text and "./dev setup" in resp.text


# -- no answer keys -------------------------------------------------------------------------------


@pytest.fixture
def exam(app):
    world = prepare_exam(app, candidates=1)
    client = app.test_client()
    resp = client.post("/api/candidate/sign-in", json=world.sign_in_body(0))
    assert resp.status_code == 200, resp.get_json()
    return world, resp.get_json()


def secrets_of_the_bank(app) -> set[str]:
    """Texts only the server may know: explanations and accepted fill-in answers (long enough
    not to occur by chance)."""
    from sqlalchemy import select

    from exam_server.extensions import db
    from question_bank.models import ItemVersion

    found: set[str] = set()
    for v in db.session.scalars(select(ItemVersion)):
        content = v.content
        if content.get("explanation"):
            found.add(content["explanation"][:40])
        for blank in content.get("blanks") or []:
            found.update(a for a in blank["accepted"] if len(a) >= 6)
    return found


def test_no_answer_keys_in_any_page(app, exam):
    _world, reply = exam
    secrets = secrets_of_the_bank(app)
    assert len(secrets) > 20
    client = app.test_client()
    for path in (*PAGES, "/exam?lang=en", "/exam/sit?lang=en"):
        html = client.get(path).text
        leaked = [s for s in secrets if s in html]
        assert not leaked, (path, leaked[:3])
        assert '"key"' not in html and '"explanation"' not in html
        # Pages are shells: no token, ticket or ID number is ever rendered into them.
        assert reply["token"] not in html
        assert reply["candidate"]["ticket_number"] not in html

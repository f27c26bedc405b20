"""The session pages in a real browser (Chromium via Playwright) against a real server: an
administrator plans a session, adds a room and its proctor, imports a roster (first a bad one,
whose problems are listed), approves the candidates and opens the session; the proctor then sees
the room's access code. Screenshots go to /tmp/screens."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from exam_server.extensions import db
from tests.conftest import Api, make_user
from tests.exam_server.sessions_helpers import valid_id, wrong_check
from tests.question_bank.helpers import OCC, add_item, approve, setup_bank
from tests.web.conftest import browser
from tests.web.test_browser import PASSWORD, live_server, page, shot, sign_in, sign_out

pytestmark = pytest.mark.browser
__all__ = ["browser", "live_server", "page"]  # fixtures used by name


def _api(client, username: str) -> Api:
    token = client.post(
        "/api/auth/token", json={"username": username, "password": PASSWORD}
    ).get_json()["token"]
    return Api(client, token)


@pytest.fixture(scope="module")
def release(live_server) -> SimpleNamespace:
    app = live_server.app
    with app.app_context():
        make_user("boss", ("admin",))
        make_user("jian", ("proctor",))
        make_user("ed", ("editor",))
        make_user("rv", ("reviewer",))
        db.session.remove()
    client = app.test_client()
    editor, reviewer = _api(client, "ed"), _api(client, "rv")
    if editor.get("/api/occupations").get_json()["occupations"] == []:
        setup_bank(editor)
    add_item(editor, "SESS-Q1")
    approve(editor, reviewer, "SESS-Q1")
    resp = editor.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "S-R1"})
    assert resp.status_code == 201, resp.get_json()
    release_id = resp.get_json()["release"]["id"]
    resp = editor.post(
        "/api/blueprints",
        json={
            "occupation": OCC,
            "level": 4,
            "code": "S-BP",
            "name": "浏览器测试组卷方案",
            "spec": {
                "sections": [
                    {"type": "single_choice", "count": 1, "points": 100, "quotas": {"A": 1}}
                ],
                "difficulty": {"tolerance": 0.5},
            },
        },
    )
    assert resp.status_code == 201, resp.get_json()
    return SimpleNamespace(id=release_id, blueprint_version=resp.get_json()["version"]["id"])


def roster_csv(path, rows) -> str:
    path.write_bytes(("\r\n".join(",".join(r) for r in rows) + "\r\n").encode("gbk"))
    return str(path)


def test_plan_import_approve_open(page, release, tmp_path):
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, "boss")
    page.goto(f"{page.base}/sessions")
    form = page.locator("#session-form")
    form.locator("#n-code").fill("WEB-S1")
    form.locator("#n-name").fill("浏览器测试场次")
    page.wait_for_selector(f"#n-occupation option[value='{OCC}']", state="attached")
    form.locator("#n-occupation").select_option(OCC)
    form.locator("#n-level").select_option("4")
    page.wait_for_selector(f"#n-release option[value='{release.id}']", state="attached")
    form.locator("#n-release").select_option(str(release.id))
    form.locator("#n-blueprint").fill(str(release.blueprint_version))
    form.locator("#n-start").fill("2026-06-15T09:00")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/sessions/\d+$"))
    assert page.locator("#state-badge").inner_text() == "计划中"

    page.fill("#r-name", "第一考场")
    page.fill("#r-capacity", "30")
    page.click("#room-form button[type=submit]")
    row = page.locator("#rooms tbody tr").first
    row.locator("code").wait_for()
    code = row.locator("code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{6}", code)
    row.locator("select").select_option("jian")
    row.get_by_role("button", name="保存监考员").click()
    page.get_by_text("已保存考场 第一考场 的监考员。").wait_for()

    bad = roster_csv(
        tmp_path / "bad.csv",
        [
            ["姓名", "身份证号", "考场"],
            ["张三", valid_id(1), "第一考场"],
            ["李四", wrong_check(valid_id(2)), "第一考场"],
        ],
    )
    page.set_input_files("#i-file", bad)
    page.click("#import-button")
    problems = page.locator("#import-problems")
    problems.wait_for()
    assert "row 3" in problems.inner_text() and "check digit" in problems.inner_text()
    shot(page, "sessions-import-problems")
    good = roster_csv(
        tmp_path / "good.csv",
        [
            ["姓名", "身份证号", "考场"],
            ["张三", valid_id(1), "第一考场"],
            ["李四", valid_id(2), "第一考场"],
        ],
    )
    page.set_input_files("#i-file", good)
    page.click("#import-button")
    page.get_by_text("已导入 2 名考生").wait_for()
    assert page.locator("#registrations tbody tr").count() == 2

    page.check("#select-all")
    page.click("#bulk-form button[data-status=approved]")
    page.get_by_text("已保存 2 名考生的资格审核结果。").wait_for()
    assert page.locator("#registrations tbody .status-approved").count() == 2

    page.fill("#t-reason", "考前检查完毕")
    page.click("#transition-form button[data-action=open]")
    page.get_by_text("场次已开放签到。").wait_for()
    assert page.locator("#state-badge").inner_text() == "开放签到"
    assert page.locator("#import-form").is_hidden() and page.locator("#room-form").is_hidden()
    assert page.locator("#transition-form button[data-action=start]").is_visible()
    shot(page, "sessions-detail-open")
    sign_out(page)

    sign_in(page, "jian")
    page.goto(f"{page.base}/sessions")
    page.get_by_role("link", name="打开场次 WEB-S1").click()
    page.locator("#rooms tbody code").wait_for()
    assert page.locator("#rooms tbody code").inner_text() == code
    assert page.locator("#transition-form").count() == 0
    assert page.get_by_role("button", name="本考场开考").is_visible()
    shot(page, "sessions-detail-proctor")

"""The question-bank pages in a real browser (Debian's Chromium driven by Playwright) against a
real server on a temporary SQLite file.

The main flow is the issue's "done when": an editor imports three items from an Excel file and
submits them for review, a reviewer approves them in the review queue, the editor publishes a
release and sees its diff listing the added items. Screenshots go to /tmp/screens.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from exam_server import create_app
from exam_server.extensions import db
from question_bank.schema import ItemContent, ItemDraft
from tests.conftest import make_user
from tests.question_bank.helpers import OCC, TREE
from tests.web.conftest import Tabs, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "password-123"
CODES = ["WEB-TF-1", "WEB-SC-1", "WEB-FB-1"]


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the test output stays readable
        pass


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The app on a migrated SQLite file, served by werkzeug in a background thread."""
    from exam_server.cli import upgrade_database

    base = tmp_path_factory.mktemp("live")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{base / 'live.sqlite'}",
            "INSTANCE_PATH": str(base / "instance"),
            "SECRET_KEY": "browser-test-secret",
            "LOGIN_RATE_PER_MINUTE": 1000,
        }
    )
    with app.app_context():
        upgrade_database()
        make_user("editor", ("editor",))
        make_user("reviewer", ("reviewer",))
        make_user("both", ("editor", "reviewer"))
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def bank(live_server) -> SimpleNamespace:
    """Occupation and knowledge table, created through the JSON API with an editor's token;
    returns that API client and its headers for tests that need more data."""
    client = live_server.app.test_client()
    token = client.post(
        "/api/auth/token", json={"username": "editor", "password": PASSWORD}
    ).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    resp = client.post(
        "/api/occupations",
        json={"code": OCC, "name": "电工", "name_en": "Electrician"},
        headers=auth,
    )
    assert resp.status_code == 201, resp.get_json()
    resp = client.put(
        f"/api/occupations/{OCC}/levels/4/knowledge-points",
        json={"knowledge_points": TREE},
        headers=auth,
    )
    assert resp.status_code == 200, resp.get_json()
    return SimpleNamespace(client=client, headers=auth)


@pytest.fixture
def page(browser, live_server):
    """A fresh Chinese-speaking browser tab; console errors and CSP violations fail the test.
    Refused API calls (403, 409, 422) are expected in some tests; the browser logs each as
    "Failed to load resource"."""
    tabs = Tabs(browser, live_server.url)
    yield tabs.open(timeout=15_000, accept_downloads=True)
    tabs.close()


def sign_in(page, username: str) -> None:
    page.goto(f"{page.base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def sign_out(page) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url(re.compile(r".*/login$"))


shot = screenshot


def three_items_xlsx(path: Path) -> Path:
    from question_bank.formats import xlsx

    docs = [
        {
            "type": "true_false",
            "stem": "<p>人体安全电压一般不高于 36 V。</p>",
            "key": ["T"],
            "knowledge_point": "A-02",
            "difficulty": 0.85,
            "tags": ["安全"],
            "translations": {"en": {"stem": "<p>The safe voltage is at most 36 V.</p>"}},
        },
        {
            "type": "single_choice",
            "stem": "<p>欧姆定律的表达式是？</p>",
            "options": [
                {"label": "A", "text": "U = IR"},
                {"label": "B", "text": "P = UI"},
                {"label": "C", "text": "Q = CU"},
                {"label": "D", "text": "W = Pt"},
            ],
            "key": ["A"],
            "knowledge_point": "A-01",
            "difficulty": 0.7,
        },
        {
            "type": "fill_blank",
            "stem": "<p>三相异步电动机的转速低于{{1}}转速。</p>",
            "blanks": [{"accepted": ["同步"], "normalize": ["trim", "width"]}],
            "knowledge_point": "B-01",
            "points": Decimal("2"),
            "difficulty": 0.4,
        },
    ]
    drafts = [
        ItemDraft(code=code, content=ItemContent.model_validate(doc))
        for code, doc in zip(CODES, docs, strict=True)
    ]
    path.write_bytes(xlsx.dump(drafts))
    return path


def test_import_review_and_release_flow(page, bank, tmp_path):
    # The editor imports three items from Excel.
    sign_in(page, "editor")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    shot(page, "home")
    page.click("nav.mainnav >> text=导入")
    page.wait_for_url("**/bank/import")
    page.select_option("#occupation", OCC)
    page.select_option("#level", "4")
    page.set_input_files("#file", str(three_items_xlsx(tmp_path / "三道题.xlsx")))
    page.click("#import-button")
    page.wait_for_selector("#import-result:not([hidden])")
    assert page.text_content("#count-created") == "3"
    assert page.text_content("#count-revised") == "0"

    # ... opens the drafts and submits all of them for review.
    page.click("#drafts-link")
    page.wait_for_url("**/bank/items?*status=draft*")
    page.wait_for_selector("#items-table tbody input[type=checkbox]")
    assert page.locator("#items-table tbody tr").count() == 3
    page.check("#select-all")
    page.click("#bulk-submit")
    page.wait_for_selector("#status:has-text('已提交审核 3 道题')")
    assert page.text_content("#alert") == ""
    sign_out(page)

    # The reviewer approves them in the review queue.
    sign_in(page, "reviewer")
    page.click("nav.mainnav >> text=审核")
    page.wait_for_url("**/bank/review")
    page.wait_for_selector("#queue tbody button")
    assert sorted(page.locator("#queue tbody th a").all_text_contents()) == sorted(CODES)
    shot(page, "review-queue")
    for remaining in (2, 1, 0):
        page.locator("#queue tbody button").first.click()
        page.wait_for_function(
            "n => document.querySelectorAll('#queue tbody button').length === n", arg=remaining
        )
    page.wait_for_selector("#queue tbody tr.empty")
    assert "没有待审核的版本" in page.text_content("#queue")
    sign_out(page)

    # The editor publishes a release and sees the three items as added.
    sign_in(page, "editor")
    page.goto(f"{page.base}/bank/items?occupation={OCC}&level=4")
    page.wait_for_selector("#items-table tbody tr:nth-child(3)")
    assert page.locator("#items-table .badge.status-approved").count() == 3
    assert page.input_value("#f-occupation") == OCC
    shot(page, "items")
    page.click("nav.mainnav >> text=发布")
    page.wait_for_url("**/bank/releases")
    page.wait_for_selector("#releases tbody tr.empty")
    page.select_option("#n-occupation", OCC)
    page.select_option("#n-level", "4")
    page.fill("#n-name", "2025-A")
    page.fill("#n-note", "第一次发布")
    page.click("#release-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/bank/releases/\d+$"))
    page.wait_for_selector("#diff-added li a")
    assert sorted(page.locator("#diff-added li a").all_text_contents()) == sorted(CODES)
    assert page.text_content("#added-count") == "(3)"
    assert page.text_content("#diff-changed") == "无"
    assert "这是第一个发布版" in page.text_content("#diff-summary")
    page.wait_for_selector("#release-items tbody tr:nth-child(3)")
    shot(page, "release-diff")

    # The release list links to it.
    page.click("text=题库发布版")
    page.wait_for_selector("#releases tbody a")
    assert page.locator("#releases tbody a").all_text_contents() == ["2025-A"]
    shot(page, "releases")

    # The release exports as Excel from the export page.
    page.goto(f"{page.base}/bank/export?occupation={OCC}&level=4")
    page.wait_for_selector("#release option:nth-child(2)", state="attached")
    page.select_option("#release", label="2025-A")
    assert page.is_disabled("#export-status")
    with page.expect_download() as download:
        page.click("#export-button")
    assert download.value.suggested_filename == f"{OCC}-L4-2025-A.xlsx"
    shot(page, "export")


def test_pages_fit_a_narrow_window(page, bank):
    """At 200% zoom a 1280-pixel window is 640 CSS pixels wide: nothing may overflow sideways
    (wide tables scroll inside their own box)."""
    sign_in(page, "editor")
    page.set_viewport_size({"width": 640, "height": 900})
    for path, ready in [
        ("/bank/items", "#items-table tbody tr"),
        ("/bank/items/new", "#options .option-row"),
        ("/bank/import", "#occupation option:nth-child(2)"),
        ("/bank/releases", "#releases tbody tr"),
        ("/bank/export", "#occupation option:nth-child(2)"),
    ]:
        page.goto(f"{page.base}{path}")
        page.wait_for_selector(ready, state="attached")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    page.goto(f"{page.base}/bank/items")
    page.wait_for_selector("#items-table tbody tr")
    shot(page, "items-narrow")


def test_editor_form_field_errors_four_eyes_and_version_diff(page, bank):
    sign_in(page, "both")
    page.goto(f"{page.base}/bank/items/new?lang=en")
    page.select_option("#occupation", OCC)
    page.select_option("#level", "4")
    page.fill("#code", "WEB-FORM-1")
    page.select_option("#type", "single_choice")
    page.fill("#stem", "<p>Which unit measures resistance?</p>")
    for i, text in enumerate(["ohm", "volt", "ampere"]):
        page.fill(f"#option-{i}", text)
    page.fill("#option-3", "ohm")  # same text as A: refused
    page.select_option("#knowledge_point", "A-01")
    page.fill("#stem-en", "Which unit measures resistance?")
    page.click("#save")
    # No key ticked and a duplicate option: the API names the field, shown next to it.
    error = page.locator("[data-error-for='options']")
    error.wait_for(state="visible")
    assert "same text" in error.text_content()
    assert "not saved" in page.text_content("#alert")
    page.fill("#option-3", "watt")
    page.click("#save")
    key_error = page.locator("[data-error-for='key']")
    key_error.wait_for(state="visible")
    assert "exactly 1 key" in key_error.text_content()
    page.check("#option-key-0")
    page.fill("#note", "first draft")
    shot(page, "editor")
    page.click("#save")
    page.wait_for_url("**/bank/items/WEB-FORM-1")

    # The item page renders the content with its key; English translation on request.
    page.wait_for_selector("#item-content .options li.correct")
    assert "ohm" in page.text_content("#item-content li.correct")
    page.click("#toggle-lang")
    assert page.get_attribute("#toggle-lang", "aria-pressed") == "true"
    assert page.get_attribute("#item-content", "lang") == "en"

    # Submit, then the author tries to approve: the four-eyes refusal is shown.
    page.click("button[data-action=submit]")
    page.wait_for_selector("button[data-action=approve]:not([hidden])")
    page.click("button[data-action=approve]")
    page.wait_for_selector("#alert:has-text('four-eyes')")
    # Reject needs a comment (checked before asking the server).
    page.click("button[data-action=reject]")
    page.wait_for_selector("#alert:has-text('comment')")
    assert page.get_attribute("#review-comment", "aria-invalid") == "true"
    page.click("button[data-action=withdraw]")
    page.wait_for_selector("button[data-action=submit]:not([hidden])")
    shot(page, "item")

    # A new version through the editor, then the diff between versions 1 and 2.
    page.click("text=Edit (new version)")
    page.wait_for_url("**/bank/items/WEB-FORM-1/edit")
    page.wait_for_selector("#save:enabled")
    assert page.input_value("#option-0") == "ohm"
    assert page.input_value("#knowledge_point") == "A-01"
    page.fill("#difficulty", "0.35")
    page.fill("#option-1", "volt (V)")
    page.click("#save")
    page.wait_for_url("**/bank/items/WEB-FORM-1")
    page.wait_for_selector("#versions tbody tr:nth-child(2)")
    page.click("#diff-form button[type=submit]")
    page.wait_for_selector("#diff:not([hidden]) tbody tr")
    fields = page.locator("#diff tbody th").all_text_contents()
    assert fields == ["difficulty", "options.B"]
    assert page.locator("#diff tbody td.after").all_text_contents() == ["0.35", "volt (V)"]
    shot(page, "item-diff")


def test_import_refusal_lists_every_problem(page, bank, tmp_path):
    sign_in(page, "editor")
    page.goto(f"{page.base}/bank/import")
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"format": "exam-server-bank", "format_version": 1, "items": ['
        '{"code": "BAD-1", "content": {"type": "single_choice", "stem": "x", '
        '"options": [{"label": "A", "text": "a"}, {"label": "B", "text": "b"}], "key": ["E"], '
        '"knowledge_point": "A-01"}},'
        '{"code": "BAD-2", "content": {"type": "true_false", "stem": "y", "key": ["T"], '
        '"knowledge_point": "Z-99"}}]}',
        encoding="utf-8",
    )
    page.select_option("#occupation", OCC)
    page.select_option("#level", "4")
    page.set_input_files("#file", str(bad))
    page.click("#import-button")
    page.wait_for_selector("#import-problems:not([hidden])")
    rows = page.locator("#problems tbody tr")
    assert rows.count() == 2
    assert "未写入任何内容" in page.text_content("#alert")
    assert "Z-99" in rows.nth(1).text_content()
    shot(page, "import-refused")
    # Nothing was written.
    page.goto(f"{page.base}/bank/items?text=BAD")
    page.wait_for_selector("#items-table tbody tr.empty")


def test_fill_in_item_in_the_editor(page, bank):
    sign_in(page, "editor")
    page.goto(f"{page.base}/bank/items/new")
    page.select_option("#occupation", OCC)
    page.select_option("#level", "4")
    page.fill("#code", "WEB-FILL-2")
    page.select_option("#type", "fill_blank")
    assert page.is_hidden("#choice-block") and page.is_visible("#blank-block")
    # Each {{n}} marker in the stem gets its own blank.
    page.fill("#stem", "电阻的单位是{{1}}，电压的单位是{{2}}。")
    page.wait_for_selector("#blank-1")
    assert "2" in page.text_content("#stem-blanks")
    page.fill("#blank-0", "欧姆\nΩ")
    page.fill("#blank-1", "伏特\nV")
    page.locator("#blanks .blank-row").nth(1).locator("input[value=case]").check()
    page.select_option("#knowledge_point", "A-01")
    page.fill("#points", "2")
    page.click("#save")
    page.wait_for_url("**/bank/items/WEB-FILL-2")
    page.wait_for_selector("#item-content table tbody tr:nth-child(2)")
    rows = page.locator("#item-content table tbody tr").all_text_contents()
    assert "欧姆 / Ω" in rows[0] and "伏特 / V" in rows[1] and "忽略大小写" in rows[1]
    assert page.locator("#item-content .gap").count() == 2
    assert page.is_disabled("#toggle-lang")
    assert "没有英文翻译" in page.text_content("#translation-note")


def test_item_list_pages_and_keeps_its_filters_in_the_url(page, bank):
    for n in (1, 2, 3):
        resp = bank.client.post(
            "/api/items",
            json={
                "occupation": OCC,
                "level": 4,
                "code": f"PAGE-{n}",
                "content": {
                    "type": "true_false",
                    "stem": f"分页测试题 {n}",
                    "key": ["T"],
                    "knowledge_point": "A-02",
                },
            },
            headers=bank.headers,
        )
        assert resp.status_code == 201, resp.get_json()
    sign_in(page, "editor")
    page.goto(f"{page.base}/bank/items?text=PAGE-&per_page=2")
    page.wait_for_selector("#pager a[rel=next]")
    assert page.locator("#items-table tbody tr").count() == 2
    assert "第 1 页，共 2 页" in page.text_content("#pager")
    assert page.input_value("#f-text") == "PAGE-"
    page.click("#pager a[rel=next]")
    page.wait_for_url("**page=2**")
    page.wait_for_selector("#pager a[rel=prev]")
    assert page.locator("#items-table tbody tr").count() == 1
    # Filters from the form go into the URL without empty parameters.
    page.select_option("#f-type", "true_false")
    page.select_option("#f-status", "draft")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**type=true_false**")
    query = page.url.split("?", 1)[1]
    assert sorted(query.split("&")) == [
        "per_page=2",
        "status=draft",
        "text=PAGE-",
        "type=true_false",
    ]
    page.wait_for_selector("#items-table tbody tr:nth-child(2)")
    assert page.text_content("#items-caption") == "共找到 3 道题"

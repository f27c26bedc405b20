"""The item-analysis pages (the improvement loop): analysis runs with the upload form, a run's
report, review tasks and an item's statistics. Through the Flask test client (who may open which
page, structure, languages, script texts) and in Chromium (upload a simulated responses CSV with
a planted wrong key, read the report, resolve the review task). Screenshots go to /tmp/screens.
"""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from exam_server import WEB_DIR
from tests.conftest import Api, make_user
from tests.question_bank.helpers import OCC, add_item, approve, setup_bank
from tests.web.test_browser import PASSWORD, live_server, page, shot, sign_in
from tests.web.test_pages import audit, check_markup, nav_links

__all__ = ["live_server", "page"]  # fixtures used by name

READERS = ("editor", "reviewer", "supervisor")
KEYS = {"Q1": "A", "Q2": "B", "Q3": "C", "Q4": "D", "Q5": "A"}
PLANTED = "Q5"  # the bank keys A; the simulated candidates' best answer is B


def build_bank(editor, reviewer, prefix: str = "") -> list[str]:
    """Five approved single-choice items and one true/false item; returns their codes."""
    for code, key in KEYS.items():
        add_item(editor, prefix + code, key=[key], difficulty=0.5)
        approve(editor, reviewer, prefix + code)
    add_item(editor, prefix + "T1", type="true_false", options=[], key=["T"], stem="<p>对吗？</p>")
    approve(editor, reviewer, prefix + "T1")
    return [prefix + c for c in [*KEYS, "T1"]]


def responses_csv(codes: list[str], n: int = 300, seed: int = 1) -> bytes:
    """Rasch-like simulated answers (one row per candidate); the fifth item's real best answer
    is B although the bank keys A (see tests/question_bank/test_statistics.py)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    b = np.array([-1.0, -0.3, 0.2, 0.8, 0.0, -0.5])
    correct = rng.random((n, 6)) < 1 / (1 + np.exp(-(theta[:, None] - b)))
    lines = ["candidate," + ",".join(codes)]
    for i in range(n):
        cells = []
        for j, code in enumerate(KEYS):
            key = "B" if code == PLANTED else KEYS[code]
            wrong = [o for o in "ABCD" if o != key]
            cells.append(key if correct[i, j] else wrong[rng.integers(3)])
        cells.append("T" if correct[i, 5] else "F")
        lines.append(f"c{i:03d}," + ",".join(cells))
    return ("\n".join(lines) + "\n").encode()


# -- Flask test client ----------------------------------------------------------------------------


@pytest.fixture
def analysed(app, api_as):
    """A small approved bank and one analysis run (2PL) with the planted key error flagged."""
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    codes = build_bank(ed, rev)
    form = {
        "file": (io.BytesIO(responses_csv(codes)), "responses.csv"),
        "occupation": OCC,
        "level": "4",
        "irt": "2pl",
        "label": "第一场",
    }
    resp = ed.post("/api/analysis/runs", data=form, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    return SimpleNamespace(run=resp.get_json()["run"]["id"], codes=codes)


def pages(analysed) -> list[str]:
    return [
        "/analysis",
        f"/analysis/{analysed.run}",
        f"/analysis/{analysed.run}?flagged=1&item=Q5",
        "/analysis/tasks",
        "/analysis/tasks?status=all",
        "/bank/items/Q5/statistics",
    ]


def test_pages_open_for_readers_and_refuse_the_others(analysed, client_as):
    clients = {role: client_as(role) for role in (*READERS, "proctor", "admin")}
    anonymous = client_as()
    for path in pages(analysed):
        for role, client in clients.items():
            resp = client.get(path)
            expected = 403 if role == "proctor" else 200
            assert resp.status_code == expected, (path, role, resp.status_code)
        resp = anonymous.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


def test_unknown_run_and_item_are_404(analysed, client_as):
    client = client_as("editor")
    resp = client.get("/analysis/999")
    assert resp.status_code == 404 and "999" in resp.text
    assert client.get("/bank/items/NOPE/statistics").status_code == 404


def test_pages_are_accessible_and_fit_the_content_security_policy(analysed, client_as):
    client = client_as("admin")
    for path in pages(analysed):
        resp = client.get(path)
        page = audit(resp.text)
        check_markup(page, path)
        assert 'id="status" class="status" role="status" aria-live="polite"' in resp.text
        assert 'role="alert"' in resp.text
        for asset in page.assets:
            assert client.get(asset).status_code == 200, asset


def test_report_page_embeds_plots_and_downloads(analysed, client_as):
    html = client_as("supervisor").get(f"/analysis/{analysed.run}").text
    base = f"/api/analysis/runs/{analysed.run}"
    for kind in ("histogram", "map", "information"):
        assert re.search(rf'<img src="{base}/plots/{kind}\.png" alt="[^"]+"', html), kind
    assert f'href="{base}/export.xlsx" download' in html
    assert f'href="{base}/export.pdf" download' in html
    assert "js/analysis_report.js" in html


def test_upload_form_only_for_analysts_and_task_actions_only_for_editors(analysed, client_as):
    for role in ("editor", "reviewer", "admin"):
        assert 'id="upload-form"' in client_as(role).get("/analysis").text, role
    supervisor = client_as("supervisor")
    assert 'id="upload-form"' not in supervisor.get("/analysis").text
    assert 'data-editor="1"' in client_as("editor", username="e2").get("/analysis/tasks").text
    assert 'data-editor=""' in client_as("reviewer", username="r2").get("/analysis/tasks").text
    assert 'data-editor=""' in supervisor.get("/analysis/tasks").text


def test_navigation_and_item_page_link(analysed, client_as):
    client = client_as("reviewer")
    for path in ("/analysis", f"/analysis/{analysed.run}", "/analysis/tasks"):
        html = client.get(path).text
        assert "/analysis" in nav_links(html)
        assert '<a href="/analysis" aria-current="page">' in html, path
    # The item's statistics page belongs to the item, not to the analysis section.
    html = client.get("/bank/items/Q5/statistics").text
    assert '<a href="/analysis" aria-current="page">' not in html
    assert 'data-code="Q5"' in html
    item_page = client.get("/bank/items/Q5").text
    assert 'href="/bank/items/Q5/statistics"' in item_page


def i18n(html: str) -> dict:
    return json.loads(re.search(r'id="i18n">(.*?)</script>', html, re.S).group(1))


def test_chinese_by_default_and_english_on_request(analysed, client_as):
    client = client_as("editor")
    html = client.get("/analysis").text
    assert '<html lang="zh-CN">' in html
    assert ">试题分析</a>" in html and "上传作答数据进行分析" in html and "复查任务" in html
    assert "空单元格表示未作答" in html
    texts = i18n(html)
    assert texts["an"]["reason"]["possible_key_error"] == "答案可能有误"
    assert texts["status"]["approved"] == "已批准"  # the common texts are there too

    html = client.get(f"/analysis/{analysed.run}?lang=en").text
    assert '<html lang="en">' in html
    assert ">Item analysis</a>" in html and "Test summary" in html and "Download PDF" in html
    assert i18n(html)["an"]["reason"]["possible_key_error"] == "Possible key error"
    html = client.get("/analysis/tasks").text  # the choice is remembered
    assert "Review tasks" in html and "Still open" in html
    html = client.get("/analysis/tasks?lang=zh_CN").text
    assert "待处理" in html and "已驳回" in html


def test_every_analysis_text_used_by_scripts_exists_and_is_translated(app):
    from exam_server.views.analysis import analysis_strings
    from tests.web.test_i18n import script_texts

    english = script_texts(app, analysis_strings)

    scripts = sorted((WEB_DIR / "static" / "js").glob("analysis*.js"))
    assert {p.name for p in scripts} >= {
        "analysis_common.js",
        "analysis_runs.js",
        "analysis_report.js",
        "analysis_tasks.js",
        "analysis_item.js",
    }
    groups = {key.split(".")[0] for key in english if "." in key}
    for path in scripts:
        source = path.read_text()
        for key in re.findall(r"\bat\('([\w.]+)'", source):
            assert key in english, (path.name, key)
        # Keys built at run time (at(`reason.${...}`)) name a group that exists.
        for group in re.findall(r"\bat\(`(\w+)\.\$\{", source):
            assert group in groups, (path.name, group)


def test_each_analysis_page_loads_its_own_script():
    for name, script in {
        "runs": "analysis_runs",
        "report": "analysis_report",
        "tasks": "analysis_tasks",
        "item": "analysis_item",
    }.items():
        template = (WEB_DIR / "templates" / "analysis" / f"{name}.html").read_text()
        assert f"js/{script}.js" in template, name


# -- Chromium -------------------------------------------------------------------------------------


def _api(client, username: str) -> Api:
    token = client.post(
        "/api/auth/token", json={"username": username, "password": PASSWORD}
    ).get_json()["token"]
    return Api(client, token)


@pytest.fixture(scope="module")
def analysis_bank(live_server) -> list[str]:
    app = live_server.app
    from exam_server.extensions import db

    with app.app_context():
        make_user("an-ed", ("editor",))
        make_user("an-rv", ("reviewer",))
        make_user("an-sup", ("supervisor",))
        db.session.remove()
    client = app.test_client()
    editor, reviewer = _api(client, "an-ed"), _api(client, "an-rv")
    if editor.get("/api/occupations").get_json()["occupations"] == []:
        setup_bank(editor)
    return build_bank(editor, reviewer, prefix="AN-")


def loaded(page, selector: str) -> None:
    """Wait until every image matching selector has loaded a real picture."""
    page.wait_for_function(
        """(sel) => { const imgs = [...document.querySelectorAll(sel)];
                      return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0); }""",
        arg=selector,
    )


@pytest.mark.browser
def test_upload_report_and_resolve_the_flagged_item(page, analysis_bank, tmp_path):
    planted = f"AN-{PLANTED}"
    sign_in(page, "an-ed")
    page.goto(f"{page.base}/analysis")
    page.get_by_text("还没有分析记录。").first.wait_for()
    form = page.locator("#upload-form")
    page.wait_for_selector(f"#u-occupation option[value='{OCC}']", state="attached")

    # A refusal is shown next to the field it concerns.
    bad = tmp_path / "bad.csv"
    bad.write_text("candidate,AN-Q1,NOPE\nc1,A,B\n", encoding="utf-8")
    form.locator("#u-occupation").select_option(OCC)
    form.locator("#u-level").select_option("4")
    page.set_input_files("#u-file", str(bad))
    form.locator("button[type=submit]").click()
    error = page.locator("#err-file")
    error.wait_for()
    assert "unknown item codes" in error.inner_text() and "NOPE" in error.inner_text()
    assert page.locator("#u-file").get_attribute("aria-invalid") == "true"
    shot(page, "analysis-upload-refused")

    good = tmp_path / "responses.csv"
    good.write_bytes(responses_csv(analysis_bank))
    page.set_input_files("#u-file", str(good))
    form.locator("#u-irt").select_option("rasch")
    form.locator("#u-label").fill("浏览器测试 第一场")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/analysis/\d+$"))

    # The report: summary, figures (really loaded), the item table with the planted flag.
    page.locator("#items tbody tr.flagged").first.wait_for()
    loaded(page, "figure.plot img")
    assert page.locator("figure.plot img").count() == 3  # histogram, map, information
    for img in page.locator("figure.plot img").all():
        assert len(img.get_attribute("alt")) > 40
    summary = page.locator("#summary").inner_text()
    assert "KR-20 信度" in summary and "测量标准误" in summary and "300" in summary
    row = page.locator(f"#item-{planted}")
    assert "答案可能有误" in row.inner_text() and "选项 B" in row.inner_text()
    assert row.locator("a").get_attribute("href") == f"/bank/items/{planted}?version=1"
    shot(page, "analysis-report")

    page.check("#only-flagged")
    assert (
        page.locator("#items tbody tr.flagged").count()
        == page.locator("#items tbody tr:not(.detail)").count()
    )
    assert f"{planted}" in page.locator("#items tbody").inner_text()
    page.uncheck("#only-flagged")
    page.click("#items th[data-sort=facility] button")
    assert page.locator("#items th[data-sort=facility]").get_attribute("aria-sort") == "ascending"
    facilities = [
        float(c.replace("−", "-"))
        for c in page.locator("#items tbody tr:not(.detail) td:nth-child(5)").all_inner_texts()
    ]
    assert facilities == sorted(facilities)

    # The planted item's detail: option trace lines and the option table with the key marked.
    button = row.get_by_role("button", name=f"{planted} 的详情")
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    detail = page.locator(f"#{button.get_attribute('aria-controls')}")
    loaded(page, f"#{button.get_attribute('aria-controls')} img.trace")
    options = detail.locator("table.options-table")
    assert "✓ 答案" in options.locator("tr.key-row").inner_text()
    assert options.locator("tbody tr").count() == 4
    detail.scroll_into_view_if_needed()
    shot(page, "analysis-report-detail")

    page.set_viewport_size({"width": 640, "height": 900})
    shot(page, "analysis-report-640")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 640, f"the page scrolls sideways at 640 px ({width} px)"
    page.set_viewport_size({"width": 1280, "height": 900})

    # The review task: the note is required; then it is resolved.
    page.goto(f"{page.base}/analysis/tasks")
    task = page.locator(f"article.task[data-item='{planted}']")
    task.wait_for()
    assert "答案可能有误" in task.inner_text()
    assert task.locator(f"a[href='/bank/items/{planted}/edit']").count() == 1
    shot(page, "analysis-tasks")
    resolve = task.get_by_role("button", name=f"将 {planted} 第 1 版的复查任务标为已处理")
    resolve.click()
    note = task.locator("textarea")
    assert note.get_attribute("aria-invalid") == "true"
    assert page.locator("#alert").inner_text().strip() != ""
    note.fill("答案改为 B，见第 2 版")
    resolve.click()
    page.get_by_text(f"{planted} 的复查任务已标为已处理。").wait_for()
    task = page.locator(f"article.task[data-item='{planted}']")
    assert "已处理" in task.inner_text() and "答案改为 B" in task.inner_text()
    assert task.locator("textarea").count() == 0
    shot(page, "analysis-task-resolved")

    # The item page links to the item's statistics per version.
    page.goto(f"{page.base}/bank/items/{planted}")
    page.click("#statistics-link")
    page.wait_for_url(re.compile(rf".*/bank/items/{planted}/statistics$"))
    page.locator("#versions section").first.wait_for()
    text = page.locator("#versions").inner_text()
    assert "实测通过率" in text and "组卷使用实测通过率" in text and "300" in text
    shot(page, "analysis-item-statistics")


@pytest.mark.browser
def test_supervisor_reads_in_english(page, live_server, analysis_bank):
    editor = _api(live_server.app.test_client(), "an-ed")
    if not editor.get("/api/analysis/runs").get_json()["runs"]:  # run on its own
        form = {
            "file": (io.BytesIO(responses_csv(analysis_bank)), "responses.csv"),
            "occupation": OCC,
            "level": "4",
        }
        resp = editor.post("/api/analysis/runs", data=form, content_type="multipart/form-data")
        assert resp.status_code == 201, resp.get_json()
    sign_in(page, "an-sup")
    page.goto(f"{page.base}/analysis?lang=en")
    assert page.locator("#upload-form").count() == 0
    link = page.locator("#runs tbody tr th a").first
    link.wait_for()
    link.click()
    page.wait_for_url(re.compile(r".*/analysis/\d+$"))
    page.locator("#items tbody tr").first.wait_for()
    loaded(page, "figure.plot img")
    assert "Possible key error" in page.locator("#items").inner_text()
    shot(page, "analysis-report-en")
    page.goto(f"{page.base}/analysis/tasks?status=all")
    page.locator("article.task").first.wait_for()
    assert page.locator("article.task textarea").count() == 0
    assert "Only editors can resolve" in page.locator("main").inner_text()
    shot(page, "analysis-tasks-en")

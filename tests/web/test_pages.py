"""The staff pages of the question bank, through the Flask test client: who may open which page,
security headers, accessible structure, navigation by role, languages and static assets."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from exam_server import WEB_DIR
from tests.question_bank.helpers import OCC, add_item, approve, setup_bank

READERS = ("editor", "reviewer", "supervisor")


@pytest.fixture
def bank(app, api_as):
    """An occupation with its knowledge table, one approved item Q1 and a release R1."""
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    add_item(ed, "Q1")
    approve(ed, rev, "Q1")
    resp = ed.post("/api/releases", json={"occupation": OCC, "level": 4, "name": "R1"})
    assert resp.status_code == 201
    return {"release": resp.get_json()["release"]["id"]}


def pages(bank) -> dict[str, tuple[str, ...]]:
    """Every page and the roles that may open it (admins may open all)."""
    return {
        "/bank/items": READERS,
        "/bank/items?status=draft&level=4": READERS,
        "/bank/items/new": ("editor",),
        "/bank/items/Q1": READERS,
        "/bank/items/Q1/edit": ("editor",),
        "/bank/review": ("reviewer",),
        "/bank/releases": READERS,
        f"/bank/releases/{bank['release']}": READERS,
        "/bank/import": ("editor",),
        "/bank/export": READERS,
    }


def test_each_page_opens_for_its_roles_and_refuses_the_others(bank, client_as):
    clients = {role: client_as(role) for role in ("editor", "reviewer", "supervisor", "proctor")}
    clients["admin"] = client_as("admin")
    anonymous = client_as()
    for path, allowed in pages(bank).items():
        for role, client in clients.items():
            resp = client.get(path)
            expected = 200 if role in allowed or role == "admin" else 403
            assert resp.status_code == expected, (path, role, resp.status_code)
            if expected == 403:
                assert "text/html" in resp.content_type
        resp = anonymous.get(path)
        assert resp.status_code == 302, path
        assert resp.headers["Location"].startswith("/login?next=")


def test_unknown_item_and_release_pages_are_404(bank, client_as):
    client = client_as("editor")
    assert client.get("/bank/items/NO-SUCH").status_code == 404
    assert client.get("/bank/items/NO-SUCH/edit").status_code == 404
    resp = client.get("/bank/releases/999")
    assert resp.status_code == 404
    assert "999" in resp.text


class PageAudit(HTMLParser):
    """Collects what the accessibility and CSP checks need from one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.tables = 0
        self.captions = 0
        self.h1 = 0
        self.scripts: list[dict[str, str | None]] = []
        self.inline_styles: list[str] = []
        self.style_tags = 0
        self.inline_handlers: list[str] = []
        self.assets: list[str] = []
        self._label_depth = 0
        self.wrapped_controls: set[int] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if "style" in a:
            self.inline_styles.append(tag)
        self.inline_handlers += [name for name in a if name.startswith("on")]
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            if self._label_depth:
                self.wrapped_controls.add(len(self.controls))
            self.controls.append(a)
        elif tag == "table":
            self.tables += 1
        elif tag == "caption":
            self.captions += 1
        elif tag == "h1":
            self.h1 += 1
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "style":
            self.style_tags += 1
        if tag in ("script", "link", "img") and (a.get("src") or a.get("href") or "").startswith(
            "/static/"
        ):
            self.assets.append(a.get("src") or a.get("href"))

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    return parser


def check_markup(page: PageAudit, where: object = None, *, captions: bool = True) -> None:
    """The checks every page passes (``where`` names it in a failure): CSP-friendly scripts and
    styles, one h1, every table captioned (unless not ``captions``), unique ids and every
    visible form control labelled."""
    # CSP: scripts are files from this server or inert JSON; no inline styles or handlers.
    for script in page.scripts:
        assert script.get("src") or script.get("type") == "application/json", (where, script)
    assert not page.inline_styles and not page.style_tags, where
    assert not page.inline_handlers, where
    # Structure: one h1, every table has a caption, ids are unique.
    assert page.h1 == 1, where
    if captions:
        assert page.tables == page.captions, where
    duplicates = {i for i in page.ids if page.ids.count(i) > 1}
    assert not duplicates, (where, duplicates)
    # Every visible form control has a label (for=, wrapping, or aria-label/labelledby).
    for index, control in enumerate(page.controls):
        labelled = (
            control.get("id") in page.label_for
            or index in page.wrapped_controls
            or control.get("aria-label")
            or control.get("aria-labelledby")
        )
        assert labelled, (where, control)


def test_pages_are_accessible_and_fit_the_content_security_policy(bank, client_as):
    client = client_as("admin")
    for path in pages(bank):
        resp = client.get(path)
        assert resp.status_code == 200, path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        page = audit(resp.text)
        check_markup(page, path)
        # Status and error messages are announced.
        if path.startswith("/bank/"):
            assert 'id="status" class="status" role="status" aria-live="polite"' in resp.text
            assert 'role="alert"' in resp.text
        assert '<meta name="csrf-token" content="' in resp.text
        assert 'class="skip-link" href="#main"' in resp.text


def test_static_files_of_every_page_exist(bank, client_as):
    client = client_as("admin")
    seen: set[str] = set()
    for path in pages(bank):
        seen.update(audit(client.get(path).text).assets)
    assert "/static/css/app.css" in seen and "/static/js/items.js" in seen
    for asset in sorted(seen):
        resp = client.get(asset)
        assert resp.status_code == 200, asset
        resp.close()


def test_script_modules_import_only_what_common_exports():
    js = WEB_DIR / "static" / "js"
    common = (js / "common.js").read_text()
    exported = set(
        re.findall(r"^export (?:async )?(?:function|const|class|let) (\w+)", common, re.M)
    )
    for path in js.glob("*.js"):
        source = path.read_text()
        for names, target in re.findall(r"import\s*\{([^}]*)\}\s*from\s*'\./([\w.]+)'", source):
            assert (js / target).exists(), (path.name, target)
            wanted = {n.strip() for n in names.split(",") if n.strip()}
            assert wanted <= exported, (path.name, wanted - exported)


def test_every_text_key_used_by_scripts_exists(app):
    from exam_server.views.pages import js_strings

    with app.test_request_context("/?lang=en"):
        texts = js_strings()

    def has(key: str) -> bool:
        node = texts
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return isinstance(node, str)

    for path in (WEB_DIR / "static" / "js").glob("*.js"):
        for key in re.findall(r"\bt\('([\w.]+)'", path.read_text()):
            assert has(key), (path.name, key)


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(0)) if nav else []


def test_navigation_follows_roles(app, client_as):
    expected = {
        "editor": ["/bank/items", "/bank/releases", "/bank/import", "/bank/export", "/analysis"],
        "reviewer": ["/bank/items", "/bank/review", "/bank/releases", "/bank/export", "/analysis"],
        "supervisor": ["/bank/items", "/bank/releases", "/bank/export", "/analysis"],
        "admin": [
            "/bank/items",
            "/bank/review",
            "/bank/releases",
            "/bank/import",
            "/bank/export",
            "/analysis",
        ],
        "proctor": [],
    }
    for role, links in expected.items():
        assert nav_links(client_as(role).get("/").text) == links, role
    html = client_as("editor", username="ed2").get("/bank/import").text
    assert '<a href="/bank/import" aria-current="page">' in html


def test_chinese_by_default_and_english_on_request(bank, client_as):
    client = client_as("editor")
    html = client.get("/bank/items").text
    assert '<html lang="zh-CN">' in html
    assert ">题库</a>" in html and ">导入</a>" in html and ">导出</a>" in html
    assert "搜索与筛选" in html and "退出登录" in html
    texts = json.loads(re.search(r'id="i18n">(.*?)</script>', html, re.S).group(1))
    assert texts["status"]["approved"] == "已批准"
    assert texts["type"]["fill_blank"] == "填空题"

    html = client.get("/bank/items?lang=en&status=draft").text
    assert '<html lang="en">' in html
    assert ">Items</a>" in html and "Search and filter" in html
    texts = json.loads(re.search(r'id="i18n">(.*?)</script>', html, re.S).group(1))
    assert texts["status"]["approved"] == "Approved"
    # The choice is remembered, and the switch link keeps the page's filters.
    html = client.get("/bank/items?status=draft").text
    assert '<html lang="en">' in html
    assert 'href="/bank/items?status=draft&amp;lang=zh_CN"' in html

    # A browser asking for English gets English before any choice is made.
    fresh = client_as("reviewer")
    html = fresh.get("/bank/review", headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    assert "Versions waiting for review" in html
    html = client_as("supervisor").get(f"/bank/releases/{bank['release']}").text
    assert "发布版 R1" in html and "上一个发布版" in html


def test_error_pages_are_translated(client_as):
    client = client_as("proctor")
    resp = client.get("/bank/items")
    assert resp.status_code == 403 and '<html lang="zh-CN">' in resp.text
    resp = client_as("editor").get("/bank/items/NOPE")
    assert "不存在题号为 NOPE 的试题。" in resp.text


def test_item_page_embeds_user_names_as_json(bank, client_as):
    html = client_as("reviewer", username="rv").get("/bank/items/Q1").text
    users = json.loads(re.search(r'id="users">(.*?)</script>', html, re.S).group(1))
    assert "Editor" in users.values() and "Reviewer" in users.values()
    assert 'data-code="Q1"' in html


def test_each_bank_page_loads_its_own_script():
    for name in ("items", "item", "edit", "review", "releases", "release", "import", "export"):
        template = Path(WEB_DIR / "templates" / "bank" / f"{name}.html").read_text()
        assert f"js/{name}.js" in template, name

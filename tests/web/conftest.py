"""Fixtures of the browser-page tests: SQLite only (pages add nothing database-specific), and
test clients signed in through the real /login form.

For the tests in a real browser: Debian's Chromium through Playwright (``browser``, one per
module), :class:`Tabs` (pages in fresh contexts whose script errors fail the test) and
:func:`screenshot` (to /tmp/screens).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_user, service_missing

CHROMIUM = os.environ.get("EXAM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENS = Path("/tmp/screens")


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    return request.param


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(app, username: str, *roles: str):
    """A test client signed in (session cookie) through the /login form as ``username``; the
    user is made first, with ``roles``, when roles are given."""
    if roles:
        make_user(username, roles)
    client = app.test_client()
    page = client.get("/login")
    resp = client.post(
        "/login",
        data={"username": username, "password": "password-123", "csrf_token": csrf_from(page.text)},
    )
    assert resp.status_code == 302, resp.text
    return client


@pytest.fixture
def client_as(app):
    """``client_as("editor")`` -> a test client signed in (session cookie) as a new user with
    those roles; ``client_as()`` -> a client that is not signed in."""

    def factory(*roles: str, username: str | None = None):
        if not roles:
            return app.test_client()
        return login(app, username or "web-" + "-".join(roles), *roles)

    return factory


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        service_missing("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        service_missing("Playwright", str(exc))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tabs:
    """Browser tabs on ``base``, each in a fresh context (its own storage: another computer).

    Script errors, and console errors (CSP violations …) that contain none of ``expected``,
    are collected; :meth:`close` closes every context, then fails the test if there were any.
    """

    def __init__(
        self, browser, base: str, *, expected: tuple[str, ...] = ("Failed to load resource",)
    ):
        self.browser = browser
        self.base = base
        self.expected = expected
        self.contexts: list[Any] = []
        self.problems: list[str] = []

    def open(
        self,
        locale: str = "zh-CN",
        *,
        width: int = 1280,
        timeout: int = 10_000,
        init_script: str | None = None,
        **context_options: Any,
    ):
        context = self.browser.new_context(
            locale=locale, viewport={"width": width, "height": 900}, **context_options
        )
        context.set_default_timeout(timeout)
        if init_script is not None:
            context.add_init_script(init_script)
        self.contexts.append(context)
        page = context.new_page()

        def console(msg) -> None:
            if msg.type == "error" and not any(e in msg.text for e in self.expected):
                self.problems.append(f"console {msg.type}: {msg.text}")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.base = self.base
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        assert not self.problems, "\n".join(self.problems)


def screenshot(page, name: str) -> None:
    """The whole page to /tmp/screens/``name``.png."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)

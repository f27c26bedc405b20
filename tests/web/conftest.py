"""Fixtures of the browser-page tests: SQLite only (pages add nothing database-specific), and
test clients signed in through the real /login form."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_user


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    return request.param


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def client_as(app):
    """``client_as("editor")`` -> a test client signed in (session cookie) as a new user with
    those roles; ``client_as()`` -> a client that is not signed in."""

    def factory(*roles: str, username: str | None = None):
        client = app.test_client()
        if not roles:
            return client
        name = username or "web-" + "-".join(roles)
        make_user(name, roles)
        page = client.get("/login")
        resp = client.post(
            "/login",
            data={"username": name, "password": "password-123", "csrf_token": csrf_from(page.text)},
        )
        assert resp.status_code == 302, resp.text
        return client

    return factory

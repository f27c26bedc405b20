"""Shared fixtures: an app per test on SQLite and on PostgreSQL, users, an API client.

PostgreSQL comes from ``EXAM_TEST_POSTGRES_URL`` (default: the local server, database ``test``).
Where it is not reachable, PostgreSQL tests skip with the reason; with
``EXAM_TEST_REQUIRE_SERVICES=1`` (set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from exam_server import create_app
from exam_server.extensions import db
from exam_server.models import User

PG_URL = os.environ.get("EXAM_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("EXAM_TEST_REQUIRE_SERVICES") == "1"


def service_missing(what: str, reason: str) -> None:
    """Skip (or, under CI, fail) a test that needs an external service."""
    message = f"{what} is not available: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (EXAM_TEST_REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(message)


def _migrate(url: str, instance: Path) -> None:
    from exam_server.cli import upgrade_database

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "t",
        }
    )
    with app.app_context():
        upgrade_database()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file; each test gets a copy (much faster than migrating per test)."""
    base = tmp_path_factory.mktemp("sqlite-template")
    path = base / "template.sqlite"
    _migrate(f"sqlite:///{path}", base)
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        service_missing("PostgreSQL", f"{PG_URL}: {exc.__class__.__name__}: {exc}".splitlines()[0])
    name = f"exam_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    _migrate(url, Path(f"/tmp/{name}"))
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    shutil.rmtree(f"/tmp/{name}", ignore_errors=True)


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, request, tmp_path: Path) -> str:
    if backend == "sqlite":
        target = tmp_path / "exam.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "LOGIN_RATE_PER_MINUTE": 1000,
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def session(app):
    return db.session


def make_user(
    username: str = "user", roles: tuple[str, ...] = ("editor",), password: str = "password-123"
) -> User:
    user = User(username=username, display_name=username.title())
    user.roles = list(roles)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


class Api:
    """The Flask test client with a bearer token and JSON helpers.

    Requests ask for English (``Accept-Language: en``) so that tests can match the English
    messages; the server's default for a request without a language is Chinese, which
    tests/exam_server/test_messages.py and the page tests check.
    """

    def __init__(self, client, token: str | None = None, language: str = "en"):
        self.client = client
        self.token = token
        self.language = language

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {"Accept-Language": self.language, **h, **(extra or {})}

    def get(self, path: str, **kw: Any):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any):
        return self.client.post(
            path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def put(self, path: str, json: Any = None, **kw: Any):
        return self.client.put(
            path, json=json, headers=self._headers(kw.pop("headers", None)), **kw
        )


@pytest.fixture
def api_as(app):
    """``api_as("editor")`` -> an :class:`Api` signed in as a new user with that role."""
    made: dict[str, Api] = {}

    def factory(*roles: str, username: str | None = None) -> Api:
        name = username or "-".join(roles) or "nobody"
        if name not in made:
            make_user(name, roles)
            client = app.test_client()
            resp = client.post(
                "/api/auth/token", json={"username": name, "password": "password-123"}
            )
            assert resp.status_code == 200, resp.get_json()
            made[name] = Api(client, resp.get_json()["token"])
        return made[name]

    return factory

"""Configuration classes. Every key can be set from an ``EXAM_*`` environment variable.

=========================  ==================================================================
``EXAM_DATABASE_URL``      SQLAlchemy URL. Default: SQLite file ``exam.sqlite`` in the instance
                           folder (WAL, busy timeout). PostgreSQL: ``postgresql+psycopg://…``.
``EXAM_REDIS_URL``         Redis URL for the Socket.IO message queue and presence. Default: none
                           (embedded: in-process queue and presence).
``EXAM_SECRET_KEY``        Signs session cookies, CSRF and API tokens. Required in production;
                           the embedded default generates one per instance folder.
``EXAM_API_TOKEN_HOURS``   Lifetime of JSON API bearer tokens (default 12).
``EXAM_MAX_UPLOAD_MB``     Largest accepted upload (default 32).
``EXAM_LOGIN_RATE``        Sign-in attempts allowed per client address per minute (default 10).
``EXAM_DEFAULT_LOCALE``    ``zh_CN`` (default) or ``en``.
``EXAM_SAVE_GRACE_SECONDS`` Saves still accepted this long after a deadline (default 5), for
                           saves already in flight.
``EXAM_SWEEP_INTERVAL_SECONDS`` How often each process submits attempts whose time is up (1).
``EXAM_TIMEZONE``          Time zone of printed tickets and CLI times (Asia/Shanghai).
``EXAM_CANDIDATE_SIGN_IN_RATE`` Candidate sign-ins per client address per minute (120).
``EXAM_CANDIDATE_TOKEN_HOURS`` Lifetime of candidate tokens (12).
``EXAM_HEARTBEAT_SECONDS`` How often candidate pages send a heartbeat (5), told in ``hello``.
``EXAM_PRESENCE_PREFIX``   Prefix of the presence keys in Redis (``exam:``); lets several
                           deployments share one Redis.
``EXAM_DB_PRE_PING``       ``1``: test every pooled database connection before use (off: the
                           live path is cheaper without; a dead connection fails one event).
``EXAM_GC_POLICY``         ``0``: leave Python's garbage collector as it is in server processes
                           (default on: freeze the long-lived heap during an exam so full
                           collections stay short; see ``exam_server/gc_policy.py``).
=========================  ==================================================================
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import ClassVar


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"EXAM_{name}", default)


class Config:
    TESTING = False
    SQLALCHEMY_DATABASE_URI: str | None = None
    REDIS_URL: str | None = None
    SECRET_KEY: str | None = None
    API_TOKEN_HOURS = 12
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024
    LOGIN_RATE_PER_MINUTE = 10
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_SUPPORTED_LOCALES = ("zh_CN", "en")
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).resolve().parent / "translations")
    WTF_CSRF_CHECK_DEFAULT = False  # checked in before_request for cookie-authenticated writes
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {}
    JSON_SORT_KEYS = False
    HEARTBEAT_SECONDS = 5.0
    PRESENCE_PREFIX = "exam:"
    IMPORT_MAX_ITEMS = 20_000

    @classmethod
    def from_env(cls) -> dict:
        values: dict = {}
        if url := _env("DATABASE_URL"):
            values["SQLALCHEMY_DATABASE_URI"] = url
        if url := _env("REDIS_URL"):
            values["REDIS_URL"] = url
        if key := _env("SECRET_KEY"):
            values["SECRET_KEY"] = key
        if hours := _env("API_TOKEN_HOURS"):
            values["API_TOKEN_HOURS"] = float(hours)
        if mb := _env("MAX_UPLOAD_MB"):
            values["MAX_CONTENT_LENGTH"] = int(float(mb) * 1024 * 1024)
        if rate := _env("LOGIN_RATE"):
            values["LOGIN_RATE_PER_MINUTE"] = int(rate)
        if loc := _env("DEFAULT_LOCALE"):
            values["BABEL_DEFAULT_LOCALE"] = loc
        for name, key, kind in (
            ("SAVE_GRACE_SECONDS", "SAVE_GRACE_SECONDS", float),
            ("SWEEP_INTERVAL_SECONDS", "SWEEP_INTERVAL_SECONDS", float),
            ("TIMEZONE", "TIMEZONE", str),
            ("CANDIDATE_SIGN_IN_RATE", "CANDIDATE_SIGN_IN_RATE_PER_MINUTE", int),
            ("CANDIDATE_TOKEN_HOURS", "CANDIDATE_TOKEN_HOURS", float),
            ("HEARTBEAT_SECONDS", "HEARTBEAT_SECONDS", float),
            ("IMPORT_MAX_ITEMS", "IMPORT_MAX_ITEMS", int),
            ("PRESENCE_PREFIX", "PRESENCE_PREFIX", str),
            ("DB_PRE_PING", "DB_PRE_PING", lambda raw: raw.strip().lower() in ("1", "true", "yes")),
            ("GC_POLICY", "GC_POLICY", lambda raw: raw.strip().lower() not in ("0", "false", "no")),
        ):
            if (raw := _env(name)) is not None:
                values[key] = kind(raw)
        return values


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    LOGIN_RATE_PER_MINUTE = 1000


def instance_secret(instance_path: str) -> str:
    """The embedded default's secret key: generated once and kept in the instance folder."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key

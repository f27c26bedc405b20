"""The exam delivery server: Flask app factory, HTTP API, pages, CLI.

``create_app(config=None)`` builds an app: configuration from the ``EXAM_*`` environment (see
:mod:`exam_server.config`) overridden by ``config`` (a dict or a config class), extensions bound
with ``init_app``, blueprints registered, and one commit point per request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, g, request, session
from sqlalchemy import event

from .config import Config, instance_secret

__all__ = ["create_app"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def create_app(config: dict[str, Any] | type | None = None) -> Flask:
    instance_path = os.environ.get("EXAM_INSTANCE_PATH")
    if isinstance(config, dict) and config.get("INSTANCE_PATH"):
        instance_path = config["INSTANCE_PATH"]
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(WEB_DIR / "templates"),
        static_folder=str(WEB_DIR / "static"),
    )
    app.config.from_object(Config)
    app.config.update(Config.from_env())
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'exam.sqlite'}"
        )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path)
    _configure_engine_options(app)

    _init_extensions(app)
    _register_blueprints(app)
    _install_request_hooks(app)
    return app


def _configure_engine_options(app: Flask) -> None:
    url: str = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver; accept the plain scheme people copy from their DBA.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {}).setdefault("timeout", 15)
    else:
        # No ping before every checkout by default: the live path checks a connection out for
        # every event, and the ping doubled the round trips of the cheapest ones. A connection
        # that died (a database restart) fails one event, SQLAlchemy then replaces the whole
        # pool, and clients retry (saves wait in the outbox). EXAM_DB_PRE_PING=1 turns it on.
        options.setdefault("pool_pre_ping", bool(app.config.get("DB_PRE_PING", False)))
        options.setdefault("pool_recycle", 3600)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _init_extensions(app: Flask) -> None:
    from question_bank import models as _bank_models  # noqa: F401
    from question_bank import statistics as _statistics  # noqa: F401

    from . import models  # noqa: F401  (register tables on the shared metadata)
    from .delivery import models as _delivery_models  # noqa: F401
    from .extensions import babel, csrf, db, limiter, login_manager, migrate
    from .proctoring import models as _proctoring_models  # noqa: F401
    from .sessions import models as _session_models  # noqa: F401

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        from . import metrics

        metrics.install(db.engine)
    migrate.init_app(
        app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True
    )
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    # Redis down must not stop sign-ins: count in memory until it is back.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from . import timefmt

    timefmt.install(app)
    _init_socketio(app)
    _register_listeners()


def _register_listeners() -> None:
    from question_bank import review

    from .delivery.rescoring import rescore_after_approval

    if rescore_after_approval not in review.APPROVAL_LISTENERS:
        review.APPROVAL_LISTENERS.append(rescore_after_approval)


def _init_socketio(app: Flask) -> None:
    from . import (
        live,  # noqa: F401  (registers the namespaces before the first init_app)
        socket_json,
    )
    from .extensions import socketio
    from .proctoring import console  # noqa: F401  (the /proctor namespace)

    socketio.init_app(
        app,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE", "gevent"),
        message_queue=app.config.get("REDIS_URL") or None,
        # Same-origin only: exam pages are served by this server.
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS"),
        ping_interval=10,
        ping_timeout=20,
        json=socket_json,  # orjson; the paper goes out pre-encoded
        # Every event in a greenlet of its own (python-socketio's default). Handling events in
        # the connection's reader greenlet was tried and measured worse: under overload, a
        # handler waiting for a database connection stops that connection's pings, and the
        # clients' reconnections made the overload a storm (docs/benchmarks.md).
    )


def select_locale() -> str:
    """?lang= (remembered in the session), else the user's choice, else the browser, else zh_CN."""
    from flask import current_app
    from flask_login import current_user

    supported = current_app.config["BABEL_SUPPORTED_LOCALES"]
    chosen = request.args.get("lang")
    if chosen in supported:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in supported:
        return session["lang"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in supported:
        return current_user.locale
    best = request.accept_languages.best_match(["zh", "en"])
    if best == "en":
        return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_blueprints(app: Flask) -> None:
    from . import auth
    from .api import analysis as analysis_api
    from .api import bank as bank_api
    from .api import blueprints as blueprints_api
    from .api import candidate as candidate_api
    from .api import ops as ops_api
    from .api import proctor as proctor_api
    from .api import sessions as sessions_api
    from .errors import register_error_handlers
    from .views import analysis as analysis_pages
    from .views import candidate as candidate_pages
    from .views import pages
    from .views import proctor as proctor_pages
    from .views import sessions as session_pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(bank_api.bp)
    app.register_blueprint(bank_api.assets_bp)
    app.register_blueprint(analysis_api.bp)
    app.register_blueprint(blueprints_api.bp)
    app.register_blueprint(sessions_api.bp)
    app.register_blueprint(candidate_api.bp)
    app.register_blueprint(ops_api.bp)
    app.register_blueprint(proctor_api.bp)
    app.register_blueprint(analysis_pages.bp)
    app.register_blueprint(session_pages.bp)
    app.register_blueprint(proctor_pages.bp)
    app.register_blueprint(candidate_pages.bp)
    app.register_blueprint(pages.bp)
    register_error_handlers(app)


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def _install_request_hooks(app: Flask) -> None:
    from .auth import protect_csrf
    from .extensions import db

    @app.before_request
    def _fresh_identity():
        # Requests normally get their own app context; where one is shared (CLI tools, tests),
        # the signed-in user must still be decided per request, never cached from the last one.
        g.pop("_login_user", None)
        g.pop("bearer_auth", None)
        g.pop("_flask_babel", None)  # Flask-Babel's cached locale and translations
        g.pop("csrf_token", None)  # Flask-WTF's cached token (it belongs to one session)

    app.before_request(protect_csrf)

    @app.after_request
    def _commit_and_secure(response):
        # The one commit point of a request: a successful response commits the unit of work,
        # anything else rolls it back (error handlers have rolled back already).
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.context_processor
    def _template_globals():
        from flask_wtf.csrf import generate_csrf

        return {"csrf_token": generate_csrf}

"""Extension objects, created unbound and bound to an app in ``create_app`` with ``init_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from question_bank.db import Base

# Every table is declared on question_bank.db.Base; Flask-SQLAlchemy provides the engine and
# the request-scoped session over the same metadata.
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def _client_address() -> str:
    from flask import request

    return request.remote_addr or "unknown"


# Storage is chosen in create_app: Redis when EXAM_REDIS_URL is set, else process memory.
limiter = Limiter(key_func=_client_address, default_limits=[], headers_enabled=True)

# Bound in create_app: async_mode "gevent" (one worker per process), Redis message queue when
# EXAM_REDIS_URL is set so processes see each other's events.
socketio = SocketIO()

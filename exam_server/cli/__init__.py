"""The ``exam-server`` command.

Run ``exam-server --help`` for the list; every command has its own ``--help``. Configuration
comes from ``EXAM_*`` environment variables (see ``deploy/exam-server.env.example``). Each area
has its module here (users, bank, server, analysis, blueprints, sessions …); the command group
and shared helpers are in ``base``.
"""

from __future__ import annotations

from . import analysis, bank, blueprints, server, sessions, users
from .analysis import *  # noqa: F403
from .bank import *  # noqa: F403
from .base import create_user, main, upgrade_database
from .blueprints import *  # noqa: F403
from .server import *  # noqa: F403
from .sessions import *  # noqa: F403
from .users import *  # noqa: F403

__all__ = [
    "analysis",
    "bank",
    "blueprints",
    "create_user",
    "main",
    "server",
    "sessions",
    "upgrade_database",
    "users",
]

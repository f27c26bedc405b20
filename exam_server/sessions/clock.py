"""The server's clock, injectable so that tests of cutoffs and deadlines never sleep.

``app.config["CLOCK"]`` may hold a callable that returns an aware datetime; without it the
real UTC time is used. Every rule that depends on time reads :func:`server_now` once per
request and passes the value to the services, which never read a clock themselves.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app

from question_bank.db import utcnow

from ..timefmt import DEFAULT_TIMEZONE, local_zone

__all__ = ["DEFAULT_TIMEZONE", "local_zone", "server_now"]


def server_now() -> dt.datetime:
    """Now, in UTC, from ``app.config["CLOCK"]`` when set (tests), else the system clock."""
    clock = current_app.config.get("CLOCK")
    now = clock() if clock is not None else utcnow()
    if now.tzinfo is None:
        raise RuntimeError("CLOCK must return an aware datetime")
    return now.astimezone(dt.UTC)

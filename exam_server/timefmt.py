"""One clock for people: every page, PDF and export shows times in the centre's time zone.

Times are stored in UTC. The centre's zone is ``app.config["TIMEZONE"]`` (``EXAM_TIMEZONE``,
default Asia/Shanghai); pages in the browser format with the same zone (``data-timezone`` on
``<body>``, ``fmtDate`` in ``web/static/js/common.js``). A time shows its date unless it falls on
today's date in that zone ("14:05" today, "2026-06-16 02:51" otherwise), so an event is never
shown as two different times or as a bare time on another day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context

DEFAULT_TIMEZONE = "Asia/Shanghai"


def local_zone() -> ZoneInfo:
    """The centre's time zone (``app.config["TIMEZONE"]``, default Asia/Shanghai)."""
    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def to_local(value: dt.datetime) -> dt.datetime:
    """``value`` (aware, or naive UTC as stored) in the centre's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(local_zone())


def format_datetime(
    value: dt.datetime | None, *, now: dt.datetime | None = None, seconds: bool = False
) -> str:
    """``HH:MM`` when ``value`` is on today's local date, else ``YYYY-MM-DD HH:MM``."""
    if value is None:
        return ""
    local = to_local(value)
    today = to_local(now or dt.datetime.now(dt.UTC)).date()
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return clock if local.date() == today else f"{local:%Y-%m-%d} {clock}"


def format_full(value: dt.datetime | None, *, seconds: bool = False) -> str:
    """Always with the date: ``YYYY-MM-DD HH:MM`` (PDFs and exports, read on another day)."""
    if value is None:
        return ""
    return to_local(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def format_date(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value).date()
    return value.isoformat()


def zone_label() -> str:
    """The zone's name and offset now, e.g. ``Asia/Shanghai (UTC+08:00)``."""
    zone = local_zone()
    offset = dt.datetime.now(zone).strftime("%z")
    return f"{zone.key} (UTC{offset[:3]}:{offset[3:]})"


def install(app: Flask) -> None:
    """Jinja filters ``local_time`` (date unless today), ``local_datetime`` (always the date)
    and ``local_date``, and ``timezone`` for ``<body data-timezone>``."""
    app.add_template_filter(format_datetime, "local_time")
    app.add_template_filter(format_full, "local_datetime")
    app.add_template_filter(format_date, "local_date")

    @app.context_processor
    def _zone() -> dict:
        return {"timezone": local_zone().key}

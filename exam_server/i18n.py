"""The user's language at every edge: HTTP requests, Socket.IO connections, the CLI.

Messages are :class:`~question_bank.messages.Msg` until an edge renders them with
:func:`gettext_for` (the gettext of one locale, loaded once per process from the same catalogue
Flask-Babel uses). HTTP handlers use the request's locale (``?lang=``, the remembered choice, the
user's setting, ``Accept-Language``; see :func:`exam_server.select_locale`); a socket connection
keeps the locale chosen when it connected, because its events run without a request.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import current_app, has_app_context, has_request_context

from question_bank.messages import Msg

DEFAULT_LOCALE = "zh_CN"
SUPPORTED = ("zh_CN", "en")
TRANSLATIONS_DIR = os.path.join(os.path.dirname(__file__), "translations")


def normalize_locale(value: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``zh_Hans_CN`` → ``zh_CN``; ``en-GB`` → ``en``; else ``None``."""
    if not value:
        return None
    v = value.strip().replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v.startswith("en"):
        return "en"
    return None


@functools.cache
def _translations(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()
    # The catalogue directory is Babel's name of the locale (zh_CN -> zh_Hans_CN), as for
    # Flask-Babel, which loads the same files.
    return Translations.load(TRANSLATIONS_DIR, [Locale.parse(locale)], domain="messages")


def default_locale() -> str:
    if has_app_context():
        return current_app.config.get("BABEL_DEFAULT_LOCALE") or DEFAULT_LOCALE
    return normalize_locale(os.environ.get("EXAM_DEFAULT_LOCALE")) or DEFAULT_LOCALE


def request_locale() -> str:
    """The locale of the current request (Flask-Babel's choice), else the default."""
    if has_request_context():
        from flask_babel import get_locale

        loc = get_locale()
        if loc is not None:
            return normalize_locale(str(loc)) or default_locale()
    return default_locale()


def gettext_for(locale: str | None = None) -> Callable[[str], str]:
    """``gettext`` of ``locale`` (default: the request's locale, else the configured default)."""
    loc = normalize_locale(locale) or request_locale()
    return _translations(loc).gettext


def render(message: Msg | str, locale: str | None = None) -> str:
    """One message as text in ``locale`` (default: the request's)."""
    if isinstance(message, str):
        return message
    return message.render(gettext_for(locale))


def connection_locale(auth: object = None) -> str:
    """The locale of a Socket.IO connection, chosen in its connect handler: ``auth.lang`` when
    the page sends it, else what an HTTP request from the same browser would get."""
    if isinstance(auth, dict):
        chosen = normalize_locale(auth.get("lang") if isinstance(auth.get("lang"), str) else None)
        if chosen:
            return chosen
    return request_locale()


def cli_locale() -> str:
    """The CLI's language: ``EXAM_LANG``, else ``LANG`` when it names Chinese, else English."""
    return (
        normalize_locale(os.environ.get("EXAM_LANG"))
        or ("zh_CN" if (os.environ.get("LANG") or "").lower().startswith("zh") else None)
        or "en"
    )

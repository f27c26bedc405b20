"""Replies shared by the Socket.IO namespaces (``/candidate`` in :mod:`exam_server.live`,
``/proctor`` in :mod:`exam_server.proctoring.console`).

An error ack is ``{"ok": false, "error": code, "message": text, "field"?: …}``; a refused
connection is Socket.IO's ``connect_error`` ``{message, data: {error, message, …}}``. Messages
are :class:`~question_bank.messages.Msg` until :func:`render` puts them into the connection's
language (chosen at connect, :func:`exam_server.i18n.connection_locale`).
"""

from __future__ import annotations

from typing import Any

from flask_socketio import ConnectionRefusedError
from pydantic import ValidationError

from question_bank.errors import DomainError
from question_bank.messages import Msg, localize, msg
from question_bank.schema import error_list

from .i18n import gettext_for
from .validation import field_message

SIGN_IN_AGAIN = msg("sign_in_again", "Please sign in again.")


def unauthorized() -> dict[str, Any]:
    """The connection is not (or no longer) signed in."""
    return {"ok": False, "error": "unauthorized", "message": SIGN_IN_AGAIN}


def internal_error() -> dict[str, Any]:
    """The handler failed unexpectedly (logged by the caller)."""
    return {
        "ok": False,
        "error": "internal_error",
        "message": msg("event_failed", "The server failed to handle this event."),
    }


def too_many_payloads() -> dict[str, Any]:
    return {
        "ok": False,
        "error": "validation_error",
        "message": msg("one_payload_per_event", "Send one payload object per event."),
    }


def invalid(exc: ValidationError) -> dict[str, Any]:
    """The payload failed validation: the first bad field."""
    first = error_list(exc)[0]
    return {
        "ok": False,
        "error": "validation_error",
        "message": field_message(first["field"], first["message"]),
        "field": first["field"],
    }


def domain_error(exc: DomainError) -> dict[str, Any]:
    """A refusal of the services (``exc.to_dict()``, messages still to render)."""
    body = exc.to_dict()
    body["message"] = exc.msg
    if exc.details is not None:
        body["details"] = exc.details
    return {"ok": False, **body}


def render(reply: Any, locale: str | None) -> Any:
    """``reply`` with its messages in ``locale`` (a no-op for replies without a message)."""
    if isinstance(reply, dict) and reply.get("ok") is False:
        return localize(reply, gettext_for(locale))
    return reply


def refusal(
    code: str, message: Msg, locale: str | None = None, **extra: Any
) -> ConnectionRefusedError:
    """A refused connection: the client's ``connect_error`` gets ``{message, data: {error,
    message, …}}`` (Socket.IO's format; ``err.data`` in the JavaScript client)."""
    text = message.render(gettext_for(locale))
    return ConnectionRefusedError(text, {"error": code, "message": text, **localize(extra)})

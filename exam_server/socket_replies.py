"""Replies shared by the Socket.IO namespaces (``/candidate`` in :mod:`exam_server.live`,
``/proctor`` in :mod:`exam_server.proctoring.console`).

An error ack is ``{"ok": false, "error": code, "message": text, "field"?: …}``; a refused
connection is Socket.IO's ``connect_error`` ``{message, data: {error, message, …}}``.
"""

from __future__ import annotations

from typing import Any

from flask_socketio import ConnectionRefusedError
from pydantic import ValidationError

from question_bank.errors import DomainError
from question_bank.schema import error_list


def unauthorized() -> dict[str, Any]:
    """The connection is not (or no longer) signed in."""
    return {"ok": False, "error": "unauthorized", "message": "sign in again"}


def internal_error() -> dict[str, Any]:
    """The handler failed unexpectedly (logged by the caller)."""
    return {
        "ok": False,
        "error": "internal_error",
        "message": "the server failed to handle this event",
    }


def too_many_payloads() -> dict[str, Any]:
    return {
        "ok": False,
        "error": "validation_error",
        "message": "send one payload object per event",
    }


def invalid(exc: ValidationError) -> dict[str, Any]:
    """The payload failed validation: the first bad field."""
    first = error_list(exc)[0]
    return {
        "ok": False,
        "error": "validation_error",
        "message": f"{first['field']}: {first['message']}",
        "field": first["field"],
    }


def domain_error(exc: DomainError) -> dict[str, Any]:
    """A refusal of the services (``exc.to_dict()``)."""
    return {"ok": False, **exc.to_dict()}


def refusal(code: str, message: str, **extra: Any) -> ConnectionRefusedError:
    """A refused connection: the client's ``connect_error`` gets ``{message, data: {error,
    message, …}}`` (Socket.IO's format; ``err.data`` in the JavaScript client)."""
    return ConnectionRefusedError(message, {"error": code, "message": message, **extra})

"""Domain errors: small named classes that the web layer turns into ``{"error", "message"}``.

Each class carries its machine-readable ``code`` and the HTTP status it maps to, so handlers never
decide statuses themselves. The message is a :class:`~question_bank.messages.Msg` (stable code,
English template, parameters) that the edge renders in the user's language; its code is sent as
``reason`` beside the class's ``error`` code.
"""

from __future__ import annotations

from typing import Any

from .messages import Gettext, Msg, as_msg, localize, msg


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: Msg | str, *, field: str | None = None, details: Any = None):
        self.msg = as_msg(message, self.code)
        super().__init__(self.msg.render())
        self.field = field
        self.details = details

    @property
    def message(self) -> str:
        """The message in English (logs, the CLI without a language)."""
        return self.msg.render()

    def to_dict(self, gettext: Gettext | None = None) -> dict[str, Any]:
        """The JSON body, every message rendered with ``gettext`` (English without one)."""
        body: dict[str, Any] = {"error": self.code, "message": self.msg.render(gettext)}
        if self.msg.code != self.code and self.msg.template != "%(text)s":
            body["reason"] = self.msg.code
        if self.field is not None:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = localize(self.details, gettext)
        return body


class ValidationFailed(DomainError):
    """Input breaks a rule; ``field`` names where."""

    code = "validation_error"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    """The request is valid but clashes with current state (duplicate code, wrong status …)."""

    code = "conflict"
    status = 409


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class ImportRejected(DomainError):
    """An import with at least one bad row; ``details`` lists every problem with its place."""

    code = "import_rejected"
    status = 422

    def __init__(
        self, problems: list[dict[str, Any]], *, source: str = "", hint: Msg | None = None
    ):
        n = len(problems)
        if source:
            message = msg(
                "import_rejected_in",
                "Import of %(source)s rejected: %(n)s problem(s); nothing was written.",
                source=source,
                n=n,
            )
        else:
            message = msg(
                "import_rejected", "Import rejected: %(n)s problem(s); nothing was written.", n=n
            )
        super().__init__(message, details=problems)
        self.problems = problems
        # Which option would let the file in (e.g. skipping unsupported questions).
        self.hint = hint

    def to_dict(self, gettext: Gettext | None = None) -> dict[str, Any]:
        body = super().to_dict(gettext)
        if self.hint is not None:
            body["hint"] = self.hint.render(gettext)
        return body

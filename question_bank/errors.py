"""Domain errors: small named classes that the web layer turns into ``{"error", "message"}``.

Each class carries its machine-readable ``code`` and the HTTP status it maps to, so handlers never
decide statuses themselves.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, details: Any = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
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

    def __init__(self, problems: list[dict[str, Any]], *, source: str = ""):
        n = len(problems)
        where = f" in {source}" if source else ""
        super().__init__(
            f"import rejected{where}: {n} problem{'s' if n != 1 else ''}; nothing was written",
            details=problems,
        )
        self.problems = problems

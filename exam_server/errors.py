"""One JSON error shape for every API failure: ``{"error": code, "message": text}``.

Domain errors carry their own code and status; HTTP errors map to their standard names; an
unexpected exception rolls the unit of work back and answers 500 without leaking internals.
Browser pages (non-``/api`` paths) get the same status with a small HTML page.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from question_bank.errors import DomainError
from question_bank.messages import Msg, msg

from .extensions import db
from .i18n import gettext_for

log = logging.getLogger(__name__)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, code: str, message: Msg | str, **extra):
    """The error in the request's language: JSON for the API, else a small page."""
    text = message.render(gettext_for()) if isinstance(message, Msg) else message
    if wants_json():
        body = {"error": code, "message": text, **extra}
        return jsonify(body), status
    return render_template("error.html", status=status, code=code, message=text), status


# Messages of the HTTP errors that werkzeug raises (its descriptions are English prose).
HTTP_MESSAGES: dict[int, Msg] = {
    400: msg("bad_request", "The request could not be understood."),
    401: msg("sign_in_required", "Please sign in."),
    403: msg("forbidden", "You do not have permission to do this."),
    404: msg("not_found", "The page or record was not found."),
    405: msg("method_not_allowed", "This method is not allowed here."),
    409: msg("conflict", "This clashes with the current state; reload and try again."),
    413: msg("request_too_large", "The upload is too large."),
    415: msg("unsupported_media_type", "This kind of content is not accepted here."),
    422: msg("unprocessable", "The request could not be processed."),
    429: msg("too_many_requests", "Too many attempts; please wait a minute and try again."),
    500: msg("internal_error", "The server failed to handle this request."),
    503: msg("unavailable", "The service is briefly unavailable; please try again."),
}


def http_message(status: int) -> Msg:
    return HTTP_MESSAGES.get(
        status, msg("http_error", "The request failed (HTTP %(status)s).", status=status)
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        db.session.rollback()
        body = exc.to_dict(gettext_for())
        return error_response(exc.status, body.pop("error"), body.pop("message"), **body)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(
            400,
            "csrf_failed",
            msg("csrf_failed", "The form expired or came from elsewhere; reload the page."),
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        # A page's abort(404, _("…")) carries its own translated text; werkzeug's default
        # descriptions are English prose and give way to our message.
        custom = exc.description and exc.description != type(exc).description
        return error_response(
            exc.code or 500, code, exc.description if custom else http_message(exc.code or 500)
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", http_message(500))

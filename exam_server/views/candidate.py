"""The candidate pages: sign-in (``/exam``), the exam itself (``/exam/sit``) and the browser
libraries they need (``/vendor/…``, an allow-list of files from ``web/node_modules``).

Candidates have no staff account. The sign-in page posts to ``/api/candidate/sign-in`` and keeps
the candidate token in ``sessionStorage``; the exam page is a shell whose script talks to the
server over Socket.IO (namespace ``/candidate``, docs/protocol.md). Page texts are translated
here and in the templates; the scripts read theirs from the i18n JSON block that
:func:`candidate_strings` fills (Chinese by default, English with ``?lang=en``). See
docs/candidate_page.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file
from flask_babel import gettext as _
from flask_babel import pgettext

from question_bank.assembly.delivery import SECTION_TITLES
from question_bank.models import Asset

from .. import WEB_DIR
from ..delivery.assets import check_signature
from ..extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("candidate_pages", __name__)

NODE_MODULES = WEB_DIR / "node_modules"

# The only files of web/node_modules this server hands out (name in the URL -> file).
VENDOR_FILES: dict[str, tuple[str, str]] = {
    "socket.io.min.js": ("socket.io-client/dist/socket.io.min.js", "text/javascript"),
    "socket.io.min.js.map": ("socket.io-client/dist/socket.io.min.js.map", "application/json"),
}


def candidate_strings() -> dict[str, Any]:
    """Texts of the candidate scripts, translated for the current request."""
    return {
        "signin": {
            "working": _("Signing in…"),
            "failed": _(
                "The admission ticket number, ID number and room access code do not match. "
                "Check them and try again, or ask the proctor."
            ),
            "not_open": _(
                "This exam is not open for check-in at the moment (it has not opened yet or "
                "has ended). Ask the proctor."
            ),
            "not_eligible": _(
                "Your registration has not been approved for this exam. Please see the exam staff."
            ),
            "too_late": _("Check-in closed at %(time)s. Late candidates cannot enter."),
            "too_late_plain": _("Check-in has closed. Late candidates cannot enter."),
            "too_many": _("Too many sign-in attempts from this computer. Wait a minute."),
            "missing": _("Fill in this field."),
            "network": _("The server could not be reached. Check the cable or ask the proctor."),
            "other": _("Sign-in was refused: %(message)s"),
        },
        "status": {
            "connecting": _("Connecting…"),
            "connected": _("Connected"),
            "saved": _("Saved"),
            "saving": _("Saving…"),
            "offline": _("Offline — answers are kept on this device"),
            "pending_n": _("waiting to be sent: %(n)s"),
            "back_online": _("Connected again. Your answers are being sent."),
            "went_offline": _(
                "The connection was lost. Keep answering: your answers are kept on this device "
                "and sent when the connection returns."
            ),
        },
        "errors": {
            "time_up": _("Time is up. Answers are no longer accepted."),
            "paused": _("The exam is paused; answers are taken again when it resumes."),
            "unauthorized": _("Your sign-in has expired. Please sign in again."),
            "not_allowed": _("This exam is not open for you at the moment. Ask the proctor."),
            "no_paper": _("Your paper is not ready yet. Please wait or ask the proctor."),
            "too_early": _("Submission is possible from %(time)s."),
            "rejected": _("A change was refused by the server: %(message)s"),
            "server": _("The server reported a problem: %(message)s"),
            "submit_offline": _(
                "You are offline. The exam can be submitted when the connection returns."
            ),
            "submit_unsaved": _(
                "Some answers have not reached the server yet. Wait until the status shows "
                "“Saved”, then submit again."
            ),
            "start_failed": _("The exam could not be started: %(message)s"),
        },
        "waiting": {
            "starts_in": _("Starts in %(time)s"),
            "start_due": _("The exam starts as soon as the proctor starts it."),
            "window_open": _("You can start the exam now."),
            "window_closed": _("The window to start this exam has closed. Ask the proctor."),
            "window_closes": _("The start window closes at %(time)s."),
            "window_not_yet": _("The Start button becomes available at the scheduled start."),
            "starting": _("Starting…"),
            "earliest_rule": _(
                "You can submit %(n)s minutes after the start at the earliest, and must submit "
                "before the time is up; at the end of the exam the system submits your answers "
                "automatically."
            ),
        },
        "types": {
            "true_false": _("True/false questions"),
            "single_choice": _("Single-choice questions"),
            "multiple_choice": _("Multiple-choice questions"),
            "fill_blank": _("Fill-in-the-blank questions"),
        },
        "exam": {
            "question_n": _("Question %(n)s of %(total)s"),
            "points": _("%(points)s pt"),
            "true": pgettext("true/false answer", "True"),
            "false": pgettext("true/false answer", "False"),
            "blank_n": _("Blank %(n)s of %(total)s"),
            "choose_one": _("Choose one answer"),
            "choose_many": _("Choose all correct answers"),
            "fill_in": _("Fill in the blanks"),
            "flagged": _("Marked for review"),
            "unflagged": _("No longer marked for review"),
            "nav_item": _("Question %(n)s"),
            "nav_answered": _("answered"),
            "nav_unanswered": _("not answered"),
            "nav_flagged": _("marked for review"),
            "nav_current": _("current question"),
            "original": _("Original text (Chinese)"),
            "warn_15": _("Less than 15 minutes left."),
            "warn_5": _("Less than 5 minutes left."),
            "warn_1": _("Less than 1 minute left. The exam is submitted automatically at the end."),
            "answered_count": _("Answered: %(n)s of %(total)s"),
            "seat": _("Seat %(n)s"),
            "minutes": _("%(n)s minutes"),
            "at_position": _("Question %(n)s of %(total)s: %(section)s"),
        },
        "device": {
            "seat_in_use_title": _("This seat is in use on another computer"),
            "seat_in_use": _(
                "Your exam is open on another computer right now, so it cannot continue here. "
                "Raise your hand and ask the proctor."
            ),
            "move_required_title": _("Waiting for the proctor to approve the move"),
            "move_required": _(
                "Your exam was started on another computer. It continues on this computer as "
                "soon as the proctor approves the move; your answers are kept. Raise your hand "
                "and tell the proctor."
            ),
            "retrying": _("This page tries again every few seconds by itself."),
        },
        "warning": {
            "title": _("A warning from the proctor"),
            "sent_at": _("Sent at %(time)s"),
        },
        "proctor": {
            "paused": _("The proctor has paused the exam. The clock has stopped."),
            "resumed": _("The exam continues. The clock is running again."),
            "paused_left": _("Time remaining when the exam resumes: %(time)s"),
            "extra_time": _("The proctor gave you %(time)s more."),
            "credited": _("Lost time was given back to you: %(time)s."),
            "n_minutes": _("%(n)s minutes"),
            "n_seconds": _("%(n)s seconds"),
            "submitted": _("The proctor submitted your exam."),
        },
        "submit": {
            "none": _("None"),
            "all_answered": _("Every question has an answer."),
            "unanswered_n": _("Without an answer (%(n)s):"),
            "flagged_n": _("Marked for review (%(n)s):"),
            "allowed_from": _("Submission is possible from %(time)s."),
            "allowed_now": _("You may submit now."),
            "sending": _("Sending your last answers…"),
            "submitting": _("Submitting…"),
            "confirm_first": _("Tick the box to confirm that you want to submit."),
            "voided": _("Your attempt was cancelled by the proctor"),
            "done_at": _("Submitted at %(time)s."),
            "by_deadline": _("Time was up: the server submitted your exam at the deadline."),
            "unsent_n": _(
                "%(n)s changes made on this device could not reach the server in time. Tell "
                "the proctor."
            ),
        },
    }


def _page(template: str, **context: Any) -> str:
    return render_template(
        template,
        js_strings=candidate_strings(),
        timezone=current_app.config.get("TIMEZONE", "Asia/Shanghai"),
        # Section titles the paper gets when its blueprint names none: English pages show the
        # translated type name instead (a title the blueprint chose is shown as it is).
        default_section_titles=SECTION_TITLES,
        **context,
    )


@bp.get("/exam")
def sign_in():
    return _page("candidate/sign_in.html")


@bp.get("/exam/sit")
def sit():
    return _page("candidate/sit.html")


@bp.get("/exam/assets/<sha256>")
def exam_asset(sha256: str) -> Response:
    """An image of a delivered paper, for whoever holds the paper's signed link."""
    if not check_signature(sha256, request.args.get("k", "")):
        abort(404)
    asset = db.session.get(Asset, sha256)
    if asset is None:
        abort(404)
    return Response(
        asset.data,
        mimetype=asset.media_type,
        headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.get("/vendor/<name>")
def vendor(name: str):
    """One file of an npm package from web/node_modules, by an allow-listed name."""
    entry = VENDOR_FILES.get(name)
    if entry is None:
        return Response(f"/vendor/{name}: no such file\n", 404, mimetype="text/plain")
    relative, mimetype = entry
    path: Path = NODE_MODULES / relative
    if not path.is_file():
        log.error("vendor file %s is missing: run `./dev setup` (npm ci in web/)", path)
        return Response(
            f"/vendor/{name} is not installed on this server: web/node_modules/{relative} is "
            "missing. Run `./dev setup` (it runs `npm ci` in web/) and restart the server.\n",
            500,
            mimetype="text/plain",
        )
    return send_file(path, mimetype=mimetype, max_age=3600, conditional=True)

"""Staff pages of exam sessions: the list (with the form to plan one) and a session's page
(schedule, state, rooms with access codes and proctors, roster with eligibility, roster import,
admission tickets, sign-in attempts). Data comes from ``/api/sessions`` via fetch.

The page scripts (``sessions.js``, ``sessions_detail.js``) read their texts from the i18n block:
the common texts of :func:`exam_server.views.pages.js_strings` plus ``sess``, filled by
:func:`session_strings`; they look them up with ``s(key)``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import roles_required
from ..extensions import db
from ..models import Role
from ..sessions.idcard import ID_TYPE_NAMES
from ..sessions.models import ExamSession
from ..sessions.services import proctored_room_ids
from .pages import html_lang, js_strings, level_choices

bp = Blueprint("session_pages", __name__)

READERS = (Role.PROCTOR, Role.SUPERVISOR)


def state_labels() -> dict[str, str]:
    return {
        "planned": _("Planned"),
        "open": _("Open for check-in"),
        "running": _("Running"),
        "closed": _("Closed"),
    }


def eligibility_labels() -> dict[str, str]:
    return {"pending": _("Pending"), "approved": _("Eligible"), "rejected": _("Not eligible")}


def mode_labels() -> dict[str, str]:
    return {
        "unified": _("Unified start per room"),
        "window": _("Each candidate starts within a window"),
    }


def id_type_labels() -> dict[str, str]:
    index = 1 if html_lang() == "en" else 0
    return {key: names[index] for key, names in ID_TYPE_NAMES.items()}


def session_strings() -> dict[str, Any]:
    """Texts of the session page scripts, translated for the current request."""
    return {
        "state": state_labels(),
        "eligibility": eligibility_labels(),
        "mode": mode_labels(),
        "id_type": id_type_labels(),
        "no_sessions": _("No exam sessions match."),
        "created": _("Session created. Opening it…"),
        "saved": _("Saved."),
        "minutes": _("%(n)s min"),
        "rooms_n": _("%(n)s rooms"),
        "open_session": _("Open session %(code)s"),
        "confirm_open": _(
            "Open the session for check-in? Papers are assembled now, and the schedule, rooms "
            "and roster can no longer be changed."
        ),
        "confirm_start": _("Start the exam in every room now?"),
        "confirm_close": _("Close the session? Candidates can no longer sign in or answer."),
        "confirm_delete": _("Delete this planned session with its rooms and roster?"),
        "confirm_new_code": _("Give room %(room)s a new access code? The old one stops working."),
        "confirm_start_room": _("Start the exam in room %(room)s now?"),
        "confirm_remove_room": _("Remove room %(room)s?"),
        "confirm_remove_reg": _("Remove %(name)s (%(ticket)s) from the roster?"),
        "done_open": _("The session is open for check-in."),
        "done_start": _("The exam is running."),
        "done_close": _("The session is closed."),
        "warnings": _("Please note:"),
        "deleted": _("The session was deleted."),
        "room_added": _("Room added."),
        "room_removed": _("Room removed."),
        "room_started": _("Room %(room)s started."),
        "code_changed": _("Room %(room)s has a new access code."),
        "proctors_saved": _("Proctors of room %(room)s saved."),
        "hidden": _("(proctors only)"),
        "no_proctor": _("No proctor"),
        "not_started": _("Not started"),
        "new_code": _("New code"),
        "start_room": _("Start room"),
        "remove": _("Remove"),
        "save_proctors": _("Save proctors"),
        "proctors_of": _("Proctors of room %(room)s"),
        "tickets_room": _("Tickets of room %(room)s (PDF)"),
        "ticket_pdf": _("Ticket"),
        "ticket_of": _("Admission ticket of %(name)s (PDF)"),
        "approve": _("Approve"),
        "reject": _("Reject"),
        "reset": _("Back to pending"),
        "select_reg": _("Select %(name)s"),
        "approve_label": _("Approve %(name)s"),
        "reject_label": _("Reject %(name)s"),
        "reset_label": _("Set %(name)s back to pending"),
        "remove_label": _("Remove %(name)s"),
        "reason_needed": _("A rejection needs a reason."),
        "nothing_selected": _("Select at least one candidate first."),
        "decided_n": _("Eligibility of %(n)s candidates saved."),
        "no_registrations": _("No candidates match."),
        "found": _("%(n)s candidates"),
        "page_of": _("Page %(page)s of %(pages)s"),
        "checked_in_at": _("Checked in %(time)s"),
        "not_checked_in": _("Not checked in"),
        "has_photo": _("Photo"),
        "importing": _("Importing the roster…"),
        "import_done": _(
            "%(created)s candidates imported (%(tickets)s tickets generated, %(seats)s seats "
            "assigned, %(photos)s photos)."
        ),
        "import_rejected": _("The roster was refused: %(n)s problems. Nothing was written."),
        "reg_added": _("Candidate added with ticket %(ticket)s."),
        "no_check_ins": _("No sign-in attempts yet."),
        "ok": _("Signed in"),
        "refused": _("Refused"),
        "failure": {
            "unknown_ticket": _("Unknown ticket number"),
            "wrong_id_number": _("Wrong ID number"),
            "wrong_access_code": _("Wrong room access code"),
            "session_not_open": _("Session not open yet"),
            "session_closed": _("Session closed"),
            "not_eligible_pending": _("Eligibility pending"),
            "not_eligible_rejected": _("Not eligible"),
            "late": _("After the late-entry cutoff"),
        },
        "no_release": _("None yet"),
        "no_rooms": _("No rooms yet."),
        "label": {
            "occupation": _("Occupation"),
            "level": _("Level"),
            "release": _("Bank release"),
            "blueprint": _("Blueprint version"),
            "start": _("Scheduled start"),
            "end": _("Scheduled end"),
            "duration": _("Duration"),
            "late_entry": _("Late entry allowed for"),
            "earliest_submit": _("Earliest submission after"),
            "mode": _("Start mode"),
            "window_end": _("Start window ends"),
            "opened_at": _("Opened"),
            "started_at": _("Started"),
            "closed_at": _("Closed at"),
            "note": _("Note"),
        },
    }


def _page(template: str, **context: Any) -> str:
    return render_template(
        template,
        js_strings={**js_strings(), "sess": session_strings()},
        levels=level_choices(html_lang()),
        state_labels=state_labels(),
        eligibility_labels=eligibility_labels(),
        mode_labels=mode_labels(),
        id_type_labels=id_type_labels(),
        **context,
    )


@bp.get("/sessions")
@roles_required(*READERS)
def session_list():
    return _page("sessions/list.html")


@bp.get("/sessions/<int:session_id>")
@roles_required(*READERS)
def session_view(session_id: int):
    es = db.session.get(ExamSession, session_id)
    if es is None:
        abort(404, _("There is no exam session %(id)s.", id=session_id))
    if not current_user.has_role(Role.ADMIN, Role.SUPERVISOR) and not proctored_room_ids(
        db.session, es, current_user.id
    ):
        abort(403, _("You are not assigned to a room of this session."))
    papers = None
    if current_user.has_role(Role.ADMIN, Role.SUPERVISOR):
        papers = papers_report(es.code)
    return _page("sessions/detail.html", exam_session=es, papers=papers)


def papers_report(session_code: str) -> dict[str, Any] | None:
    """The stored session report of a session's papers, with the information band drawn as
    SVG coordinates (``band``: min–max polygon, median line, the pass mark's θ)."""
    from sqlalchemy import select

    from question_bank.models import PaperSet

    pset = db.session.scalar(
        select(PaperSet).where(PaperSet.session_key == session_code).order_by(PaperSet.id.desc())
    )
    if pset is None:
        return None
    report = dict(pset.report)
    info = report.get("information")
    if info and info.get("band"):
        report["svg"] = band_svg(info["band"], info["theta_cut"])
    return report


def band_svg(band: list[dict[str, float]], theta_cut: float) -> dict[str, Any]:
    """Coordinates of the information band in a 480 × 200 box (margins for the axes)."""
    w, h, left, bottom, top, right = 480, 200, 44, 28, 10, 10
    thetas = [b["theta"] for b in band]
    t0, t1 = min(thetas), max(thetas)
    top_value = max(b["max"] for b in band) or 1.0

    def x(t: float) -> float:
        return round(left + (t - t0) / (t1 - t0) * (w - left - right), 1)

    def y(v: float) -> float:
        return round(h - bottom - v / top_value * (h - bottom - top), 1)

    upper = [f"{x(b['theta'])},{y(b['max'])}" for b in band]
    lower = [f"{x(b['theta'])},{y(b['min'])}" for b in reversed(band)]
    return {
        "width": w,
        "height": h,
        "band": " ".join(upper + lower),
        "median": " ".join(f"{x(b['theta'])},{y(b['median'])}" for b in band),
        "cut_x": x(theta_cut),
        "top": top,
        "bottom_y": h - bottom,
        "left": left,
        "right_x": w - right,
        "ticks_x": [(x(t), f"{t:.1f}") for t in thetas[::2]],
        "ticks_y": [(y(v), f"{v:.0f}") for v in (0, top_value / 2, top_value)],
    }

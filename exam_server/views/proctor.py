"""The proctor console (``/proctor/sessions/<id>``): a live seat map per room, the incident feed
and the proctor's actions. See docs/proctoring.md.

The page is a shell. Its script (``proctor_console.js``) connects to the ``/proctor`` Socket.IO
namespace with the staff session cookie, asks for a snapshot (``watch``) and then follows the
pushes (``seats``, ``incident``, ``beats``); actions go to ``POST
/api/v1/proctor/sessions/<id>/actions``. Proctors see their own rooms, supervisors every room
read-only, admins everything; the server enforces it all again for every call.

The script reads its texts from the i18n block: the common texts of
:func:`exam_server.views.pages.js_strings` plus ``proc``, filled by :func:`proctor_strings`; it
looks them up with ``p(key)``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user

from ..auth import roles_required
from ..extensions import db
from ..models import Role
from ..sessions.models import ExamSession
from ..sessions.services import proctored_room_ids
from .pages import js_strings

bp = Blueprint("proctor_pages", __name__)

WATCHERS = (Role.PROCTOR, Role.SUPERVISOR)


def seat_state_labels() -> dict[str, str]:
    return {
        "not_checked_in": _("Not checked in"),
        "waiting": _("Waiting"),
        "answering": _("Answering"),
        "disconnected": _("Disconnected"),
        "paused": _("Paused"),
        "submitted": _("Submitted"),
        "voided": _("Voided"),
    }


def incident_kind_labels() -> dict[str, str]:
    return {
        "left_page": _("Left the exam page"),
        "fullscreen_exit": _("Left full screen"),
        "clipboard": _("Copy or paste"),
        "context_menu": _("Context menu"),
        "second_screen": _("Second screen"),
        "small_window": _("Small window"),
        "disconnected": _("Disconnected"),
        "second_device": _("Second device"),
        "device_change": _("Another computer (move)"),
        "new_ip": _("New network address"),
        "new_browser": _("New browser"),
        "room_outage": _("Room outage (time credited)"),
        "server_outage": _("Server outage (time credited)"),
        "policy_pause": _("Paused by the policy"),
    }


def severity_labels() -> dict[str, str]:
    return {
        "info": _("Info"),
        "low": _("Low"),
        "medium": _("Medium"),
        "high": _("High"),
    }


def action_labels() -> dict[str, str]:
    return {
        "start_room": _("Start the room"),
        "pause": _("Pause"),
        "resume": _("Resume"),
        "extra_time": _("Extra time"),
        "warn": _("Send a warning"),
        "approve_move": _("Approve the move"),
        "force_submit": _("Submit for the candidate"),
        "void": _("Void the attempt"),
        "dismiss_incident": _("Dismiss the incident"),
        "confirm_incident": _("Confirm the incident"),
        "credit_disconnection": _("Credit the lost time"),
        "close_session": _("Close the session"),
    }


def proctor_strings() -> dict[str, Any]:
    """Texts of the console script, translated for the current request."""
    return {
        "state": seat_state_labels(),
        "kind": incident_kind_labels(),
        "severity": severity_labels(),
        "action": action_labels(),
        "incident_status": {
            "open": pgettext("incident status", "Open"),
            "dismissed": pgettext("incident status", "Dismissed"),
            "confirmed": _("Confirmed"),
        },
        "live": {
            "connecting": _("Connecting…"),
            "live": _("Live"),
            "offline": _("Offline — reconnecting…"),
            "refused": _("The server refused the connection: %(message)s"),
        },
        "seat_n": _("Seat %(n)s"),
        "no_seat": _("No seat"),
        "progress": _("%(answered)s / %(total)s answered"),
        "remaining": _("%(time)s left"),
        "beat_age": _("Last sign of life %(age)s ago"),
        "no_beat": _("No heartbeat yet"),
        "seconds": _("%(n)s s"),
        "minutes": _("%(n)s min"),
        "incidents_n": _("%(n)s open incidents"),
        "move_pending": _("Waiting for a move to another computer"),
        "warnings_unacked": _("Warning not yet acknowledged"),
        "select_seat": _("Select seat %(seat)s, %(name)s"),
        "select_room": _("Select every seat shown in %(room)s"),
        "select_all_shown": _("Select every seat shown"),
        "act_on": _("Actions for %(name)s"),
        "act": _("Act…"),
        "room_started": _("Started %(time)s"),
        "room_not_started": _("Not started"),
        "room_counts": _("%(shown)s of %(total)s seats shown"),
        "no_seats": _("No seat matches the filters."),
        "no_rooms": _("You have no room in this session."),
        "selected_n": _("%(n)s seats selected"),
        "no_incidents": _("No incidents."),
        "incident_seat": _("Seat %(seat)s · %(name)s · %(ticket)s"),
        "incident_times": _("%(first)s to %(last)s"),
        "incident_count": _("%(n)s times"),
        "duration": _("Duration %(time)s"),
        "evidence": _("Evidence"),
        "dismiss": pgettext("incident", "Dismiss"),
        "confirm": _("Confirm"),
        "credit": _("Credit the time"),
        "approve_move": _("Approve the move"),
        "show_seat": _("Show the seat"),
        "new_high": _("High incident: %(kind)s — %(seat)s"),
        "target_seat": _("Seat %(seat)s · %(name)s"),
        "target_seats": _("%(n)s selected seats"),
        "target_room": _("Every seat of %(room)s"),
        "target_incident": _("%(kind)s — %(seat)s"),
        "target_session": _("The whole session"),
        "reason_short": _("Write a reason of at least 2 characters."),
        "text_needed": _("Write the warning the candidate will see."),
        "minutes_needed": _("Give the extra time in minutes (1 to 240)."),
        "nothing_selected": _("Select at least one seat first."),
        "done_all": _("%(action)s: done for %(n)s seats."),
        "done_some": _("%(action)s: done for %(ok)s seats, refused for %(bad)s: %(errors)s"),
        "done": _("%(action)s: done."),
        "confirm_close": _("Close the whole session? Every open attempt is submitted."),
        "sound_blocked": _("The browser blocks the alert sound until you click on the page."),
        "signal": {
            "hidden": _("Page hidden"),
            "blur": _("Window left"),
            "fullscreen_exit": _("Left full screen"),
            "copy": _("Copy"),
            "paste": _("Paste"),
            "context_menu": _("Context menu"),
            "second_screen": _("Second screen"),
            "small_window": _("Small window"),
            "heartbeat": _("Heartbeat"),
        },
        "evidence_labels": {
            "from": pgettext("time span", "From"),
            "to": pgettext("time span", "To"),
            "seconds": _("Seconds"),
            "duration_ms": _("Duration"),
            "ip": _("Address"),
            "previous_ip": _("Previous address"),
            "device": _("Device"),
            "previous_device": _("Previous device"),
            "seat_device": _("Device holding the seat"),
            "seat_ip": _("Address holding the seat"),
            "browser": _("Browser"),
            "ua": _("Browser"),
            "previous_ua": _("Previous browser"),
            "at": _("Time"),
            "client_time": _("Time on the candidate's computer"),
            "count": _("Count"),
            "signal": _("Reported"),
            "leaves_in_window": _("Leaves in the time window"),
            "reconnected": _("Came back"),
            "detected": _("Detected by the server"),
            "width": _("Window width"),
            "height": _("Window height"),
            "screen_width": _("Screen width"),
            "screen_height": _("Screen height"),
            "screens": _("Screens"),
            "attempts": _("Candidates credited"),
            "high_incidents": _("High incidents"),
            "pause_after_high": _("Pause after high incidents"),
        },
    }


@bp.get("/proctor/sessions/<int:session_id>")
@roles_required(*WATCHERS)
def console(session_id: int):
    es = db.session.get(ExamSession, session_id)
    if es is None:
        abort(404, _("There is no exam session %(id)s.", id=session_id))
    admin = current_user.has_role(Role.ADMIN)
    rooms = proctored_room_ids(db.session, es, current_user.id)
    if not admin and not rooms and not current_user.has_role(Role.SUPERVISOR):
        abort(403, _("You are not assigned to a room of this session."))
    return render_template(
        "proctor/console.html",
        js_strings={**js_strings(), "proc": proctor_strings()},
        exam_session=es,
        read_only=not admin and not rooms,
        is_admin=admin,
        seat_state_labels=seat_state_labels(),
    )

"""Proctoring services: incidents from signals, the one-seat-one-device rule, disconnections and
outage credit, seat rows for the console, warnings, and proctor actions.

Like every service, these take the current time ``now`` (an aware datetime) from the caller,
flush and never commit. Presence (:mod:`.presence`) is passed in or taken from the current app.

**Notifications after commit.** What the live layer must push (a candidate's new state after a
pause, a warning, consoles' changed seats, new incidents) is queued on the SQLAlchemy session
while the services run. When the transaction commits, the queue becomes ready; whoever
committed then calls :func:`dispatch` (the HTTP API and the live handlers do), which calls:

- every ``ACTION_LISTENERS`` callable as ``fn(action, registration_ids, room_ids, extra)``:
  ``action`` is a proctor action name (``pause``, ``resume``, ``extra_time``, ``warn``,
  ``approve_move``, ``force_submit``, ``void``, ``credit_disconnection``, ``start_room``,
  ``close_session``, ``dismiss_incident``, ``confirm_incident``) or one of ``policy_pause``,
  ``outage_credit``, ``warning_acked``; ``registration_ids`` are the seats whose state changed,
  ``room_ids`` their rooms; ``extra`` has ``reason`` and action details (``warnings``:
  registration id → the warning as the candidate gets it; ``seconds``; ``by``).
- every ``INCIDENT_LISTENERS`` callable as ``fn(incidents)`` with the new or changed incidents
  as dicts (:meth:`Incident.to_dict`).

A rolled-back transaction drops its queue. Listeners run after the commit, outside any
transaction of the caller's; an exception in one is logged and does not stop the others.
This package never imports Flask-SocketIO.

The package's modules, along its seams: :mod:`.notify` (the queue above), :mod:`.context`
(cached seat context and policies), :mod:`.incidents`, :mod:`.signals` (what a candidate's page
sends), :mod:`.outages` (disconnections, lost-time credit, the sweep), :mod:`.devices` (one seat,
one device), :mod:`.warnings`, :mod:`.access` (who sees and does what), :mod:`.snapshot` (the
console's rows) and :mod:`.actions` (proctor actions). Everything public is importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from question_bank.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed

from ...delivery import services as delivery
from .access import ProctorScope, scope_for
from .actions import (
    ACTIONS,
    INCIDENT_ACTIONS,
    SEAT_ACTIONS,
    ActionIn,
    ActionName,
    ActionOutcome,
    perform_action,
    void_attempt,
)
from .context import (
    POLICY_TTL,
    SEAT_TTL,
    SeatContext,
    forget_caches,
    get_policy,
    refresh_caches,
    seat_context,
    session_policy,
    set_policy,
)
from .devices import MoveRequired, SeatInUse, approve_move, check_device
from .incidents import MAX_EVENTS, record_incident
from .notify import discard_notifications, take_ready
from .outages import (
    ROOM_TOUCH_EVERY,
    check_server_outage,
    close_disconnection,
    credit_outage,
    note_room_contact,
    open_disconnection,
    stale_seats,
    sweep,
)
from .signals import handle_connect, handle_heartbeat, handle_signal
from .snapshot import list_incidents, seat_rows, snapshot
from .warnings import ack_warning, pending_warnings, send_warning

log = logging.getLogger(__name__)

ActionListener = Callable[[str, list[int], list[int], dict[str, Any]], None]
IncidentListener = Callable[[list[dict[str, Any]]], None]
# Defined here (not in .notify) so that replacing them on this module takes effect.
ACTION_LISTENERS: list[ActionListener] = []
INCIDENT_LISTENERS: list[IncidentListener] = []


def dispatch(db_session: Session) -> int:
    """Run the listeners for everything committed since the last call; returns how many
    notifications went out. Call it after ``commit()``."""
    ready = take_ready(db_session)
    for kind, args in ready:
        targets: list[Callable[..., None]] = (
            list(ACTION_LISTENERS) if kind == "action" else list(INCIDENT_LISTENERS)
        )
        for fn in targets:
            try:
                fn(*args)
            except Exception:
                log.exception("proctoring listener %r failed", fn)
    return len(ready)


__all__ = [
    "ACTIONS",
    "ACTION_LISTENERS",
    "INCIDENT_ACTIONS",
    "INCIDENT_LISTENERS",
    "MAX_EVENTS",
    "POLICY_TTL",
    "ROOM_TOUCH_EVERY",
    "SEAT_ACTIONS",
    "SEAT_TTL",
    "ActionIn",
    "ActionListener",
    "ActionName",
    "ActionOutcome",
    "Conflict",
    "DomainError",
    "Forbidden",
    "IncidentListener",
    "MoveRequired",
    "NotFound",
    "ProctorScope",
    "SeatContext",
    "SeatInUse",
    "ValidationFailed",
    "ack_warning",
    "approve_move",
    "check_device",
    "check_server_outage",
    "close_disconnection",
    "credit_outage",
    "delivery",
    "discard_notifications",
    "dispatch",
    "forget_caches",
    "get_policy",
    "handle_connect",
    "handle_heartbeat",
    "handle_signal",
    "list_incidents",
    "note_room_contact",
    "open_disconnection",
    "pending_warnings",
    "perform_action",
    "record_incident",
    "refresh_caches",
    "scope_for",
    "seat_context",
    "seat_rows",
    "send_warning",
    "session_policy",
    "set_policy",
    "snapshot",
    "stale_seats",
    "sweep",
    "void_attempt",
]

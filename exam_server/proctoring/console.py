"""The proctor console's live side: the ``/proctor`` Socket.IO namespace and the seat batcher.

Staff connect with their session cookie (same origin) or ``auth {"token": <API token>}``;
proctors, supervisors and administrators may. ``watch {session_id, room_ids?}`` joins the
socket rooms ``proctor:room:{id}`` of the rooms the user may see and acks a snapshot
(:func:`services.snapshot`). Then the server pushes, to every process's watchers of a room
(through the Redis message queue when ``REDIS_URL`` is set):

- ``seats {room_id, seats, server_time}``: the rows of the seats that changed, batched: the
  candidate handlers and the proctor actions only *mark* a seat (:func:`mark_seat`, a set
  insert); a background task computes the marked rows about once a second (a handful of queries
  for all changed rooms together) and emits one ``seats`` per room.
- ``incident {incident}``: a new or changed incident, at once (``INCIDENT_LISTENERS``).
- ``warning_ack {registration_id, warning_id, acked_at}``: a candidate acknowledged a warning.
- ``beats {room_id, beats: {reg_id: last_beat}, server_time}``: heartbeat times every few
  seconds, read from presence only (no SQL); ``presence.claim`` lets one process emit per room
  and tick.

Payloads are documented in docs/protocol.md ("The /proctor namespace").
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from flask_login import current_user
from flask_socketio import Namespace, join_room, leave_room
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from question_bank.errors import DomainError
from question_bank.messages import msg

from .. import socket_replies as replies
from ..extensions import db, socketio
from ..i18n import connection_locale
from ..models import Role, User
from ..sessions import services as session_svc
from ..sessions.clock import server_now
from . import services as svc
from .presence import get_presence

log = logging.getLogger(__name__)

NAMESPACE = "/proctor"
SEATS_INTERVAL = 1.0  # seconds between batches of changed seats
BEATS_INTERVAL = 5.0  # seconds between heartbeat-age pushes
WATCH_FRESH = 3 * BEATS_INTERVAL  # a room's "watched" stamp counts this long


def room_channel(room_id: int) -> str:
    return f"proctor:room:{room_id}"


@dataclass
class Viewer:
    """One console connection of this process."""

    user_id: int
    username: str
    locale: str = "zh_CN"
    session_id: int | None = None
    rooms: frozenset[int] = field(default_factory=frozenset)


# sid -> viewer, for this process's own console connections.
_viewers: dict[str, Viewer] = {}


# -- the batcher ---------------------------------------------------------------------------------


class SeatBatcher:
    """Seats marked changed since the last batch, and the seats of each watched room."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seats: dict[int, set[int]] = {}  # room -> changed registrations
        self._rooms: set[int] = set()  # rooms whose every seat changed
        self._room_regs: dict[int, list[int]] = {}  # room -> its registrations (for beats)

    def mark_seat(self, room_id: int, reg_id: int) -> None:
        with self._lock:
            self._seats.setdefault(room_id, set()).add(reg_id)

    def mark_seats(self, room_ids: list[int], reg_ids: list[int]) -> None:
        with self._lock:
            for room_id in room_ids:
                self._seats.setdefault(room_id, set()).update(reg_ids)

    def mark_room(self, room_id: int) -> None:
        with self._lock:
            self._rooms.add(room_id)

    def take(self) -> tuple[dict[int, set[int]], set[int]]:
        with self._lock:
            seats, rooms = self._seats, self._rooms
            self._seats, self._rooms = {}, set()
        return seats, rooms

    def pending(self) -> bool:
        return bool(self._seats or self._rooms)

    def remember_room(self, room_id: int, reg_ids: list[int]) -> None:
        self._room_regs[room_id] = list(reg_ids)

    def room_regs(self, room_id: int) -> list[int]:
        return self._room_regs.get(room_id, [])


batcher = SeatBatcher()


def mark_seat(room_id: int, reg_id: int) -> None:
    """A seat's row may have changed (cheap: a set insert; the batch computes it)."""
    batcher.mark_seat(room_id, reg_id)


def mark_room(room_id: int) -> None:
    batcher.mark_room(room_id)


def _local_rooms() -> set[int]:
    rooms: set[int] = set()
    for viewer in list(_viewers.values()):
        rooms |= viewer.rooms
    return rooms


def _watched(app: Flask, room_ids: set[int], now: float) -> set[int]:
    """The rooms someone watches: here, or (with Redis) in another process lately."""
    local = _local_rooms()
    found = room_ids & local
    rest = room_ids - local
    if rest and app.config.get("REDIS_URL"):
        presence = get_presence(app)
        for room_id in rest:
            stamp = presence.read_stamp(f"watch:{room_id}")
            if stamp is not None and now - stamp <= WATCH_FRESH:
                found.add(room_id)
    return found


def flush_seats(app: Flask) -> int:
    """Compute the changed seats' rows (all rooms together) and emit one ``seats`` per room.
    Returns the number of rows sent. Seats of rooms nobody watches are dropped."""
    if not batcher.pending():
        return 0
    seats, rooms = batcher.take()
    sent = 0
    with app.app_context():
        now = server_now()
        targets = _watched(app, set(seats) | rooms, now.timestamp())
        if not targets:
            return 0
        whole = sorted(r for r in targets if r in rooms)
        partial = sorted(r for r in targets if r not in rooms)
        rows: dict[int, list[dict[str, Any]]] = {}
        try:
            presence = get_presence(app)
            if whole:
                rows.update(svc.seat_rows(db.session, whole, presence, now))
                for room_id in whole:
                    batcher.remember_room(
                        room_id, [r["registration_id"] for r in rows.get(room_id, [])]
                    )
            if partial:
                regs = set().union(*(seats[r] for r in partial))
                rows.update(svc.seat_rows(db.session, partial, presence, now, reg_ids=regs))
        except Exception:
            log.exception("computing seat rows failed; retrying with the next batch")
            for room_id in whole:
                batcher.mark_room(room_id)
            for room_id in partial:
                batcher.mark_seats([room_id], sorted(seats[room_id]))
            return 0
        finally:
            db.session.remove()
        server_time = now.isoformat()
        for room_id, room_rows in rows.items():
            if not room_rows:
                continue
            socketio.emit(
                "seats",
                {"room_id": room_id, "seats": room_rows, "server_time": server_time},
                to=room_channel(room_id),
                namespace=NAMESPACE,
            )
            sent += len(room_rows)
    return sent


def emit_beats(app: Flask) -> int:
    """Push the heartbeat times of the rooms watched in this process (presence only, no SQL);
    one process per room and tick emits. Also stamps the rooms as watched, so the batchers of
    other processes compute their seats."""
    rooms = _local_rooms()
    if not rooms:
        return 0
    with app.app_context():
        presence = get_presence(app)
        t = server_now().timestamp()
        tick = int(t // BEATS_INTERVAL)
        emitted = 0
        for room_id in sorted(rooms):
            presence.stamp(f"watch:{room_id}", t)
            regs = batcher.room_regs(room_id)
            if not regs or not presence.claim(f"beats:{room_id}:{tick}", BEATS_INTERVAL * 0.9):
                continue
            records = presence.get_many(regs)
            beats = {str(r): rec.last_beat for r, rec in records.items()}
            socketio.emit(
                "beats",
                {"room_id": room_id, "beats": beats, "server_time": t},
                to=room_channel(room_id),
                namespace=NAMESPACE,
            )
            emitted += 1
        return emitted


def start(app: Flask) -> None:
    """Run the batcher in this process: seats every ``SEATS_INTERVAL``, beats every
    ``BEATS_INTERVAL``."""
    every = max(1, round(BEATS_INTERVAL / SEATS_INTERVAL))

    def loop() -> None:
        n = 0
        while True:
            try:
                flush_seats(app)
                if n % every == 0:
                    emit_beats(app)
            except Exception:
                log.exception("proctor console batch failed")
            n += 1
            socketio.sleep(SEATS_INTERVAL)

    socketio.start_background_task(loop)


# -- pushes after commit (services' listeners) ---------------------------------------------------


def _on_incidents(incidents: list[dict[str, Any]]) -> None:
    for inc in incidents:
        socketio.emit(
            "incident", {"incident": inc}, to=room_channel(inc["room_id"]), namespace=NAMESPACE
        )
        if inc.get("registration_id") is not None:
            batcher.mark_seat(inc["room_id"], inc["registration_id"])


_WHOLE_ROOM_ACTIONS = ("start_room", "close_session", "outage_credit")


def _on_action(action: str, reg_ids: list[int], room_ids: list[int], extra: dict[str, Any]) -> None:
    if action in _WHOLE_ROOM_ACTIONS:
        for room_id in room_ids:
            batcher.mark_room(room_id)
    else:
        batcher.mark_seats(room_ids, reg_ids)
    if action == "warning_acked" and reg_ids and room_ids:
        socketio.emit(
            "warning_ack",
            {
                "registration_id": reg_ids[0],
                "warning_id": extra.get("warning_id"),
                "acked_at": server_now().isoformat(),
            },
            to=room_channel(room_ids[0]),
            namespace=NAMESPACE,
        )


def _register_listeners() -> None:
    if _on_action not in svc.ACTION_LISTENERS:
        svc.ACTION_LISTENERS.append(_on_action)
    if _on_incidents not in svc.INCIDENT_LISTENERS:
        svc.INCIDENT_LISTENERS.append(_on_incidents)


# -- the namespace -------------------------------------------------------------------------------


class WatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: StrictInt = Field(ge=1)
    room_ids: list[StrictInt] | None = Field(None, min_length=1, max_length=500)


def _staff_user(auth: Any) -> User | None:
    """The signed-in staff user of the handshake: ``auth.token`` (a bearer API token) or the
    session cookie."""
    from ..auth import user_from_token

    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str) and token:
        return user_from_token(token)
    if current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def _viewer_user(viewer: Viewer) -> User | None:
    user = db.session.get(User, viewer.user_id)
    return user if user is not None and user.is_active else None


class ProctorNamespace(Namespace):
    def on_connect(self, auth: Any = None):
        locale = connection_locale(auth)
        try:
            user = _staff_user(auth)
            if user is None:
                raise replies.refusal("unauthorized", replies.SIGN_IN_AGAIN, locale)
            if not user.has_role(Role.PROCTOR, Role.SUPERVISOR):
                raise replies.refusal(
                    "forbidden",
                    msg(
                        "console_needs_proctor",
                        "The proctor console needs a proctor or supervisor.",
                    ),
                    locale,
                )
            _viewers[request.sid] = Viewer(user.id, user.username, locale)
        finally:
            db.session.remove()

    def on_disconnect(self, *args: Any):
        _viewers.pop(request.sid, None)

    def on_watch(self, data: Any = None):
        viewer = _viewers.get(request.sid)
        return replies.render(self._watch(viewer, data), viewer.locale if viewer else None)

    def _watch(self, viewer: Viewer | None, data: Any):
        if viewer is None:
            return replies.unauthorized()
        try:
            p = WatchIn.model_validate(data if data is not None else {})
        except ValidationError as exc:
            return replies.invalid(exc)
        try:
            user = _viewer_user(viewer)
            if user is None:
                return replies.unauthorized()
            es = session_svc.get_session(db.session, p.session_id)
            scope = svc.scope_for(db.session, user, es)
            now = server_now()
            presence = get_presence()
            wanted = p.room_ids
            if wanted is None:
                wanted = [r.id for r in es.rooms if scope.can_view(r.id)]
            # Stamp first: another process's batcher then includes these rooms' changes, and
            # whatever changed before is in the snapshot below.
            for room_id in wanted:
                presence.stamp(f"watch:{room_id}", now.timestamp())
            snap = svc.snapshot(db.session, es, scope, now, presence=presence, room_ids=wanted)
            rooms = frozenset(r["id"] for r in snap["rooms"])
            for room_id in viewer.rooms - rooms:
                leave_room(room_channel(room_id))
            for room in snap["rooms"]:
                join_room(room_channel(room["id"]))
                batcher.remember_room(room["id"], [s["registration_id"] for s in room["seats"]])
            viewer.session_id, viewer.rooms = es.id, rooms
            return {"ok": True, **snap}
        except DomainError as exc:
            return replies.domain_error(exc)
        except Exception:
            log.exception("proctor watch failed")
            return replies.internal_error()
        finally:
            db.session.remove()

    def on_unwatch(self, data: Any = None):
        viewer = _viewers.get(request.sid)
        if viewer is None:
            return replies.unauthorized()
        for room_id in viewer.rooms:
            leave_room(room_channel(room_id))
        viewer.session_id, viewer.rooms = None, frozenset()
        return {"ok": True}


_register_listeners()
socketio.on_namespace(ProctorNamespace(NAMESPACE))

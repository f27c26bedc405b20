"""The live path: the candidate Socket.IO namespace and the deadline sweeper.

Handlers authenticate, validate the payload (pydantic), call one service, commit, and reply
with an ack. An ack ``{"ok": true, …}`` is sent only after the commit, so it means durable.
Errors reply ``{"ok": false, "error": code, "message": text, "field": …}`` and change nothing.
Events, payloads and replies are documented in docs/protocol.md (protocol version 1).

Proctoring (docs/proctoring.md) adds, on this side: the one-seat-one-device check on connect,
presence (connect, disconnect, ``heartbeat`` — presence only, no SQL), integrity ``signal`` events
turned into incidents, warnings (``ack_warning``), pushes to the candidate after proctor actions
(``state``, ``warning``) and the proctoring part of the sweeper (outage credit, disconnections).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from flask import Flask, current_app, request
from flask_socketio import Namespace, join_room
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from sqlalchemy import select

from question_bank.audit import Actor
from question_bank.errors import DomainError, NotFound
from question_bank.messages import msg

from . import gc_policy, metrics
from . import socket_replies as replies
from .delivery import saves
from .delivery import services as delivery
from .delivery.models import Attempt, AttemptState
from .extensions import db, socketio
from .i18n import connection_locale
from .proctoring import console
from .proctoring import services as proctoring
from .proctoring.presence import get_presence
from .proctoring.rules import SignalKind
from .sessions.checkin import candidate_from_token
from .sessions.clock import server_now
from .sessions.models import Eligibility, ExamSession, SessionState

log = logging.getLogger(__name__)
PROTOCOL_VERSION = 1
NAMESPACE = "/candidate"

# sid -> registration id, for this process's own connections.
_connections: dict[str, int] = {}


@dataclass(frozen=True)
class Seat:
    """What a connection of this process is: whose seat, where, from which device."""

    registration_id: int
    session_id: int
    room_id: int
    device: str


# sid -> seat, for this process's own connections (proctoring).
_seats: dict[str, Seat] = {}
# The language each connection chose when it connected (error replies are rendered in it).
_locales: dict[str, str] = {}
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
DEVICE_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SaveIn(_Payload):
    seq: StrictInt = Field(ge=1, le=2**31 - 1)
    kind: Literal["answer", "flag", "position"]
    position: StrictInt = Field(ge=1, le=1000)
    answer: Any = None
    flagged: StrictBool | None = None
    client_time: dt.datetime | None = None


class SubmitIn(_Payload):
    confirm: StrictBool


class TimeIn(_Payload):
    client_time: float  # the client's clock, milliseconds since the epoch


class Empty(_Payload):
    pass


_Number = StrictInt | StrictFloat
_Size = StrictInt | None


class HeartbeatIn(_Payload):
    visible: StrictBool
    focused: StrictBool
    fullscreen: StrictBool
    client_time: _Number  # the client's clock, milliseconds since the epoch
    width: _Size = Field(None, ge=0, le=100_000)
    height: _Size = Field(None, ge=0, le=100_000)
    screen_width: _Size = Field(None, ge=0, le=100_000)
    screen_height: _Size = Field(None, ge=0, le=100_000)
    screens: _Size = Field(None, ge=0, le=64)


_DetailValue = StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=200)]


class SignalIn(_Payload):
    kind: SignalKind
    duration_ms: _Number | None = Field(None, ge=0, le=24 * 3600 * 1000)
    client_time: _Number | None = None
    detail: dict[Annotated[StrictStr, Field(max_length=40)], _DetailValue | None] | None = Field(
        None, max_length=20
    )


class AckWarningIn(_Payload):
    id: StrictInt = Field(ge=1, le=2**63 - 1)


def _grace() -> float:
    return float(current_app.config.get("SAVE_GRACE_SECONDS", 5))


def candidate_event(model: type[BaseModel] | None) -> Callable:
    """Wrap a handler: the caller's attempt, a validated payload, one commit, an ack."""

    def decorate(handler: Callable) -> Callable:
        name = handler.__name__.removeprefix("on_")

        @functools.wraps(handler)
        def wrapped(self, sid: str, data: Any = None):
            with metrics.track(name):
                return replies.render(handle(self, sid, data), _locales.get(sid))

        def handle(self, sid: str, data: Any):
            reg_id = _connections.get(sid)
            if reg_id is None:
                return replies.unauthorized()
            try:
                payload = None
                if model is not None:
                    try:
                        payload = model.model_validate(data if data is not None else {})
                    except ValidationError as exc:
                        return replies.invalid(exc)
                reply = handler(self, reg_id, payload, server_now())
                db.session.commit()
                _after_commit(handler.__name__, sid, reg_id, payload, reply)
                return reply
            except DomainError as exc:
                db.session.rollback()
                return replies.domain_error(exc)
            except Exception:
                db.session.rollback()
                log.exception("candidate event %s failed", handler.__name__)
                return replies.internal_error()
            finally:
                db.session.remove()

        return wrapped

    return decorate


def _live_attempt(reg_id: int, *, lock: bool = False) -> tuple[Attempt, ExamSession]:
    a = delivery.get_attempt(db.session, reg_id, lock=lock, with_paper=True)
    es = db.session.get(ExamSession, a.session_id)
    return a, es


# Events dispatched without Flask's per-event request context (see ``trigger_event``).
LEAN_EVENTS = frozenset(
    {"hello", "start", "save", "submit", "time", "heartbeat", "signal", "ack_warning"}
)


class CandidateNamespace(Namespace):
    def trigger_event(self, event: str, *args: Any):
        """The candidate's frequent events run in an app context with the sid passed along,
        not in Flask-SocketIO's per-event request context: building one (URL matching of the
        Socket.IO path, which fails with an exception, the session cookie, teardown) was about
        8 % of a server process's CPU in a 2,000-candidate start storm, and these handlers
        read nothing from the request. ``connect`` and ``disconnect`` keep it (they read the
        client's address and browser)."""
        if event not in LEAN_EVENTS:
            return super().trigger_event(event, *args)
        sid = args[0]
        environ = self.socketio.server.get_environ(sid, namespace=self.namespace)
        if not environ:
            return None  # not a client of this process any more
        if len(args) > 2:
            return replies.too_many_payloads()
        with environ["flask.app"].app_context():
            return getattr(self, "on_" + event)(sid, args[1] if len(args) > 1 else None)

    def on_connect(self, auth: Any = None):
        with metrics.track("connect"):
            return self._connect(auth)

    def _connect(self, auth: Any):
        token = (auth or {}).get("token") if isinstance(auth, dict) else None
        identity = candidate_from_token(db.session, token) if isinstance(token, str) else None
        locale = connection_locale(auth)
        try:
            if identity is None:
                raise replies.refusal("unauthorized", replies.SIGN_IN_AGAIN, locale)
            reg = identity.registration
            es = reg.session
            if reg.eligibility != Eligibility.APPROVED or es.state not in (
                SessionState.OPEN,
                SessionState.RUNNING,
            ):
                raise replies.refusal(
                    "not_allowed",
                    msg("exam_not_open_for_you", "This exam is not open for you."),
                    locale,
                )
            device = _device_of(auth, locale)
            seat = Seat(reg.id, reg.session_id, reg.room_id, device)
            _admit(seat, locale)  # one seat, one device; presence; may refuse
            _connections[request.sid] = reg.id
            _locales[request.sid] = locale
            _seats[request.sid] = seat
            join_room(f"registration:{reg.id}")
            join_room(f"room:{reg.room_id}")
        finally:
            db.session.remove()
        console.mark_seat(seat.room_id, seat.registration_id)

    def on_disconnect(self, *args: Any):
        _connections.pop(request.sid, None)
        _locales.pop(request.sid, None)
        seat = _seats.pop(request.sid, None)
        if seat is not None:
            _leave(seat, request.sid)

    @candidate_event(Empty)
    def on_hello(self, reg_id: int, _payload: Empty, now: dt.datetime):
        a, es = _live_attempt(reg_id)
        if a.state == AttemptState.WAITING:
            # Only a start writes; plain reads (waiting rooms poll) take no row lock.
            a, es = _live_attempt(reg_id, lock=True)
            delivery.ensure_started(db.session, a, now)
            if a.state == AttemptState.WAITING:
                # Render the paper into this process's cache while the candidate waits (not
                # sent): the hello storm of a unified start then only sends bytes.
                delivery.delivered_paper(db.session, a.paper)
        return {
            "ok": True,
            "protocol": PROTOCOL_VERSION,
            **delivery.candidate_state(db.session, a, es, now),
            **_proctoring_hello(reg_id),
        }

    @candidate_event(Empty)
    def on_start(self, reg_id: int, _payload: Empty, now: dt.datetime):
        a, es = _live_attempt(reg_id, lock=True)
        delivery.start_in_window(db.session, a, es, now)
        return {"ok": True, **delivery.candidate_state(db.session, a, es, now)}

    @candidate_event(SaveIn)
    def on_save(self, reg_id: int, p: SaveIn, now: dt.datetime):
        # The one hot write path: written with whatever other saves of this process are
        # waiting, in one transaction (group commit, delivery/saves.py); committed on return.
        req = saves.save(
            db.session,
            reg_id,
            kind=p.kind,
            seq=p.seq,
            position=p.position,
            value=p.flagged if p.kind == "flag" else p.answer,
            client_time=p.client_time,
            now=now,
            grace_seconds=_grace(),
        )
        result = req.result
        return {
            "ok": True,
            "seq": result.seq,
            "accepted": result.accepted,
            "server_time": result.server_time.isoformat(),
        }

    @candidate_event(SubmitIn)
    def on_submit(self, reg_id: int, p: SubmitIn, now: dt.datetime):
        a, es = _live_attempt(reg_id, lock=True)
        delivery.ensure_started(db.session, a, now)
        reg = a.registration
        delivery.submit(
            db.session,
            Actor(None, f"candidate:{reg.ticket_number}"),
            a,
            es,
            now,
            reason="candidate",
            confirmed=p.confirm,
        )
        return {"ok": True, "state": a.state, "submitted_at": a.submitted_at.isoformat()}

    @candidate_event(TimeIn)
    def on_time(self, reg_id: int, p: TimeIn, now: dt.datetime):
        a = delivery.get_attempt(db.session, reg_id)  # one small query: no paper, no session
        return {
            "ok": True,
            "client_time": p.client_time,
            "server_time": now.timestamp() * 1000,
            "state": a.state,
            "remaining_seconds": delivery.remaining_seconds(a, now),
            "deadline": a.deadline.isoformat() if a.deadline else None,
        }

    # -- proctoring ------------------------------------------------------------------------

    def on_heartbeat(self, sid: str, data: Any = None):
        """Presence only: no SQL, unless this beat ends a disconnection or a room outage."""
        with metrics.track("heartbeat"):
            return replies.render(self._heartbeat(sid, data), _locales.get(sid))

    def _heartbeat(self, sid: str, data: Any):
        seat = _seats.get(sid)
        if seat is None:
            return replies.unauthorized()
        try:
            p = HeartbeatIn.model_validate(data if data is not None else {})
        except ValidationError as exc:
            return replies.invalid(exc)
        now = server_now()
        try:
            _rec, incidents = proctoring.handle_heartbeat(
                db.session,
                seat.registration_id,
                sid,
                p.model_dump(exclude_none=True),
                now,
            )
            if incidents:
                db.session.commit()
                proctoring.dispatch(db.session)
        except Exception:
            db.session.rollback()
            log.exception("heartbeat failed")
            return replies.internal_error()
        finally:
            db.session.remove()
        return {"ok": True, "server_time": now.timestamp() * 1000}

    @candidate_event(SignalIn)
    def on_signal(self, reg_id: int, p: SignalIn, now: dt.datetime):
        # The rules decide; an incident insert (or update) is the only SQL a signal causes.
        proctoring.handle_signal(db.session, reg_id, p.model_dump(exclude_none=True), now)
        return {"ok": True}

    @candidate_event(AckWarningIn)
    def on_ack_warning(self, reg_id: int, p: AckWarningIn, now: dt.datetime):
        warning = proctoring.ack_warning(db.session, reg_id, p.id, now)
        return {"ok": True, "id": warning.id, "acked_at": warning.acked_at.isoformat()}


# -- proctoring helpers -----------------------------------------------------------------------


def heartbeat_seconds() -> float:
    return float(current_app.config.get("HEARTBEAT_SECONDS", 5))


def _client() -> tuple[str, str]:
    return request.remote_addr or "", request.headers.get("User-Agent", "")[:300]


def _device_of(auth: Any, locale: str) -> str:
    """The device id the page sent in ``auth.device``. Without one (API clients), the device
    is named by the client's address and browser, so a reconnect of the same client passes
    and another computer does not."""
    raw = auth.get("device") if isinstance(auth, dict) else None
    if raw is None or raw == "":
        ip, ua = _client()
        return "anon-" + hashlib.sha256(f"{ip}|{ua}".encode()).hexdigest()[:16]
    if not isinstance(raw, str) or not DEVICE_RE.match(raw):
        raise replies.refusal(
            "validation_error",
            msg("device_id_invalid", "device: 1 to 64 letters, digits or . _ : -"),
            locale,
            field="device",
        )
    return raw


def _admit(seat: Seat, locale: str) -> None:
    """One seat, one device (refuses with ``seat_in_use`` / ``move_required``, the incident
    committed first), then presence: connected, the reconnection rules run."""
    now = server_now()
    ip, ua = _client()
    presence = get_presence()
    try:
        try:
            a = delivery.get_attempt(db.session, seat.registration_id, lock=True)
        except NotFound:
            a = None  # no paper yet: nothing to guard
        if a is not None:
            proctoring.check_device(db.session, a, seat.device, presence, now, ip=ip, ua=ua)
        proctoring.handle_connect(
            db.session,
            seat.registration_id,
            sid=request.sid,
            device=seat.device,
            ip=ip,
            ua=ua,
            process=PROCESS_ID,
            now=now,
            presence=presence,
        )
        db.session.commit()
    except (proctoring.SeatInUse, proctoring.MoveRequired) as exc:
        db.session.commit()  # the incident is evidence, kept although the connection is refused
        proctoring.dispatch(db.session)
        extra = {}
        if isinstance(exc.details, dict) and exc.details.get("incident"):
            extra["incident"] = exc.details["incident"]
        raise replies.refusal(exc.code, exc.msg, locale, **extra) from None
    except Exception:
        db.session.rollback()
        log.exception("admitting seat %s failed", seat.registration_id)
        raise replies.refusal(
            "internal_error",
            msg("connect_failed", "The server failed to connect you; please try again."),
            locale,
        ) from None
    proctoring.dispatch(db.session)


def _leave(seat: Seat, sid: str) -> None:
    try:
        if get_presence().disconnect(seat.registration_id, sid, server_now().timestamp()):
            console.mark_seat(seat.room_id, seat.registration_id)
    except Exception:
        log.exception("presence disconnect failed")


def _proctoring_hello(reg_id: int) -> dict[str, Any]:
    """What ``hello`` adds for proctoring: the heartbeat period, the small-window threshold of
    the session's policy (both cached) and the unacknowledged warnings (one query)."""
    ctx = proctoring.seat_context(db.session, reg_id)
    policy = proctoring.session_policy(db.session, ctx.session_id)
    return {
        "heartbeat_seconds": heartbeat_seconds(),
        "small_window_ratio": policy.small_window_ratio,
        "warnings": proctoring.pending_warnings(db.session, reg_id),
    }


_SEAT_EVENTS = ("on_start", "on_submit", "on_ack_warning")


def _after_commit(name: str, sid: str, reg_id: int, payload: Any, reply: Any) -> None:
    """After a handler's commit: run the proctoring pushes it queued, and mark the seat
    changed for the consoles when its row may have changed (cheap; batched)."""
    try:
        proctoring.dispatch(db.session)
        seat = _seats.get(sid)
        if seat is None or not isinstance(reply, dict):
            return
        changed = (
            name in _SEAT_EVENTS
            or (name == "on_hello" and reply.get("state") != AttemptState.WAITING)
            or (
                name == "on_save"
                and isinstance(payload, SaveIn)
                and payload.kind == "answer"
                and reply.get("accepted")
            )
        )
        if changed:
            console.mark_seat(seat.room_id, reg_id)
    except Exception:
        log.exception("after-commit hook of %s failed", name)


# -- pushes to candidates after proctor actions (services' ACTION_LISTENERS) -------------------

# Actions after which the seat's state (clock, deadline, state) changed: push ``state``.
STATE_ACTIONS = (
    "pause",
    "resume",
    "extra_time",
    "force_submit",
    "void",
    "approve_move",
    "credit_disconnection",
    "policy_pause",
    "outage_credit",
    "close_session",
)


def push_states(registration_ids: list[int], reason: str, extra: dict[str, Any]) -> int:
    """``state {reason, ...the hello state without the paper}`` to each candidate."""
    if not registration_ids:
        return 0
    now = server_now()
    attempts = db.session.scalars(
        select(Attempt).where(Attempt.registration_id.in_(registration_ids))
    ).all()
    sessions = {
        es.id: es
        for es in db.session.scalars(
            select(ExamSession).where(ExamSession.id.in_({a.session_id for a in attempts}))
        )
    }
    details = {k: extra[k] for k in ("seconds", "kind") if k in extra}
    for a in attempts:
        state = delivery.candidate_state(
            db.session, a, sessions[a.session_id], now, with_paper=False
        )
        socketio.emit(
            "state",
            {"reason": reason, **details, **state},
            to=f"registration:{a.registration_id}",
            namespace=NAMESPACE,
        )
    return len(attempts)


def _disconnect_other_devices(registration_ids: list[int]) -> None:
    """After a move: a page still connected from the old device is let go."""
    moved = {
        a.registration_id: a.device_id
        for a in db.session.scalars(
            select(Attempt).where(Attempt.registration_id.in_(registration_ids))
        )
    }
    for sid, seat in list(_seats.items()):
        if seat.registration_id in moved and seat.device != moved[seat.registration_id]:
            socketio.server.disconnect(sid, namespace=NAMESPACE)
    for reg_id, rec in get_presence().get_many(list(moved)).items():
        if rec.connected and rec.sid and rec.sid not in _seats and rec.device != moved[reg_id]:
            socketio.server.disconnect(rec.sid, namespace=NAMESPACE)  # on another process


def _push_after_action(
    action: str, registration_ids: list[int], room_ids: list[int], extra: dict[str, Any]
) -> None:
    if action == "warn":
        for reg_id, warning in (extra.get("warnings") or {}).items():
            socketio.emit("warning", warning, to=f"registration:{reg_id}", namespace=NAMESPACE)
    elif action == "start_room":
        for room_id in room_ids:
            push_room_started(room_id)
    elif action in STATE_ACTIONS:
        push_states(registration_ids, action, extra)
        if action == "force_submit":
            for reg_id in registration_ids:
                socketio.emit(
                    "submitted",
                    {"reason": "proctor"},
                    to=f"registration:{reg_id}",
                    namespace=NAMESPACE,
                )
        elif action == "approve_move":
            _disconnect_other_devices(registration_ids)


if _push_after_action not in proctoring.ACTION_LISTENERS:
    proctoring.ACTION_LISTENERS.append(_push_after_action)


def push_room_started(room_id: int) -> None:
    """A unified start: every candidate of the room asks ``hello`` again at once."""
    socketio.emit("started", {}, to=f"room:{room_id}", namespace=NAMESPACE)


def push_submitted(registration_ids: list[int]) -> None:
    for reg_id in registration_ids:
        socketio.emit(
            "submitted", {"reason": "deadline"}, to=f"registration:{reg_id}", namespace=NAMESPACE
        )


def sweep_once(app: Flask) -> list[int]:
    """One pass of the deadline sweeper (used by the background loop and by tests): batches
    of submissions, each committed (and its candidates told) before the next."""
    grace = float(app.config.get("SAVE_GRACE_SECONDS", 5))
    batch = 100
    done: list[int] = []
    with app.app_context():
        while True:
            try:
                ids = delivery.sweep(db.session, server_now(), grace, limit=batch)
                if ids is None:  # another process is sweeping right now
                    db.session.rollback()
                    break
                regs = [db.session.get(Attempt, i).registration_id for i in ids]
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("deadline sweep failed")
                break
            finally:
                db.session.remove()
            push_submitted(regs)
            done.extend(ids)
            if len(ids) < batch:
                break
    return done


def start_sweeper(app: Flask) -> None:
    """Run the deadline sweeper in this process, every ``SWEEP_INTERVAL_SECONDS`` (default 1).

    Every server process runs one; the conditional update in ``delivery.submit`` makes each
    attempt's submission happen exactly once however many sweepers race for it.
    """
    interval = float(app.config.get("SWEEP_INTERVAL_SECONDS", 1.0))

    def loop() -> None:
        while True:
            # Lost time is credited before any deadline of this pass is judged.
            proctoring_sweep(app)
            _mark_submitted(app, sweep_once(app))
            gc_policy.tick(len(_connections))
            socketio.sleep(interval)

    if app.config.get("GC_POLICY", True):
        gc_policy.install()
    socketio.start_background_task(loop)
    console.start(app)


def proctoring_sweep(app: Flask) -> int:
    """The proctoring part of a sweep (every process, every pass): stamp ``alive`` and credit a
    server outage; open a disconnection record for each seat whose heartbeats stopped (claimed,
    so one process records each); keep the policy and seat caches warm so that heartbeats never
    query. Returns the number of new or changed incidents."""
    found = 0
    with app.app_context():
        presence = get_presence(app)
        now = server_now()
        try:
            proctoring.refresh_caches(db.session)
            found += len(proctoring.check_server_outage(db.session, now, presence=presence))
            db.session.commit()
            proctoring.dispatch(db.session)
        except Exception:
            db.session.rollback()
            log.exception("proctoring sweep (outage) failed")
        finally:
            db.session.remove()
        stale = proctoring.stale_seats(presence, now)
        records = presence.get_many(stale) if stale else {}
        for reg_id in stale:
            rec = records.get(reg_id)
            if rec is None or rec.last_beat is None:
                presence.drop_beat(reg_id)
                continue
            if not presence.claim(f"gap:{reg_id}", 3):
                continue  # another process is looking at this seat right now
            try:
                inc = proctoring.open_disconnection(
                    db.session, reg_id, rec.last_beat, now, presence=presence
                )
                db.session.commit()
                proctoring.dispatch(db.session)  # a new record marks its seat itself
                found += inc is not None
                if inc is None and _gap_marked.get(reg_id) != rec.last_beat:
                    # No record (not running, or a longer gap allowed): the row's "connected"
                    # still changed, once per gap.
                    if len(_gap_marked) > 100_000:
                        _gap_marked.clear()
                    _gap_marked[reg_id] = rec.last_beat
                    ctx = proctoring.seat_context(db.session, reg_id)
                    console.mark_seat(ctx.room_id, reg_id)
            except NotFound:
                db.session.rollback()
                presence.drop_beat(reg_id)
            except Exception:
                db.session.rollback()
                log.exception("recording the disconnection of seat %s failed", reg_id)
            finally:
                db.session.remove()
    return found


# registration id -> the last beat whose gap was shown to the consoles (this process).
_gap_marked: dict[int, float] = {}


def _mark_submitted(app: Flask, attempt_ids: list[int]) -> None:
    if not attempt_ids:
        return
    with app.app_context():
        try:
            for reg_id, room_id in db.session.execute(
                select(Attempt.registration_id, Attempt.room_id).where(Attempt.id.in_(attempt_ids))
            ):
                console.mark_seat(room_id, reg_id)
        except Exception:
            log.exception("marking submitted seats failed")
        finally:
            db.session.remove()


socketio.on_namespace(CandidateNamespace(NAMESPACE))

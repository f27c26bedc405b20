"""The live path: the candidate Socket.IO namespace and the deadline sweeper.

Handlers authenticate, validate the payload (pydantic), call one service, commit, and reply
with an ack. An ack ``{"ok": true, …}`` is sent only after the commit, so it means durable.
Errors reply ``{"ok": false, "error": code, "message": text, "field": …}`` and change nothing.
Events, payloads and replies are documented in docs/protocol.md (protocol version 1).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any, Literal

from flask import Flask, current_app, request
from flask_socketio import Namespace, join_room
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from question_bank.audit import Actor
from question_bank.errors import DomainError
from question_bank.schema import error_list

from .delivery import services as delivery
from .delivery.models import Attempt, AttemptState
from .extensions import db, socketio
from .sessions.checkin import candidate_from_token
from .sessions.clock import server_now
from .sessions.models import Eligibility, ExamSession, SessionState

log = logging.getLogger(__name__)
PROTOCOL_VERSION = 1
NAMESPACE = "/candidate"

# sid -> registration id, for this process's own connections.
_connections: dict[str, int] = {}


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


def _error(exc: DomainError) -> dict[str, Any]:
    return {"ok": False, **exc.to_dict()}


def _grace() -> float:
    return float(current_app.config.get("SAVE_GRACE_SECONDS", 5))


def candidate_event(model: type[BaseModel] | None) -> Callable:
    """Wrap a handler: the caller's attempt, a validated payload, one commit, an ack."""

    def decorate(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def wrapped(self, data: Any = None):
            reg_id = _connections.get(request.sid)
            if reg_id is None:
                return {"ok": False, "error": "unauthorized", "message": "sign in again"}
            try:
                payload = None
                if model is not None:
                    try:
                        payload = model.model_validate(data if data is not None else {})
                    except ValidationError as exc:
                        first = error_list(exc)[0]
                        return {
                            "ok": False,
                            "error": "validation_error",
                            "message": f"{first['field']}: {first['message']}",
                            "field": first["field"],
                        }
                reply = handler(self, reg_id, payload, server_now())
                db.session.commit()
                return reply
            except DomainError as exc:
                db.session.rollback()
                return _error(exc)
            except Exception:
                db.session.rollback()
                log.exception("candidate event %s failed", handler.__name__)
                return {
                    "ok": False,
                    "error": "internal_error",
                    "message": "the server failed to handle this event",
                }
            finally:
                db.session.remove()

        return wrapped

    return decorate


def _live_attempt(reg_id: int, *, lock: bool = False) -> tuple[Attempt, ExamSession]:
    a = delivery.get_attempt(db.session, reg_id, lock=lock, with_paper=True)
    es = db.session.get(ExamSession, a.session_id)
    return a, es


class CandidateNamespace(Namespace):
    def on_connect(self, auth: Any = None):
        token = (auth or {}).get("token") if isinstance(auth, dict) else None
        identity = candidate_from_token(db.session, token) if isinstance(token, str) else None
        try:
            if identity is None:
                raise ConnectionRefusedError({"error": "unauthorized", "message": "sign in again"})
            reg = identity.registration
            es = reg.session
            if reg.eligibility != Eligibility.APPROVED or es.state not in (
                SessionState.OPEN,
                SessionState.RUNNING,
            ):
                raise ConnectionRefusedError(
                    {"error": "not_allowed", "message": "this exam is not open for you"}
                )
            _connections[request.sid] = reg.id
            join_room(f"registration:{reg.id}")
            join_room(f"room:{reg.room_id}")
        finally:
            db.session.remove()

    def on_disconnect(self, *args: Any):
        _connections.pop(request.sid, None)

    @candidate_event(Empty)
    def on_hello(self, reg_id: int, _payload: Empty, now: dt.datetime):
        a, es = _live_attempt(reg_id)
        if a.state == AttemptState.WAITING:
            # Only a start writes; plain reads (waiting rooms poll) take no row lock.
            a, es = _live_attempt(reg_id, lock=True)
            delivery.ensure_started(db.session, a, now)
        return {
            "ok": True,
            "protocol": PROTOCOL_VERSION,
            **delivery.candidate_state(db.session, a, es, now),
        }

    @candidate_event(Empty)
    def on_start(self, reg_id: int, _payload: Empty, now: dt.datetime):
        a, es = _live_attempt(reg_id, lock=True)
        delivery.start_in_window(db.session, a, es, now)
        return {"ok": True, **delivery.candidate_state(db.session, a, es, now)}

    @candidate_event(SaveIn)
    def on_save(self, reg_id: int, p: SaveIn, now: dt.datetime):
        # The one hot write path: the attempt row (locked) and its paper in one query.
        a = delivery.get_attempt(db.session, reg_id, lock=True, with_paper=True)
        delivery.ensure_started(db.session, a, now)
        value = p.flagged if p.kind == "flag" else p.answer
        result = delivery.save(
            db.session,
            a,
            kind=p.kind,
            seq=p.seq,
            position=p.position,
            value=value,
            client_time=p.client_time,
            now=now,
            grace_seconds=_grace(),
        )
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
        a, _es = _live_attempt(reg_id)
        return {
            "ok": True,
            "client_time": p.client_time,
            "server_time": now.timestamp() * 1000,
            "state": a.state,
            "remaining_seconds": delivery.remaining_seconds(a, now),
            "deadline": a.deadline.isoformat() if a.deadline else None,
        }


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
            sweep_once(app)
            socketio.sleep(interval)

    socketio.start_background_task(loop)


socketio.on_namespace(CandidateNamespace(NAMESPACE))

"""JSON API of proctoring (docs/proctoring.md): a session's live snapshot, incidents, proctor
actions and the integrity policy.

Proctors see and act in their rooms; supervisors see every room and never act (403);
administrators do everything, and only they change a session's policy. Handlers parse, call one
service, commit, push what changed (:func:`exam_server.proctoring.services.dispatch`), reply.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field

from question_bank.errors import ValidationFailed

from ..auth import roles_required
from ..extensions import db
from ..models import Role
from ..proctoring import services as svc
from ..proctoring.policy import policy_for
from ..sessions import services as session_svc
from ..sessions.clock import server_now
from ..validation import parse_json, query_int

bp = Blueprint("proctor_api", __name__, url_prefix="/api/v1/proctor")

STAFF = (Role.PROCTOR, Role.SUPERVISOR)  # admins hold every role


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The policy's keys (see IntegrityPolicy); null or {} restores the defaults.
    policy: dict[str, Any] | None
    reason: str = Field("", max_length=1000)


def _session_and_scope(session_id: int):
    es = session_svc.get_session(db.session, session_id)
    return es, svc.scope_for(db.session, current_user, es)


def _room_ids_arg() -> list[int] | None:
    raw = request.args.get("rooms") or request.args.get("room")
    if not raw:
        return None
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ValidationFailed(
            "rooms is a comma-separated list of room ids", field="rooms"
        ) from None


def _commit_and_push() -> None:
    db.session.commit()
    svc.dispatch(db.session)


@bp.get("/sessions/<int:session_id>")
@roles_required(*STAFF)
def snapshot(session_id: int):
    es, scope = _session_and_scope(session_id)
    return jsonify(svc.snapshot(db.session, es, scope, server_now(), room_ids=_room_ids_arg()))


@bp.get("/sessions/<int:session_id>/incidents")
@roles_required(*STAFF)
def incidents(session_id: int):
    es, scope = _session_and_scope(session_id)
    rows = svc.list_incidents(
        db.session,
        es,
        scope,
        room_id=query_int("room", 0, lo=0, hi=2**31) or None,
        status=request.args.get("status") or None,
        severity=request.args.get("severity") or None,
        registration_id=query_int("registration", 0, lo=0, hi=2**31) or None,
        after_id=query_int("after", 0, lo=0, hi=2**62),
        limit=query_int("limit", 200, lo=1, hi=1000),
    )
    return jsonify(incidents=[i.to_dict() for i in rows], server_time=server_now().isoformat())


@bp.post("/sessions/<int:session_id>/actions")
@roles_required(Role.PROCTOR)
def actions(session_id: int):
    body = parse_json(svc.ActionIn)
    outcome = svc.perform_action(db.session, current_user, session_id, body, server_now())
    reply = jsonify(outcome.to_dict())
    # Push only what is durable.
    _commit_and_push()
    return reply


@bp.get("/sessions/<int:session_id>/policy")
@roles_required(*STAFF)
def get_policy(session_id: int):
    es, _scope = _session_and_scope(session_id)
    return jsonify(policy=policy_for(es).to_dict(), stored=es.integrity_policy)


@bp.put("/sessions/<int:session_id>/policy")
@roles_required(Role.ADMIN)
def put_policy(session_id: int):
    es = session_svc.get_session(db.session, session_id)
    body = parse_json(PolicyIn)
    try:
        policy = svc.set_policy(db.session, current_user.actor, es, body.policy, body.reason)
    except ValidationFailed as exc:
        field = f"policy.{exc.field}" if exc.field else "policy"
        raise ValidationFailed(exc.msg, field=field, details=exc.details) from None
    return jsonify(policy=policy.to_dict(), stored=es.integrity_policy)

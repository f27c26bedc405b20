"""JSON API of exam sessions, rooms, registrations, rosters and admission tickets.

Administrators change everything; supervisors read every session (without access codes, with
masked ID numbers); proctors read the sessions and rooms they are assigned to, see those rooms'
access codes and start them. Handlers parse, call one service, and reply.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from question_bank.audit import record
from question_bank.errors import Conflict, Forbidden, NotFound, ValidationFailed

from ..auth import roles_required
from ..extensions import db
from ..live import push_room_started
from ..models import Role, User
from ..sessions import registrations as reg_svc
from ..sessions import services as svc
from ..sessions import tickets
from ..sessions.clock import local_zone, server_now
from ..sessions.idcard import mask_id_number
from ..sessions.models import CandidatePhoto, CheckIn, Eligibility, ExamSession, Registration
from ..sessions.roster import COLUMNS, import_roster
from ..sessions.schemas import (
    BulkEligibilityIn,
    EligibilityIn,
    ProctorsIn,
    ReasonIn,
    RegistrationIn,
    RegistrationPatch,
    RoomIn,
    RoomPatch,
    SessionIn,
    SessionPatch,
    TransitionIn,
)
from ..validation import parse_json, query_int, validate

bp = Blueprint("sessions_api", __name__, url_prefix="/api")

READERS = (Role.PROCTOR, Role.SUPERVISOR)  # admins hold every role
PDF = "application/pdf"


def _actor():
    return current_user.actor


def _optional_json(model):
    """A body that may be absent (DELETE with an optional reason)."""
    data = request.get_json(silent=True)
    return validate(model, data if data is not None else {})


class Scope:
    """What the signed-in reader may see of one session."""

    def __init__(self, es: ExamSession):
        self.admin = current_user.has_role(Role.ADMIN)
        roles = current_user.roles
        self.mine: set[int] = (
            set() if self.admin else svc.proctored_room_ids(db.session, es, current_user.id)
        )
        self.supervisor = Role.SUPERVISOR in roles
        if not (self.admin or self.supervisor or self.mine):
            raise Forbidden(f"you are not assigned to a room of session {es.code}")

    @property
    def code_rooms(self) -> set[int] | None:
        return None if self.admin else self.mine

    @property
    def room_ids(self) -> set[int] | None:
        return None if self.admin or self.supervisor else self.mine

    def full_identity(self, reg: Registration) -> bool:
        return self.admin or reg.room_id in self.mine


def _session(session_id: int) -> ExamSession:
    return svc.get_session(db.session, session_id)


def _detail(es: ExamSession, scope: Scope | None = None) -> dict[str, Any]:
    scope = scope or Scope(es)
    return svc.session_detail(db.session, es, code_rooms=scope.code_rooms, room_ids=scope.room_ids)


def _registration_dict(reg: Registration, scope: Scope) -> dict[str, Any]:
    d = reg.to_dict()
    if not scope.full_identity(reg):
        d["id_number"] = mask_id_number(reg.id_type, reg.id_number)
    return d


# -- sessions ---------------------------------------------------------------------------------


@bp.get("/sessions")
@roles_required(*READERS)
def list_sessions():
    proctor_only = not current_user.has_role(Role.ADMIN, Role.SUPERVISOR)
    rows = svc.list_sessions(
        db.session,
        state=request.args.get("state") or None,
        occupation=request.args.get("occupation") or None,
        proctor_id=current_user.id if proctor_only else None,
    )
    return jsonify(sessions=[svc.session_summary(es) for es in rows])


@bp.post("/sessions")
@roles_required(Role.ADMIN)
def create_session():
    body = parse_json(SessionIn)
    es = svc.create_session(db.session, _actor(), body)
    return jsonify(session=_detail(es)), 201


@bp.get("/sessions/<int:session_id>")
@roles_required(*READERS)
def get_session(session_id: int):
    return jsonify(session=_detail(_session(session_id)))


@bp.patch("/sessions/<int:session_id>")
@roles_required(Role.ADMIN)
def update_session(session_id: int):
    es = _session(session_id)
    svc.update_session(db.session, _actor(), es, parse_json(SessionPatch))
    return jsonify(session=_detail(es))


@bp.delete("/sessions/<int:session_id>")
@roles_required(Role.ADMIN)
def delete_session(session_id: int):
    es = _session(session_id)
    svc.delete_session(db.session, _actor(), es, _optional_json(ReasonIn).reason)
    return jsonify(deleted=es.code)


@bp.post("/sessions/<int:session_id>/transitions")
@roles_required(Role.ADMIN)
def transition(session_id: int):
    es = _session(session_id)
    body = parse_json(TransitionIn)
    warnings = svc.transition(
        db.session, _actor(), es, body.action, now=server_now(), reason=body.reason
    )
    reply = jsonify(session=_detail(es), warnings=warnings)
    if body.action == "start" and es.start_mode == "unified":
        # Tell every room's waiting candidates only once the start is durable.
        db.session.commit()
        for room in es.rooms:
            push_room_started(room.id)
    return reply


# -- rooms and proctors -----------------------------------------------------------------------


@bp.post("/sessions/<int:session_id>/rooms")
@roles_required(Role.ADMIN)
def add_room(session_id: int):
    es = _session(session_id)
    room = svc.add_room(db.session, _actor(), es, parse_json(RoomIn))
    return jsonify(room_id=room.id, session=_detail(es)), 201


@bp.patch("/sessions/<int:session_id>/rooms/<int:room_id>")
@roles_required(Role.ADMIN)
def update_room(session_id: int, room_id: int):
    es = _session(session_id)
    room = svc.get_room(db.session, es, room_id)
    svc.update_room(db.session, _actor(), room, parse_json(RoomPatch))
    return jsonify(session=_detail(es))


@bp.delete("/sessions/<int:session_id>/rooms/<int:room_id>")
@roles_required(Role.ADMIN)
def delete_room(session_id: int, room_id: int):
    es = _session(session_id)
    room = svc.get_room(db.session, es, room_id)
    svc.delete_room(db.session, _actor(), room, _optional_json(ReasonIn).reason)
    return jsonify(session=_detail(es))


@bp.post("/sessions/<int:session_id>/rooms/<int:room_id>/access-code")
@roles_required(Role.ADMIN)
def new_access_code(session_id: int, room_id: int):
    es = _session(session_id)
    room = svc.get_room(db.session, es, room_id)
    svc.regenerate_access_code(db.session, _actor(), room, _optional_json(ReasonIn).reason)
    return jsonify(session=_detail(es))


@bp.put("/sessions/<int:session_id>/rooms/<int:room_id>/proctors")
@roles_required(Role.ADMIN)
def assign_proctors(session_id: int, room_id: int):
    es = _session(session_id)
    room = svc.get_room(db.session, es, room_id)
    body = parse_json(ProctorsIn)
    svc.assign_proctors(db.session, _actor(), room, body.usernames, body.reason)
    return jsonify(session=_detail(es))


@bp.post("/sessions/<int:session_id>/rooms/<int:room_id>/start")
@roles_required(Role.PROCTOR)
def start_room(session_id: int, room_id: int):
    es = _session(session_id)
    room = svc.get_room(db.session, es, room_id)
    scope = Scope(es)
    if not scope.admin and room.id not in scope.mine:
        raise Forbidden(f"only the proctors of room {room.name} or an administrator can start it")
    body = _optional_json(ReasonIn)
    svc.start_room(db.session, _actor(), room, now=server_now(), reason=body.reason)
    reply = jsonify(session=_detail(es, scope))
    # Tell the room's waiting candidates only once the start is durable.
    db.session.commit()
    push_room_started(room.id)
    return reply


@bp.get("/proctors")
@roles_required(Role.ADMIN)
def list_proctors():
    users = [
        u
        for u in db.session.scalars(select(User).where(User.active).order_by(User.username))
        if Role.PROCTOR in u.roles
    ]
    return jsonify(proctors=[u.to_dict() for u in users])


# -- registrations ----------------------------------------------------------------------------


def _bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise ValidationFailed(f"{name} must be 1 or 0", field=name)


@bp.get("/sessions/<int:session_id>/registrations")
@roles_required(*READERS)
def list_registrations(session_id: int):
    es = _session(session_id)
    scope = Scope(es)
    room_id = query_int("room", 0, lo=0, hi=2**31) or None
    f = reg_svc.RegistrationFilter(
        room_ids=scope.room_ids,
        room_id=room_id,
        eligibility=request.args.get("eligibility") or None,
        checked_in=_bool_arg("checked_in"),
        text=request.args.get("q") or None,
        page=query_int("page", 1, lo=1, hi=100_000),
        per_page=query_int("per_page", 100, lo=1, hi=1000),
    )
    rows, total = reg_svc.search_registrations(db.session, es, f)
    return jsonify(
        registrations=[_registration_dict(r, scope) for r in rows],
        total=total,
        page=f.page,
        per_page=f.per_page,
    )


def _registration(es: ExamSession, registration_id: int, scope: Scope | None = None):
    reg = reg_svc.get_registration(db.session, es, registration_id)
    if scope is not None and scope.room_ids is not None and reg.room_id not in scope.room_ids:
        raise Forbidden("this candidate is in a room you are not assigned to")
    return reg


@bp.post("/sessions/<int:session_id>/registrations")
@roles_required(Role.ADMIN)
def add_registration(session_id: int):
    es = _session(session_id)
    reg = reg_svc.add_registration(db.session, _actor(), es, parse_json(RegistrationIn))
    return jsonify(registration=reg.to_dict()), 201


@bp.get("/sessions/<int:session_id>/registrations/<int:registration_id>")
@roles_required(*READERS)
def get_registration(session_id: int, registration_id: int):
    es = _session(session_id)
    scope = Scope(es)
    reg = _registration(es, registration_id, scope)
    return jsonify(registration=_registration_dict(reg, scope))


@bp.patch("/sessions/<int:session_id>/registrations/<int:registration_id>")
@roles_required(Role.ADMIN)
def update_registration(session_id: int, registration_id: int):
    es = _session(session_id)
    reg = _registration(es, registration_id)
    reg_svc.update_registration(db.session, _actor(), reg, parse_json(RegistrationPatch))
    return jsonify(registration=reg.to_dict())


@bp.delete("/sessions/<int:session_id>/registrations/<int:registration_id>")
@roles_required(Role.ADMIN)
def delete_registration(session_id: int, registration_id: int):
    es = _session(session_id)
    reg = _registration(es, registration_id)
    ticket = reg.ticket_number
    reg_svc.delete_registration(db.session, _actor(), reg, _optional_json(ReasonIn).reason)
    return jsonify(deleted=ticket)


@bp.post("/sessions/<int:session_id>/registrations/<int:registration_id>/eligibility")
@roles_required(Role.ADMIN)
def set_eligibility(session_id: int, registration_id: int):
    es = _session(session_id)
    reg = _registration(es, registration_id)
    body = parse_json(EligibilityIn)
    reg_svc.set_eligibility(
        db.session, _actor(), es, [reg], body.status, body.reason, now=server_now()
    )
    return jsonify(registration=reg.to_dict())


@bp.post("/sessions/<int:session_id>/eligibility")
@roles_required(Role.ADMIN)
def set_eligibility_bulk(session_id: int):
    es = _session(session_id)
    body = parse_json(BulkEligibilityIn)
    regs = reg_svc.registrations_by_ids(db.session, es, body.registration_ids)
    reg_svc.set_eligibility(
        db.session, _actor(), es, regs, body.status, body.reason, now=server_now()
    )
    return jsonify(updated=len(regs), session=_detail(es))


@bp.put("/sessions/<int:session_id>/registrations/<int:registration_id>/photo")
@roles_required(Role.ADMIN)
def put_photo(session_id: int, registration_id: int):
    es = _session(session_id)
    reg = _registration(es, registration_id)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("attach the photo as multipart field 'file'", field="file")
    reg_svc.set_photo(db.session, _actor(), reg, upload.read(), request.form.get("reason", ""))
    return jsonify(registration=reg.to_dict())


@bp.delete("/sessions/<int:session_id>/registrations/<int:registration_id>/photo")
@roles_required(Role.ADMIN)
def delete_photo(session_id: int, registration_id: int):
    es = _session(session_id)
    reg = _registration(es, registration_id)
    reg_svc.set_photo(db.session, _actor(), reg, None, _optional_json(ReasonIn).reason)
    return jsonify(registration=reg.to_dict())


@bp.get("/sessions/<int:session_id>/registrations/<int:registration_id>/photo")
@roles_required(*READERS)
def get_photo(session_id: int, registration_id: int):
    es = _session(session_id)
    reg = _registration(es, registration_id, Scope(es))
    photo = db.session.get(CandidatePhoto, reg.photo_sha256) if reg.photo_sha256 else None
    if photo is None:
        raise NotFound(f"registration {reg.ticket_number} has no photo", field="photo")
    return Response(
        photo.data, mimetype=photo.media_type, headers={"Cache-Control": "private, no-store"}
    )


# -- roster import ----------------------------------------------------------------------------


@bp.post("/sessions/<int:session_id>/roster")
@roles_required(Role.ADMIN)
def import_roster_file(session_id: int):
    es = _session(session_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("attach the roster as multipart field 'file'", field="file")
    form = request.form
    report = import_roster(
        db.session,
        _actor(),
        es,
        upload.read(),
        upload.filename,
        replace=form.get("replace") in ("1", "true", "on"),
        eligibility=form.get("eligibility") or Eligibility.PENDING,
        reason=form.get("reason", ""),
        now=server_now(),
    )
    return jsonify(report=report.to_dict(), session=_detail(es)), 201


@bp.get("/sessions/roster-template.csv")
@roles_required(Role.ADMIN)
def roster_template():
    header = ",".join(c.zh for c in COLUMNS)
    example = "张三,身份证,11010519491231002X,,第一考场,,"
    body = ("\ufeff" + header + "\r\n" + example + "\r\n").encode("utf-8")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="roster-template.csv"'},
    )


# -- admission tickets ------------------------------------------------------------------------


def _pdf(es: ExamSession, regs: list[Registration], name: str, what: dict[str, Any]) -> Response:
    pdf = tickets.tickets_pdf(db.session, es, regs, local_zone())
    # Tickets carry personal data: who printed whose is on record.
    record(
        db.session,
        _actor(),
        "tickets.printed",
        "exam_session",
        es.id,
        data={"session": es.code, **what, "count": len(regs)},
    )
    return Response(
        pdf,
        mimetype=PDF,
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"},
    )


@bp.get("/sessions/<int:session_id>/tickets.pdf")
@roles_required(Role.ADMIN)
def session_tickets(session_id: int):
    es = _session(session_id)
    room = None
    if room_id := query_int("room", 0, lo=0, hi=2**31):
        room = svc.get_room(db.session, es, room_id)
    regs = tickets.approved_registrations(db.session, es, room)
    if not regs:
        where = f" in room {room.name}" if room else ""
        raise Conflict(f"no approved candidates{where}: nothing to print", field="room")
    name = f"tickets-{es.code}" + (f"-room{room.number:02d}" if room else "") + ".pdf"
    return _pdf(es, regs, name, {"room": room.name if room else None})


@bp.get("/sessions/<int:session_id>/registrations/<int:registration_id>/ticket.pdf")
@roles_required(Role.ADMIN)
def ticket_pdf(session_id: int, registration_id: int):
    es = _session(session_id)
    reg = _registration(es, registration_id)
    if reg.eligibility != Eligibility.APPROVED:
        raise Conflict(
            f"registration {reg.ticket_number} is {reg.eligibility}; tickets are printed for "
            "approved candidates only",
            field="eligibility",
        )
    return _pdf(es, [reg], f"ticket-{reg.ticket_number}.pdf", {"ticket": reg.ticket_number})


# -- check-ins --------------------------------------------------------------------------------


@bp.get("/sessions/<int:session_id>/check-ins")
@roles_required(*READERS)
def list_check_ins(session_id: int):
    es = _session(session_id)
    scope = Scope(es)
    after = query_int("after", 0, lo=0, hi=2**62)
    limit = query_int("limit", 200, lo=1, hi=1000)
    q = (
        select(CheckIn)
        .where(CheckIn.session_id == es.id, CheckIn.id > after)
        .order_by(CheckIn.id)
        .limit(limit)
    )
    if scope.room_ids is not None:
        q = q.where(CheckIn.room_id.in_(scope.room_ids or {-1}))
    if room_id := query_int("room", 0, lo=0, hi=2**31):
        q = q.where(CheckIn.room_id == room_id)
    return jsonify(check_ins=[c.to_dict() for c in db.session.scalars(q)])

"""JSON API of blueprints (组卷方案): versions, feasibility against a release, previews.

Handlers parse, call one service, and reply. Specs are validated by
:func:`question_bank.blueprints.parse_spec`, so a refused spec names every broken rule.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, Field

from question_bank import assembly, knowledge
from question_bank import blueprints as bp_svc
from question_bank.errors import ValidationFailed

from ..auth import roles_required
from ..extensions import db
from ..models import Role
from ..validation import parse_json, query_int
from .bank import BANK_READERS

bp = Blueprint("blueprints_api", __name__, url_prefix="/api/blueprints")


class BlueprintIn(BaseModel):
    occupation: str
    level: int
    code: str
    name: str = Field(min_length=1, max_length=200)
    spec: dict[str, Any]
    note: str = Field(default="", max_length=500)


class BlueprintVersionIn(BaseModel):
    spec: dict[str, Any]
    note: str = Field(default="", max_length=500)


def _version(code: str, number: int):
    blueprint = bp_svc.get_blueprint(db.session, code)
    return bp_svc.get_version(db.session, blueprint, number)


def _release(version):
    ref = request.args.get("release", "")
    if not ref:
        raise ValidationFailed("give the release (id or name) as ?release=", field="release")
    return assembly.find_release(db.session, version, ref)


@bp.get("")
@roles_required(*BANK_READERS)
def list_blueprints():
    occ = None
    if code := request.args.get("occupation"):
        occ = knowledge.get_occupation(db.session, code)
    level = query_int("level", 0, lo=0, hi=5) or None
    rows = bp_svc.list_blueprints(db.session, occupation=occ, level=level)
    return jsonify(blueprints=[bp_svc.blueprint_to_dict(b) for b in rows])


@bp.post("")
@roles_required(Role.EDITOR)
def create_blueprint():
    body = parse_json(BlueprintIn)
    occ = knowledge.get_occupation(db.session, body.occupation)
    v = bp_svc.create_blueprint(
        db.session,
        current_user.actor,
        occ,
        body.level,
        body.code,
        body.name,
        body.spec,
        note=body.note,
    )
    return jsonify(
        blueprint=bp_svc.blueprint_to_dict(v.blueprint), version=bp_svc.version_to_dict(v)
    ), 201


@bp.get("/<code>")
@roles_required(*BANK_READERS)
def get_blueprint(code: str):
    blueprint = bp_svc.get_blueprint(db.session, code)
    latest = bp_svc.get_version(db.session, blueprint)
    return jsonify(
        blueprint=bp_svc.blueprint_to_dict(blueprint),
        versions=[bp_svc.version_to_dict(v, with_spec=False) for v in blueprint.versions],
        latest=bp_svc.version_to_dict(latest),
    )


@bp.get("/<code>/versions/<int:number>")
@roles_required(*BANK_READERS)
def get_version(code: str, number: int):
    return jsonify(version=bp_svc.version_to_dict(_version(code, number)))


@bp.post("/<code>/versions")
@roles_required(Role.EDITOR)
def revise_blueprint(code: str):
    blueprint = bp_svc.get_blueprint(db.session, code)
    body = parse_json(BlueprintVersionIn)
    v = bp_svc.revise_blueprint(
        db.session, current_user.actor, blueprint, body.spec, note=body.note
    )
    return jsonify(version=bp_svc.version_to_dict(v)), 201


@bp.get("/<code>/versions/<int:number>/check")
@roles_required(*BANK_READERS)
def check(code: str, number: int):
    version = _version(code, number)
    papers = query_int("papers", 0, lo=0, hi=20_000) or None
    return jsonify(
        report=assembly.check_blueprint(db.session, version, _release(version), n_papers=papers)
    )


@bp.get("/<code>/versions/<int:number>/preview")
@roles_required(*BANK_READERS)
def preview(code: str, number: int):
    version = _version(code, number)
    n = query_int("papers", 100, lo=1, hi=5_000)
    seed = request.args.get("seed") or "preview"
    return jsonify(
        report=assembly.preview(db.session, version, _release(version), n=n, seed=seed[:128])
    )

"""JSON API of the question bank. Handlers parse, call one service, and reply."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, Field
from sqlalchemy import select

from question_bank import items as item_svc
from question_bank import knowledge, releases, review, transfer
from question_bank.audit import AuditEvent, record, verify_chain
from question_bank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from question_bank.formats.rich import check_image
from question_bank.messages import Msg, localize, msg
from question_bank.models import Asset, BankRelease, Occupation
from question_bank.schema import ItemContent, KnowledgePointNode

from ..auth import roles_required
from ..extensions import db
from ..i18n import gettext_for
from ..itempdf import items_pdf
from ..models import Role
from ..offload import cooperate, run_blocking
from ..validation import parse_json, query_int, validate

bp = Blueprint("bank_api", __name__, url_prefix="/api")

BANK_READERS = (Role.EDITOR, Role.REVIEWER, Role.SUPERVISOR)


def _actor():
    return current_user.actor


class OccupationIn(BaseModel):
    code: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z\-.]{0,31}$")
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)


class TreeIn(BaseModel):
    knowledge_points: list[KnowledgePointNode]
    reason: str = Field(default="", max_length=1000)


class ItemIn(BaseModel):
    occupation: str
    level: int
    code: str
    content: ItemContent
    note: str = Field(default="", max_length=500)


class VersionIn(BaseModel):
    content: ItemContent
    note: str = Field(default="", max_length=500)


class ReviewIn(BaseModel):
    action: str
    comment: str = Field(default="", max_length=2000)


class ReleaseIn(BaseModel):
    occupation: str
    level: int
    name: str = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=2000)


# -- occupations and knowledge tables ---------------------------------------------------------


@bp.get("/occupations")
@roles_required(*BANK_READERS)
def list_occupations():
    occs = db.session.scalars(select(Occupation).order_by(Occupation.code)).all()
    return jsonify(occupations=[o.to_dict() for o in occs])


@bp.post("/occupations")
@roles_required(Role.EDITOR)
def create_occupation():
    body = parse_json(OccupationIn)
    if db.session.scalar(select(Occupation.id).where(Occupation.code == body.code)):
        raise Conflict(f"occupation {body.code} already exists", field="code")
    occ = knowledge.ensure_occupation(db.session, _actor(), body.code, body.name, body.name_en)
    return jsonify(occupation=occ.to_dict()), 201


@bp.get("/occupations/<code>/levels/<int:level>/knowledge-points")
@roles_required(*BANK_READERS)
def get_tree(code: str, level: int):
    occ = knowledge.get_occupation(db.session, code)
    knowledge.check_level(level)
    return jsonify(
        occupation=occ.to_dict(),
        level=level,
        knowledge_points=knowledge.load_tree(db.session, occ, level),
    )


@bp.put("/occupations/<code>/levels/<int:level>/knowledge-points")
@roles_required(Role.EDITOR)
def put_tree(code: str, level: int):
    occ = knowledge.get_occupation(db.session, code)
    body = parse_json(TreeIn)
    knowledge.save_tree(db.session, _actor(), occ, level, body.knowledge_points, reason=body.reason)
    return jsonify(
        occupation=occ.to_dict(),
        level=level,
        knowledge_points=knowledge.load_tree(db.session, occ, level),
    )


# -- items ------------------------------------------------------------------------------------


def _float_arg(name: str) -> float | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number between 0 and 1", field=name) from None
    if not 0 <= value <= 1:
        raise ValidationFailed(f"{name} must be a number between 0 and 1", field=name)
    return value


def item_filter_from_args() -> item_svc.ItemFilter:
    a = request.args
    level = query_int("level", 0, lo=0, hi=5) or None
    return item_svc.ItemFilter(
        occupation=a.get("occupation") or None,
        level=level,
        text=a.get("text") or a.get("q") or None,
        type=a.get("type") or None,
        knowledge_point=a.get("knowledge_point") or None,
        status=a.get("status") or None,
        tag=a.get("tag") or None,
        difficulty_min=_float_arg("difficulty_min"),
        difficulty_max=_float_arg("difficulty_max"),
        page=query_int("page", 1, lo=1, hi=100_000),
        per_page=query_int("per_page", 50, lo=1, hi=200),
    )


def _summary(v) -> dict[str, Any]:
    return {
        "item": v.item.code,
        "version": v.number,
        "status": v.status,
        "type": v.type,
        "stem": v.stem_text[:200],
        "knowledge_point": v.content["knowledge_point"],
        "difficulty": v.difficulty,
        "points": str(v.content["points"]),
        "tags": v.content.get("tags", []),
        "created_at": v.created_at.isoformat(),
    }


@bp.get("/items")
@roles_required(*BANK_READERS)
def list_items():
    f = item_filter_from_args()
    rows, total = item_svc.search_items(db.session, f)
    return jsonify(items=[_summary(v) for v in rows], total=total, page=f.page, per_page=f.per_page)


@bp.post("/items")
@roles_required(Role.EDITOR)
def create_item():
    body = parse_json(ItemIn)
    occ = knowledge.get_occupation(db.session, body.occupation)
    draft = validate(transfer.ItemDraft, {"code": body.code, "content": body.content})
    v = item_svc.create_item(db.session, _actor(), occ, body.level, draft, note=body.note)
    return jsonify(version=item_svc.version_to_dict(v)), 201


@bp.get("/items/<code>")
@roles_required(*BANK_READERS)
def get_item(code: str):
    item = item_svc.get_item(db.session, code)
    latest = item_svc.latest_version(db.session, item)
    return jsonify(
        item={
            "code": item.code,
            "occupation": item.occupation.code,
            "level": item.level,
            "latest_version": item.latest_version,
        },
        versions=[
            {
                "version": v.number,
                "status": v.status,
                "author_id": v.author_id,
                "created_at": v.created_at.isoformat(),
                "change_note": v.change_note,
                "content_hash": v.content_hash,
            }
            for v in item.versions
        ],
        latest=item_svc.version_to_dict(latest, with_reviews=True),
    )


@bp.get("/items/<code>/versions/<int:number>")
@roles_required(*BANK_READERS)
def get_version(code: str, number: int):
    item = item_svc.get_item(db.session, code)
    v = item_svc.get_version(db.session, item, number)
    return jsonify(version=item_svc.version_to_dict(v, with_reviews=True))


@bp.post("/items/<code>/versions")
@roles_required(Role.EDITOR)
def revise_item(code: str):
    item = item_svc.get_item(db.session, code)
    body = parse_json(VersionIn)
    v = item_svc.revise_item(db.session, _actor(), item, body.content, note=body.note)
    return jsonify(version=item_svc.version_to_dict(v)), 201


@bp.get("/items/<code>/diff")
@roles_required(*BANK_READERS)
def diff_item(code: str):
    item = item_svc.get_item(db.session, code)
    a = query_int("from", max(1, item.latest_version - 1), lo=1, hi=item.latest_version)
    b = query_int("to", item.latest_version, lo=1, hi=item.latest_version)
    va, vb = item_svc.get_version(db.session, item, a), item_svc.get_version(db.session, item, b)
    return jsonify(item=code, **{"from": a, "to": b}, changes=item_svc.diff_versions(va, vb))


REVIEW_ROLES = {
    "submit": (Role.EDITOR,),
    "withdraw": (Role.EDITOR,),
    "approve": (Role.REVIEWER,),
    "reject": (Role.REVIEWER,),
    "retire": (Role.REVIEWER,),
}


@bp.post("/items/<code>/versions/<int:number>/review")
@roles_required(Role.EDITOR, Role.REVIEWER)
def review_version(code: str, number: int):
    body = parse_json(ReviewIn)
    if body.action not in REVIEW_ROLES:
        raise ValidationFailed(
            f"unknown review action {body.action!r}; one of {', '.join(REVIEW_ROLES)}",
            field="action",
        )
    if not current_user.has_role(*REVIEW_ROLES[body.action]):
        raise Forbidden(f"{body.action} needs the role {REVIEW_ROLES[body.action][0]}")
    item = item_svc.get_item(db.session, code)
    v = item_svc.get_version(db.session, item, number)
    review.transition(db.session, _actor(), v, body.action, body.comment)
    return jsonify(version=item_svc.version_to_dict(v, with_reviews=True))


@bp.get("/review-queue")
@roles_required(Role.REVIEWER)
def review_queue():
    rows = review.review_queue(db.session, for_actor=_actor())
    return jsonify(items=[_summary(v) for v in rows])


# -- releases ---------------------------------------------------------------------------------


@bp.get("/releases")
@roles_required(*BANK_READERS)
def list_releases():
    q = select(BankRelease).order_by(BankRelease.id.desc())
    if occ_code := request.args.get("occupation"):
        q = q.join(Occupation).where(Occupation.code == occ_code)
    if level := query_int("level", 0, lo=0, hi=5):
        q = q.where(BankRelease.level == level)
    rels = db.session.scalars(q.limit(200)).all()
    return jsonify(releases=[releases.release_to_dict(r) for r in rels])


@bp.post("/releases")
@roles_required(Role.EDITOR)
def create_release():
    body = parse_json(ReleaseIn)
    occ = knowledge.get_occupation(db.session, body.occupation)
    rel = releases.create_release(db.session, _actor(), occ, body.level, body.name, note=body.note)
    return jsonify(
        release=releases.release_to_dict(rel), diff=releases.release_diff(db.session, rel)
    ), 201


@bp.get("/releases/<int:release_id>")
@roles_required(*BANK_READERS)
def get_release(release_id: int):
    rel = releases.get_release(db.session, release_id)
    return jsonify(release=releases.release_to_dict(rel), knowledge_points=rel.knowledge_points)


@bp.get("/releases/<int:release_id>/diff")
@roles_required(*BANK_READERS)
def diff_release(release_id: int):
    rel = releases.get_release(db.session, release_id)
    against_id = query_int("against", 0, lo=0, hi=2**31)
    against = releases.get_release(db.session, against_id) if against_id else None
    return jsonify(diff=releases.release_diff(db.session, rel, against))


@bp.get("/releases/<int:release_id>/items")
@roles_required(*BANK_READERS)
def release_items(release_id: int):
    rel = releases.get_release(db.session, release_id)
    return jsonify(items=[_summary(v) for v in releases.release_versions(db.session, rel)])


# -- import, export, assets ---------------------------------------------------------------------


def _checked(name: str) -> bool:
    return request.form.get(name) in ("1", "true", "on")


@bp.post("/bank/import")
@roles_required(Role.EDITOR)
def import_bank():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(
            msg("upload_missing", "Attach the file as multipart field 'file'."), field="file"
        )
    form = request.form
    level = form.get("level")
    if level not in (None, "") and not level.isdigit():
        raise ValidationFailed(msg("level_range", "The level must be 1 to 5."), field="level")
    keep_status = _checked("keep_status")
    if keep_status and not current_user.has_role(Role.ADMIN):
        raise Forbidden(
            msg(
                "keep_status_admin",
                "Only an administrator can import review statuses (keep_status).",
            )
        )
    category_map = None
    if (map_file := request.files.get("category_map")) is not None and map_file.filename:
        category_map = transfer.parse_category_map(map_file.read(), map_file.filename)
    options = transfer.import_options(
        form.get("knowledge_point") or None,
        skip_unsupported=_checked("skip_unsupported"),
        keep_styling=_checked("keep_styling"),
        encoding=form.get("encoding") or None,
        category_map=category_map,
        max_items=current_app.config.get("IMPORT_MAX_ITEMS"),
    )
    data = upload.read()
    fmt = form.get("format") or transfer.detect_format(upload.filename, data)
    # Parsing is the heavy part: off the event loop; the database work stays here.
    parsed = run_blocking(transfer.parse_file, data, upload.filename, fmt, options)
    report = transfer.import_bank(
        db.session,
        _actor(),
        data,
        upload.filename,
        fmt=fmt,
        occupation=form.get("occupation") or None,
        level=int(level) if level else None,
        keep_status=keep_status,
        reason=form.get("reason", ""),
        options=options,
        parsed=parsed,
        pause=cooperate,
    )
    return jsonify(report=localize(report.to_dict(), gettext_for())), 201


@bp.get("/bank/export")
@roles_required(*BANK_READERS)
def export_bank():
    occ = knowledge.get_occupation(db.session, request.args.get("occupation", ""))
    level = query_int("level", 0, lo=1, hi=5)
    release = None
    if rid := query_int("release", 0, lo=0, hi=2**31):
        release = releases.get_release(db.session, rid)
    fmt = request.args.get("format", "json")
    if fmt == "pdf":
        return _items_pdf(occ, level, release)
    notes: list = []
    data, media, name = transfer.export_bank(
        db.session,
        occ,
        level,
        fmt,
        status=request.args.get("status") or None,
        release=release,
        notes=notes,
    )
    # Items the format cannot express are listed in the file; the count travels as a header.
    return Response(
        data,
        mimetype=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Export-Left-Out": str(len(notes)),
        },
    )


def _items_pdf(occ: Occupation, level: int, release: BankRelease | None) -> Response:
    """The items as a printable PDF (formulas and images included), rendered off the loop."""
    knowledge.check_level(level)
    drafts = transfer.export_drafts(
        db.session, occ, level, status=request.args.get("status") or None, release=release
    )
    images = transfer.assets_of(db.session, drafts)
    stem = f"{occ.code}-L{level}" + (f"-{release.name}" if release else "")
    title = f"{occ.code} {occ.name} · L{level}" + (f" · {release.name}" if release else "")
    data = run_blocking(items_pdf, drafts, title=title, assets=images.get)
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{stem}.pdf"'},
    )


@bp.get("/bank/template.xlsx")
@roles_required(*BANK_READERS)
def xlsx_template():
    from question_bank.formats import xlsx

    return Response(
        xlsx.template(),
        mimetype=transfer.EXPORT_MEDIA["xlsx"][0],
        headers={"Content-Disposition": 'attachment; filename="item-template.xlsx"'},
    )


@bp.post("/assets")
@roles_required(Role.EDITOR)
def upload_asset():
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("attach the image as multipart field 'file'", field="file")
    data = upload.read()
    checked = check_image(data, upload.filename or "file")
    if isinstance(checked, Msg):
        raise ValidationFailed(checked, field="file")
    digest, media = checked
    if db.session.get(Asset, digest) is None:
        db.session.add(
            Asset(
                sha256=digest,
                media_type=media,
                data=data,
                size=len(data),
                uploaded_by_id=current_user.id,
            )
        )
        record(
            db.session,
            _actor(),
            "asset.uploaded",
            "asset",
            digest,
            data={"media_type": media, "size": len(data)},
        )
    return jsonify(sha256=digest, src=f"/assets/{digest}"), 201


# -- audit ------------------------------------------------------------------------------------


@bp.get("/audit")
@roles_required(Role.SUPERVISOR)
def audit_events():
    after = query_int("after", 0, lo=0, hi=2**62)
    limit = query_int("limit", 100, lo=1, hi=1000)
    q = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(limit)
    if action := request.args.get("action"):
        q = q.where(AuditEvent.action == action)
    return jsonify(events=[e.to_dict() for e in db.session.scalars(q)])


@bp.get("/audit/verify")
@roles_required(Role.SUPERVISOR)
def audit_verify():
    rep = verify_chain(db.session)
    return jsonify(
        ok=rep.ok,
        events=rep.events,
        head_hash=rep.head_hash,
        first_bad_seq=rep.first_bad_seq,
        problem=rep.problem,
    )


assets_bp = Blueprint("assets", __name__)


@assets_bp.get("/assets/<sha256>")
@roles_required()
def get_asset(sha256: str):
    asset = db.session.get(Asset, sha256)
    if asset is None:
        raise NotFound("no such asset")
    return Response(
        asset.data,
        mimetype=asset.media_type,
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )

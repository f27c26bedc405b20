"""JSON API of the improvement loop: analysis runs, item statistics, review tasks, reports."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user
from pydantic import BaseModel, Field
from sqlalchemy import select

from question_bank import items as item_svc
from question_bank import knowledge, releases
from question_bank import statistics as stats
from question_bank.errors import NotFound, ValidationFailed
from question_bank.messages import msg

from .. import reports
from ..auth import roles_required
from ..extensions import db
from ..models import Role
from ..validation import parse_json, query_int

bp = Blueprint("analysis_api", __name__, url_prefix="/api")

READERS = (Role.EDITOR, Role.REVIEWER, Role.SUPERVISOR)


class TaskAction(BaseModel):
    action: str
    note: str = Field(default="", max_length=2000)


def _run(run_id: int) -> stats.AnalysisRun:
    run = db.session.get(stats.AnalysisRun, run_id)
    if run is None:
        raise NotFound(f"no analysis run {run_id}")
    return run


def _run_dict(run: stats.AnalysisRun, *, items: bool = False) -> dict:
    out = {
        "id": run.id,
        "label": run.label,
        "source": run.source,
        "source_ref": run.source_ref,
        "occupation": db.session.get(knowledge.Occupation, run.occupation_id).code,
        "level": run.level,
        "release_id": run.release_id,
        "n_candidates": run.n_candidates,
        "n_items": run.n_items,
        "irt_model": run.irt_model,
        "created_at": run.created_at.isoformat(),
        "flagged_items": sum(1 for s in run.statistics if s.flags),
    }
    if items:
        out["summary"] = run.summary
        out["items"] = reports.item_rows(run)
        for row, st in zip(out["items"], run.statistics, strict=True):
            row["position"] = st.position
            row["flag_list"] = st.flags
            row["options"] = st.options
    return out


@bp.post("/analysis/runs")
@roles_required(Role.EDITOR, Role.REVIEWER)
def create_run():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("attach the responses CSV as multipart field 'file'", field="file")
    form = request.form
    occ = knowledge.get_occupation(db.session, form.get("occupation", ""))
    level = form.get("level", "")
    if not level.isdigit():
        raise ValidationFailed("level must be 1 to 5", field="level")
    knowledge.check_level(int(level))
    irt = form.get("irt") or None
    if irt not in (None, "rasch", "2pl"):
        raise ValidationFailed("irt must be rasch or 2pl", field="irt")
    cells = form.get("cells") or "auto"
    if cells not in ("auto", "scored"):
        raise ValidationFailed(
            msg("analysis_cells_choice", "Cells hold either answers or points earned."),
            field="cells",
        )
    release = None
    if form.get("release"):
        if not form["release"].isdigit():
            raise ValidationFailed("release must be a release id", field="release")
        release = releases.get_release(db.session, int(form["release"]))
    run = stats.analyze_upload(
        db.session,
        current_user.actor,
        upload.read(),
        upload.filename,
        occupation_id=occ.id,
        level=int(level),
        release=release,
        irt=irt,
        label=form.get("label", ""),
        cells=cells,
    )
    return jsonify(run=_run_dict(run, items=True)), 201


@bp.get("/analysis/runs")
@roles_required(*READERS)
def list_runs():
    runs = db.session.scalars(
        select(stats.AnalysisRun).order_by(stats.AnalysisRun.id.desc()).limit(200)
    ).all()
    return jsonify(runs=[_run_dict(r) for r in runs])


@bp.get("/analysis/runs/<int:run_id>")
@roles_required(*READERS)
def get_run(run_id: int):
    return jsonify(run=_run_dict(_run(run_id), items=True))


@bp.get("/analysis/runs/<int:run_id>/plots/<kind>.png")
@roles_required(*READERS)
def run_plot(run_id: int, kind: str):
    run = _run(run_id)
    position = None
    if kind == "trace":
        position = query_int("item", 0, lo=0, hi=max(0, run.n_items - 1))
    elif kind not in reports.KINDS:
        raise NotFound(f"no plot {kind!r}; one of {', '.join((*reports.KINDS, 'trace'))}")
    data = reports.png(run, kind, position)
    if data is None:
        raise NotFound(f"this run has no {kind} plot (no IRT model, or no options)")
    return Response(data, mimetype="image/png", headers={"Cache-Control": "private, max-age=600"})


@bp.get("/analysis/runs/<int:run_id>/export.<fmt>")
@roles_required(*READERS)
def export_run(run_id: int, fmt: str):
    run = _run(run_id)
    if fmt == "xlsx":
        data, media = (
            reports.xlsx_bytes(run),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "pdf":
        data, media = reports.pdf_bytes(run), "application/pdf"
    else:
        raise NotFound("export formats: xlsx, pdf")
    return Response(
        data,
        mimetype=media,
        headers={"Content-Disposition": f'attachment; filename="analysis-{run.id}.{fmt}"'},
    )


@bp.get("/items/<code>/statistics")
@roles_required(*READERS)
def item_statistics(code: str):
    item = item_svc.get_item(db.session, code)
    out = []
    for v in item.versions:
        per_run = db.session.scalars(
            select(stats.ItemStatistic)
            .where(stats.ItemStatistic.item_version_id == v.id)
            .order_by(stats.ItemStatistic.run_id)
        ).all()
        out.append(
            {
                "version": v.number,
                "estimate": v.difficulty,
                "accumulated": stats.accumulated(db.session, v.id),
                "effective_difficulty": stats.effective_difficulties(db.session, [v])[v.id],
                "runs": [
                    {
                        "run": s.run_id,
                        "n": s.n,
                        "facility": s.facility,
                        "item_rest_r": s.item_rest_r,
                        "flags": s.flags,
                    }
                    for s in per_run
                ],
            }
        )
    return jsonify(item=code, versions=out)


@bp.get("/review-tasks")
@roles_required(*READERS)
def list_tasks():
    status = request.args.get("status", "open")
    if status not in ("open", "resolved", "dismissed", "all"):
        raise ValidationFailed("status must be open, resolved, dismissed or all", field="status")
    q = select(stats.ReviewTask).order_by(stats.ReviewTask.id.desc()).limit(500)
    if status != "all":
        q = q.where(stats.ReviewTask.status == status)
    return jsonify(
        tasks=[
            {
                "id": t.id,
                "item": t.item.code,
                "version": t.version.number,
                "run": t.run_id,
                "reasons": t.reasons,
                "status": t.status,
                "note": t.note,
                "created_at": t.created_at.isoformat(),
                "latest_version": t.item.latest_version,
            }
            for t in db.session.scalars(q)
        ]
    )


@bp.post("/review-tasks/<int:task_id>")
@roles_required(Role.EDITOR)
def close_task(task_id: int):
    body = parse_json(TaskAction)
    task = stats.close_task(db.session, current_user.actor, task_id, body.action, body.note)
    return jsonify(task={"id": task.id, "status": task.status, "note": task.note})


@bp.post("/sessions/<int:session_id>/analysis")
@roles_required(Role.EDITOR, Role.REVIEWER)
def analyze_session(session_id: int):
    from ..delivery.analysis import analyze_session as run_session_analysis
    from ..sessions.services import get_session

    es = get_session(db.session, session_id)
    irt = request.args.get("irt") or None
    if irt not in (None, "rasch", "2pl"):
        raise ValidationFailed("irt must be rasch or 2pl", field="irt")
    run = run_session_analysis(db.session, current_user.actor, es, irt=irt)
    return jsonify(run=_run_dict(run, items=True)), 201

"""Blueprints and papers (组卷方案 and 组卷): ``blueprint``, ``papers``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from question_bank import knowledge
from question_bank.errors import DomainError

from ..extensions import db
from .base import _actor, _fail, main

# -- blueprints and papers (组卷方案 and 组卷) ----------------------------------------------------


def _fail_rules(exc: DomainError) -> None:
    """Like :func:`_fail`, listing every broken rule of a blueprint error."""
    db.session.rollback()
    click.echo(f"error: {exc.message}", err=True)
    for p in exc.details if isinstance(exc.details, list) else []:
        if isinstance(p, dict) and "rule" in p:
            click.echo(f"  [{p['rule']}] {p['message']}", err=True)
    sys.exit(2)


def _blueprint_version(code: str, number: int | None):
    from question_bank import blueprints

    bp = blueprints.get_blueprint(db.session, code)
    return blueprints.get_version(db.session, bp, number)


@main.group("blueprint")
def blueprint_group() -> None:
    """Paper blueprints (组卷方案): import, list, show, check against a release."""


@blueprint_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="Why (kept with the version and in the audit log).")
@click.option("--as", "as_user", help="Record the change as this user.")
@with_appcontext
def blueprint_import(file: Path, note: str, as_user: str | None) -> None:
    """Create a blueprint from FILE, or add a version if its code exists.

    FILE is JSON: {"code", "occupation", "level", "name", "spec": {...}} (docs/assembly.md).
    """
    from question_bank import blueprints

    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.echo(f"error: {file.name} is not UTF-8 JSON: {exc}", err=True)
        sys.exit(2)
    if not isinstance(doc, dict) or not {"code", "spec"} <= set(doc):
        click.echo('error: the file needs at least "code" and "spec"', err=True)
        sys.exit(2)
    from question_bank.models import Blueprint

    actor = _actor(as_user)
    try:
        existing = db.session.scalar(select(Blueprint).where(Blueprint.code == doc["code"]))
        if existing is None:
            occ = knowledge.get_occupation(db.session, str(doc.get("occupation", "")))
            v = blueprints.create_blueprint(
                db.session,
                actor,
                occ,
                doc.get("level") if isinstance(doc.get("level"), int) else 0,
                str(doc["code"]),
                str(doc.get("name") or doc["code"]),
                doc["spec"],
                note=note,
            )
        else:
            spec = blueprints.parse_spec(doc["spec"])
            latest = blueprints.get_version(db.session, existing)
            if latest.spec_hash == spec.spec_hash():
                click.echo(f"blueprint {existing.code} unchanged (version {latest.number})")
                return
            v = blueprints.revise_blueprint(db.session, actor, existing, spec, note=note)
        db.session.commit()
    except DomainError as exc:
        _fail_rules(exc)
    click.echo(
        f"blueprint {v.blueprint.code} version {v.number}: {spec_line(v)} (hash {v.spec_hash[:12]})"
    )


def spec_line(version) -> str:
    from question_bank.blueprints import spec_of

    spec = spec_of(version)
    parts = ", ".join(f"{s.type} {s.count} × {s.points}" for s in spec.sections)
    return f"{parts} = {spec.total_points} points, {spec.duration_minutes} min"


@blueprint_group.command("list")
@click.option("--occupation", help="Only this occupation code.")
@click.option("--level", type=click.IntRange(1, 5), help="Only this level.")
@with_appcontext
def blueprint_list(occupation: str | None, level: int | None) -> None:
    """List blueprints with their newest version."""
    from question_bank import blueprints

    try:
        occ = knowledge.get_occupation(db.session, occupation) if occupation else None
    except DomainError as exc:
        _fail(exc)
    for bp in blueprints.list_blueprints(db.session, occupation=occ, level=level):
        latest = blueprints.get_version(db.session, bp)
        click.echo(
            f"{bp.code}\t{bp.occupation.code} L{bp.level}\tv{bp.latest_version}\t{bp.name}\t"
            f"{spec_line(latest)}"
        )


@blueprint_group.command("show")
@click.argument("code")
@click.option("--version", "number", type=int, help="Default: the newest.")
@with_appcontext
def blueprint_show(code: str, number: int | None) -> None:
    """Print a blueprint version's spec as JSON."""
    try:
        v = _blueprint_version(code, number)
    except DomainError as exc:
        _fail(exc)
    click.echo(json.dumps(v.spec, ensure_ascii=False, indent=2))


@blueprint_group.command("check")
@click.argument("code")
@click.option("--release", "release_ref", required=True, help="Release name or id.")
@click.option("--version", "number", type=int, help="Default: the newest.")
@click.option("--papers", type=click.IntRange(1, 20_000), help="Session size to check for.")
@with_appcontext
def blueprint_check(code: str, release_ref: str, number: int | None, papers: int | None):
    """Check a blueprint version against a release; exit 1 if it cannot be met."""
    from question_bank import assembly

    try:
        v = _blueprint_version(code, number)
        release = assembly.find_release(db.session, v, release_ref)
        rep = assembly.check_blueprint(db.session, v, release, n_papers=papers)
    except DomainError as exc:
        _fail_rules(exc)
    t = rep["target"]
    click.echo(
        f"blueprint {code} v{v.number} against release {release.name}: "
        f"{rep['items_per_paper']} items, {rep['total_points']} points"
    )
    click.echo(
        f"target expected score {t['expected_score']:.2f} ± {t['tolerance_points']:.2f}"
        + (" (the release's mean)" if t["from_bank"] else "")
        + (
            f"; papers can score {rep['score_range'][0]:.2f}–{rep['score_range'][1]:.2f}"
            if rep["score_range"]
            else ""
        )
    )
    info = rep.get("information")
    if info:
        click.echo(
            f"information at the pass mark (θ_cut {info['theta_cut']:.3f}): target "
            f"{info['target']:.2f} ± {info['tolerance']:.2f}"
            + (" (the release's mean)" if info["target_from_bank"] else "")
            + f"; {info['calibrated_items']} of {info['eligible_items']} eligible items have IRT "
            f"estimates; "
            + ("balanced" if info["balanced"] else "not balanced (no estimates, or balance off)")
        )
    for s in rep["sections"]:
        quotas = ", ".join(f"{q['knowledge_point']}={q['quota']}" for q in s["quotas"])
        click.echo(f"  {s['type']} {s['count']} × {s['points']} ({s['quota_rule']}): {quotas}")
    for w in rep["warnings"]:
        click.echo(f"warning [{w['rule']}] {w['message']}")
    if rep["feasible"]:
        click.echo(f"feasible: {rep['papers_checked']} trial papers all met every rule")
        return
    for p in rep["problems"]:
        click.echo(f"problem [{p['rule']}] {p['message']}", err=True)
    click.echo(f"NOT feasible: {len(rep['problems'])} problems", err=True)
    sys.exit(1)


@main.group("papers")
def papers_group() -> None:
    """Randomized papers assembled from a blueprint and a release."""


@papers_group.command("preview")
@click.option("--blueprint", "code", required=True, help="Blueprint code.")
@click.option("--version", "number", type=int, help="Blueprint version (default: the newest).")
@click.option("--release", "release_ref", required=True, help="Release name or id.")
@click.option("--n", "n", type=click.IntRange(1, 20_000), default=100, show_default=True)
@click.option("--seed", default="preview", show_default=True, help="Session seed.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def papers_preview(code, number, release_ref, n, seed, json_out: Path | None) -> None:
    """Assemble N papers without storing them and report how equal they are."""
    from question_bank import assembly

    try:
        v = _blueprint_version(code, number)
        release = assembly.find_release(db.session, v, release_ref)
        rep = assembly.preview(db.session, v, release, n=n, seed=seed)
    except DomainError as exc:
        _fail_rules(exc)
    es, naive = rep["expected_score"], rep["naive_expected_score"]
    click.echo(
        f"blueprint {code} v{v.number}, release {release.name}: {rep['papers']} papers of "
        f"{rep['items_per_paper']} items, seed {seed!r}"
    )
    click.echo(f"target expected score {es['target']:.2f} ± {es['tolerance']:.2f}")
    click.echo(
        f"{'expected score':<16}{'min':>8}{'median':>8}{'max':>8}{'SD':>7}{'spread':>8}  within"
    )
    for label, s in (("balanced", es), ("naive draw", naive)):
        click.echo(
            f"{label:<16}{s['min']:>8.2f}{s['median']:>8.2f}{s['max']:>8.2f}{s['sd']:>7.2f}"
            f"{s['spread']:>8.2f}  {s['within_tolerance']}/{s['papers']}"
        )
    info, naive_info = rep.get("information"), rep.get("naive_information")
    if info:
        click.echo(
            f"information at the pass mark (θ_cut {info['theta_cut']:.3f}, pass mark "
            f"{info['pass_mark']}): target {info['target']:.2f} ± {info['tolerance']:.2f}"
            + ("" if info["balanced"] else " (not balanced: no IRT estimates)")
        )
        click.echo(f"{'information':<16}{'min':>8}{'median':>8}{'max':>8}{'spread':>8}  within")
        for label, s in (("info balanced", info), ("info naive", naive_info)):
            c = s["at_cut"]
            click.echo(
                f"{label:<16}{c['min']:>8.2f}{c['median']:>8.2f}{c['max']:>8.2f}"
                f"{c['spread']:>8.2f}  {s['within_tolerance']}/{rep['papers']}"
            )
        click.echo(
            f"SEM at the pass mark {info['sem_theta']['min']:.3f}–{info['sem_theta']['max']:.3f} "
            f"(θ), {info['sem_points']['min']:.2f}–{info['sem_points']['max']:.2f} points; "
            f"{info['papers_on_estimates']} papers hold items without IRT estimates"
        )
    ex = rep["exposure"]
    click.echo(
        f"exposure: {ex['used_items']} of {ex['eligible_items']} eligible items used, max "
        f"{ex['max_percent']:.1f}% ({ex['most_exposed']}), mean {ex['mean_percent']:.1f}%, "
        f"limit {_percent(ex['limit_percent'])}"
    )
    click.echo("  " + " | ".join(f"{b['range']}: {b['items']}" for b in ex["histogram"]))
    ov = rep["overlap"]
    if ov.get("pairs"):
        click.echo(
            f"overlap: two papers share {ov['mean_shared_items']:.1f} items on average "
            f"({ov['mean_shared_percent']:.1f}%), at most {ov['max_shared_items']} "
            f"({ov['note']})"
        )
    uncovered = [c["knowledge_point"] for c in rep["coverage"] if c["papers"] == 0]
    click.echo(
        f"coverage: {len(rep['coverage']) - len(uncovered)} of {len(rep['coverage'])} "
        f"knowledge points on at least one paper"
        + (f" (never: {', '.join(uncovered[:10])})" if uncovered else "")
    )
    if json_out:
        json_out.write_text(json.dumps(rep, ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"report written to {json_out}")


def _percent(value: float | None) -> str:
    return "none" if value is None else f"{value:g}%"


# -- exam sessions (场次), rosters and admission tickets ---------------------------------------

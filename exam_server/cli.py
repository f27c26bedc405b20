"""The ``exam-server`` command.

Run ``exam-server --help`` for the list; every command has its own ``--help``. Configuration
comes from ``EXAM_*`` environment variables (see ``deploy/exam-server.env.example``).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from question_bank import knowledge, releases, transfer
from question_bank.audit import Actor, verify_chain
from question_bank.errors import DomainError, ImportRejected
from question_bank.formats import FORMATS

from . import create_app
from .extensions import db
from .models import Role, User


def _create_app(*_args, **_kwargs):
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """Exam delivery server for vocational skill appraisal (职业技能等级认定).

    Quick start: `exam-server demo` runs a server with a demo bank on an SQLite file.
    Production: `exam-server init`, then gunicorn (see docs/operations.md).
    """


def _actor(username: str | None) -> Actor:
    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.UsageError(f"no user {username!r} (--as)")
        return user.actor
    return Actor(None, f"cli:{getpass.getuser()}")


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    click.echo(f"error: {exc.message}", err=True)
    if isinstance(exc, ImportRejected):
        for p in exc.problems:
            field = f" [{p['field']}]" if p.get("field") else ""
            click.echo(f"  {p['place']}{field}: {p['message']}", err=True)
    sys.exit(2)


def upgrade_database() -> None:
    from flask_migrate import upgrade

    # "heads": apply every branch, so migrations written in parallel never block each other.
    upgrade(directory=str(Path(__file__).parent / "migrations"), revision="heads")


def create_user(
    username: str,
    password: str,
    roles: list[str],
    display_name: str = "",
    actor: Actor | None = None,
) -> User:
    from question_bank.audit import record

    if db.session.scalar(select(User.id).where(User.username == username)):
        raise click.UsageError(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name or username)
    try:
        user.roles = roles
        user.set_password(password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    db.session.add(user)
    db.session.flush()
    record(
        db.session,
        actor or Actor(None, f"cli:{getpass.getuser()}"),
        "user.created",
        "user",
        user.id,
        data={"username": username, "roles": sorted(user.roles)},
    )
    return user


@main.command("init")
@click.option(
    "--admin",
    "admin_name",
    default="admin",
    show_default=True,
    help="Username of the first administrator.",
)
@click.option(
    "--password", envvar="EXAM_ADMIN_PASSWORD", help="Or EXAM_ADMIN_PASSWORD; prompted if absent."
)
@with_appcontext
def init_command(admin_name: str, password: str | None) -> None:
    """Create or upgrade the database and the first administrator."""
    upgrade_database()
    if db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("database is up to date; users exist already, no administrator created")
        return
    if not password:
        password = click.prompt(
            "password for the administrator", hide_input=True, confirmation_prompt=True
        )
    create_user(admin_name, password, [Role.ADMIN], "Administrator")
    db.session.commit()
    click.echo(f"database ready at {_safe_url()}; administrator {admin_name!r} created")


def _safe_url() -> str:
    return db.engine.url.render_as_string(hide_password=True)


@main.group("user")
def user_group() -> None:
    """Manage staff accounts."""


@user_group.command("create")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(Role.ALL),
    help="Repeat for several roles.",
)
@click.option("--name", "display_name", default="", help="Display name.")
@click.option(
    "--password", envvar="EXAM_USER_PASSWORD", help="Or EXAM_USER_PASSWORD; prompted if absent."
)
@with_appcontext
def user_create(username: str, roles: tuple[str, ...], display_name: str, password: str | None):
    """Create a staff user with one or more roles."""
    if not password:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    user = create_user(username, password, list(roles), display_name)
    db.session.commit()
    click.echo(f"user {user.username} created with roles {', '.join(sorted(user.roles))}")


@user_group.command("list")
@with_appcontext
def user_list() -> None:
    """List staff users and their roles."""
    for u in db.session.scalars(select(User).order_by(User.username)):
        state = "" if u.active else " (disabled)"
        click.echo(f"{u.username}\t{','.join(sorted(u.roles))}{state}")


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check the whole hash chain; name the first changed, removed or reordered event."""
    rep = verify_chain(db.session)
    if rep.ok:
        click.echo(f"audit log intact: {rep.events} events, head {rep.head_hash}")
        return
    click.echo(f"audit log BROKEN at seq {rep.first_bad_seq}: {rep.problem}", err=True)
    click.echo(f"{rep.events} events before it verified", err=True)
    sys.exit(1)


@main.group("bank")
def bank_group() -> None:
    """Import, export and release the question bank."""


@bank_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--occupation", help="Occupation code (required unless the file names it).")
@click.option("--level", type=click.IntRange(1, 5), help="Level 1-5 (unless the file says).")
@click.option("--knowledge-point", help="Knowledge point for items whose file gives none.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice((*FORMATS, "csv")),
    help="Default: from the file name and content.",
)
@click.option("--keep-status", is_flag=True, help="Native JSON: keep review statuses.")
@click.option("--as", "as_user", help="Record the import as this user.")
@with_appcontext
def bank_import(file: Path, occupation, level, knowledge_point, fmt, keep_status, as_user):
    """Import FILE (json, xlsx, csv, gift, moodle-xml, qti) all-or-nothing."""
    try:
        report = transfer.import_bank(
            db.session,
            _actor(as_user),
            file.read_bytes(),
            file.name,
            fmt=fmt,
            occupation=occupation,
            level=level,
            knowledge_point=knowledge_point,
            keep_status=keep_status,
        )
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    r = report.to_dict()
    click.echo(
        f"imported {file.name} ({r['format']}) into {r['occupation']} level {r['level']}: "
        f"{r['created']} created, {r['revised']} revised, {r['unchanged']} unchanged"
    )


@bank_group.command("export")
@click.option("--occupation", required=True)
@click.option("--level", type=click.IntRange(1, 5), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--status", help="Only items whose newest version has this status.")
@click.option("--release", "release_name", help="Export the versions of this release.")
@with_appcontext
def bank_export(occupation, level, fmt, out: Path, status, release_name):
    """Export a bank (json keeps every version and review)."""
    try:
        occ = knowledge.get_occupation(db.session, occupation)
        rel = None
        if release_name:
            from question_bank.models import BankRelease

            rel = db.session.scalar(
                select(BankRelease).where(
                    BankRelease.occupation_id == occ.id,
                    BankRelease.level == level,
                    BankRelease.name == release_name,
                )
            )
            if rel is None:
                raise click.UsageError(f"no release {release_name!r}")
        data, _media, _name = transfer.export_bank(
            db.session, occ, level, fmt, status=status, release=rel
        )
    except DomainError as exc:
        _fail(exc)
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes, {fmt})")


@bank_group.command("release")
@click.argument("name")
@click.option("--occupation", required=True)
@click.option("--level", type=click.IntRange(1, 5), required=True)
@click.option("--note", default="")
@click.option("--as", "as_user", help="Record the release as this user.")
@with_appcontext
def bank_release(name, occupation, level, note, as_user):
    """Publish release NAME: an immutable snapshot of the approved versions."""
    try:
        occ = knowledge.get_occupation(db.session, occupation)
        rel = releases.create_release(db.session, _actor(as_user), occ, level, name, note=note)
        diff = releases.release_diff(db.session, rel)
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    click.echo(f"release {rel.name}: {rel.item_count} items, hash {rel.content_hash}")
    click.echo(
        f"against {diff['against'] or '(none)'}: {len(diff['added'])} added, "
        f"{len(diff['changed'])} changed, {len(diff['removed'])} removed"
    )


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--setup-only", is_flag=True, help="Prepare the demo data and exit.")
@with_appcontext
def demo_command(host: str, port: int, setup_only: bool) -> None:
    """Run a server with a demo bank (electrician, level 4) and demo users."""
    from question_bank.db import utcnow

    from .demo import DEMO_USERS, setup_demo, setup_demo_session

    upgrade_database()
    summary = setup_demo()
    code, access_code, candidates = setup_demo_session(utcnow())
    db.session.commit()
    click.echo(f"database: {_safe_url()}")
    click.echo(summary)
    click.echo("demo users (username / password / roles):")
    for name, password, roles in DEMO_USERS:
        click.echo(f"  {name:10} {password:14} {', '.join(roles)}")
    click.echo(
        f"demo session {code} is open: candidates sign in at /exam with room access "
        f"code {access_code} and start their own 90 minutes (window start, 24 hours)"
    )
    click.echo("  ticket number / ID number / name")
    for name, ticket, id_number in candidates:
        click.echo(f"  {ticket}  {id_number}  {name}")
    from .sessions.models import ExamSession

    session_id = db.session.scalar(select(ExamSession.id).where(ExamSession.code == code))
    click.echo(
        f"proctor console: http://{host}:{port}/proctor/sessions/{session_id} "
        "(sign in as proctor or supervisor)"
    )
    if setup_only:
        return
    serve(current_app._get_current_object(), host, port)


def serve(app, host: str, port: int) -> None:
    """Serve HTTP and Socket.IO with gevent in this process, with the deadline sweeper."""
    from .extensions import socketio
    from .live import start_sweeper

    start_sweeper(app)
    click.echo(f"serving on http://{host}:{port}/  (Ctrl+C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        socketio.run(app, host=host, port=port, log_output=False, use_reloader=False)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Run the server in this process (production: gunicorn, see docs/operations.md)."""
    serve(current_app._get_current_object(), host, port)


@main.command("config")
@with_appcontext
def config_command() -> None:
    """Show the effective configuration (secrets hidden)."""
    cfg = current_app.config
    shown = {
        "database": _safe_url(),
        "redis": cfg.get("REDIS_URL") or "(none: embedded)",
        "instance_path": current_app.instance_path,
        "default_locale": cfg["BABEL_DEFAULT_LOCALE"],
        "secret_key": "set from EXAM_SECRET_KEY"
        if os.environ.get("EXAM_SECRET_KEY")
        else "generated in the instance folder",
    }
    click.echo(json.dumps(shown, indent=2, ensure_ascii=False))


@main.command("analyze")
@click.option(
    "--responses",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV: one row per candidate (first column the candidate id), one column per "
    "item, the chosen option letter(s), blank = no answer, '-' = not on the paper.",
)
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with columns item, key (e.g. B or ACD), points, optional options and type.",
)
@click.option("--irt", type=click.Choice(["rasch", "2pl"]), help="Also fit an IRT model.")
@click.option(
    "--similarity/--no-similarity",
    default=None,
    help="All-pairs answer similarity (default: on for up to 5,000 candidates).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the whole report as JSON here.",
)
def analyze_command(responses, key_path, irt, similarity, json_out: Path | None) -> None:
    """Item analysis of exported responses: classical statistics, flags, IRT, forensics."""
    from item_analysis.files import run_analysis

    try:
        report = run_analysis(responses, key_path, irt=irt, similarity=similarity)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    test = report["test"]
    rel = test["reliability"]
    dist = test["distribution"]
    click.echo(f"{report['n_candidates']} candidates, {report['n_items']} items")
    click.echo(
        f"{rel['kind']} = {rel['alpha']:.3f}, SEM = {test['sem']:.2f}, "
        f"mean = {dist['mean']:.2f}, SD = {dist['sd']:.2f}"
    )
    click.echo(f"{'item':<12}{'facility':>9}{'item-rest r':>13}{'D (27%)':>9}  flags")
    for it in report["items"]:
        flags = ", ".join(
            f["reason"] + (f"({f['option']})" if f.get("option") else "") for f in it["flags"]
        )
        click.echo(
            f"{it['id']:<12}{it['facility']:>9.3f}{_fmt(it['item_rest_r']):>13}"
            f"{_fmt(it['discrimination_index']):>9}  {flags}"
        )
    sim = report.get("similarity") or {}
    if sim:
        click.echo(
            f"answer similarity ({sim['method']}): {sim['n_significant']} of "
            f"{sim['n_pairs_tested']} pairs significant at FDR q = {sim['fdr_q']} "
            f"(evidence for review, not a verdict)"
        )
    if json_out:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"report written to {json_out}")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


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


def _local_time(value: str):
    """A time typed at the command line: ISO with offset, or local wall time in the configured
    time zone (``2026-06-15 09:00``)."""
    import datetime as dt

    from .sessions.clock import local_zone

    text = value.strip().replace("T", " ")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a time like 2026-06-15 09:00") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed.astimezone(dt.UTC)


def _room_spec(value: str) -> dict:
    name, sep, capacity = value.rpartition(":")
    if not sep or not name.strip() or not capacity.strip().isdigit():
        raise click.BadParameter(f"{value!r}: give a room as NAME:SEATS, e.g. 第一考场:30")
    return {"name": name.strip(), "capacity": int(capacity)}


def _exam_session(code: str):
    from .sessions.services import get_session_by_code

    return get_session_by_code(db.session, code)


@main.group("session")
def session_group() -> None:
    """Exam sessions (场次): plan, list, show, open, start, close."""


@session_group.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Session name, e.g. 2026年6月电工四级理论考试.")
@click.option("--occupation", required=True, help="Occupation code.")
@click.option("--level", type=click.IntRange(1, 5), required=True)
@click.option("--start", "start", required=True, help="Scheduled start, local time or ISO.")
@click.option("--duration", type=int, required=True, help="Minutes.")
@click.option("--late", type=int, default=15, show_default=True, help="Late entry, minutes.")
@click.option("--earliest-submit", type=int, default=30, show_default=True, help="Minutes.")
@click.option("--mode", type=click.Choice(["unified", "window"]), default="unified")
@click.option("--window", type=int, help="Window mode: minutes candidates may still start.")
@click.option("--release", "release_id", type=int, help="Bank release id to draw papers from.")
@click.option("--blueprint-version", "blueprint_version_id", type=int)
@click.option("--room", "rooms", multiple=True, help="NAME:SEATS; repeat for several rooms.")
@click.option("--as", "as_user", help="Record the change as this user.")
@with_appcontext
def session_create(code, name, occupation, level, start, duration, late, earliest_submit,
                   mode, window, release_id, blueprint_version_id, rooms, as_user):  # fmt: skip
    """Plan session CODE; rooms get random access codes."""
    from .sessions import services
    from .sessions.schemas import SessionIn
    from .validation import validate

    try:
        spec = validate(
            SessionIn,
            {
                "code": code,
                "name": name,
                "occupation": occupation,
                "level": level,
                "scheduled_start": _local_time(start),
                "duration_minutes": duration,
                "late_entry_minutes": late,
                "earliest_submit_minutes": earliest_submit,
                "start_mode": mode,
                "start_window_minutes": window,
                "release_id": release_id,
                "blueprint_version_id": blueprint_version_id,
                "rooms": [_room_spec(r) for r in rooms],
            },
        )
        es = services.create_session(db.session, _actor(as_user), spec)
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    click.echo(f"session {es.code} planned with {len(es.rooms)} rooms")
    _echo_rooms(es)


def _echo_rooms(es) -> None:
    from .sessions.clock import local_zone

    zone = local_zone()
    for room in es.rooms:
        click.echo(
            f"  room {room.number:2} {room.name}: {room.capacity} seats, access code "
            f"{room.access_code}"
            + (f", started {room.started_at.astimezone(zone):%H:%M}" if room.started_at else "")
        )


@session_group.command("list")
@click.option("--state", type=click.Choice(["planned", "open", "running", "closed"]))
@with_appcontext
def session_list(state: str | None) -> None:
    """List sessions, latest start first."""
    from .sessions import services
    from .sessions.clock import local_zone

    zone = local_zone()
    for es in services.list_sessions(db.session, state=state):
        click.echo(
            f"{es.code}\t{es.state}\t{es.scheduled_start.astimezone(zone):%Y-%m-%d %H:%M}\t"
            f"{es.occupation.code} L{es.level}\t{len(es.rooms)} rooms\t{es.name}"
        )


@session_group.command("show")
@click.argument("code")
@with_appcontext
def session_show(code: str) -> None:
    """A session's schedule, rooms with access codes, and roster counts."""
    from .sessions import services
    from .sessions.clock import local_zone

    try:
        es = _exam_session(code)
    except DomainError as exc:
        _fail(exc)
    detail = services.session_detail(db.session, es, code_rooms=None, room_ids=None)
    start = es.scheduled_start.astimezone(local_zone())
    click.echo(f"{es.code} {es.name} [{es.state}]")
    click.echo(
        f"  {es.occupation.code} level {es.level}, start {start:%Y-%m-%d %H:%M %Z}, "
        f"{es.duration_minutes} min, {es.start_mode} start, release {es.release_id or '-'}"
    )
    counts = detail["counts"]
    click.echo(
        f"  {counts['registered']} registered: {counts['approved']} approved, "
        f"{counts['pending']} pending, {counts['rejected']} rejected; "
        f"{counts['checked_in']} checked in"
    )
    _echo_rooms(es)


def _transition(action: str, code: str, reason: str, as_user: str | None) -> None:
    from .sessions import services
    from .sessions.clock import server_now

    try:
        es = _exam_session(code)
        warnings = services.transition(
            db.session, _actor(as_user), es, action, now=server_now(), reason=reason
        )
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    click.echo(f"session {es.code} is {es.state}")
    for warning in warnings:
        click.echo(f"  note: {warning}")


_transition_options = [
    click.argument("code"),
    click.option("--reason", default="", help="For the audit log."),
    click.option("--as", "as_user", help="Record the change as this user."),
    with_appcontext,
]


def _with_transition_options(command):
    for decorate in reversed(_transition_options):
        command = decorate(command)
    return command


@session_group.command("open")
@_with_transition_options
def session_open(code: str, reason: str, as_user: str | None) -> None:
    """Open session CODE for check-in (papers are assembled now)."""
    _transition("open", code, reason, as_user)


@session_group.command("start")
@_with_transition_options
def session_start(code: str, reason: str, as_user: str | None) -> None:
    """Start session CODE (every room, for a unified start)."""
    _transition("start", code, reason, as_user)


@session_group.command("close")
@_with_transition_options
def session_close(code: str, reason: str, as_user: str | None) -> None:
    """Close session CODE."""
    _transition("close", code, reason, as_user)


@main.group("roster")
def roster_group() -> None:
    """Candidate rosters of exam sessions."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--session", "code", required=True, help="Session code.")
@click.option("--replace", is_flag=True, help="Replace the current roster.")
@click.option("--approve", is_flag=True, help="Mark the candidates eligible (reviewed already).")
@click.option("--reason", default="", help="For the audit log.")
@click.option("--as", "as_user", help="Record the import as this user.")
@with_appcontext
def roster_import(file: Path, code: str, replace: bool, approve: bool, reason: str, as_user):
    """Import FILE (CSV in UTF-8 or GBK, xlsx, or a zip with photos) all-or-nothing."""
    from .sessions.clock import server_now
    from .sessions.roster import import_roster

    try:
        es = _exam_session(code)
        report = import_roster(
            db.session,
            _actor(as_user),
            es,
            file.read_bytes(),
            file.name,
            replace=replace,
            eligibility="approved" if approve else "pending",
            reason=reason,
            now=server_now(),
        )
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    r = report.to_dict()
    click.echo(
        f"imported {r['created']} candidates into {es.code} ({r['format']}, {r['eligibility']}): "
        f"{r['generated_tickets']} tickets generated, {r['assigned_seats']} seats assigned, "
        f"{r['photos']} photos" + (f", {r['replaced']} replaced" if replace else "")
    )


@main.command("tickets")
@click.option("--session", "code", required=True, help="Session code.")
@click.option("--room", "room_name", help="Only this room (name).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--as", "as_user", help="Record the printing as this user.")
@with_appcontext
def tickets_command(code: str, room_name: str | None, out: Path, as_user: str | None) -> None:
    """Write the admission tickets (准考证) of approved candidates as one PDF."""
    from question_bank.audit import record

    from .sessions import tickets
    from .sessions.clock import local_zone

    try:
        es = _exam_session(code)
        room = None
        if room_name:
            room = next((r for r in es.rooms if r.name == room_name), None)
            if room is None:
                raise click.UsageError(f"session {es.code} has no room {room_name!r}")
        regs = tickets.approved_registrations(db.session, es, room)
        if not regs:
            raise click.UsageError("no approved candidates: nothing to print")
        pdf = tickets.tickets_pdf(db.session, es, regs, local_zone())
        record(
            db.session,
            _actor(as_user),
            "tickets.printed",
            "exam_session",
            es.id,
            data={"session": es.code, "room": room_name, "count": len(regs)},
        )
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    out.write_bytes(pdf)
    click.echo(f"wrote {out}: {len(regs)} tickets ({len(pdf)} bytes)")

"""The question bank: ``bank import|export|release``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from question_bank import knowledge, releases, transfer
from question_bank.errors import DomainError
from question_bank.formats import FORMATS

from ..extensions import db
from .base import _actor, _fail, main


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

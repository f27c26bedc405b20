"""The question bank: ``bank import|export|release``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from question_bank import knowledge, releases, transfer
from question_bank.errors import DomainError, ImportRejected
from question_bank.formats import FORMATS
from question_bank.messages import localize

from ..extensions import db
from ..i18n import cli_locale, gettext_for
from ..itempdf import items_pdf
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
@click.option(
    "--skip-unsupported",
    is_flag=True,
    help="Import the questions the bank can hold and list the others (essay, matching, "
    "numerical, images the file lacks …) instead of refusing the file.",
)
@click.option(
    "--keep-styling",
    is_flag=True,
    help="Keep bold, italic, underline, sub/superscript and alignment from editor styling "
    "(other styling is always removed and counted).",
)
@click.option(
    "--encoding",
    help="Text encoding of a GIFT or CSV file (utf-8, gbk, windows-1252) when it cannot be told.",
)
@click.option(
    "--category-map",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Moodle categories to knowledge points: CSV lines "category path,KP-CODE" or JSON.',
)
@click.option("--max-items", type=click.IntRange(1), help="Most items the file may hold.")
@click.option("--as", "as_user", help="Record the import as this user.")
@with_appcontext
def bank_import(
    file: Path,
    occupation,
    level,
    knowledge_point,
    fmt,
    keep_status,
    skip_unsupported,
    keep_styling,
    encoding,
    category_map,
    max_items,
    as_user,
):
    """Import FILE (json, xlsx, csv, gift, moodle-xml, qti) all-or-nothing.

    The report lists skipped questions, removed styling, images and changes of meaning in
    the language of EXAM_LANG (or LANG).
    """
    gettext = gettext_for(cli_locale())
    try:
        mapping = (
            transfer.parse_category_map(category_map.read_bytes(), category_map.name)
            if category_map
            else None
        )
        options = transfer.import_options(
            knowledge_point,
            skip_unsupported=skip_unsupported,
            keep_styling=keep_styling,
            encoding=encoding,
            category_map=mapping,
            max_items=max_items or current_app.config.get("IMPORT_MAX_ITEMS"),
        )
        report = transfer.import_bank(
            db.session,
            _actor(as_user),
            file.read_bytes(),
            file.name,
            fmt=fmt,
            occupation=occupation,
            level=level,
            keep_status=keep_status,
            options=options,
        )
        db.session.commit()
    except ImportRejected as exc:
        db.session.rollback()
        body = exc.to_dict(gettext)
        click.echo(f"error: {body['message']}", err=True)
        for p in body["details"]:
            field = f" [{p['field']}]" if p.get("field") else ""
            click.echo(f"  {p['place']}{field}: {p['message']}", err=True)
        if body.get("hint"):
            click.echo(body["hint"], err=True)
        sys.exit(2)
    except DomainError as exc:
        _fail(exc)
    for line in report_lines(localize(report.to_dict(), gettext), gettext):
        click.echo(line)


def report_lines(r: dict, gettext) -> list[str]:
    """The import report as lines of text (already localized ``r``)."""
    _ = gettext
    lines = [
        _(
            "imported %(file)s (%(format)s) into %(occupation)s level %(level)s: %(created)s "
            "created, %(revised)s revised, %(unchanged)s unchanged, %(skipped)s skipped, "
            "%(images)s images"
        )
        % {
            "file": r.get("file", ""),
            "format": r["format"],
            "occupation": r["occupation"],
            "level": r["level"],
            "created": r["created"],
            "revised": r["revised"],
            "unchanged": r["unchanged"],
            "skipped": len(r["skipped"]),
            "images": r["images"],
        }
    ]
    if r["skipped"]:
        lines.append(_("Skipped questions:"))
        lines += [f"  {s['place']} [{s['type']}] {s['name']}: {s['reason']}" for s in r["skipped"]]
    if r["styling_removed"]:
        lines.append(
            _("Editor styling removed: %(n)s attributes or tags")
            % {"n": r["styling_removed_total"]}
        )
        lines += [f"  {s['place']}: {s['count']}" for s in r["styling_removed"]]
    if r["notes"]:
        lines.append(_("Changes of meaning:"))
        lines += [f"  {n['place']}: {n['message']}" for n in r["notes"]]
    if r["renamed"]:
        lines.append(_("Generated codes already in use, given new codes:"))
        lines += [f"  {n['place']}: {n['taken']} → {n['code']}" for n in r["renamed"]]
    if r["unmapped_categories"]:
        lines.append(_("Categories the category map does not name:"))
        lines += [f"  {c['category']} ({c['questions']})" for c in r["unmapped_categories"]]
    return lines


@bank_group.command("export")
@click.option("--occupation", required=True)
@click.option("--level", type=click.IntRange(1, 5), required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice((*FORMATS, "pdf")),
    default="json",
    show_default=True,
    help="pdf: the items printed for review, formulas and images included.",
)
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
        notes: list = []
        if fmt == "pdf":
            knowledge.check_level(level)
            drafts = transfer.export_drafts(db.session, occ, level, status=status, release=rel)
            images = transfer.assets_of(db.session, drafts)
            title = f"{occ.code} {occ.name} · L{level}"
            data = items_pdf(drafts, title=title, assets=images.get)
        else:
            data, _media, _name = transfer.export_bank(
                db.session, occ, level, fmt, status=status, release=rel, notes=notes
            )
    except DomainError as exc:
        _fail(exc)
    out.write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes, {fmt})")
    gettext = gettext_for(cli_locale())
    for note in notes:
        click.echo(f"  {localize(note.place, gettext)}: {localize(note.message, gettext)}")


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

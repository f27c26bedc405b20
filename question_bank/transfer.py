"""Import and export of whole banks, all-or-nothing.

:func:`import_bank` parses a file in any supported format, checks every item against the
database (occupation, level, knowledge points, duplicate codes) and either writes everything or
raises :class:`ImportRejected` listing every problem with its place; nothing is written then.
An item code already in the bank gets a new version when its content differs, and is left alone
when it is the same, so re-importing an edited spreadsheet revises exactly the changed items.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .audit import Actor, record
from .errors import ImportRejected, ValidationFailed
from .formats import FORMATS, ParsedFile, Problem
from .items import new_version_row
from .knowledge import (
    check_level,
    ensure_occupation,
    leaf_points,
    load_tree,
    save_tree,
    tree_problems,
)
from .models import BankRelease, Item, ItemVersion, Occupation, ReviewEvent, VersionStatus
from .releases import release_versions
from .schema import ItemContent, ItemDraft, KnowledgePointNode

CHUNK = 500


def detect_format(filename: str, data: bytes) -> str:
    name = filename.lower()
    head = data[:2048].lstrip(b"\xef\xbb\xbf \r\n\t")
    if name.endswith(".json") or head.startswith(b"{"):
        return "json"
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".gift", ".txt")):
        return "gift"
    if name.endswith(".zip") or data[:4] == b"PK\x03\x04":
        return "xlsx" if b"xl/" in data[:4096] else "qti"
    if name.endswith(".xml") or head.startswith(b"<"):
        return "moodle-xml" if b"<quiz" in data[:4096] else "qti"
    raise ValidationFailed(
        f"cannot tell the format of {filename!r}; name it .json, .xlsx, .csv, .gift, .xml or .zip "
        f"or give the format",
        field="format",
    )


PARSERS = {
    "json": ("native_json", "parse"),
    "xlsx": ("xlsx", "parse"),
    "csv": ("xlsx", "parse_csv"),
    "gift": ("gift", "parse"),
    "moodle-xml": ("moodle_xml", "parse"),
    "qti": ("qti", "parse"),
}


def parse_file(data: bytes, filename: str, fmt: str | None, default_kp: str | None) -> ParsedFile:
    fmt = fmt or detect_format(filename, data)
    if fmt not in PARSERS:
        raise ValidationFailed(
            f"unknown format {fmt!r}; one of {', '.join(PARSERS)}", field="format"
        )
    module, func = PARSERS[fmt]
    parser = getattr(importlib.import_module(f"question_bank.formats.{module}"), func)
    return parser(data, source=filename, knowledge_point=default_kp)


@dataclass
class ImportReport:
    format: str
    occupation: str
    level: int
    created: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    knowledge_points: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "occupation": self.occupation,
            "level": self.level,
            "created": len(self.created),
            "revised": len(self.revised),
            "unchanged": len(self.unchanged),
            "knowledge_points_saved": self.knowledge_points,
            "items": {
                "created": self.created,
                "revised": self.revised,
                "unchanged": self.unchanged,
            },
        }


def import_bank(
    session: Session,
    actor: Actor,
    data: bytes,
    filename: str,
    *,
    fmt: str | None = None,
    occupation: str | None = None,
    level: int | None = None,
    knowledge_point: str | None = None,
    keep_status: bool = False,
    reason: str = "",
) -> ImportReport:
    """Import a file into the bank, all or nothing. See the module docstring."""
    fmt = fmt or detect_format(filename, data)
    parsed = parse_file(data, filename, fmt, knowledge_point)
    problems = list(parsed.problems)

    occ_code = occupation or (parsed.occupation or {}).get("code")
    lvl = level if level is not None else parsed.level
    if not occ_code:
        problems.append(Problem(filename, "no occupation: give --occupation", "occupation"))
    if lvl is None:
        problems.append(Problem(filename, "no level: give --level", "level"))
    else:
        try:
            check_level(lvl)
        except ValidationFailed as exc:
            problems.append(Problem(filename, exc.message, "level"))
    occ = None
    if occ_code:
        occ = session.scalar(select(Occupation).where(Occupation.code == occ_code))
        if occ is None and not (parsed.occupation and parsed.occupation.get("name")):
            problems.append(
                Problem(filename, f"occupation {occ_code} does not exist", "occupation")
            )
    if parsed.knowledge_points is not None:
        problems.extend(
            Problem("knowledge_points", p, "weight") for p in tree_problems(parsed.knowledge_points)
        )

    # Knowledge points the items may use: the file's own table if it has one, else the bank's.
    if parsed.knowledge_points is not None:
        leaves, inner = _tree_codes(parsed.knowledge_points)
    elif occ is not None and lvl is not None:
        tree = load_tree(session, occ, lvl)
        leaves, inner = _tree_codes([KnowledgePointNode.model_validate(n) for n in tree])
    else:
        leaves, inner = set(), set()

    seen: dict[str, str] = {}
    for draft, place in zip(parsed.drafts, parsed.places, strict=True):
        if draft.code in seen:
            problems.append(
                Problem(
                    place,
                    f"item code {draft.code} is used twice (first at {seen[draft.code]})",
                    "code",
                )
            )
        else:
            seen[draft.code] = place
        kp = draft.content.knowledge_point
        if kp in inner:
            problems.append(
                Problem(
                    place,
                    f"knowledge point {kp} is a module or unit; items attach to a leaf point",
                    "knowledge_point",
                )
            )
        elif kp not in leaves and (occ is not None or parsed.knowledge_points is not None):
            problems.append(Problem(place, f"unknown knowledge point code {kp}", "knowledge_point"))

    existing: dict[str, Item] = {}
    codes = [d.code for d in parsed.drafts]
    for start in range(0, len(codes), CHUNK):
        for item in session.scalars(
            select(Item).where(Item.code.in_(codes[start : start + CHUNK]))
        ):
            existing[item.code] = item
    for draft, place in zip(parsed.drafts, parsed.places, strict=True):
        item = existing.get(draft.code)
        if (
            item is not None
            and occ is not None
            and (item.occupation_id != occ.id or item.level != lvl)
        ):
            problems.append(
                Problem(
                    place,
                    f"item code {draft.code} already belongs to another occupation or level",
                    "code",
                )
            )
    if not parsed.drafts and not problems and parsed.knowledge_points is None:
        problems.append(Problem(filename, "the file holds no items"))
    if problems:
        raise ImportRejected([p.to_dict() for p in problems], source=filename)

    assert occ_code is not None and lvl is not None
    if occ is None:
        info = parsed.occupation or {}
        occ = ensure_occupation(
            session, actor, occ_code, info.get("name", ""), info.get("name_en", "")
        )
    report = ImportReport(format=fmt, occupation=occ.code, level=lvl)
    if parsed.knowledge_points is not None:
        report.knowledge_points = len(
            save_tree(
                session,
                actor,
                occ,
                lvl,
                parsed.knowledge_points,
                reason=f"imported from {filename}",
            )
        )
    points = leaf_points(session, occ.id, lvl)
    histories: dict[str, list[dict[str, Any]]] = parsed.extra.get("histories", {})
    latest_hash = _latest_hashes(session, list(existing.values()))
    changes: list[dict[str, Any]] = []
    for draft in parsed.drafts:
        item = existing.get(draft.code)
        history = histories.get(draft.code)
        if item is None:
            item = Item(code=draft.code, occupation_id=occ.id, level=lvl, created_by_id=actor.id)
            session.add(item)
            contents = history or [{"content": draft.content}]
            for ver in contents:
                _add_version(session, actor, item, ver, points, keep_status, filename)
            report.created.append(draft.code)
            changes.append({"code": draft.code, "versions": len(contents), "new": True})
        elif latest_hash.get(item.id) == draft.content.content_hash():
            report.unchanged.append(draft.code)
        else:
            _add_version(session, actor, item, {"content": draft.content}, points, False, filename)
            report.revised.append(draft.code)
            changes.append({"code": draft.code, "version": item.latest_version})
    session.flush()
    record(
        session,
        actor,
        "bank.imported",
        "occupation",
        occ.code,
        reason=reason,
        data={
            "file": filename,
            "format": fmt,
            "level": lvl,
            "created": len(report.created),
            "revised": len(report.revised),
            "unchanged": len(report.unchanged),
            "changes": changes,
        },
    )
    return report


def _tree_codes(nodes) -> tuple[set[str], set[str]]:
    leaves: set[str] = set()
    inner: set[str] = set()
    stack = list(nodes)
    while stack:
        n = stack.pop()
        (inner if n.children else leaves).add(n.code)
        stack.extend(n.children)
    return leaves, inner


def _latest_hashes(session: Session, items: list[Item]) -> dict[int, str]:
    out: dict[int, str] = {}
    ids = [(i.id, i.latest_version) for i in items]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        wanted = set(chunk)
        rows = session.execute(
            select(ItemVersion.item_id, ItemVersion.number, ItemVersion.content_hash).where(
                ItemVersion.item_id.in_([i for i, _ in chunk])
            )
        )
        for item_id, number, h in rows:
            if (item_id, number) in wanted:
                out[item_id] = h
    return out


def _add_version(
    session: Session,
    actor: Actor,
    item: Item,
    ver: dict[str, Any],
    points: dict[str, Any],
    keep_status: bool,
    filename: str,
) -> ItemVersion:
    content: ItemContent = ver["content"]
    note = ver.get("change_note", f"imported from {filename}")
    v = new_version_row(item, content, points[content.knowledge_point], actor.id, note)
    created = ver.get("created_at")
    if created:
        with contextlib.suppress(TypeError, ValueError):
            v.created_at = dt.datetime.fromisoformat(created)
    status = ver.get("status", VersionStatus.DRAFT)
    if keep_status and status != VersionStatus.DRAFT:
        v.status = status
        history = "; ".join(
            f"{r.get('from')}→{r.get('to')} by {r.get('actor')} at {r.get('at')}"
            + (f": {r.get('comment')}" if r.get("comment") else "")
            for r in ver.get("reviews", [])
        )
        session.add(
            ReviewEvent(
                version=v,
                from_status=VersionStatus.DRAFT,
                to_status=status,
                actor_id=actor.id,
                comment=f"status {status} kept from {filename}"
                + (f" (original history: {history})" if history else ""),
            )
        )
    session.add(v)
    return v


def export_drafts(
    session: Session,
    occupation: Occupation,
    level: int,
    *,
    status: str | None = None,
    release: BankRelease | None = None,
) -> list[ItemDraft]:
    """The items to export: a release's versions, or each item's newest version (optionally
    only those with ``status``)."""
    if release is not None:
        versions = release_versions(session, release)
    else:
        q = (
            select(ItemVersion)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(
                Item.occupation_id == occupation.id,
                Item.level == level,
                ItemVersion.is_latest.is_(True),
            )
            .order_by(Item.code)
        )
        if status:
            q = q.where(ItemVersion.status == status)
        versions = list(session.scalars(q.options(selectinload(ItemVersion.item))))
    return [
        ItemDraft(code=v.item.code, content=ItemContent.model_validate(v.content)) for v in versions
    ]


def export_native(session: Session, occupation: Occupation, level: int) -> bytes:
    """Every item of ``occupation``/``level`` with every version and its review history."""
    from .formats.native_json import dump_document

    users = _usernames(session)
    items = session.scalars(
        select(Item)
        .where(Item.occupation_id == occupation.id, Item.level == level)
        .order_by(Item.code)
        .options(selectinload(Item.versions).selectinload(ItemVersion.reviews))
    ).all()
    out_items = []
    for item in items:
        versions = []
        for v in item.versions:
            versions.append(
                {
                    "number": v.number,
                    "status": v.status,
                    "content": v.content,
                    "author": users.get(v.author_id, ""),
                    "created_at": v.created_at.isoformat(),
                    "change_note": v.change_note,
                    "reviews": [
                        {
                            "from": r.from_status,
                            "to": r.to_status,
                            "actor": users.get(r.actor_id, ""),
                            "at": r.at.isoformat(),
                            "comment": r.comment,
                        }
                        for r in v.reviews
                    ],
                }
            )
        out_items.append({"code": item.code, "versions": versions})
    return dump_document(
        occupation.to_dict(), level, load_tree(session, occupation, level), out_items
    )


def _usernames(session: Session) -> dict[int | None, str]:
    from sqlalchemy import Table

    users: Table = ItemVersion.metadata.tables["users"]
    return {uid: name for uid, name in session.execute(select(users.c.id, users.c.username))}


EXPORT_MEDIA = {
    "json": ("application/json", "json"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "gift": ("text/plain; charset=utf-8", "gift.txt"),
    "moodle-xml": ("application/xml", "moodle.xml"),
    "qti": ("application/zip", "qti.zip"),
}


def export_bank(
    session: Session,
    occupation: Occupation,
    level: int,
    fmt: str,
    *,
    status: str | None = None,
    release: BankRelease | None = None,
) -> tuple[bytes, str, str]:
    """Export in ``fmt``; returns (bytes, media type, suggested file name)."""
    if fmt not in FORMATS:
        raise ValidationFailed(
            f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", field="format"
        )
    check_level(level)
    media, ext = EXPORT_MEDIA[fmt]
    stem = f"{occupation.code}-L{level}" + (f"-{release.name}" if release else "")
    if fmt == "json":
        return export_native(session, occupation, level), media, f"{stem}.{ext}"
    drafts = export_drafts(session, occupation, level, status=status, release=release)
    module = importlib.import_module(f"question_bank.formats.{fmt.replace('-', '_')}")
    return module.dump(drafts), media, f"{stem}.{ext}"

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
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .audit import Actor, record
from .errors import ImportRejected, ValidationFailed
from .formats import (
    DEFAULT_MAX_ITEMS,
    FORMATS,
    ImportOptions,
    Note,
    ParsedFile,
    Problem,
    encoding_name,
)
from .items import new_version_row
from .knowledge import (
    check_level,
    ensure_occupation,
    leaf_points,
    load_tree,
    save_tree,
    tree_problems,
)
from .messages import Msg, msg
from .models import (
    Asset,
    BankRelease,
    Item,
    ItemVersion,
    Occupation,
    ReviewEvent,
    VersionStatus,
)
from .releases import release_versions
from .schema import ItemContent, ItemDraft, KnowledgePointNode

CHUNK = 500


def detect_format(filename: str, data: bytes) -> str:
    """The format of an upload: its name first (a ``.gift`` file may start with ``{``), then its
    first bytes."""
    name = filename.lower()
    head = data[:2048].lstrip(b"\xef\xbb\xbf \r\n\t")
    if name.endswith(".json"):
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
    if head.startswith(b"{"):
        return "json"
    raise ValidationFailed(
        msg(
            "import_format_unknown",
            "Cannot tell the format of %(name)s; name it .json, .xlsx, .csv, .gift, .xml or .zip "
            "or choose the format.",
            name=filename,
        ),
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
# What a format cannot carry is kept from the bank's newest version when a file names an item
# the bank has, so re-importing an unedited export changes nothing.
CARRIES_TITLE = {"json", "gift", "moodle-xml", "qti"}
CARRIED_TRANSLATIONS = {"json": None, "xlsx": {"en"}, "csv": {"en"}}  # None: all languages


def unknown_format(fmt: str) -> ValidationFailed:
    return ValidationFailed(
        msg(
            "format_unknown",
            "Unknown format %(format)s; one of %(formats)s.",
            format=fmt,
            formats=", ".join(PARSERS),
        ),
        field="format",
    )


def parse_file(
    data: bytes, filename: str, fmt: str | None, options: ImportOptions | str | None = None
) -> ParsedFile:
    """Parse ``data`` in ``fmt`` (detected when None). ``options`` may be just the default
    knowledge point."""
    if not isinstance(options, ImportOptions):
        options = ImportOptions(knowledge_point=options)
    fmt = fmt or detect_format(filename, data)
    if fmt not in PARSERS:
        raise unknown_format(fmt)
    module, func = PARSERS[fmt]
    parser = getattr(importlib.import_module(f"question_bank.formats.{module}"), func)
    return parser(data, source=filename, options=options)


def parse_category_map(data: bytes, filename: str = "map") -> dict[str, str]:
    """A category map: JSON ``{"category path": "KP-CODE"}`` or CSV/text lines
    ``category path,KP-CODE`` (the last comma, tab or ``=`` separates). Raises
    :class:`ValidationFailed` naming the bad line."""
    from .formats import EncodingProblem, decode_text

    try:
        text = decode_text(data, source=filename)
    except EncodingProblem as exc:
        raise ValidationFailed(exc.message, field="category_map") from None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(
                msg("json_invalid_at", "Not valid JSON: %(detail)s.", detail=exc.msg),
                field="category_map",
            ) from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
            raise ValidationFailed(
                msg("category_map_strings", "The category map maps text to text."),
                field="category_map",
            )
        return {k.strip(): v.strip() for k, v in doc.items() if k.strip() and v.strip()}
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cut = max(line.rfind(","), line.rfind("\t"), line.rfind("="))
        path, code = line[:cut].strip().strip('"'), line[cut + 1 :].strip().strip('"')
        if cut <= 0 or not path or not code:
            raise ValidationFailed(
                msg(
                    "category_map_line",
                    'Line %(line)s of the category map is not "category path,knowledge point".',
                    line=n,
                ),
                field="category_map",
            )
        if n == 1 and code.casefold() in ("knowledge_point", "knowledge point", "鉴定点代码"):
            continue
        out[path] = code
    return out


@dataclass
class ImportReport:
    format: str
    occupation: str
    level: int
    created: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    knowledge_points: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    styling: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)
    unmapped_categories: list[dict[str, Any]] = field(default_factory=list)
    assets: int = 0
    file: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The report; messages are :class:`Msg` (render with ``localize`` at the edge)."""
        return {
            "file": self.file,
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
            "skipped": self.skipped,
            "styling_removed": self.styling,
            "styling_removed_total": sum(s["count"] for s in self.styling),
            "notes": self.notes,
            "renamed": self.renamed,
            "unmapped_categories": self.unmapped_categories,
            "images": self.assets,
        }


def _file_problem(filename: str, message: Msg, field_name: str | None = None) -> Problem:
    return Problem(filename, message, field_name)


def import_options(
    knowledge_point: str | None = None,
    *,
    skip_unsupported: bool = False,
    keep_styling: bool = False,
    encoding: str | None = None,
    category_map: dict[str, str] | None = None,
    max_items: int | None = None,
) -> ImportOptions:
    """Checked :class:`ImportOptions` from what a user chose."""
    if encoding and encoding_name(encoding) is None:
        raise ValidationFailed(
            msg(
                "encoding_unknown",
                "Unknown encoding %(name)s; use utf-8, gbk or windows-1252.",
                name=encoding,
            ),
            field="encoding",
        )
    return ImportOptions(
        knowledge_point=knowledge_point or None,
        skip_unsupported=skip_unsupported,
        keep_styling=keep_styling,
        encoding=encoding or None,
        category_map=category_map,
        max_items=max_items or DEFAULT_MAX_ITEMS,
    )


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
    options: ImportOptions | None = None,
    parsed: ParsedFile | None = None,
    pause: Any = None,
) -> ImportReport:
    """Import a file into the bank, all or nothing. See the module docstring.

    ``parsed`` is the file already parsed (by :func:`parse_file` in a worker, so a live server's
    event loop is not held by the parsing); ``fmt`` must then be given. ``pause()``, when given,
    is called between chunks of items written, so a server can serve others meanwhile."""
    options = options or ImportOptions(knowledge_point=knowledge_point)
    fmt = fmt or detect_format(filename, data)
    if parsed is None:
        parsed = parse_file(data, filename, fmt, options)
    problems = list(parsed.problems)

    occ_code = occupation or (parsed.occupation or {}).get("code")
    lvl = level if level is not None else parsed.level
    if not occ_code:
        problems.append(
            _file_problem(
                filename,
                msg("import_no_occupation", "No occupation: choose one (--occupation)."),
                "occupation",
            )
        )
    if lvl is None:
        problems.append(
            _file_problem(
                filename, msg("import_no_level", "No level: choose one (--level)."), "level"
            )
        )
    else:
        try:
            check_level(lvl)
        except ValidationFailed as exc:
            problems.append(_file_problem(filename, exc.msg, "level"))
    occ = None
    if occ_code:
        occ = session.scalar(select(Occupation).where(Occupation.code == occ_code))
        if occ is None and not (parsed.occupation and parsed.occupation.get("name")):
            problems.append(
                _file_problem(
                    filename,
                    msg(
                        "import_occupation_missing",
                        "Occupation %(code)s does not exist.",
                        code=occ_code,
                    ),
                    "occupation",
                )
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
                    msg(
                        "item_code_twice",
                        "Item code %(code)s is used twice (first at %(first)s).",
                        code=draft.code,
                        first=seen[draft.code],
                    ),
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
                    msg(
                        "import_kp_not_leaf",
                        "Knowledge point %(code)s is a module or unit; items attach to a leaf "
                        "point.",
                        code=kp,
                    ),
                    "knowledge_point",
                )
            )
        elif kp not in leaves and (occ is not None or parsed.knowledge_points is not None):
            problems.append(
                Problem(
                    place,
                    msg("import_kp_unknown", "Unknown knowledge point code %(code)s.", code=kp),
                    "knowledge_point",
                )
            )

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
            and draft.code not in parsed.generated
            and occ is not None
            and (item.occupation_id != occ.id or item.level != lvl)
        ):
            problems.append(
                Problem(
                    place,
                    msg(
                        "import_code_elsewhere",
                        "Item code %(code)s already belongs to another occupation or level.",
                        code=draft.code,
                    ),
                    "code",
                )
            )
    if (
        not parsed.drafts
        and not problems
        and parsed.knowledge_points is None
        and not parsed.skipped
    ):
        problems.append(_file_problem(filename, msg("import_no_items", "The file holds no items.")))
    if problems:
        raise ImportRejected(
            [p.to_dict() for p in problems], source=filename, hint=_hint(problems, parsed)
        )

    assert occ_code is not None and lvl is not None
    if occ is None:
        info = parsed.occupation or {}
        occ = ensure_occupation(
            session, actor, occ_code, info.get("name", ""), info.get("name_en", "")
        )
    report = ImportReport(format=fmt, occupation=occ.code, level=lvl, file=filename)
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
    latest = _latest_contents(
        session, [i for c, i in existing.items() if c not in parsed.generated]
    )
    same_content = _items_with_hashes(
        session,
        occ.id,
        lvl,
        [d.content.content_hash() for d in parsed.drafts if d.code in parsed.generated],
    )
    taken = set(existing) | {d.code for d in parsed.drafts}
    changes: list[dict[str, Any]] = []
    touched: set[str] = set()
    for n, (draft, place) in enumerate(zip(parsed.drafts, parsed.places, strict=True), start=1):
        if pause is not None and n % 100 == 0:
            session.flush()  # write in chunks, letting others in between
            pause()
        code = draft.code
        content = draft.content
        if code in parsed.generated:
            # The file did not name the item: never revise one, but know one already here.
            known = same_content.get(content.content_hash())
            if known is not None:
                report.unchanged.append(known)
                continue
            item = None
            if code in existing:
                new_code = _free_code(session, code, taken)
                report.renamed.append({"place": place, "code": new_code, "taken": code})
                code = new_code
        else:
            item = existing.get(code)
        if item is not None:
            old = latest.get(item.id)
            if old is not None:
                content = _carry_over(content, old[1], fmt)
            if old is not None and old[0] == content.content_hash():
                report.unchanged.append(code)
                continue
            _add_version(session, actor, item, {"content": content}, points, False, filename)
            report.revised.append(code)
            changes.append({"code": code, "version": item.latest_version})
        else:
            item = Item(code=code, occupation_id=occ.id, level=lvl, created_by_id=actor.id)
            session.add(item)
            contents = histories.get(code) or [{"content": content}]
            for ver in contents:
                _add_version(session, actor, item, ver, points, keep_status, filename)
            report.created.append(code)
            changes.append({"code": code, "versions": len(contents), "new": True})
        touched.add(place)
    report.skipped = [s.to_dict() for s in parsed.skipped]
    report.styling = [
        {"place": place, "count": n} for place, n in parsed.styling.items() if place in touched
    ]
    report.notes = [n.to_dict() for n in parsed.notes if n.place in touched]
    report.unmapped_categories = [
        {"category": c, "questions": n} for c, n in sorted(parsed.unmapped_categories.items())
    ]
    report.assets = _save_assets(session, actor, parsed)
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
            "skipped": len(report.skipped),
            "images": report.assets,
            "changes": changes,
        },
    )
    return report


def _hint(problems: list[Problem], parsed: ParsedFile) -> Msg | None:
    """Which option would let a refused file in, when one would."""
    if "encoding" in parsed.hints:
        return msg(
            "import_hint_encoding",
            "Choose the file's encoding (--encoding, or the Encoding field) and import again.",
        )
    unsupported = [p for p in problems if p.unsupported]
    if unsupported and len(unsupported) == len(problems):
        return msg(
            "import_hint_skip",
            "%(n)s question(s) are of a kind the bank does not hold. Import with "
            '--skip-unsupported (or tick "Skip unsupported questions") to import the other '
            "%(others)s and list the skipped ones.",
            n=len(unsupported),
            others=len(parsed.drafts),
        )
    if unsupported:
        return msg(
            "import_hint_skip_partial",
            "%(n)s question(s) are of a kind the bank does not hold; --skip-unsupported would skip "
            "them, but the other problems must be fixed first.",
            n=len(unsupported),
        )
    return None


def _carry_over(content: ItemContent, old: dict[str, Any], fmt: str) -> ItemContent:
    """``content`` with what ``fmt`` cannot carry taken from the bank's newest version."""
    doc = content.canonical()
    changed = False
    if fmt not in CARRIES_TITLE and not doc.get("title") and old.get("title"):
        doc["title"] = old["title"]
        changed = True
    carried = CARRIED_TRANSLATIONS.get(fmt, set())
    if carried is not None:
        for lang, tr in (old.get("translations") or {}).items():
            if lang not in carried and lang not in doc["translations"]:
                doc["translations"][lang] = tr
                changed = True
    if not changed:
        return content
    try:
        return ItemContent.model_validate(doc)
    except ValueError:  # an old translation that no longer fits (options changed): not kept
        return content


def _free_code(session: Session, code: str, taken: set[str]) -> str:
    n = 2
    while True:
        candidate = f"{code}-{n}"
        if candidate not in taken and not session.scalar(
            select(Item.id).where(Item.code == candidate)
        ):
            taken.add(candidate)
            return candidate
        n += 1


def _items_with_hashes(
    session: Session, occupation_id: int, level: int, hashes: list[str]
) -> dict[str, str]:
    """Newest-version content hash -> item code, for items of one occupation and level."""
    out: dict[str, str] = {}
    for start in range(0, len(hashes), CHUNK):
        rows = session.execute(
            select(ItemVersion.content_hash, Item.code)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(
                Item.occupation_id == occupation_id,
                Item.level == level,
                ItemVersion.is_latest.is_(True),
                ItemVersion.content_hash.in_(hashes[start : start + CHUNK]),
            )
        )
        for h, code in rows:
            out.setdefault(h, code)
    return out


def _save_assets(session: Session, actor: Actor, parsed: ParsedFile) -> int:
    """Store the images the imported items show (content-addressed, so once each)."""
    if not parsed.assets:
        return 0
    used = set()
    for draft in parsed.drafts:
        blob = json.dumps(draft.content.canonical(), ensure_ascii=False)
        used.update(sha for sha in parsed.assets if f"/assets/{sha}" in blob)
    have = set(session.scalars(select(Asset.sha256).where(Asset.sha256.in_(list(used)))))
    for sha in sorted(used - have):
        media, data = parsed.assets[sha]
        session.add(
            Asset(sha256=sha, media_type=media, data=data, size=len(data), uploaded_by_id=actor.id)
        )
    return len(used)


def _tree_codes(nodes) -> tuple[set[str], set[str]]:
    leaves: set[str] = set()
    inner: set[str] = set()
    stack = list(nodes)
    while stack:
        n = stack.pop()
        (inner if n.children else leaves).add(n.code)
        stack.extend(n.children)
    return leaves, inner


def _latest_contents(session: Session, items: list[Item]) -> dict[int, tuple[str, dict]]:
    """Item id -> (content hash, content) of its newest version."""
    out: dict[int, tuple[str, dict]] = {}
    ids = [i.id for i in items]
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(ItemVersion.item_id, ItemVersion.content_hash, ItemVersion.content).where(
                ItemVersion.item_id.in_(ids[start : start + CHUNK]),
                ItemVersion.is_latest.is_(True),
            )
        )
        for item_id, h, content in rows:
            out[item_id] = (h, content)
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
    notes: list[Note] | None = None,
) -> tuple[bytes, str, str]:
    """Export in ``fmt``; returns (bytes, media type, suggested file name).

    Images travel with the Moodle XML and QTI exports. What a format cannot express is listed
    in ``notes`` per item (GIFT: several blanks, images)."""
    if fmt not in FORMATS:
        raise unknown_format(fmt)
    check_level(level)
    media, ext = EXPORT_MEDIA[fmt]
    stem = f"{occupation.code}-L{level}" + (f"-{release.name}" if release else "")
    if fmt == "json":
        return export_native(session, occupation, level), media, f"{stem}.{ext}"
    drafts = export_drafts(session, occupation, level, status=status, release=release)
    module = importlib.import_module(f"question_bank.formats.{fmt.replace('-', '_')}")
    kwargs: dict[str, Any] = {}
    if fmt in ("gift", "moodle-xml", "qti"):
        kwargs["notes"] = notes if notes is not None else []
    if fmt in ("moodle-xml", "qti"):
        kwargs["assets"] = lambda sha: _asset(session, sha)
    return module.dump(drafts, **kwargs), media, f"{stem}.{ext}"


_ASSET_REF = re.compile(r"/assets/([0-9a-f]{64})")


def assets_of(session: Session, drafts: list[ItemDraft]) -> dict[str, tuple[str, bytes]]:
    """The images ``drafts`` show: sha256 -> (media type, bytes)."""
    shas: set[str] = set()
    for draft in drafts:
        shas.update(_ASSET_REF.findall(json.dumps(draft.content.canonical())))
    rows = session.execute(
        select(Asset.sha256, Asset.media_type, Asset.data).where(Asset.sha256.in_(sorted(shas)))
    )
    return {sha: (media, data) for sha, media, data in rows}


def _asset(session: Session, sha: str) -> tuple[str, bytes] | None:
    asset = session.get(Asset, sha)
    return (asset.media_type, asset.data) if asset is not None else None

"""Items and their immutable versions: create, revise, read, compare and search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from .audit import Actor, record
from .errors import Conflict, NotFound, ValidationFailed
from .knowledge import all_points, check_level, leaf_points
from .models import Item, ItemVersion, KnowledgePoint, Occupation, VersionStatus
from .sanitize import plain_text
from .schema import ItemContent, ItemDraft, ItemType


def _tags_column(tags: list[str]) -> str:
    return "," + ",".join(tags) + "," if tags else ""


def new_version_row(
    item: Item, content: ItemContent, kp: KnowledgePoint, author_id: int | None, note: str = ""
) -> ItemVersion:
    """Build (not add) the next version of ``item`` holding ``content``; the version before it
    stops being the latest."""
    if item.latest_version:
        for older in item.versions:
            older.is_latest = False
    item.latest_version = (item.latest_version or 0) + 1
    doc = content.canonical()
    return ItemVersion(
        item=item,
        number=item.latest_version,
        status=VersionStatus.DRAFT,
        is_latest=True,
        type=content.type.value,
        knowledge_point_id=kp.id,
        difficulty=content.difficulty,
        points=content.points,
        stem_text=plain_text(content.stem)[:4000],
        tags=_tags_column(content.tags),
        content=doc,
        content_hash=content.content_hash(),
        author_id=author_id,
        change_note=note[:500],
    )


def resolve_point(session: Session, item_or_occ: Item | Occupation, level: int, code: str):
    occ_id = item_or_occ.occupation_id if isinstance(item_or_occ, Item) else item_or_occ.id
    leaves = leaf_points(session, occ_id, level)
    if code in leaves:
        return leaves[code]
    if code in all_points(session, occ_id, level):
        raise ValidationFailed(
            f"knowledge point {code} is a module or unit; items attach to a leaf point",
            field="knowledge_point",
        )
    raise ValidationFailed(
        f"knowledge point {code} does not exist in this occupation's level-{level} table",
        field="knowledge_point",
    )


def create_item(
    session: Session,
    actor: Actor,
    occupation: Occupation,
    level: int,
    draft: ItemDraft,
    *,
    note: str = "",
) -> ItemVersion:
    """Create an item with its first (draft) version."""
    check_level(level)
    if session.scalar(select(Item.id).where(Item.code == draft.code)) is not None:
        raise Conflict(f"an item with code {draft.code} already exists", field="code")
    kp = resolve_point(session, occupation, level, draft.content.knowledge_point)
    item = Item(code=draft.code, occupation_id=occupation.id, level=level, created_by_id=actor.id)
    session.add(item)
    version = new_version_row(item, draft.content, kp, actor.id, note)
    session.add(version)
    session.flush()
    record(
        session,
        actor,
        "item.created",
        "item",
        item.code,
        reason=note,
        data={"version": 1, "content_hash": version.content_hash},
    )
    return version


def revise_item(
    session: Session, actor: Actor, item: Item, content: ItemContent, *, note: str = ""
) -> ItemVersion:
    """Add a new draft version. Identical content to the newest version is refused."""
    latest = latest_version(session, item)
    if latest.content_hash == content.content_hash():
        raise Conflict("the new content is identical to the newest version", field="content")
    kp = resolve_point(session, item, item.level, content.knowledge_point)
    version = new_version_row(item, content, kp, actor.id, note)
    session.add(version)
    session.flush()
    record(
        session,
        actor,
        "item.revised",
        "item",
        item.code,
        reason=note,
        data={"version": version.number, "content_hash": version.content_hash},
    )
    return version


def get_item(session: Session, code: str) -> Item:
    item = session.scalar(select(Item).where(Item.code == code))
    if item is None:
        raise NotFound(f"no item with code {code!r}", field="code")
    return item


def get_version(session: Session, item: Item, number: int) -> ItemVersion:
    v = session.scalar(
        select(ItemVersion).where(ItemVersion.item_id == item.id, ItemVersion.number == number)
    )
    if v is None:
        raise NotFound(f"item {item.code} has no version {number}", field="version")
    return v


def latest_version(session: Session, item: Item) -> ItemVersion:
    return get_version(session, item, item.latest_version)


def version_to_dict(v: ItemVersion, *, with_reviews: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "item": v.item.code,
        "version": v.number,
        "status": v.status,
        "type": v.type,
        "knowledge_point": v.content["knowledge_point"],
        "difficulty": v.difficulty,
        "points": str(v.content["points"]),
        "content": v.content,
        "content_hash": v.content_hash,
        "author_id": v.author_id,
        "created_at": v.created_at.isoformat(),
        "change_note": v.change_note,
        "latest": v.number == v.item.latest_version,
    }
    if with_reviews:
        d["reviews"] = [
            {
                "from": r.from_status,
                "to": r.to_status,
                "actor_id": r.actor_id,
                "at": r.at.isoformat(),
                "comment": r.comment,
            }
            for r in v.reviews
        ]
    return d


def _flatten_content(doc: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "options":
            for opt in value:
                flat[f"options.{opt['label']}"] = opt["text"]
        elif key == "blanks":
            for i, blank in enumerate(value, 1):
                flat[f"blanks.{i}.accepted"] = blank["accepted"]
                flat[f"blanks.{i}.normalize"] = blank["normalize"]
        elif key == "translations":
            for lang, tr in value.items():
                for tk, tv in tr.items():
                    if tk == "options":
                        for label, text in tv.items():
                            flat[f"translations.{lang}.options.{label}"] = text
                    else:
                        flat[f"translations.{lang}.{tk}"] = tv
        else:
            flat[key] = value
    return flat


def diff_versions(a: ItemVersion, b: ItemVersion) -> list[dict[str, Any]]:
    """Field-by-field changes from version ``a`` to version ``b`` (options by label)."""
    fa, fb = _flatten_content(a.content), _flatten_content(b.content)
    changes = []
    for key in sorted(set(fa) | set(fb), key=lambda k: (k.split(".")[0], k)):
        before, after = fa.get(key), fb.get(key)
        if before != after:
            kind = "added" if key not in fa else "removed" if key not in fb else "changed"
            changes.append({"field": key, "change": kind, "before": before, "after": after})
    return changes


def subtree_ids(session: Session, code: str) -> list[int]:
    """Ids of the knowledge points with ``code`` and of every point below them."""
    rows = session.execute(select(KnowledgePoint.id, KnowledgePoint.parent_id, KnowledgePoint.code))
    children: dict[int | None, list[int]] = {}
    found: list[int] = []
    for kp_id, parent_id, kp_code in rows:
        children.setdefault(parent_id, []).append(kp_id)
        if kp_code == code:
            found.append(kp_id)
    out, stack = [], list(found)
    while stack:
        kp_id = stack.pop()
        out.append(kp_id)
        stack.extend(children.get(kp_id, []))
    return out


@dataclass
class ItemFilter:
    occupation: str | None = None
    level: int | None = None
    text: str | None = None
    type: str | None = None
    knowledge_point: str | None = None
    status: str | None = None
    tag: str | None = None
    difficulty_min: float | None = None
    difficulty_max: float | None = None
    page: int = 1
    per_page: int = 50


def search_items(session: Session, f: ItemFilter) -> tuple[list[ItemVersion], int]:
    """The newest version of each item that matches, newest items first, one page at a time."""
    if f.type is not None and f.type not in {t.value for t in ItemType}:
        raise ValidationFailed(f"unknown item type {f.type!r}", field="type")
    if f.status is not None and f.status not in VersionStatus.ALL:
        raise ValidationFailed(f"unknown status {f.status!r}", field="status")
    conds = [ItemVersion.is_latest.is_(True)]
    if f.occupation:
        occ_id = session.scalar(select(Occupation.id).where(Occupation.code == f.occupation))
        conds.append(Item.occupation_id == (occ_id or -1))
    if f.level is not None:
        conds.append(Item.level == check_level(f.level))
    if f.type:
        conds.append(ItemVersion.type == f.type)
    if f.status:
        conds.append(ItemVersion.status == f.status)
    if f.tag:
        conds.append(ItemVersion.tags.contains("," + f.tag.strip() + ",", autoescape=True))
    if f.difficulty_min is not None:
        conds.append(ItemVersion.difficulty >= f.difficulty_min)
    if f.difficulty_max is not None:
        conds.append(ItemVersion.difficulty <= f.difficulty_max)
    if f.text:
        needle = f.text.strip()
        conds.append(
            or_(
                ItemVersion.stem_text.contains(needle, autoescape=True),
                Item.code.contains(needle, autoescape=True),
            )
        )
    if f.knowledge_point:
        # A module or unit selects every point below it.
        conds.append(ItemVersion.knowledge_point_id.in_(subtree_ids(session, f.knowledge_point)))
    base = select(ItemVersion).join(Item, and_(Item.id == ItemVersion.item_id, *conds))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(
        base.options(joinedload(ItemVersion.item))
        .order_by(ItemVersion.item_id.desc())
        .limit(f.per_page)
        .offset((f.page - 1) * f.per_page)
    ).all()
    return list(rows), total

"""Bank releases: immutable, named snapshots of the approved versions of one occupation and level.

A release's ``content_hash`` is the SHA-256 over its sorted ``code:version:content_hash`` lines,
so two releases with the same hash hold exactly the same item content. A session pins a release;
later edits to the bank never reach it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .audit import Actor, record
from .errors import Conflict, NotFound, ValidationFailed
from .knowledge import check_level, load_tree
from .models import BankRelease, Item, ItemVersion, Occupation, ReleaseItem, VersionStatus


def _members(session: Session, release_id: int) -> dict[str, tuple[int, int, str]]:
    """code -> (version id, version number, content hash) of a release."""
    rows = session.execute(
        select(Item.code, ItemVersion.id, ItemVersion.number, ItemVersion.content_hash)
        .join(ReleaseItem, ReleaseItem.item_version_id == ItemVersion.id)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(ReleaseItem.release_id == release_id)
    )
    return {code: (vid, num, h) for code, vid, num, h in rows}


def release_hash(members: dict[str, tuple[int, int, str]]) -> str:
    lines = sorted(f"{code}:{num}:{h}" for code, (_vid, num, h) in members.items())
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def latest_release(session: Session, occupation: Occupation, level: int) -> BankRelease | None:
    return session.scalar(
        select(BankRelease)
        .where(BankRelease.occupation_id == occupation.id, BankRelease.level == level)
        .order_by(BankRelease.id.desc())
        .limit(1)
    )


def create_release(
    session: Session,
    actor: Actor,
    occupation: Occupation,
    level: int,
    name: str,
    *,
    note: str = "",
) -> BankRelease:
    """Snapshot every approved version of ``occupation``/``level`` as release ``name``."""
    check_level(level)
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("a release needs a name of 1 to 100 characters", field="name")
    clash = session.scalar(
        select(BankRelease.id).where(
            BankRelease.occupation_id == occupation.id,
            BankRelease.level == level,
            BankRelease.name == name,
        )
    )
    if clash is not None:
        raise Conflict(
            f"release {name!r} already exists for {occupation.code} level {level}", field="name"
        )
    rows = session.execute(
        select(Item.code, Item.id, ItemVersion.id, ItemVersion.number, ItemVersion.content_hash)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(
            Item.occupation_id == occupation.id,
            Item.level == level,
            ItemVersion.status == VersionStatus.APPROVED,
        )
    ).all()
    if not rows:
        raise Conflict(
            f"{occupation.code} level {level} has no approved item versions to release",
            field="name",
        )
    members = {code: (vid, num, h) for code, _iid, vid, num, h in rows}
    previous = latest_release(session, occupation, level)
    release = BankRelease(
        occupation_id=occupation.id,
        level=level,
        name=name,
        note=note,
        content_hash=release_hash(members),
        item_count=len(members),
        previous_id=previous.id if previous else None,
        knowledge_points=load_tree(session, occupation, level),
        created_by_id=actor.id,
    )
    session.add(release)
    session.flush()
    session.execute(
        insert(ReleaseItem),
        [
            {"release_id": release.id, "item_version_id": vid, "item_id": iid}
            for _code, iid, vid, _num, _h in rows
        ],
    )
    diff = diff_members(_members(session, previous.id) if previous else {}, members)
    record(
        session,
        actor,
        "release.created",
        "release",
        release.id,
        reason=note,
        data={
            "name": name,
            "occupation": occupation.code,
            "level": level,
            "items": len(members),
            "content_hash": release.content_hash,
            "previous": previous.name if previous else None,
            "added": len(diff["added"]),
            "changed": len(diff["changed"]),
            "removed": len(diff["removed"]),
        },
    )
    return release


def diff_members(
    old: dict[str, tuple[int, int, str]], new: dict[str, tuple[int, int, str]]
) -> dict[str, list[Any]]:
    added = sorted(c for c in new if c not in old)
    removed = sorted(c for c in old if c not in new)
    changed = [
        {"item": c, "from_version": old[c][1], "to_version": new[c][1]}
        for c in sorted(set(old) & set(new))
        if old[c][2] != new[c][2]
    ]
    return {"added": added, "changed": changed, "removed": removed}


def get_release(session: Session, release_id: int) -> BankRelease:
    rel = session.get(BankRelease, release_id)
    if rel is None:
        raise NotFound(f"no release {release_id}", field="release")
    return rel


def release_diff(
    session: Session, release: BankRelease, against: BankRelease | None = None
) -> dict[str, Any]:
    """Added, changed and removed (retired) items of ``release`` relative to ``against``
    (default: the release before it)."""
    if against is None and release.previous_id is not None:
        against = session.get(BankRelease, release.previous_id)
    if against is not None and (
        against.occupation_id != release.occupation_id or against.level != release.level
    ):
        raise ValidationFailed(
            "releases of different occupations or levels cannot be compared", field="against"
        )
    old = _members(session, against.id) if against else {}
    diff = diff_members(old, _members(session, release.id))
    return {"release": release.name, "against": against.name if against else None, **diff}


def release_versions(session: Session, release: BankRelease) -> list[ItemVersion]:
    return list(
        session.scalars(
            select(ItemVersion)
            .join(ReleaseItem, ReleaseItem.item_version_id == ItemVersion.id)
            .where(ReleaseItem.release_id == release.id)
            .order_by(ItemVersion.item_id)
        )
    )


def release_to_dict(release: BankRelease) -> dict[str, Any]:
    return {
        "id": release.id,
        "name": release.name,
        "occupation": release.occupation.code,
        "level": release.level,
        "note": release.note,
        "content_hash": release.content_hash,
        "item_count": release.item_count,
        "previous_id": release.previous_id,
        "created_by_id": release.created_by_id,
        "created_at": release.created_at.isoformat(),
    }

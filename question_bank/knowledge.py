"""Occupations and their knowledge tables (鉴定要素细目表) per level."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .audit import Actor, record
from .errors import Conflict, NotFound, ValidationFailed
from .models import ItemVersion, KnowledgePoint, Occupation
from .schema import LEVELS, KnowledgePointNode, weight_problems


def check_level(level: int) -> int:
    if level not in LEVELS:
        raise ValidationFailed(f"level must be 1 to 5, got {level}", field="level")
    return level


def get_occupation(session: Session, code: str) -> Occupation:
    occ = session.scalar(select(Occupation).where(Occupation.code == code))
    if occ is None:
        raise NotFound(f"no occupation with code {code!r}", field="occupation")
    return occ


def ensure_occupation(
    session: Session, actor: Actor, code: str, name: str = "", name_en: str = ""
) -> Occupation:
    """Return the occupation with ``code``, creating it (audited) if it does not exist."""
    occ = session.scalar(select(Occupation).where(Occupation.code == code))
    if occ is not None:
        return occ
    if not name:
        raise ValidationFailed(
            f"occupation {code!r} does not exist yet; give its name to create it", field="name"
        )
    occ = Occupation(code=code, name=name, name_en=name_en)
    session.add(occ)
    session.flush()
    record(
        session,
        actor,
        "occupation.created",
        "occupation",
        occ.code,
        data={"name": name, "name_en": name_en},
    )
    return occ


def _flatten(nodes: list[KnowledgePointNode], parent: str | None = None):
    for pos, node in enumerate(nodes):
        yield node, parent, pos
        yield from _flatten(node.children, node.code)


def tree_problems(nodes: list[KnowledgePointNode]) -> list[str]:
    problems = weight_problems(nodes)
    seen: set[str] = set()
    for node, _parent, _pos in _flatten(nodes):
        if node.code in seen:
            problems.append(f"knowledge point code {node.code} appears twice")
        seen.add(node.code)
    return problems


def save_tree(
    session: Session,
    actor: Actor,
    occupation: Occupation,
    level: int,
    nodes: list[KnowledgePointNode],
    *,
    reason: str = "",
) -> list[KnowledgePoint]:
    """Replace the knowledge table of ``occupation``/``level`` with ``nodes``.

    Points keep their identity by code, so items stay attached. Weights under every parent must
    add up to 100; removing a point that items use is refused.
    """
    check_level(level)
    problems = tree_problems(nodes)
    if problems:
        raise ValidationFailed(
            "knowledge table refused: " + "; ".join(problems),
            field="knowledge_points",
            details=problems,
        )
    existing = {
        kp.code: kp
        for kp in session.scalars(
            select(KnowledgePoint).where(
                KnowledgePoint.occupation_id == occupation.id, KnowledgePoint.level == level
            )
        )
    }
    wanted = {node.code for node, _, _ in _flatten(nodes)}
    removed = [kp for code, kp in existing.items() if code not in wanted]
    if removed:
        used = session.execute(
            select(KnowledgePoint.code, func.count(ItemVersion.id))
            .join(ItemVersion, ItemVersion.knowledge_point_id == KnowledgePoint.id)
            .where(KnowledgePoint.id.in_([kp.id for kp in removed]))
            .group_by(KnowledgePoint.code)
        ).all()
        if used:
            names = ", ".join(f"{code} ({n} item versions)" for code, n in used)
            raise Conflict(
                f"cannot remove knowledge points that items use: {names}", field="knowledge_points"
            )
    by_code: dict[str, KnowledgePoint] = {}
    for node, _parent, pos in _flatten(nodes):
        kp = existing.get(node.code)
        if kp is None:
            kp = KnowledgePoint(occupation_id=occupation.id, level=level, code=node.code)
            session.add(kp)
        kp.name, kp.name_en = node.name, node.name_en
        kp.weight, kp.importance, kp.position = node.weight, node.importance.value, pos
        kp.parent_id = None
        by_code[node.code] = kp
    session.flush()
    for node, parent_code, _pos in _flatten(nodes):
        if parent_code is not None:
            by_code[node.code].parent_id = by_code[parent_code].id
    # Children first, so no row is deleted while another still points at it as its parent.
    for kp in removed:
        kp.parent_id = None
    session.flush()
    for kp in removed:
        session.delete(kp)
    session.flush()
    record(
        session,
        actor,
        "knowledge.tree_saved",
        "occupation",
        occupation.code,
        reason=reason,
        data={"level": level, "points": len(by_code), "removed": sorted(kp.code for kp in removed)},
    )
    return list(by_code.values())


def load_tree(session: Session, occupation: Occupation, level: int) -> list[dict[str, Any]]:
    """The knowledge table as nested dicts (the shape of :class:`KnowledgePointNode`)."""
    rows = session.scalars(
        select(KnowledgePoint)
        .where(KnowledgePoint.occupation_id == occupation.id, KnowledgePoint.level == level)
        .order_by(KnowledgePoint.position, KnowledgePoint.id)
    ).all()
    children: dict[int | None, list[KnowledgePoint]] = {}
    for kp in rows:
        children.setdefault(kp.parent_id, []).append(kp)

    def build(parent: int | None) -> list[dict[str, Any]]:
        return [
            {
                "code": kp.code,
                "name": kp.name,
                "name_en": kp.name_en,
                "weight": _num(kp.weight),
                "importance": kp.importance,
                "children": build(kp.id),
            }
            for kp in children.get(parent, [])
        ]

    return build(None)


def _num(value: Decimal) -> int | float:
    """Weights as plain JSON numbers: 25 rather than "25.00"."""
    return int(value) if value == value.to_integral_value() else float(value)


def leaf_points(session: Session, occupation_id: int, level: int) -> dict[str, KnowledgePoint]:
    """Leaf knowledge points (鉴定点) of a table by code: the points items may attach to."""
    rows = session.scalars(
        select(KnowledgePoint).where(
            KnowledgePoint.occupation_id == occupation_id, KnowledgePoint.level == level
        )
    ).all()
    parents = {kp.parent_id for kp in rows}
    return {kp.code: kp for kp in rows if kp.id not in parents}


def all_points(session: Session, occupation_id: int, level: int) -> dict[str, KnowledgePoint]:
    return {
        kp.code: kp
        for kp in session.scalars(
            select(KnowledgePoint).where(
                KnowledgePoint.occupation_id == occupation_id, KnowledgePoint.level == level
            )
        )
    }

"""Blueprints (组卷方案): what a paper of one occupation and level must contain.

A :class:`~question_bank.models.Blueprint` is the stable identity (code, occupation, level,
name); every change makes a new immutable :class:`~question_bank.models.BlueprintVersion`
holding a :class:`BlueprintSpec`. A session pins the version it used, so later edits never
change a session's papers.

A spec is checked in two steps:

* :func:`parse_spec` — on its own: the shape (pydantic) and the rules that need no release
  (sections add up to the total points, hand-set quotas add up to the section count, times fit
  in the duration, enemy groups do not contain two pinned items …). A refused spec raises
  :class:`BlueprintInvalid` listing every broken rule as ``{rule, field, message}``.
* against a release — :func:`question_bank.assembly.plan.plan_blueprint` derives the quotas
  from the release's knowledge-table snapshot and reports shortages (``quotas.shortage`` …).

Rule names are stable identifiers (``sections.total_points``, ``quotas.sum`` …), listed in
``docs/assembly.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import Actor, record
from .errors import Conflict, DomainError, NotFound, ValidationFailed
from .knowledge import check_level
from .models import Blueprint, BlueprintVersion, Occupation
from .schema import ITEM_CODE, KP_CODE, ItemType, content_hash, error_list

TYPE_NAMES = {
    "true_false": "true/false",
    "single_choice": "single-choice",
    "multiple_choice": "multiple-choice",
    "fill_blank": "fill-in",
}
BLUEPRINT_CODE = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"

ItemCode = Annotated[str, Field(pattern=ITEM_CODE.pattern)]
PointCode = Annotated[str, Field(pattern=KP_CODE.pattern)]


def _normal(v: Decimal) -> Decimal:
    """One spelling per value ("2.5", never "2.50"), so equal specs hash equally."""
    v = v.normalize()
    return v.quantize(Decimal(1)) if v == v.to_integral_value() else v


class SectionSpec(BaseModel):
    """One section of the paper: items of one type, ``count`` of them, ``points`` each.

    Quotas per knowledge point: either ``quotas`` set by hand (code of any node of the
    knowledge table -> number of items; they must add up to ``count``) or, by default, derived
    from the knowledge-table weights of the release at ``quota_depth`` (1 = modules, 2 = units,
    none = the leaf points 鉴定点) by the largest-remainder rule.
    """

    model_config = ConfigDict(extra="forbid")

    type: str
    count: int = Field(ge=1, le=1000)
    points: Decimal = Field(gt=0, le=100, decimal_places=2)
    title: str = Field(default="", max_length=100)
    quotas: dict[PointCode, Annotated[int, Field(ge=0, le=1000)]] | None = None
    quota_depth: int | None = Field(default=None, ge=1, le=10)
    difficulty_min: float = Field(default=0.0, ge=0, le=1)
    difficulty_max: float = Field(default=1.0, ge=0, le=1)
    shuffle_questions: bool = True
    shuffle_options: bool = True

    @field_validator("points")
    @classmethod
    def _points(cls, v: Decimal) -> Decimal:
        return _normal(v)

    @property
    def band(self) -> tuple[float, float]:
        return self.difficulty_min, self.difficulty_max

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, self.type)


class DifficultySpec(BaseModel):
    """Target mean expected proportion correct (expected score / total points) and tolerance.

    ``target`` absent: the release's own mean for this blueprint (the expected score of an
    average paper), so every paper is as hard as the bank is on average.
    """

    model_config = ConfigDict(extra="forbid")

    target: float | None = Field(default=None, gt=0, lt=1)
    tolerance: float = Field(default=0.01, gt=0, le=0.5)


class InformationSpec(BaseModel):
    """Balancing the test information at the pass mark (needs IRT estimates in the bank).

    ``balance``: ``auto`` balances once any item of the release has IRT estimates, ``on``
    always (items without estimates use their difficulty with a default discrimination),
    ``off`` never. ``target`` is the information at the cut score every paper aims at
    (absent: that of an average paper of the release); ``tolerance`` the allowed relative
    deviation (0.05 = ±5 %).
    """

    model_config = ConfigDict(extra="forbid")

    balance: Literal["auto", "on", "off"] = "auto"
    target: float | None = Field(default=None, gt=0, le=10_000)
    tolerance: float = Field(default=0.05, gt=0, le=0.5)


class BlueprintSpec(BaseModel):
    """Everything a blueprint version says. Immutable once stored; its hash identifies it."""

    model_config = ConfigDict(extra="forbid")

    sections: list[SectionSpec] = Field(min_length=1, max_length=10)
    total_points: Decimal = Field(default=Decimal(100), gt=0, le=1000, decimal_places=2)
    pass_mark: Decimal = Field(default=Decimal(60), gt=0, le=1000, decimal_places=2)
    duration_minutes: int = Field(default=90, ge=1, le=600)
    late_entry_minutes: int = Field(default=15, ge=0, le=600)
    earliest_submit_minutes: int = Field(default=30, ge=0, le=600)
    difficulty: DifficultySpec = Field(default_factory=DifficultySpec)
    information: InformationSpec = Field(default_factory=InformationSpec)
    enemy_groups: list[Annotated[list[ItemCode], Field(max_length=100)]] = Field(
        default_factory=list, max_length=2000
    )
    pinned: list[ItemCode] = Field(default_factory=list, max_length=200)
    exposure_limit: float | None = Field(default=None, gt=0, le=100)
    keep_last: dict[ItemCode, list[Annotated[str, Field(pattern=r"^[A-H]$")]]] = Field(
        default_factory=dict
    )
    keep_last_auto: bool = True

    @field_validator("total_points", "pass_mark")
    @classmethod
    def _normal_points(cls, v: Decimal) -> Decimal:
        return _normal(v)

    def canonical(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        # Left out at its default, so specs written before it existed keep their hash.
        if out["information"] == InformationSpec().model_dump(mode="json"):
            del out["information"]
        return out

    def spec_hash(self) -> str:
        return content_hash(self.canonical())

    @property
    def section_points(self) -> Decimal:
        return sum((s.points * s.count for s in self.sections), Decimal(0))

    @property
    def paper_length(self) -> int:
        return sum(s.count for s in self.sections)


@dataclass(frozen=True)
class Problem:
    """One broken rule: a stable rule name, where (a field path), and what is wrong."""

    rule: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rule": self.rule, "message": self.message}
        if self.field is not None:
            d["field"] = self.field
        return d


def _summary(problems: list[Problem], what: str) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{what}: {first.message} [rule {first.rule}]{more}"


class BlueprintInvalid(DomainError):
    """A spec breaks rules of its own; ``details`` lists each ``{rule, field, message}``."""

    code = "blueprint_invalid"
    status = 422

    def __init__(self, problems: list[Problem]):
        super().__init__(
            _summary(problems, "blueprint refused"),
            field=problems[0].field,
            details=[p.to_dict() for p in problems],
        )
        self.problems = problems


class BlueprintInfeasible(DomainError):
    """The release (or the session) cannot meet the blueprint; nothing was assembled."""

    code = "blueprint_infeasible"
    status = 422

    def __init__(self, problems: list[Problem], *, what: str = "blueprint cannot be met"):
        super().__init__(_summary(problems, what), details=[p.to_dict() for p in problems])
        self.problems = problems


def spec_problems(spec: BlueprintSpec) -> list[Problem]:
    """The rules a spec must keep on its own, before any release is looked at."""
    out: list[Problem] = []
    known = [t.value for t in ItemType]
    seen_types: dict[str, int] = {}
    for i, s in enumerate(spec.sections):
        where = f"sections.{i}"
        if s.type not in known:
            out.append(
                Problem(
                    "sections.unknown_type",
                    f"section {i + 1} has unknown item type {s.type!r}; one of {', '.join(known)}",
                    f"{where}.type",
                )
            )
        elif s.type in seen_types:
            out.append(
                Problem(
                    "sections.duplicate_type",
                    f"section {i + 1} repeats type {s.type} of section {seen_types[s.type] + 1}; "
                    f"one section per item type",
                    f"{where}.type",
                )
            )
        else:
            seen_types[s.type] = i
        if s.quotas is not None:
            total = sum(s.quotas.values())
            if total != s.count:
                out.append(
                    Problem(
                        "quotas.sum",
                        f"section {i + 1} ({s.type_name}) has {s.count} items but its quotas add "
                        f"up to {total} ({', '.join(f'{k}={v}' for k, v in s.quotas.items())})",
                        f"{where}.quotas",
                    )
                )
            if s.quota_depth is not None:
                out.append(
                    Problem(
                        "quotas.mode",
                        f"section {i + 1} sets both quotas and quota_depth; give one of them",
                        f"{where}.quota_depth",
                    )
                )
        if s.difficulty_min > s.difficulty_max:
            out.append(
                Problem(
                    "sections.difficulty_band",
                    f"section {i + 1} difficulty_min {s.difficulty_min} is above "
                    f"difficulty_max {s.difficulty_max}",
                    f"{where}.difficulty_min",
                )
            )
    total = spec.section_points
    if total != spec.total_points:
        parts = " + ".join(f"{s.count} × {s.points}" for s in spec.sections)
        out.append(
            Problem(
                "sections.total_points",
                f"sections add up to {_normal(total)} points ({parts}), "
                f"not the total of {spec.total_points}",
                "sections",
            )
        )
    if spec.pass_mark > spec.total_points:
        out.append(
            Problem(
                "pass_mark.range",
                f"pass mark {spec.pass_mark} is above the total of {spec.total_points} points",
                "pass_mark",
            )
        )
    for name in ("late_entry_minutes", "earliest_submit_minutes"):
        value = getattr(spec, name)
        if value >= spec.duration_minutes:
            out.append(
                Problem(
                    f"times.{name.removesuffix('_minutes')}",
                    f"{name} ({value}) must be shorter than the duration "
                    f"({spec.duration_minutes} minutes)",
                    name,
                )
            )
    pinned = set()
    for code in spec.pinned:
        if code in pinned:
            out.append(Problem("pinned.duplicate", f"item {code} is pinned twice", "pinned"))
        pinned.add(code)
    for g, group in enumerate(spec.enemy_groups):
        where = f"enemy_groups.{g}"
        if len(set(group)) != len(group):
            out.append(
                Problem("enemies.duplicate", f"enemy group {g + 1} lists an item twice", where)
            )
        if len(set(group)) < 2:
            out.append(
                Problem(
                    "enemies.group_size",
                    f"enemy group {g + 1} needs at least two different items",
                    where,
                )
            )
        both = sorted(set(group) & pinned)
        if len(both) > 1:
            out.append(
                Problem(
                    "enemies.pinned_together",
                    f"enemy group {g + 1} contains pinned items {', '.join(both)}: they must be "
                    f"on every paper and may never share one, so no paper is possible",
                    where,
                )
            )
    for code, labels in spec.keep_last.items():
        if len(set(labels)) != len(labels):
            out.append(
                Problem(
                    "keep_last.duplicate",
                    f"keep_last of {code} lists an option twice",
                    f"keep_last.{code}",
                )
            )
    return out


def parse_spec(data: Any) -> BlueprintSpec:
    """Validate a spec (a dict or a model); raise :class:`BlueprintInvalid` naming every rule."""
    try:
        spec = data if isinstance(data, BlueprintSpec) else BlueprintSpec.model_validate(data)
    except ValidationError as exc:
        raise BlueprintInvalid(
            [Problem("spec.field", e["message"], e["field"]) for e in error_list(exc)]
        ) from None
    problems = spec_problems(spec)
    if problems:
        raise BlueprintInvalid(problems)
    return spec


# -- stored blueprints ----------------------------------------------------------------------


def _check_code(code: str) -> str:
    if not re.match(BLUEPRINT_CODE, code or ""):
        raise ValidationFailed(
            "a blueprint code is 1-64 letters, digits, '.', '_' or '-'", field="code"
        )
    return code


def create_blueprint(
    session: Session,
    actor: Actor,
    occupation: Occupation,
    level: int,
    code: str,
    name: str,
    spec: BlueprintSpec | dict[str, Any],
    *,
    note: str = "",
) -> BlueprintVersion:
    """Create a blueprint with its first version (audited)."""
    check_level(level)
    _check_code(code)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed("a blueprint needs a name of 1 to 200 characters", field="name")
    spec = parse_spec(spec)
    if session.scalar(select(Blueprint.id).where(Blueprint.code == code)) is not None:
        raise Conflict(f"a blueprint with code {code} already exists", field="code")
    bp = Blueprint(
        code=code, occupation_id=occupation.id, level=level, name=name, created_by_id=actor.id
    )
    session.add(bp)
    session.flush()
    version = _add_version(session, actor, bp, spec, note)
    record(
        session,
        actor,
        "blueprint.created",
        "blueprint",
        code,
        reason=note,
        data={
            "occupation": occupation.code,
            "level": level,
            "name": name,
            "version": 1,
            "spec_hash": version.spec_hash,
        },
    )
    return version


def revise_blueprint(
    session: Session,
    actor: Actor,
    blueprint: Blueprint,
    spec: BlueprintSpec | dict[str, Any],
    *,
    note: str = "",
) -> BlueprintVersion:
    """Add a new version (audited); a spec identical to the newest version is refused."""
    spec = parse_spec(spec)
    latest = get_version(session, blueprint, blueprint.latest_version)
    if latest.spec_hash == spec.spec_hash():
        raise Conflict(
            f"the spec is identical to version {latest.number} of {blueprint.code}", field="spec"
        )
    version = _add_version(session, actor, blueprint, spec, note)
    record(
        session,
        actor,
        "blueprint.revised",
        "blueprint",
        blueprint.code,
        reason=note,
        data={"version": version.number, "spec_hash": version.spec_hash},
    )
    return version


def _add_version(
    session: Session, actor: Actor, bp: Blueprint, spec: BlueprintSpec, note: str
) -> BlueprintVersion:
    bp.latest_version = (bp.latest_version or 0) + 1
    version = BlueprintVersion(
        blueprint=bp,
        number=bp.latest_version,
        spec=spec.canonical(),
        spec_hash=spec.spec_hash(),
        note=(note or "")[:500],
        created_by_id=actor.id,
    )
    session.add(version)
    session.flush()
    return version


def get_blueprint(session: Session, code: str) -> Blueprint:
    bp = session.scalar(select(Blueprint).where(Blueprint.code == code))
    if bp is None:
        raise NotFound(f"no blueprint with code {code!r}", field="blueprint")
    return bp


def get_version(
    session: Session, blueprint: Blueprint, number: int | None = None
) -> BlueprintVersion:
    """Version ``number`` of ``blueprint`` (default: the newest)."""
    number = blueprint.latest_version if number is None else number
    v = session.scalar(
        select(BlueprintVersion).where(
            BlueprintVersion.blueprint_id == blueprint.id, BlueprintVersion.number == number
        )
    )
    if v is None:
        raise NotFound(f"blueprint {blueprint.code} has no version {number}", field="version")
    return v


def list_blueprints(
    session: Session, *, occupation: Occupation | None = None, level: int | None = None
) -> list[Blueprint]:
    q = select(Blueprint).order_by(Blueprint.code)
    if occupation is not None:
        q = q.where(Blueprint.occupation_id == occupation.id)
    if level is not None:
        q = q.where(Blueprint.level == level)
    return list(session.scalars(q))


def spec_of(version: BlueprintVersion) -> BlueprintSpec:
    """The stored spec as a model (stored specs were validated when they were saved)."""
    return BlueprintSpec.model_validate(version.spec)


def blueprint_to_dict(bp: Blueprint) -> dict[str, Any]:
    return {
        "code": bp.code,
        "occupation": bp.occupation.code,
        "level": bp.level,
        "name": bp.name,
        "latest_version": bp.latest_version,
        "created_by_id": bp.created_by_id,
        "created_at": bp.created_at.isoformat(),
    }


def version_to_dict(v: BlueprintVersion, *, with_spec: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {
        "blueprint": v.blueprint.code,
        "version": v.number,
        "id": v.id,
        "spec_hash": v.spec_hash,
        "note": v.note,
        "created_by_id": v.created_by_id,
        "created_at": v.created_at.isoformat(),
        "latest": v.number == v.blueprint.latest_version,
    }
    if with_spec:
        spec = spec_of(v)
        d["spec"] = v.spec
        d["summary"] = {
            "items": spec.paper_length,
            "total_points": str(spec.total_points),
            "sections": [f"{s.type} {s.count} × {s.points}" for s in spec.sections],
        }
    return d

"""Helpers every format module shares: generated item codes, numbers from text, the Moodle
tag conventions for knowledge point, difficulty, points and fill-in rules, and reporting a
row's problems."""

from __future__ import annotations

import hashlib
import math
import re
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError

from ..schema import ItemContent, ItemDraft, ItemType, error_list
from . import ParsedFile, Problem

DEFAULT_RULES = ["trim", "width"]
RULES = ("trim", "width", "case", "space")


def generated_code(source: str, position: int) -> str:
    """The code of an item whose file gives none: ``<PREFIX>-<position, 4 digits>``.

    The prefix is the file name without extension, upper case, every run of characters other
    than ASCII letters and digits turned into ``-`` (``bank 2024.xlsx`` → ``BANK-2024``); a name
    with other characters (e.g. Chinese) gives ``IMP-`` plus the first 6 hex digits of the
    SHA-256 of the name; the default source name ``file`` gives ``IMP``. Every format uses this
    rule (it lives here because this module has no third-party dependencies).
    """
    stem = PurePath(source).stem if source and source != "file" else ""
    if not stem:
        prefix = "IMP"
    elif re.fullmatch(r"[A-Za-z0-9\s._\-()\[\]]+", stem):
        prefix = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").upper()[:24].strip("-") or "IMP"
    else:
        prefix = "IMP-" + hashlib.sha256(stem.encode("utf-8")).hexdigest()[:6].upper()
    return f"{prefix}-{position:04d}"


def decimal_points(text: str) -> Decimal:
    """Points as written in a file; Moodle's ``2.5000000`` becomes ``2.5`` (``1.0000000`` → 1).

    Raises ``decimal.InvalidOperation`` if the text is not a number.
    """
    value = Decimal(text.strip())
    if not value.is_finite():
        raise InvalidOperation(f"{text!r} is not a finite number")
    if value.as_tuple().exponent < -2 and value == value.quantize(Decimal("0.01")):
        value = value.quantize(Decimal("0.01"))
        value = Decimal(int(value)) if value == value.to_integral_value() else value.normalize()
    return value


def finite_float(text: str) -> float:
    """A difficulty as written in a file; raises ``ValueError`` for text, NaN or infinity."""
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def rules_text(blanks: list[Any]) -> str:
    """``trim,width|case`` for the blanks' rules, or "" when every blank has the default."""
    groups = [list(b.normalize) for b in blanks]
    if all(g == DEFAULT_RULES for g in groups):
        return ""
    return "|".join(",".join(g) if g else "none" for g in groups)


def parse_rules(text: str, count: int) -> list[list[str]]:
    """Rules per blank from :func:`rules_text` syntax; raises ``ValueError`` with a message."""
    groups = [g.strip() for g in text.split("|")]
    if len(groups) == 1:
        groups = groups * count
    if len(groups) != count:
        raise ValueError(f"normalize has {len(groups)} groups but the item has {count} blanks")
    out = []
    for group in groups:
        if not group:
            out.append(list(DEFAULT_RULES))
            continue
        tokens = [t for t in re.split(r"[\s,+]+", group.casefold()) if t]
        if tokens == ["none"]:
            out.append([])
            continue
        unknown = [t for t in tokens if t not in RULES]
        if unknown:
            raise ValueError(
                f"unknown fill-in rule {unknown[0]!r}; use trim, width, case, space or none"
            )
        out.append(tokens)
    return out


def meta_tags(content: ItemContent, *, points: bool, normalize: bool = True) -> list[str]:
    """The reserved tags that carry what the Moodle formats have no field for."""
    tags = []
    if content.difficulty != 0.5:
        tags.append(f"difficulty:{content.difficulty!r}")
    if points and str(content.points) != "1":
        tags.append(f"points:{content.points}")
    if normalize and content.type == ItemType.FILL_BLANK and (rules := rules_text(content.blanks)):
        tags.append(f"normalize:{rules}")
    return tags


def split_tags(tags: list[str]) -> tuple[list[str], dict[str, str]]:
    """Separate item tags from reserved ``kp:`` ``difficulty:`` ``points:`` ``normalize:`` tags."""
    plain: list[str] = []
    meta: dict[str, str] = {}
    for tag in tags:
        tag = tag.strip()
        name, sep, value = tag.partition(":")
        if sep and name.strip().casefold() in ("kp", "difficulty", "points", "normalize"):
            meta[name.strip().casefold()] = value.strip()
        elif tag:
            plain.append(tag)
    return plain, meta


def category_kp(path: str) -> str | None:
    """The nearest ``kp:CODE`` segment of a Moodle category path (``//`` is a literal ``/``)."""
    for segment in reversed(re.split(r"(?<!/)/(?!/)", path)):
        segment = segment.strip()
        if segment.casefold().startswith("kp:"):
            return segment[3:].strip() or None
    return None


def apply_meta(
    content: dict[str, Any],
    meta: dict[str, str],
    *,
    category: str | None,
    knowledge_point: str | None,
) -> list[tuple[str, str]]:
    """Fill knowledge point, difficulty, points and fill-in rules from reserved tags.

    Returns ``(field, message)`` for every problem; the field is left out of ``content``.
    """
    problems: list[tuple[str, str]] = []
    kp = meta.get("kp") or (category_kp(category) if category else None) or knowledge_point
    if kp:
        content["knowledge_point"] = kp
    else:
        problems.append(
            (
                "knowledge_point",
                "no knowledge point: tag the question kp:CODE, put it under a category "
                "…/kp:CODE, or choose one for the whole file",
            )
        )
    if "difficulty" in meta:
        try:
            content["difficulty"] = finite_float(meta["difficulty"])
        except ValueError:
            problems.append(
                ("difficulty", f"difficulty {meta['difficulty']!r} is not a number from 0 to 1")
            )
    if "points" in meta:
        try:
            content["points"] = decimal_points(meta["points"])
        except InvalidOperation:
            problems.append(("points", f"points {meta['points']!r} is not a number"))
    if "normalize" in meta and content.get("type") == ItemType.FILL_BLANK.value:
        blanks = content.get("blanks") or []
        try:
            for blank, rules in zip(
                blanks, parse_rules(meta["normalize"], len(blanks)), strict=True
            ):
                blank["normalize"] = rules
        except ValueError as exc:
            problems.append(("normalize", str(exc)))
    return problems


def check_and_add(
    parsed: ParsedFile,
    place: str,
    code: str,
    content: dict[str, Any],
    problems: list[Problem],
) -> None:
    """Keep the draft if there are no problems; otherwise report ``problems`` plus whatever
    validation finds in the fields that are not already reported (the draft is not kept)."""
    if not problems:
        parsed.add(place, code, content)
        return
    bad = {p.field for p in problems}
    trial = {k: v for k, v in content.items() if k not in bad}
    trial.setdefault("knowledge_point", "X")
    if "normalize" in bad:
        for blank in trial.get("blanks") or []:
            blank.pop("normalize", None)
    extra = []
    try:
        ItemDraft(code=code, content=ItemContent.model_validate(trial))
    except ValidationError as exc:
        for err in error_list(exc):
            name = err["field"].removeprefix("content.")
            if name.split(".")[0] not in bad:
                extra.append(Problem(place, err["message"], name))
    parsed.problems.extend(problems + extra)


def claim_code(codes: dict[str, str], code: str, place: str) -> list[Problem]:
    """Remember where ``code`` was first used; a second use is a problem naming both places."""
    if code in codes:
        return [Problem(place, f"item code {code} is used twice (first at {codes[code]})", "code")]
    codes[code] = place
    return []

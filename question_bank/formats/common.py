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

from ..messages import Msg, msg
from ..schema import ItemContent, ItemDraft, ItemType, error_list
from . import ImportOptions, Note, ParsedFile, Problem
from .rich import import_html

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
    """Rules per blank from :func:`rules_text` syntax; raises ``ValueError(Msg)``."""
    groups = [g.strip() for g in text.split("|")]
    if len(groups) == 1:
        groups = groups * count
    if len(groups) != count:
        raise ValueError(
            msg(
                "rules_group_count",
                "normalize has %(groups)s groups but the item has %(blanks)s blanks.",
                groups=len(groups),
                blanks=count,
            )
        )
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
            raise ValueError(unknown_rule(unknown[0]))
        out.append(tokens)
    return out


def unknown_rule(token: str) -> Msg:
    return msg(
        "rule_unknown",
        "Unknown fill-in rule %(rule)s; use trim, width, case, space or none.",
        rule=token,
    )


def meta_tags(
    content: ItemContent,
    *,
    points: bool,
    normalize: bool = True,
    default_rules: list[str] | None = None,
) -> list[str]:
    """The reserved tags that carry what the Moodle formats have no field for. ``normalize:`` is
    written when some blank's rules differ from ``default_rules`` (what the format's reader
    assumes without the tag)."""
    tags = []
    if content.difficulty != 0.5:
        tags.append(f"difficulty:{content.difficulty!r}")
    if points and str(content.points) != "1":
        tags.append(f"points:{content.points}")
    if normalize and content.type == ItemType.FILL_BLANK:
        default = default_rules or DEFAULT_RULES
        if any(list(b.normalize) != default for b in content.blanks):
            tags.append(
                "normalize:" + "|".join(",".join(b.normalize) or "none" for b in content.blanks)
            )
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


def _category_segments(path: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<!/)/(?!/)", path) if s.strip()]


def mapped_category(path: str, mapping: dict[str, str]) -> str | None:
    """The knowledge point a category map gives ``path``: the longest mapped prefix, with
    Moodle's ``$course$/`` / ``$system$/`` / ``top/`` heads optional on either side."""

    def norm(p: str) -> tuple[str, ...]:
        segs = _category_segments(p)
        while segs and ((segs[0].startswith("$") and segs[0].endswith("$")) or segs[0] == "top"):
            segs = segs[1:]
        return tuple(s.casefold() for s in segs)

    table = {norm(k): v for k, v in mapping.items()}
    segs = norm(path)
    for end in range(len(segs), 0, -1):
        if segs[:end] in table:
            return table[segs[:end]]
    return None


def category_kp(path: str) -> str | None:
    """The nearest ``kp:CODE`` segment of a Moodle category path (``//`` is a literal ``/``)."""
    for segment in reversed(re.split(r"(?<!/)/(?!/)", path)):
        segment = segment.strip()
        if segment.casefold().startswith("kp:"):
            return segment[3:].strip() or None
    return None


NO_KNOWLEDGE_POINT = (
    "no_knowledge_point",
    "No knowledge point: tag the question kp:CODE, put it under a category …/kp:CODE, map its "
    "category in a category map, or choose one for the whole file.",
)


def apply_meta(
    content: dict[str, Any],
    meta: dict[str, str],
    *,
    category: str | None,
    options: ImportOptions,
    parsed: ParsedFile | None = None,
) -> list[tuple[str, Msg]]:
    """Fill knowledge point, difficulty, points and fill-in rules from reserved tags.

    The knowledge point is the ``kp:`` tag, else the category map's entry for the category, else
    a ``kp:CODE`` category segment, else the file-wide default. With a category map, categories
    it does not name are counted in ``parsed.unmapped_categories``.
    Returns ``(field, message)`` for every problem; the field is left out of ``content``.
    """
    problems: list[tuple[str, Msg]] = []
    kp = meta.get("kp")
    if not kp and category and options.category_map is not None:
        kp = mapped_category(category, options.category_map)
        if kp is None and parsed is not None:
            parsed.unmapped_categories[category] = parsed.unmapped_categories.get(category, 0) + 1
    kp = kp or (category_kp(category) if category else None) or options.knowledge_point
    if kp:
        content["knowledge_point"] = kp
    else:
        problems.append(("knowledge_point", msg(*NO_KNOWLEDGE_POINT)))
    if "difficulty" in meta:
        try:
            content["difficulty"] = finite_float(meta["difficulty"])
        except ValueError:
            problems.append(
                (
                    "difficulty",
                    msg(
                        "difficulty_not_number",
                        "difficulty %(value)s is not a number from 0 to 1.",
                        value=meta["difficulty"],
                    ),
                )
            )
    if "points" in meta:
        try:
            content["points"] = decimal_points(meta["points"])
        except InvalidOperation:
            problems.append(("points", points_not_number(meta["points"])))
    if "normalize" in meta and content.get("type") == ItemType.FILL_BLANK.value:
        blanks = content.get("blanks") or []
        try:
            for blank, rules in zip(
                blanks, parse_rules(meta["normalize"], len(blanks)), strict=True
            ):
                blank["normalize"] = rules
        except ValueError as exc:
            problems.append(("normalize", exc.args[0]))
    return problems


def points_not_number(value: str) -> Msg:
    return msg("points_not_number", "points %(value)s is not a number.", value=value)


def partial_credit_note(place: str, item_type: str) -> Note:
    """Moodle/TAO would give part of the points for some answers; the bank scores all or none."""
    if item_type == ItemType.FILL_BLANK.value:
        text = msg(
            "note_partial_blank",
            "Answers worth part of the points are not kept: here only fully correct answers "
            "score, and a fill-in item scores only when every blank is right.",
        )
    else:
        text = msg(
            "note_partial_choice",
            "Partial credit is not kept: here only the complete key scores (the source gave "
            "part of the points for some answers).",
        )
    return Note(place, text)


_IMG = re.compile(r"<img\b", re.I)


def has_images(*texts: str) -> bool:
    return any(_IMG.search(t or "") for t in texts)


def rich_field(
    parsed: ParsedFile,
    options: ImportOptions,
    place: str,
    content: dict[str, Any],
    resolve: Any,
    name: str = "",
) -> bool:
    """Make the text fields of ``content`` bank HTML: editor styling stripped (counted in
    ``parsed.styling``), images pointed at assets through ``resolve`` (``None``: leave image
    sources for the sanitiser to judge). Returns False, with the reason recorded, when the
    question cannot be imported: a field too long, or an image the file does not carry."""
    fields: list[tuple[str, str]] = [("stem", content.get("stem") or "")]
    fields += [
        (f"options.{i}.text", o.get("text") or "")
        for i, o in enumerate(content.get("options") or [])
    ]
    fields.append(("explanation", content.get("explanation") or ""))
    styling = 0
    unresolved: list[str] = []
    out: dict[str, str] = {}
    for field_name, text in fields:
        if parsed.field_too_long(options, place, field_name, text):
            return False
        result = import_html(text, keep_styling=options.keep_styling, resolve=resolve or _any)
        styling += result.styling
        unresolved += result.unresolved
        out[field_name] = result.html
    if unresolved:
        parsed.unsupported(
            options,
            place,
            name or content.get("title", ""),
            "image",
            msg(
                "import_image_missing",
                "The image %(src)s is not in the file; only images the file carries can be "
                "imported.",
                src=", ".join(dict.fromkeys(unresolved)),
            ),
        )
        return False
    if styling:
        parsed.styling[place] = parsed.styling.get(place, 0) + styling
    if "stem" in content:
        content["stem"] = out["stem"]
    for i, o in enumerate(content.get("options") or []):
        o["text"] = out[f"options.{i}.text"]
    if content.get("explanation"):
        content["explanation"] = out["explanation"]
    return True


def _any(src: str) -> str | None:
    """Without a file to look in, only the bank's own asset links resolve."""
    return None


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


def code_used_twice(code: str, first: str) -> Msg:
    return msg(
        "item_code_twice",
        "Item code %(code)s is used twice (first at %(first)s).",
        code=code,
        first=first,
    )


def claim_code(codes: dict[str, str], code: str, place: str) -> list[Problem]:
    """Remember where ``code`` was first used; a second use is a problem naming both places."""
    if code in codes:
        return [Problem(place, code_used_twice(code, codes[code]), "code")]
    codes[code] = place
    return []

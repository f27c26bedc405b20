"""What a candidate's browser gets, and the way back from displayed to original labels.

:func:`paper_for_delivery` builds the delivered paper field by field from an allow-list (stem,
option texts, number of blanks, translations of those), so keys, explanations, accepted
answers, difficulty, knowledge points, tags and statistics can never leak into it, whatever the
item content holds. Options carry display labels ``A``, ``B`` … in the permuted order; the
paper keeps the permutation, so answers map back with :func:`to_original`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..blueprints import TYPE_NAMES, BlueprintSpec
from ..schema import OPTION_LABELS
from .core import Paper

SECTION_TITLES = {
    "true_false": "判断题",
    "single_choice": "单项选择题",
    "multiple_choice": "多项选择题",
    "fill_blank": "填空题",
}


def _content(version: Any) -> Mapping[str, Any]:
    return version.content if hasattr(version, "content") else version


def paper_for_delivery(
    paper: Paper, versions: Mapping[int, Any], spec: BlueprintSpec | None = None
) -> dict[str, Any]:
    """The paper as sent to the candidate: no keys, explanations, answers or statistics.

    ``versions`` maps item version id to an ``ItemVersion`` or its content dict. Items are
    addressed by ``position`` (1-based, in display order); item codes and version ids stay on
    the server.
    """
    items: list[dict[str, Any]] = []
    sections: list[dict[str, Any]] = []
    for n, (vid, s, points, order) in enumerate(
        zip(paper.version_ids, paper.sections, paper.points, paper.options, strict=True)
    ):
        content = _content(versions[vid])
        kind = str(content["type"])
        if not sections or sections[-1]["number"] != s + 1:
            title = spec.sections[s].title if spec is not None else ""
            sections.append(
                {
                    "number": s + 1,
                    "type": kind,
                    "title": title or SECTION_TITLES.get(kind, TYPE_NAMES.get(kind, kind)),
                    "points_each": str(points),
                    "first_position": n + 1,
                    "count": 0,
                }
            )
        sections[-1]["count"] += 1
        item: dict[str, Any] = {
            "position": n + 1,
            "section": s + 1,
            "type": kind,
            "points": str(points),
            "stem": str(content["stem"]),
        }
        texts = {str(o["label"]): str(o["text"]) for o in content.get("options") or []}
        if len(order) != len(texts) or set(order) != set(texts):
            raise ValueError(
                f"paper option order {order!r} does not fit item version {vid} "
                f"(options {''.join(sorted(texts))})"
            )
        if order:
            item["options"] = [
                {"label": OPTION_LABELS[j], "text": texts[orig]} for j, orig in enumerate(order)
            ]
        if kind == "fill_blank":
            item["blanks"] = len(content.get("blanks") or [])
        translations: dict[str, Any] = {}
        for lang, tr in (content.get("translations") or {}).items():
            out: dict[str, Any] = {}
            if tr.get("stem"):
                out["stem"] = str(tr["stem"])
            tr_options = tr.get("options") or {}
            shown = {
                OPTION_LABELS[j]: str(tr_options[orig])
                for j, orig in enumerate(order)
                if tr_options.get(orig)
            }
            if shown:
                out["options"] = shown
            if out:
                translations[str(lang)] = out
        if translations:
            item["translations"] = translations
        items.append(item)
    return {"sections": sections, "items": items, "item_count": len(items)}


def display_to_original(paper: Paper, position: int) -> dict[str, str]:
    """Displayed option label -> original label for the item at ``position`` (1-based)."""
    order = paper.options[position - 1]
    return {OPTION_LABELS[j]: orig for j, orig in enumerate(order)}


def to_original(paper: Paper, position: int, displayed: list[str]) -> list[str]:
    """A candidate's answer in displayed labels, as original labels (sorted, like item keys).

    True/false answers (``T``/``F``) and items without options pass through unchanged.
    """
    order = paper.options[position - 1]
    if not order:
        return list(displayed)
    mapping = display_to_original(paper, position)
    unknown = [d for d in displayed if d not in mapping]
    if unknown:
        raise ValueError(f"item {position} has no displayed option {', '.join(unknown)}")
    return sorted(mapping[d] for d in displayed)


def to_displayed(paper: Paper, position: int, original: list[str]) -> list[str]:
    """Original labels (e.g. a key) as the candidate saw them, sorted."""
    order = paper.options[position - 1]
    if not order:
        return list(original)
    back = {orig: OPTION_LABELS[j] for j, orig in enumerate(order)}
    return sorted(back[o] for o in original)

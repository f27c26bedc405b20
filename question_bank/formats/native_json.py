"""The native JSON format: a lossless copy of a bank (one occupation and level).

::

    {"format": "exam-server-bank", "format_version": 1,
     "occupation": {"code": "6-31-01-03", "name": "电工", "name_en": "Electrician"},
     "level": 4,
     "knowledge_points": [KnowledgePointNode, …],
     "items": [
        {"code": "E4-001", "content": ItemContent}                       # one new draft, or
        {"code": "E4-002", "versions": [{"number": 1, "status": "approved",
              "content": ItemContent, "author": "li", "created_at": "…",
              "change_note": "", "reviews": [{"from", "to", "actor", "at", "comment"}]}, …]}
     ]}

Export writes the ``versions`` form with every version and its review history; import accepts
both. The demo bank and the synthetic generator use the short ``content`` form.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ..messages import msg
from ..schema import LEVELS, ItemContent, KnowledgePointNode, error_list
from . import ImportOptions, ParsedFile, Problem, place_item, place_line

FORMAT_NAME = "exam-server-bank"
FORMAT_VERSION = 1
STATUSES = ("draft", "in_review", "approved", "retired")


def parse(
    data: bytes,
    *,
    source: str = "file",
    knowledge_point: str | None = None,
    options: ImportOptions | None = None,
) -> ParsedFile:
    options = options or ImportOptions(knowledge_point=knowledge_point)
    out = ParsedFile()
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        out.problems.append(
            Problem(
                source,
                msg(
                    "json_not_utf8",
                    "The file is not UTF-8 text (bad byte at offset %(offset)s).",
                    offset=exc.start,
                ),
            )
        )
        return out
    except json.JSONDecodeError as exc:
        out.problems.append(
            Problem(
                place_line(exc.lineno),
                msg("json_invalid_at", "Not valid JSON: %(detail)s.", detail=exc.msg),
            )
        )
        return out
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        out.problems.append(
            Problem(
                source,
                msg(
                    "json_not_bank",
                    'The file is not an %(format)s file (missing "format").',
                    format=FORMAT_NAME,
                ),
            )
        )
        return out
    if doc.get("format_version") != FORMAT_VERSION:
        out.problems.append(
            Problem(
                source,
                msg(
                    "json_version",
                    "format_version %(got)s is not supported (expected %(expected)s).",
                    got=repr(doc.get("format_version")),
                    expected=FORMAT_VERSION,
                ),
            )
        )
        return out
    occ = doc.get("occupation")
    if isinstance(occ, dict) and isinstance(occ.get("code"), str):
        out.occupation = {k: str(occ.get(k, "")) for k in ("code", "name", "name_en")}
    elif occ is not None:
        out.problems.append(
            Problem(
                "occupation",
                msg("json_occupation", "Must be {code, name, name_en}."),
                "occupation",
            )
        )
    level = doc.get("level")
    if level is not None:
        if level in LEVELS:
            out.level = level
        else:
            out.problems.append(
                Problem(
                    "level",
                    msg("json_level", "The level must be 1 to 5, got %(got)s.", got=repr(level)),
                    "level",
                )
            )
    if doc.get("knowledge_points") is not None:
        try:
            kps = doc["knowledge_points"]
            if not isinstance(kps, list):
                raise TypeError
            out.knowledge_points = [KnowledgePointNode.model_validate(n) for n in kps]
        except ValidationError as exc:
            for err in error_list(exc):
                out.problems.append(Problem("knowledge_points", err["message"], err["field"]))
        except TypeError:
            out.problems.append(
                Problem(
                    "knowledge_points", msg("json_not_list", "Must be a list."), "knowledge_points"
                )
            )
    items = doc.get("items", [])
    if not isinstance(items, list):
        out.problems.append(Problem("items", msg("json_not_list", "Must be a list."), "items"))
        return out
    histories: dict[str, list[dict[str, Any]]] = {}
    if out.too_many(options, len(items)):
        return out
    for i, raw in enumerate(items, 1):
        place = place_item(i)
        if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
            out.problems.append(
                Problem(place, msg("json_item_code", 'An item needs a "code".'), "code")
            )
            continue
        code = raw["code"]
        place = place_item(i, code)
        if "versions" in raw:
            versions = raw["versions"]
            if not isinstance(versions, list) or not versions:
                out.problems.append(
                    Problem(
                        place,
                        msg("json_versions_empty", "versions must be a non-empty list."),
                        "versions",
                    )
                )
                continue
            parsed: list[dict[str, Any]] = []
            ok = True
            for j, ver in enumerate(versions, 1):
                vplace = msg("place_version", "%(item)s version %(n)s", item=place, n=j)
                if not isinstance(ver, dict):
                    out.problems.append(
                        Problem(vplace, msg("json_not_object", "Must be an object."), "versions")
                    )
                    ok = False
                    continue
                if ver.get("number") != j:
                    out.problems.append(
                        Problem(
                            vplace,
                            msg(
                                "json_version_number",
                                "Versions must be numbered 1, 2, 3 … in order, got %(got)s.",
                                got=repr(ver.get("number")),
                            ),
                            "number",
                        )
                    )
                    ok = False
                if ver.get("status", "draft") not in STATUSES:
                    out.problems.append(
                        Problem(
                            vplace,
                            msg(
                                "json_status_unknown",
                                "Unknown status %(status)s.",
                                status=repr(ver.get("status")),
                            ),
                            "status",
                        )
                    )
                    ok = False
                try:
                    content = ItemContent.model_validate(ver.get("content"))
                except ValidationError as exc:
                    for err in error_list(exc):
                        out.problems.append(Problem(vplace, err["message"], err["field"]))
                    ok = False
                    continue
                parsed.append({**ver, "content": content})
            if ok and out.add(place, code, parsed[-1]["content"].canonical()):
                histories[code] = parsed
        else:
            out.add(place, code, raw.get("content"))
    out.extra["histories"] = histories
    return out


def dump_document(
    occupation: dict[str, str],
    level: int,
    knowledge_points: list[dict[str, Any]],
    items: list[dict[str, Any]],
) -> bytes:
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "occupation": occupation,
        "level": level,
        "knowledge_points": knowledge_points,
        "items": items,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")

"""Import/export formats. Each format module converts between bytes and :class:`ItemDraft` lists.

A parser never raises on bad content: it returns every draft it could build and a
:class:`Problem` for every bad row, line or element, so the importer can refuse the whole file and
report all problems at once. The importer (``question_bank.importing``) then resolves knowledge
points and item codes against the database, and writes nothing unless there are no problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..schema import ItemContent, ItemDraft, KnowledgePointNode, error_list


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot be imported. ``place`` is e.g. ``"row 14"``, ``"line 7"``,
    ``"item 3 (Q-001)"``; ``field`` names the column or field when known."""

    place: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"place": self.place, "message": self.message}
        if self.field:
            d["field"] = self.field
        return d


@dataclass
class ParsedFile:
    drafts: list[ItemDraft] = field(default_factory=list)
    # Where each draft came from, parallel to ``drafts`` ("row 5"), for database-level problems.
    places: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    knowledge_points: list[KnowledgePointNode] | None = None
    # Formats that carry their own context (native JSON) fill these; others leave them None.
    occupation: dict[str, Any] | None = None
    level: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, place: str, code: str, content: dict[str, Any]) -> ItemDraft | None:
        """Validate one item; keep it or record every problem with it."""
        try:
            draft = ItemDraft(code=code, content=ItemContent.model_validate(content))
        except ValidationError as exc:
            for err in error_list(exc):
                field_name = err["field"]
                if field_name.startswith("content."):
                    field_name = field_name.removeprefix("content.")
                self.problems.append(Problem(place, err["message"], field_name))
            return None
        self.drafts.append(draft)
        self.places.append(place)
        return draft


def decode_text(data: bytes, *, source: str = "file") -> str:
    """Decode a text file from an appraisal centre: UTF-8 (with or without BOM), else GB18030.

    GB18030 is a superset of GBK and GB2312, the encodings Chinese Windows tools write.
    Raises ``ValueError`` naming the file if neither fits.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{source} is neither UTF-8 nor GBK/GB18030 text (bad byte at offset {exc.start})"
        ) from None


FORMATS = ("json", "xlsx", "gift", "moodle-xml", "qti")

"""Import/export formats. Each format module converts between bytes and :class:`ItemDraft` lists.

A parser never raises on bad content: it returns every draft it could build and a
:class:`Problem` for every bad row, line or element, so the importer can refuse the whole file and
report all problems at once. The importer (``question_bank.transfer``) then resolves knowledge
points and item codes against the database, and writes nothing unless there are no problems.

Every text a person reads is a :class:`~question_bank.messages.Msg` (places too: ``line 7`` is
``msg("place_line", …, line=7)``), rendered in the user's language at the edge.

What a parser may do besides building drafts (:class:`ImportOptions` says which):

* skip questions of a type the bank does not hold (``skip_unsupported``), listing each one in
  :attr:`ParsedFile.skipped` with its place, name and type; without the option each is a
  problem with ``unsupported=True`` so the report can say which option would let the file in;
* strip editor styling, counted per question in :attr:`ParsedFile.styling`;
* carry images found in the file as :attr:`ParsedFile.assets` (SHA-256 → media type, bytes),
  with the item text pointing at ``/assets/<sha256>``;
* note changes of meaning that the item model forces (partial credit) in :attr:`ParsedFile.notes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..messages import Msg, as_msg, msg
from ..schema import ItemContent, ItemDraft, KnowledgePointNode, error_list

DEFAULT_MAX_ITEMS = 20_000
DEFAULT_MAX_FIELD_CHARS = 20_000


def place_line(line: int) -> Msg:
    return msg("place_line", "line %(line)s", line=line)


def place_row(row: int) -> Msg:
    return msg("place_row", "row %(row)s", row=row)


def place_question(n: int, name: str = "") -> Msg:
    if name:
        return msg("place_question_named", "question %(n)s (%(name)s)", n=n, name=name)
    return msg("place_question", "question %(n)s", n=n)


def place_item(n: int, name: str = "") -> Msg:
    if name:
        return msg("place_item_named", "item %(n)s (%(name)s)", n=n, name=name)
    return msg("place_item", "item %(n)s", n=n)


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot be imported. ``place`` is e.g. ``row 14``, ``line 7``,
    ``item 3 (Q-001)``; ``field`` names the column or field when known. ``unsupported`` marks a
    question the bank cannot hold (its type, an image the file lacks): ``skip_unsupported`` would
    skip it instead."""

    place: str
    message: str
    field: str | None = None
    unsupported: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"place": self.place, "message": as_msg(self.message, "value_invalid")}
        if self.field:
            d["field"] = self.field
        return d


@dataclass(frozen=True)
class Skipped:
    """A question left out because the bank cannot hold it (``skip_unsupported``)."""

    place: str
    name: str
    kind: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"place": self.place, "name": self.name, "type": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class Note:
    """Something the import changed that the editor should know (e.g. partial credit)."""

    place: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"place": self.place, "message": self.message}


@dataclass(frozen=True)
class ImportOptions:
    """How a file is read. ``category_map`` maps Moodle category paths to knowledge points."""

    knowledge_point: str | None = None
    skip_unsupported: bool = False
    keep_styling: bool = False
    encoding: str | None = None
    category_map: dict[str, str] | None = None
    max_items: int = DEFAULT_MAX_ITEMS
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS


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
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    # Editor styling removed, per place (count of style attributes and <font> tags).
    styling: dict[str, int] = field(default_factory=dict)
    # Images carried by the file: sha256 -> (media type, bytes).
    assets: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    # Codes the file did not give (generated): an import never revises an item with one.
    generated: set[str] = field(default_factory=set)
    # Category paths that the category map did not name (when a map was given).
    unmapped_categories: dict[str, int] = field(default_factory=dict)
    # Which option would let a refused file in ("skip_unsupported", "encoding").
    hints: list[str] = field(default_factory=list)

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

    def add_image(self, data: bytes, name: str) -> str | None:
        """Keep an image the file carries as an asset; its ``/assets/<sha256>`` source, or None
        when it is not an image the bank accepts (type, size)."""
        from .rich import check_image

        checked = check_image(data, name)
        if isinstance(checked, str):
            return None
        sha, media = checked
        self.assets[sha] = (media, data)
        return f"/assets/{sha}"

    def unsupported(
        self, options: ImportOptions, place: str, name: str, kind: str, reason: Msg
    ) -> None:
        """A question the bank cannot hold: skipped with the option, else a problem."""
        if options.skip_unsupported:
            self.skipped.append(Skipped(place, name, kind, reason))
        else:
            self.problems.append(Problem(place, reason, "type", unsupported=True))

    def too_many(self, options: ImportOptions, count: int) -> bool:
        """True (and a problem recorded once) when ``count`` passes the item limit."""
        if count <= options.max_items:
            return False
        if not self.extra.get("too_many"):
            self.extra["too_many"] = True
            self.problems.append(
                Problem(
                    msg("place_file", "the file"),
                    msg(
                        "import_too_many_items",
                        "The file holds more than %(max)s items, the most one import takes; "
                        "split it into smaller files.",
                        max=options.max_items,
                    ),
                )
            )
        return True

    def field_too_long(
        self, options: ImportOptions, place: str, field_name: str, text: str
    ) -> bool:
        """True (and a problem recorded) when ``text`` is longer than a field may be."""
        if len(text) <= options.max_field_chars:
            return False
        self.problems.append(
            Problem(
                place,
                msg(
                    "import_field_too_long",
                    "This field has %(n)s characters; a field holds at most %(max)s.",
                    n=len(text),
                    max=options.max_field_chars,
                ),
                field_name,
            )
        )
        return True


class EncodingProblem(ValueError):
    """The bytes are not text in an encoding the importer reads; ``args[0]`` is a :class:`Msg`.
    ``ambiguous`` means several encodings fit and ``--encoding`` must choose."""

    def __init__(self, message: Msg, *, ambiguous: bool = False):
        super().__init__(message)
        self.message = message
        self.ambiguous = ambiguous


ENCODINGS = ("utf-8", "gb18030", "cp1252")
_ENCODING_NAMES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
    "cp1252": "cp1252",
    "windows-1252": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "iso-8859-1": "cp1252",
}


def encoding_name(name: str) -> str | None:
    """The codec for an ``--encoding`` value (``gbk`` → ``gb18030``), or None if unknown."""
    return _ENCODING_NAMES.get(name.strip().casefold().replace("_", "-"))


# Control characters other than tab and line breaks: binary data, not text in any encoding.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _runs(text: str) -> list[tuple[int, int]]:
    """Spans of consecutive non-ASCII characters."""
    runs, start = [], None
    for i, c in enumerate(text):
        if ord(c) > 127:
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(text)))
    return runs


def _looks_chinese(text: str) -> bool:
    runs = _runs(text)
    if not runs:
        return True
    cjk = sum(
        1
        for a, b in runs
        for c in text[a:b]
        if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
    )
    chars = sum(b - a for a, b in runs)
    # Latin text misread as GBK gives lone ideographs wedged between ASCII letters.
    wedged = sum(
        1
        for a, b in runs
        if b - a == 1 and a > 0 and b < len(text) and text[a - 1].isalpha() and text[b].isalpha()
    )
    return cjk >= 0.9 * chars and wedged <= 0.2 * len(runs)


def _looks_western(text: str) -> bool:
    runs = _runs(text)
    if not runs:
        return True
    chars = sum(b - a for a, b in runs)
    letters_near = sum(
        1
        for a, b in runs
        if (a > 0 and text[a - 1].isalnum()) or (b < len(text) and text[b].isalnum())
    )
    # Chinese misread as Windows-1252 gives long runs of accented letters and symbols.
    return chars <= 2.5 * len(runs) and letters_near >= 0.5 * len(runs)


def decode_text(data: bytes, *, source: str = "file", encoding: str | None = None) -> str:
    """Decode a text file: UTF-8 (with or without BOM), GBK/GB18030 or Windows-1252.

    UTF-8 is taken when the bytes are valid UTF-8 (other text almost never is). Otherwise the
    file must read plausibly as exactly one of GB18030 (Chinese Windows tools) and Windows-1252
    (Western Windows tools, e.g. Moodle's own sample files); when both fit, or neither, an
    :class:`EncodingProblem` asks for ``encoding``. ``encoding`` forces one codec.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = encoding or "utf-8"
    if encoding:
        codec = encoding_name(encoding)
        if codec is None:
            raise EncodingProblem(
                msg(
                    "encoding_unknown",
                    "Unknown encoding %(name)s; use utf-8, gbk or windows-1252.",
                    name=encoding,
                )
            )
        try:
            return data.decode(codec)
        except UnicodeDecodeError as exc:
            raise EncodingProblem(
                msg(
                    "encoding_bad_byte",
                    "%(source)s is not %(encoding)s text (bad byte at offset %(offset)s).",
                    source=source,
                    encoding=encoding,
                    offset=exc.start,
                )
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    fits = []
    for codec, plausible in (("gb18030", _looks_chinese), ("cp1252", _looks_western)):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if not _CONTROL.search(text) and plausible(text):
            fits.append((codec, text))
    if len(fits) == 1:
        return fits[0][1]
    if fits:
        raise EncodingProblem(
            msg(
                "encoding_ambiguous",
                "%(source)s could be GBK (Chinese) or Windows-1252 (Western) text; "
                "choose the encoding (--encoding gbk or --encoding windows-1252).",
                source=source,
            ),
            ambiguous=True,
        )
    raise EncodingProblem(
        msg(
            "encoding_not_text",
            "%(source)s is not UTF-8, GBK/GB18030 or Windows-1252 text; "
            "save it as UTF-8 or choose the encoding.",
            source=source,
        ),
        ambiguous=True,
    )


FORMATS = ("json", "xlsx", "gift", "moodle-xml", "qti")

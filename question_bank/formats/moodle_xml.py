"""Moodle XML question files (``<quiz><question type="…">``).

Read with defusedxml (no DTD entities, no external references). Supported question types:

* ``truefalse``: the answer ``true`` or ``false`` with fraction 100 is the key;
* ``multichoice``: ``<single>true</single>`` is a single-choice item (key: the answers with
  fraction 100), ``false`` a multiple-choice item (key: every answer with a positive fraction);
  without ``<single>`` the number of positive answers decides;
* ``shortanswer``: a one-blank fill-in item; the first run of three or more underscores in the
  stem becomes ``{{1}}`` (else ``{{1}}`` is appended); without ``<usecase>1</usecase>`` the
  ``case`` rule is added (Moodle's default ignores case); answers with fraction 100 are accepted;
* ``cloze`` (multianswer): each ``{n:SHORTANSWER:=a~=b}`` (``SA``, ``MW``; ``SHORTANSWER_C``,
  ``SAC``, ``MWC`` for case-sensitive) is one blank, numbered in order; the weight ``n`` is
  ignored; ``%100%`` or ``=`` answers are accepted, partial-credit answers dropped;
* ``category``: sets the category path for the questions after it.

Other types (essay, matching, numerical, description, cloze MULTICHOICE/NUMERICAL parts …) are
unsupported: problems marked so, or skipped and listed with ``skip_unsupported``. Text with
``format="plain_text"`` is HTML-escaped; other formats are read as HTML, editor styling
stripped and counted. Images are ``<file name=… encoding="base64">`` elements referenced as
``@@PLUGINFILE@@/name``: each becomes an asset and the reference ``/assets/<sha256>``; a
reference to a file the question does not carry makes the question unsupported. Partial credit
(fractions between 0 and 100, several keys, several cloze parts) is kept as far as the bank can
(full-credit answers) and noted as a change of meaning. Problems name the question:
``question 3 (name)``, counting questions but not categories.

Item code: ``<idnumber>``, else ``<PREFIX>-<question number, 4 digits>``
(:func:`question_bank.formats.common.generated_code`), marked generated. ``<name>`` is the
item's title. Export writes the code as ``<idnumber>``, the title (or the code) as ``<name>``,
and every image as a ``<file>`` of the text that shows it.

Points: ``<defaultgrade>`` (default 1; Moodle's ``1.0000000`` reads as 1). Explanation:
``<generalfeedback>``. Tags: ``<tags>``. Knowledge point, difficulty and fill-in rules follow the
reserved-tag convention of :mod:`question_bank.formats.gift` (``kp:CODE`` tag or a ``kp:CODE``
category segment, ``difficulty:0.35``, ``normalize:…``); export writes both the ``kp:`` tag and
a ``$course$/top/kp:CODE`` category. The ``case`` rule is also written natively
(``SHORTANSWER`` vs ``SHORTANSWER_C``), and the ``normalize:`` tag only when a blank's rules are
neither ``trim,width`` nor ``trim,width,case``.

Every fill-in item is exported as ``cloze``, even with one blank. Moodle recomputes a cloze
question's mark from its parts, so an exported fill-in item shows each blank worth 1 in Moodle,
though ``<defaultgrade>`` keeps the points for re-import here. Lost on export: translations.
"""

from __future__ import annotations

import base64
import binascii
import html
import posixpath
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..messages import Msg, msg
from ..schema import BLANK_MARK, ItemDraft, ItemType
from . import ImportOptions, Note, ParsedFile, Problem, place_question
from .common import (
    DEFAULT_RULES,
    apply_meta,
    check_and_add,
    claim_code,
    decimal_points,
    generated_code,
    meta_tags,
    partial_credit_note,
    points_not_number,
    rich_field,
    split_tags,
)
from .rich import MAX_IMAGE_BYTES

_CLOZE_TYPES = (
    "SHORTANSWER_C|SHORTANSWER|SAC|SA|MWC|MW|NUMERICAL|NM|MULTICHOICE_VS|MULTICHOICE_HS|"
    "MULTICHOICE_V|MULTICHOICE_H|MULTICHOICE_S|MULTICHOICE|MCVS|MCHS|MCV|MCH|MCS|MC|"
    "MULTIRESPONSE_HS|MULTIRESPONSE_H|MULTIRESPONSE_S|MULTIRESPONSE|MRHS|MRH|MRS|MR"
)
_CLOZE = re.compile(r"\{(\d*):(" + _CLOZE_TYPES + r"):((?:\\.|[^\\}])*)\}", re.S)
_CLOZE_CASE = {"SHORTANSWER": False, "SA": False, "MW": False,
               "SHORTANSWER_C": True, "SAC": True, "MWC": True}  # fmt: skip
_CLOZE_ESCAPE = set('\\}#~/"')
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
PLUGINFILE = "@@PLUGINFILE@@"
# Moodle question types the bank holds (``cloze`` only with short-answer parts).
SUPPORTED = ("truefalse", "multichoice", "shortanswer", "cloze", "multianswer")
_TYPE_NAMES = {
    "essay": "Essay", "matching": "Matching", "numerical": "Numerical",
    "description": "Description", "calculated": "Calculated", "calculatedsimple": "Calculated",
    "calculatedmulti": "Calculated multichoice", "ddwtos": "Drag and drop into text",
    "gapselect": "Select missing words", "ddimageortext": "Drag and drop onto image",
    "ddmarker": "Drag and drop markers", "randomsamatch": "Random short-answer matching",
    "ordering": "Ordering",
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Parsing

_DECLARATION = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])([A-Za-z0-9._\-]+)\2""")
_EXPAT_ENCODINGS = {
    "utf-8",
    "utf8",
    "utf-16",
    "utf16",
    "us-ascii",
    "ascii",
    "iso-8859-1",
    "latin-1",
}


class XmlError(ValueError):
    """The bytes are not XML this module will read; ``message`` says why."""

    def __init__(self, message: Msg):
        super().__init__(message)
        self.message = message


def read_xml(data: bytes) -> Element:
    """Parse XML with defusedxml; documents declaring e.g. GBK are transcoded first (expat reads
    only UTF-8/UTF-16/Latin-1). Raises :class:`XmlError` with a readable message."""
    body = data.removeprefix(b"\xef\xbb\xbf")
    m = _DECLARATION.match(body)
    if m and m.group(3).decode("ascii").casefold() not in _EXPAT_ENCODINGS:
        name = m.group(3).decode("ascii")
        try:
            text = body.decode(name)
        except LookupError:
            raise XmlError(
                msg(
                    "xml_encoding_unknown",
                    "The file declares the unknown encoding %(name)s.",
                    name=name,
                )
            ) from None
        except UnicodeDecodeError as exc:
            raise XmlError(
                msg(
                    "xml_encoding_bad",
                    "The file is not valid %(name)s text (bad byte at offset %(offset)s).",
                    name=name,
                    offset=exc.start,
                )
            ) from None
        # The declaration matched as ASCII bytes, so it is m.end() characters of the text too.
        declaration = m.group(1) + m.group(2) + b"UTF-8" + m.group(2)
        data = declaration + text[m.end() :].encode("utf-8")
    try:
        return fromstring(data)
    except DefusedXmlException as exc:
        raise XmlError(
            msg(
                "xml_forbidden",
                "The file uses forbidden XML features (%(detail)s).",
                detail=type(exc).__name__,
            )
        ) from None
    except (ParseError, ValueError, LookupError) as exc:
        raise XmlError(
            msg("xml_malformed", "The file is not well-formed XML: %(detail)s.", detail=str(exc))
        ) from None


def _text(el: Element | None, path: str = "text") -> str:
    if el is None:
        return ""
    return (el.findtext(path) or "").strip()


def _rich(el: Element | None) -> str:
    """The HTML of a ``<…format="…"><text>`` element."""
    if el is None:
        return ""
    text = _text(el)
    return html.escape(text, quote=False) if el.get("format") == "plain_text" else text


def _fraction(el: Element) -> float | None:
    try:
        return float(el.get("fraction", "0"))
    except ValueError:
        return None


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if text[i] == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(text[i])
        i += 1
    parts.append("".join(cur))
    return parts


def _unbackslash(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


class _Problem(Exception):
    def __init__(self, message: Msg, field: str | None = None, kind: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.kind = kind


def _no_full_answer(n: int) -> _Problem:
    return _Problem(
        msg("blank_no_full_answer", "Blank %(n)s has no fully correct answer.", n=n),
        f"blanks.{n - 1}.accepted",
    )


def _cloze(stem: str) -> tuple[str, list[dict[str, Any]], bool]:
    """Stem with ``{{n}}`` markers, the blanks, and whether Moodle gave partial credit."""
    blanks: list[dict[str, Any]] = []
    partial = False
    weights: set[str] = set()

    def blank(m: re.Match[str]) -> str:
        nonlocal partial
        kind = m.group(2)
        if kind not in _CLOZE_CASE:
            raise _Problem(
                msg(
                    "cloze_part_unsupported",
                    "Cloze part %(part)s is %(kind)s; only SHORTANSWER parts are supported.",
                    part=m.group(0)[:40],
                    kind=kind,
                ),
                "type",
                f"cloze ({kind})",
            )
        weights.add(m.group(1) or "1")
        accepted = []
        for part in _split_unescaped(m.group(3), "~"):
            part = part.strip()
            if part.startswith("="):
                part = part[1:]
            elif w := _WEIGHT.match(part):
                if float(w.group(1)) != 100:
                    partial = partial or float(w.group(1)) > 0
                    continue
                part = part[w.end() :]
            else:
                continue
            text = _unbackslash(html.unescape(_split_unescaped(part, "#")[0])).strip()
            if text:
                accepted.append(text)
        n = len(blanks) + 1
        if not accepted:
            raise _no_full_answer(n)
        rules = list(DEFAULT_RULES) if _CLOZE_CASE[kind] else [*DEFAULT_RULES, "case"]
        blanks.append({"accepted": accepted, "normalize": rules})
        return f"{{{{{n}}}}}"

    stem = _CLOZE.sub(blank, stem)
    # Moodle scores each part on its own (by its weight); here every blank must be right.
    return stem, blanks, partial or len(blanks) > 1


def _files(q: Element) -> dict[str, list[Element]]:
    """Embedded files of a question by path + name (``/sub/a.png``)."""
    out: dict[str, list[Element]] = {}
    for f in q.iter("file"):
        name = (f.get("name") or "").strip()
        if not name:
            continue
        path = (f.get("path") or "/").strip() or "/"
        out.setdefault(posixpath.join(path, name).lstrip("/"), []).append(f)
    return out


class _Parser:
    def __init__(self, source: str, options: ImportOptions):
        self.source = source
        self.options = options
        self.parsed = ParsedFile()
        self.category: str | None = None
        self.codes: dict[str, str] = {}
        self.count = 0

    def _resolver(self, q: Element):
        files = _files(q)

        def resolve(src: str) -> str | None:
            if not src.startswith(PLUGINFILE):
                return None
            name = unquote(src[len(PLUGINFILE) :].split("?", 1)[0]).lstrip("/")
            found = files.get(name)
            if not found:
                return None
            f = found[0]
            raw = "".join((f.text or "").split())
            if (f.get("encoding") or "base64") != "base64" or len(
                raw
            ) > MAX_IMAGE_BYTES * 4 // 3 + 4:
                return None
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                return None
            return self.parsed.add_image(data, name)

        return resolve

    def question(self, q: Element) -> None:
        qtype = (q.get("type") or "").strip()
        if qtype == "category":
            self.category = _text(q.find("category")) or None
            return
        self.count += 1
        if self.parsed.too_many(self.options, self.count):
            return
        name = _text(q.find("name"))
        place = place_question(self.count, name)
        if qtype not in SUPPORTED:
            self.parsed.unsupported(
                self.options,
                place,
                name,
                qtype,
                msg(
                    "import_type_unsupported",
                    "%(type)s questions are not supported by the bank.",
                    type=_TYPE_NAMES.get(qtype, qtype),
                ),
            )
            return
        ident = (q.findtext("idnumber") or "").strip()
        code = ident or generated_code(self.source, self.count)
        if not ident:
            self.parsed.generated.add(code)
        problems = claim_code(self.codes, code, place)
        try:
            content, partial = self._content(qtype, q)
        except _Problem as exc:
            if exc.kind and not problems:
                self.parsed.unsupported(self.options, place, name, exc.kind, exc.message)
            else:
                self.parsed.problems.extend([*problems, Problem(place, exc.message, exc.field)])
            return
        if name and name != code:
            content["title"] = name[:200]
        explanation = _rich(q.find("generalfeedback"))
        if explanation:
            content["explanation"] = explanation
        if not rich_field(self.parsed, self.options, place, content, self._resolver(q), name):
            return
        if partial:
            self.parsed.notes.append(partial_credit_note(place, content["type"]))
        grade = (q.findtext("defaultgrade") or "").strip()
        if grade:
            try:
                content["points"] = decimal_points(grade)
            except InvalidOperation:
                problems.append(Problem(place, points_not_number(grade), "points"))
        raw_tags = [_text(t) for t in q.findall("tags/tag")]
        tags, meta = split_tags([t for t in raw_tags if t])
        if grade:
            meta.pop("points", None)
        if tags:
            content["tags"] = tags
        for field, message in apply_meta(
            content, meta, category=self.category, options=self.options, parsed=self.parsed
        ):
            problems.append(Problem(place, message, field))
        check_and_add(self.parsed, place, code, content, problems)

    def _content(self, qtype: str, q: Element) -> tuple[dict[str, Any], bool]:
        stem = _rich(q.find("questiontext"))
        answers = q.findall("answer")
        if qtype == "truefalse":
            key = None
            for a in answers:
                word = _text(a).casefold()
                if _fraction(a) == 100 and word in ("true", "false"):
                    key = "T" if word == "true" else "F"
            if key is None:
                raise _Problem(
                    msg("tf_no_key", "Neither true nor false is marked correct (fraction 100)."),
                    "key",
                )
            return {"type": ItemType.TRUE_FALSE.value, "stem": stem, "key": [key]}, False
        if qtype == "multichoice":
            options = []
            fractions = []
            for i, a in enumerate(answers):
                label = "ABCDEFGH"[i] if i < 8 else f"#{i + 1}"
                options.append({"label": label, "text": _rich(a)})
                fraction = _fraction(a)
                if fraction is None:
                    raise _Problem(
                        msg(
                            "answer_fraction_bad",
                            "Answer %(n)s has a fraction that is not a number.",
                            n=i + 1,
                        ),
                        "key",
                    )
                fractions.append(fraction)
            single_text = (q.findtext("single") or "").strip().casefold()
            if single_text in ("true", "1"):
                single = True
            elif single_text in ("false", "0"):
                single = False
            else:
                single = sum(f > 0 for f in fractions) <= 1
            if single:
                key = [o["label"] for o, f in zip(options, fractions, strict=True) if f >= 100]
                item_type = ItemType.SINGLE_CHOICE
                partial = any(0 < f < 100 for f in fractions)
            else:
                key = [o["label"] for o, f in zip(options, fractions, strict=True) if f > 0]
                item_type = ItemType.MULTIPLE_CHOICE
                partial = len(key) > 1 or any(0 < f < 100 for f in fractions)
            content = {"type": item_type.value, "stem": stem, "options": options, "key": key}
            return content, partial
        if qtype == "shortanswer":
            accepted = [_text(a) for a in answers if _fraction(a) == 100 and _text(a)]
            partial = any(0 < (_fraction(a) or 0) < 100 for a in answers)
            if not accepted:
                raise _no_full_answer(1)
            usecase = (q.findtext("usecase") or "").strip()
            rules = list(DEFAULT_RULES) if usecase == "1" else [*DEFAULT_RULES, "case"]
            if not BLANK_MARK.search(stem):
                stem, n = re.subn(r"_{3,}", "{{1}}", stem, count=1)
                if not n:
                    stem = f"{stem} {{{{1}}}}"
            content = {
                "type": ItemType.FILL_BLANK.value,
                "stem": stem,
                "blanks": [{"accepted": accepted, "normalize": rules}],
            }
            return content, partial
        # cloze / multianswer
        stem, blanks, partial = _cloze(stem)
        if not blanks:
            raise _Problem(
                msg("cloze_no_parts", "The cloze question has no {1:SHORTANSWER:…} part."),
                "blanks",
            )
        return {"type": ItemType.FILL_BLANK.value, "stem": stem, "blanks": blanks}, partial


def parse(
    data: bytes,
    *,
    source: str = "file",
    knowledge_point: str | None = None,
    options: ImportOptions | None = None,
) -> ParsedFile:
    """Read a Moodle XML file."""
    options = options or ImportOptions(knowledge_point=knowledge_point)
    try:
        root = read_xml(data)
    except XmlError as exc:
        return ParsedFile(problems=[Problem(source, exc.message)])
    if root.tag != "quiz":
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg(
                        "moodle_not_quiz",
                        "The file is not a Moodle XML file (root <%(root)s>, not <quiz>).",
                        root=root.tag,
                    ),
                )
            ]
        )
    parser = _Parser(source, options)
    questions = root.findall("question")
    count = sum(1 for q in questions if q.get("type") != "category")
    if parser.parsed.too_many(options, count):
        return parser.parsed
    for q in questions:
        parser.question(q)
        if parser.parsed.extra.get("too_many"):
            break
    if parser.count == 0 and not parser.parsed.problems:
        parser.parsed.problems.append(
            Problem(source, msg("moodle_no_questions", "The file holds no questions."))
        )
    return parser.parsed


# --------------------------------------------------------------------------------------------
# Export


def _x(text: str) -> str:
    return html.escape(_ILLEGAL.sub("", text), quote=False)


def _cdata(text: str) -> str:
    text = _ILLEGAL.sub("", text)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


_ASSET_IMG = re.compile(r'(<img\b[^>]*?\bsrc=")/assets/([0-9a-f]{64})(")', re.I)
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


class _Images:
    """Turns ``/assets/<sha>`` images into ``@@PLUGINFILE@@`` references plus ``<file>``s."""

    def __init__(self, assets: Any, code: str, notes: list[Note] | None):
        self.assets = assets
        self.code = code
        self.notes = notes

    def __call__(self, text: str) -> tuple[str, list[str]]:
        files: dict[str, str] = {}

        def swap(m: re.Match[str]) -> str:
            sha = m.group(2)
            found = self.assets(sha) if self.assets else None
            if found is None:
                if self.notes is not None:
                    self.notes.append(
                        Note(
                            msg("place_exported_item", "item %(code)s", code=self.code),
                            msg(
                                "export_image_missing",
                                "The image %(sha)s is not in the bank; its reference is left "
                                "as it is.",
                                sha=sha[:12],
                            ),
                        )
                    )
                return m.group(0)
            media, data = found
            name = f"{sha}.{_EXTENSIONS.get(media, 'bin')}"
            files[name] = base64.b64encode(data).decode("ascii")
            return f"{m.group(1)}{PLUGINFILE}/{name}{m.group(3)}"

        text = _ASSET_IMG.sub(swap, text)
        return text, [
            f'<file name="{name}" path="/" encoding="base64">{b64}</file>'
            for name, b64 in files.items()
        ]


def _textel(
    tag: str,
    text: str,
    *,
    fmt: str | None = "html",
    indent: str = "    ",
    images: _Images | None = None,
) -> str:
    attr = f' format="{fmt}"' if fmt else ""
    files: list[str] = []
    if images is not None:
        text, files = images(text)
    body = "".join(f"\n{indent}  {f}" for f in files)
    return f"{indent}<{tag}{attr}>\n{indent}  <text>{_cdata(text)}</text>{body}\n{indent}</{tag}>"


def _cloze_answer(text: str) -> str:
    escaped = "".join("\\" + c if c in _CLOZE_ESCAPE else c for c in text)
    return html.escape(escaped, quote=False)


def _question(draft: ItemDraft, assets: Any = None, notes: list[Note] | None = None) -> str:
    c = draft.content
    images = _Images(assets, draft.code, notes)
    qtype = {
        ItemType.TRUE_FALSE: "truefalse",
        ItemType.SINGLE_CHOICE: "multichoice",
        ItemType.MULTIPLE_CHOICE: "multichoice",
        ItemType.FILL_BLANK: "cloze",
    }[c.type]
    stem = c.stem
    if c.type == ItemType.FILL_BLANK:

        def part(m: re.Match[str]) -> str:
            blank = c.blanks[int(m.group(1)) - 1]
            kind = "SHORTANSWER" if "case" in blank.normalize else "SHORTANSWER_C"
            return (
                "{1:" + kind + ":" + "~".join("=" + _cloze_answer(a) for a in blank.accepted) + "}"
            )

        stem = BLANK_MARK.sub(part, stem)
    lines = [
        f'  <question type="{qtype}">',
        f"    <name>\n      <text>{_x(c.title or draft.code)}</text>\n    </name>",
        _textel("questiontext", stem, images=images),
        _textel("generalfeedback", c.explanation, images=images),
        f"    <defaultgrade>{c.points}</defaultgrade>",
        "    <penalty>0</penalty>",
        "    <hidden>0</hidden>",
        f"    <idnumber>{_x(draft.code)}</idnumber>",
    ]
    if c.type == ItemType.TRUE_FALSE:
        for word, value in (("true", "T"), ("false", "F")):
            fraction = 100 if c.key == [value] else 0
            lines.append(
                f'    <answer fraction="{fraction}" format="moodle_auto_format">\n'
                f"      <text>{word}</text>\n"
                '      <feedback format="html">\n        <text></text>\n      </feedback>\n'
                "    </answer>"
            )
    elif c.type in (ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE):
        single = c.type == ItemType.SINGLE_CHOICE
        lines += [
            f"    <single>{'true' if single else 'false'}</single>",
            "    <shuffleanswers>false</shuffleanswers>",
            "    <answernumbering>ABCD</answernumbering>",
        ]
        share = (Decimal(100) / len(c.key)).quantize(Decimal("0.00001")).normalize()
        for opt in c.options:
            if opt.label in c.key:
                fraction = "100" if single else f"{share:f}"
            else:
                fraction = "0" if single else "-100"
            text, files = images(opt.text)
            lines.append(
                f'    <answer fraction="{fraction}" format="html">\n'
                f"      <text>{_cdata(text)}</text>\n"
                + "".join(f"      {f}\n" for f in files)
                + '      <feedback format="html">\n        <text></text>\n      </feedback>\n'
                "    </answer>"
            )
    tags = [f"kp:{c.knowledge_point}", *meta_tags(c, points=False, normalize=False), *c.tags]
    if c.type == ItemType.FILL_BLANK and any(
        b.normalize not in (DEFAULT_RULES, [*DEFAULT_RULES, "case"]) for b in c.blanks
    ):
        tags.append("normalize:" + "|".join(",".join(b.normalize) or "none" for b in c.blanks))
    lines.append("    <tags>")
    lines += [f"      <tag>\n        <text>{_x(t)}</text>\n      </tag>" for t in tags]
    lines.append("    </tags>")
    lines.append("  </question>")
    return "\n".join(lines)


def dump(
    drafts: list[ItemDraft],
    *,
    assets: Any = None,
    notes: list[Note] | None = None,
    **options: Any,
) -> bytes:
    """Write drafts as a Moodle XML file, grouped under ``$course$/top/kp:CODE`` categories.

    ``assets(sha256)`` gives ``(media type, bytes)`` of an image: each image travels as a
    ``<file>`` of the text that shows it, referenced as ``@@PLUGINFILE@@/<sha256>.<ext>``."""
    if options:
        raise TypeError(f"unknown Moodle XML options: {sorted(options)}")
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    current = None
    for draft in drafts:
        kp = draft.content.knowledge_point
        if kp != current:
            out.append(
                '  <question type="category">\n'
                f"    <category>\n      <text>$course$/top/kp:{_x(kp)}</text>\n    </category>\n"
                "  </question>"
            )
            current = kp
        out.append(_question(draft, assets, notes))
    out.append("</quiz>")
    return ("\n".join(out) + "\n").encode("utf-8")

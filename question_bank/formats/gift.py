"""Moodle GIFT text files.

Questions are separated by blank lines; lines starting with ``//`` are comments. Supported:

* true/false ``{T}`` ``{F}`` ``{TRUE}`` ``{FALSE}`` (any case; ``#feedback`` is ignored);
* single choice ``{=right ~wrong ~wrong}`` (a question with an ``=`` answer; the key is every
  answer marked ``=`` or weighted ``%100%``);
* multiple choice ``{~%50%a ~%50%b ~%-100%c}`` (no ``=`` answer; the key is every answer with a
  positive weight);
* fill-in ``{=a =b}``: each answer block becomes one blank ``{{n}}`` at its place in the stem, so
  a stem may hold several blocks (the "missing word" format extended to several blanks). Only
  full-credit answers (no weight or ``%100%``) are accepted answers; partial-credit ones are
  dropped and noted as a change of meaning. Answers compare ignoring case (``trim,width,case``),
  as Moodle's GIFT reader does;
* ``::title::``, ``[html]``/``[moodle]``/``[markdown]``/``[plain]`` text-format markers (plain
  text is HTML-escaped, the others are read as HTML), backslash escapes of ``~ = # { } :`` and
  ``\\\\``, ``\\n`` for a line break, per-answer ``#feedback`` (ignored) and general feedback
  ``####…`` (the explanation), ``$CATEGORY:`` lines.

Matching, numerical, essay and description questions are unsupported: problems marked
``unsupported``, or skipped and listed with ``skip_unsupported``. Files may be UTF-8 (with or
without BOM), GBK/GB18030 or Windows-1252 (:func:`question_bank.formats.decode_text`).

Item code: a ``// [id:CODE]`` comment (Moodle's idnumber syntax), else
``<PREFIX>-<line number, 4 digits>`` (:func:`generated_code`; ``IMP-0007`` for the default
source name), marked generated so an import never revises an item with it. The ``::title::`` is
the item's title. Line numbers count from 1 and name the first non-comment line of the question.

Metadata lives in Moodle tag comments ``// [tag:…]`` just above the question (no blank line
between). Tags with these reserved prefixes are metadata, all others are item tags:

* ``kp:CODE`` knowledge point. Otherwise the nearest ``kp:CODE`` segment of the current
  ``$CATEGORY:`` path (``$course$/top/kp:01.02.003``), else the ``knowledge_point`` argument,
  else a problem "no knowledge point". Export groups items under ``$CATEGORY: $course$/top/kp:…``.
* ``difficulty:0.35`` (default 0.5), ``points:2.5`` (default 1);
* ``normalize:trim,width|trim,width,case`` fill-in rules per blank (``none`` for no rules; one
  group applies to every blank); written only when some blank differs from
  ``trim,width,case``.

Export writes, per question, ``// [id:CODE]`` and ``// [tag:…]`` comment lines, then
``::TITLE::[html]stem {`` (the code when there is no title) with one answer per line;
multiple-choice answers weigh ``100/k`` % (k keys) or ``-100`` %; a one-blank fill-in item is a
"missing word" question with its block in place. Items GIFT cannot express (several blanks,
images) are left out and listed in the notes and at the top of the file. The file is UTF-8.

Lost on export: translations, per-answer feedback (not stored by the bank), tags containing
``]`` or a line break. Edge cases outside the GIFT syntax: a fill-in item whose blanks each
accept only answers containing ``->`` reads back as a matching question.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape
from typing import Any

from ..messages import Msg, msg
from ..schema import BLANK_MARK, ItemDraft, ItemType
from . import (
    EncodingProblem,
    ImportOptions,
    Note,
    ParsedFile,
    Problem,
    decode_text,
    place_line,
)
from .common import (
    apply_meta,
    check_and_add,
    claim_code,
    generated_code,
    has_images,
    meta_tags,
    partial_credit_note,
    rich_field,
    split_tags,
)

# Escaped characters are swapped for private-use placeholders while the structure is parsed.
_PROTECT = {"\\": "\ue000", "~": "\ue001", "=": "\ue002", "#": "\ue003", "{": "\ue004",
            "}": "\ue005", ":": "\ue006", "n": "\ue007"}  # fmt: skip
_RESTORE = {v: ("\n" if k == "n" else k) for k, v in _PROTECT.items()}
_RESTORE_RE = re.compile("[" + "".join(_RESTORE) + "]")
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_FORMAT = re.compile(r"^\s*\[(html|moodle|markdown|plain)\]", re.I)
_META = re.compile(r"\[(id|tag):([^\]\n]*)\]")
_TF = {"T": "T", "TRUE": "T", "F": "F", "FALSE": "F"}
# Moodle's GIFT reader compares short answers ignoring case (it has no usecase setting).
GIFT_RULES = ["trim", "width", "case"]


# --------------------------------------------------------------------------------------------
# Parsing


def _protect(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _PROTECT:
            out.append(_PROTECT[text[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _restore(text: str) -> str:
    return _RESTORE_RE.sub(lambda m: _RESTORE[m.group()], text)


def _formatted(text: str, default: str = "html") -> tuple[str, str]:
    """Strip a leading ``[format]`` marker; return (format, text)."""
    m = _FORMAT.match(text)
    if m:
        return m.group(1).casefold(), text[m.end() :]
    return default, text


def _as_html(text: str, fmt: str) -> str:
    text = _restore(text).strip()
    return escape(text, quote=False) if fmt == "plain" else text


class _GiftError(Exception):
    def __init__(self, message: Msg, field: str | None = None, kind: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        # The question type the bank cannot hold (essay, numerical …), if that is the reason.
        self.kind = kind


def _unsupported(kind: str, name: str) -> _GiftError:
    return _GiftError(
        msg(
            "import_type_unsupported",
            "%(type)s questions are not supported by the bank.",
            type=name,
        ),
        "type",
        kind,
    )


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of the ``{…}`` answer blocks in protected text."""
    spans = []
    start = None
    for i, c in enumerate(text):
        if c == "{":
            if start is not None:
                raise _GiftError(
                    msg(
                        "gift_block_nested",
                        "An answer block { … } opens inside another; escape { as \\{.",
                    )
                )
            start = i
        elif c == "}":
            if start is None:
                raise _GiftError(
                    msg("gift_block_unopened", "} without a matching {; escape } as \\}.")
                )
            spans.append((start, i))
            start = None
    if start is not None:
        raise _GiftError(msg("gift_block_unclosed", "An answer block { is not closed with }."))
    return spans


def _kind(answers: str) -> str:
    if not answers:
        raise _unsupported("essay", "Essay")
    if answers.startswith("#"):
        raise _unsupported("numerical", "Numerical")
    if "~" in answers:
        return "choice"
    parts = [p for p in answers.split("=") if p.strip()]
    if len(parts) >= 2 and all("->" in p for p in parts):
        raise _unsupported("matching", "Matching")
    if answers.split("#", 1)[0].strip().upper() in _TF:
        return "tf"
    if answers.startswith("="):
        return "short"
    raise _GiftError(
        msg(
            "gift_type_unknown",
            "Cannot tell the question type: an answer block needs =right, ~wrong, T or F.",
        ),
        "type",
    )


def _choice(answers: str, fmt: str) -> tuple[str, list[dict[str, str]], list[str], bool]:
    """Type, options, key, and whether Moodle would give partial credit."""
    has_equal = "=" in answers
    parts = answers.replace("=", "~=").split("~")
    if parts and not parts[0].strip():
        parts = parts[1:]
    elif parts:
        raise _GiftError(
            msg(
                "gift_choice_text_before", "Text before the first ~ or = answer in a choice block."
            ),
            "options",
        )
    options: list[dict[str, str]] = []
    weights: list[float] = []
    for part in parts:
        part = part.strip()
        if part.startswith("="):
            weight = 100.0
            part = part[1:]
        elif m := _WEIGHT.match(part):
            weight = float(m.group(1))
            part = part[m.end() :]
        else:
            weight = 0.0
        text = part.split("#", 1)[0]
        opt_fmt, text = _formatted(text, fmt)
        options.append({"text": _as_html(text, opt_fmt)})
        weights.append(weight)
    labels = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i, opt in enumerate(options):
        opt["label"] = labels[i] if i < len(labels) else f"#{i + 1}"
    if has_equal:
        key = [options[i]["label"] for i, w in enumerate(weights) if w >= 100]
        partial = any(0 < w < 100 for w in weights)
        return ItemType.SINGLE_CHOICE.value, options, key, partial
    key = [options[i]["label"] for i, w in enumerate(weights) if w > 0]
    partial = len(key) > 1 or any(0 < w < 100 for w in weights)
    return ItemType.MULTIPLE_CHOICE.value, options, key, partial


def _short(answers: str, n: int) -> tuple[dict[str, Any], bool]:
    """One blank and whether some answers were worth partial credit."""
    accepted = []
    partial = False
    for part in answers.split("=")[1:]:
        part = part.strip()
        if m := _WEIGHT.match(part):
            if float(m.group(1)) != 100:
                partial = partial or float(m.group(1)) > 0
                continue  # partial credit is not an accepted answer
            part = part[m.end() :]
        text = _restore(part.split("#", 1)[0]).strip()
        if text:
            accepted.append(text)
    if not accepted:
        raise _GiftError(
            msg("blank_no_full_answer", "Blank %(n)s has no fully correct answer.", n=n),
            f"blanks.{n - 1}.accepted",
        )
    return {"accepted": accepted, "normalize": list(GIFT_RULES)}, partial


class _Parser:
    def __init__(self, source: str, options: ImportOptions):
        self.source = source
        self.options = options
        self.parsed = ParsedFile()
        self.category: str | None = None
        self.codes: dict[str, str] = {}
        self.count = 0

    def block(self, lines: list[tuple[int, str]]) -> None:
        comments = [text for _, text in lines if text.lstrip().startswith("//")]
        body = [(no, text) for no, text in lines if not text.lstrip().startswith("//")]
        if not body:
            return
        first = body[0][0]
        place = place_line(first)
        text = "\n".join(t for _, t in body).strip()
        if text.startswith("$CATEGORY:"):
            self.category = text[len("$CATEGORY:") :].strip()
            return
        self.count += 1
        if self.parsed.too_many(self.options, self.count):
            return
        if self.parsed.field_too_long(self.options, place, "stem", text):
            return

        ident = None
        raw_tags: list[str] = []
        for comment in comments:
            for kind, value in _META.findall(comment):
                if kind == "id":
                    ident = value.strip() or ident
                else:
                    raw_tags.append(value)
        tags, meta = split_tags(raw_tags)

        protected = _protect(text)
        title = ""
        if protected.startswith("::"):
            end = protected.find("::", 2)
            if end == -1:
                self.parsed.problems.append(
                    Problem(
                        place,
                        msg("gift_name_unclosed", "The question name ::… is not closed with ::."),
                        "code",
                    )
                )
                return
            title = _restore(protected[2:end]).strip()
            protected = protected[end + 2 :]
        code = ident or generated_code(self.source, first)
        if not ident:
            self.parsed.generated.add(code)
        problems = claim_code(self.codes, code, place)

        try:
            content, partial = self._content(protected)
        except _GiftError as exc:
            if exc.kind and not problems:
                self.parsed.unsupported(self.options, place, title, exc.kind, exc.message)
            else:
                self.parsed.problems.extend([*problems, Problem(place, exc.message, exc.field)])
            return
        if title and title != code:
            content["title"] = title
        if tags:
            content["tags"] = tags
        if not rich_field(self.parsed, self.options, place, content, None):
            return
        if partial:
            self.parsed.notes.append(partial_credit_note(place, content["type"]))
        for name, message in apply_meta(
            content,
            meta,
            category=self.category,
            options=self.options,
            parsed=self.parsed,
        ):
            problems.append(Problem(place, message, name))
        check_and_add(self.parsed, place, code, content, problems)

    def _content(self, protected: str) -> tuple[dict[str, Any], bool]:
        fmt, protected = _formatted(protected)
        spans = _blocks(protected)
        if not spans:
            raise _unsupported("description", "Description")
        explanation = None
        bodies = []
        for start, end in spans:
            inner = protected[start + 1 : end]
            cut = inner.rfind("####")
            if cut != -1:
                if explanation is not None:
                    raise _GiftError(
                        msg(
                            "gift_feedback_twice",
                            "General feedback #### appears in more than one answer block.",
                        ),
                        "explanation",
                    )
                expl_fmt, expl = _formatted(inner[cut + 4 :], fmt)
                explanation = _as_html(expl, expl_fmt)
                inner = inner[:cut]
            bodies.append(inner.strip())
        kinds = [_kind(b) for b in bodies]
        content: dict[str, Any] = {}
        partial = False
        if len(spans) > 1 or kinds[0] == "short":
            if any(k != "short" for k in kinds):
                raise _GiftError(
                    msg(
                        "gift_blocks_not_fill_in",
                        "Several answer blocks are only allowed for fill-in questions {=…}.",
                    ),
                    "type",
                )
            pieces = []
            pos = 0
            for n, (start, end) in enumerate(spans, start=1):
                pieces.append(protected[pos:start])
                pieces.append(f"{{{{{n}}}}}")
                pos = end + 1
            pieces.append(protected[pos:])
            content["type"] = ItemType.FILL_BLANK.value
            content["stem"] = _as_html("".join(pieces), fmt)
            content["blanks"] = []
            for n, b in enumerate(bodies, start=1):
                blank, part = _short(b, n)
                content["blanks"].append(blank)
                partial = partial or part
        else:
            start, end = spans[0]
            after = protected[end + 1 :]
            gap = "_____" if after.strip() else ""
            content["stem"] = _as_html(protected[:start] + gap + after, fmt)
            if kinds[0] == "tf":
                content["type"] = ItemType.TRUE_FALSE.value
                content["key"] = [_TF[bodies[0].split("#", 1)[0].strip().upper()]]
            else:
                content["type"], content["options"], content["key"], partial = _choice(
                    bodies[0], fmt
                )
        if explanation:
            content["explanation"] = explanation
        return content, partial


def _count_questions(text: str) -> int:
    count = 0
    in_block = False
    counted = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            in_block = counted = False
            continue
        if not in_block:
            in_block = True
        if not counted and not stripped.startswith(("//", "$CATEGORY:")):
            count += 1
            counted = True
    return count


def parse(
    data: bytes,
    *,
    source: str = "file",
    knowledge_point: str | None = None,
    options: ImportOptions | None = None,
) -> ParsedFile:
    """Read a GIFT file (UTF-8, UTF-8 with BOM, GBK/GB18030 or Windows-1252)."""
    options = options or ImportOptions(knowledge_point=knowledge_point)
    try:
        text = decode_text(data, source=source, encoding=options.encoding)
    except EncodingProblem as exc:
        parsed = ParsedFile(problems=[Problem(source, exc.message)])
        if exc.ambiguous:
            parsed.hints.append("encoding")
        return parsed
    if "\x00" in text:
        return ParsedFile(
            problems=[Problem(source, msg("gift_not_text", "The file is not a GIFT text file."))]
        )
    parser = _Parser(source, options)
    # Count the questions first: a file over the limit is refused before any is parsed.
    if parser.parsed.too_many(options, _count_questions(text)):
        return parser.parsed
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            block.append((number, line))
        elif block:
            parser.block(block)
            block = []
            if parser.parsed.extra.get("too_many"):
                break
    if block:
        parser.block(block)
    if not parser.parsed.drafts and not parser.parsed.problems and not parser.parsed.skipped:
        parser.parsed.problems.append(
            Problem(source, msg("gift_no_questions", "The file holds no GIFT questions."))
        )
    return parser.parsed


# --------------------------------------------------------------------------------------------
# Export


def _esc(text: str) -> str:
    out = []
    for c in text:
        if c in "\\~=#{}:":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c != "\r":
            out.append(c)
    return "".join(out)


def _answer_text(text: str) -> str:
    """Escaped answer/feedback text; a leading ``[`` or weight-like ``%n%`` is protected."""
    if _FORMAT.match(text) or text.startswith("["):
        return "[html]" + _esc(text)
    return _esc(text)


def export_note(code: str, message: Msg) -> Note:
    return Note(msg("place_exported_item", "item %(code)s", code=code), message)


def _question(draft: ItemDraft) -> str:
    c = draft.content
    lines = [f"// [id:{draft.code}]"]
    for tag in [*c.tags, *meta_tags(c, points=True, default_rules=GIFT_RULES)]:
        if "]" not in tag and "\n" not in tag:
            lines.append(f"// [tag:{tag}]")
    head = f"::{_esc(c.title or draft.code)}::[html]"
    expl = f"\t####{_answer_text(c.explanation)}\n" if c.explanation else ""
    if c.type == ItemType.FILL_BLANK:
        # Moodle's "missing word" question: one answer block in place in the stem.
        before, _n, after = BLANK_MARK.split(c.stem)
        blank = c.blanks[0]
        answers = " ".join(
            ("=%100%" if _WEIGHT.match(a) else "=") + _esc(a) for a in blank.accepted
        )
        feedback = " ####" + _answer_text(c.explanation) if c.explanation else ""
        lines.append(head + _esc(before) + "{" + answers + feedback + "}" + _esc(after))
    elif c.type == ItemType.TRUE_FALSE:
        lines.append(head + _esc(c.stem) + " {" + ("TRUE" if c.key == ["T"] else "FALSE"))
        lines.append(expl + "}" if expl else "}")
    else:
        lines.append(head + _esc(c.stem) + " {")
        share = Decimal(100) / len(c.key) if c.key else Decimal(100)
        weight = f"{share.quantize(Decimal('0.00001')).normalize():f}"
        for opt in c.options:
            text = _answer_text(opt.text)
            if c.type == ItemType.SINGLE_CHOICE:
                wrong = "~%0%" if _WEIGHT.match(opt.text) else "~"
                mark = "=" if opt.label in c.key else wrong
            else:
                mark = f"~%{weight}%" if opt.label in c.key else "~%-100%"
            lines.append(f"\t{mark}{text}")
        lines.append(expl + "}" if expl else "}")
    return "\n".join(lines)


def _left_out(draft: ItemDraft) -> Msg | None:
    """Why GIFT cannot express an item, or None."""
    c = draft.content
    if c.type == ItemType.FILL_BLANK and len(c.blanks) > 1:
        return msg(
            "gift_export_blanks",
            "Not exported: a fill-in item with %(n)s blanks; a GIFT question holds one blank "
            "(export as Moodle XML or QTI instead).",
            n=len(c.blanks),
        )
    texts = [c.stem, c.explanation, *(o.text for o in c.options)]
    if has_images(*texts):
        return msg(
            "gift_export_images",
            "Not exported: the item shows images, which a GIFT file cannot carry (export as "
            "Moodle XML or QTI instead).",
        )
    return None


def dump(drafts: list[ItemDraft], *, notes: list[Note] | None = None, **options: Any) -> bytes:
    """Write drafts as a UTF-8 GIFT file, grouped under ``$CATEGORY: $course$/top/kp:CODE``.

    Items GIFT cannot express (fill-in with several blanks, items with images) are left out;
    each is listed in ``notes`` and in a comment at the top of the file.
    """
    options.pop("assets", None)
    if options:
        raise TypeError(f"unknown GIFT options: {sorted(options)}")
    parts = ["// Exported by exam-server. Tags kp:, difficulty:, points:, normalize: are metadata."]
    current = None
    left: list[Note] = []
    for draft in drafts:
        reason = _left_out(draft)
        if reason is not None:
            left.append(export_note(draft.code, reason))
            continue
        kp = draft.content.knowledge_point
        if kp != current:
            parts.append(f"$CATEGORY: $course$/top/kp:{kp}")
            current = kp
        parts.append(_question(draft))
    if left:
        parts.insert(1, "\n".join(f"// {n.place}: {n.message}" for n in left))
    if notes is not None:
        notes.extend(left)
    return ("\n\n".join(parts) + "\n").encode("utf-8")

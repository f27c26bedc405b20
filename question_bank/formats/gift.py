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
  dropped.
* ``::title::``, ``[html]``/``[moodle]``/``[markdown]``/``[plain]`` text-format markers (plain
  text is HTML-escaped, the others are read as HTML), backslash escapes of ``~ = # { } :`` and
  ``\\\\``, ``\\n`` for a line break, per-answer ``#feedback`` (ignored) and general feedback
  ``####…`` (the explanation), ``$CATEGORY:`` lines.

Matching, numerical, essay and description questions are reported as problems.

Item code: a ``// [id:CODE]`` comment (Moodle's idnumber syntax), else the ``::title::`` when it
is a valid item code, else ``<PREFIX>-<line number, 4 digits>`` (:func:`generated_code`;
``IMP-0007`` for the default source name). Line numbers count from 1 and name the first
non-comment line of the question.

Metadata lives in Moodle tag comments ``// [tag:…]`` just above the question (no blank line
between). Tags with these reserved prefixes are metadata, all others are item tags:

* ``kp:CODE`` knowledge point. Otherwise the nearest ``kp:CODE`` segment of the current
  ``$CATEGORY:`` path (``$course$/top/kp:01.02.003``), else the ``knowledge_point`` argument,
  else a problem "no knowledge point". Export groups items under ``$CATEGORY: $course$/top/kp:…``.
* ``difficulty:0.35`` (default 0.5), ``points:2.5`` (default 1);
* ``normalize:trim,width|trim,width,case`` fill-in rules per blank (``none`` for no rules; one
  group applies to every blank); written only when some blank differs from the default.

Export writes, per question, ``// [id:CODE]`` and ``// [tag:…]`` comment lines, then
``::CODE::[html]stem {`` with one answer per line; multiple-choice answers weigh ``100/k`` % (k
keys) or ``-100`` %; fill-in blocks stay in place in the stem with the general feedback in the
last block. The file is UTF-8.

Lost on export: translations, per-answer feedback (not stored by the bank), tags containing
``]`` or a line break. Edge cases outside the GIFT syntax: a fill-in item whose blanks each
accept only answers containing ``->`` reads back as a matching question.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape
from typing import Any

from ..schema import BLANK_MARK, ITEM_CODE, ItemDraft, ItemType
from . import ParsedFile, Problem, decode_text
from .common import (
    apply_meta,
    check_and_add,
    claim_code,
    generated_code,
    meta_tags,
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
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of the ``{…}`` answer blocks in protected text."""
    spans = []
    start = None
    for i, c in enumerate(text):
        if c == "{":
            if start is not None:
                raise _GiftError("an answer block { … } opens inside another; escape { as \\{")
            start = i
        elif c == "}":
            if start is None:
                raise _GiftError("} without a matching {; escape } as \\}")
            spans.append((start, i))
            start = None
    if start is not None:
        raise _GiftError("an answer block { is not closed with }")
    return spans


def _kind(answers: str) -> str:
    if not answers:
        raise _GiftError("empty answer block {}: essay questions are not supported", "type")
    if answers.startswith("#"):
        raise _GiftError("numerical questions {#…} are not supported", "type")
    if "~" in answers:
        return "choice"
    parts = [p for p in answers.split("=") if p.strip()]
    if len(parts) >= 2 and all("->" in p for p in parts):
        raise _GiftError("matching questions are not supported", "type")
    if answers.split("#", 1)[0].strip().upper() in _TF:
        return "tf"
    if answers.startswith("="):
        return "short"
    raise _GiftError(
        "cannot tell the question type: an answer block needs =right, ~wrong, T or F", "type"
    )


def _choice(answers: str, fmt: str) -> tuple[str, list[dict[str, str]], list[str]]:
    has_equal = "=" in answers
    parts = answers.replace("=", "~=").split("~")
    if parts and not parts[0].strip():
        parts = parts[1:]
    elif parts:
        raise _GiftError("text before the first ~ or = answer in a choice block", "options")
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
        return ItemType.SINGLE_CHOICE.value, options, key
    key = [options[i]["label"] for i, w in enumerate(weights) if w > 0]
    return ItemType.MULTIPLE_CHOICE.value, options, key


def _short(answers: str, n: int) -> dict[str, Any]:
    accepted = []
    for part in answers.split("=")[1:]:
        part = part.strip()
        if m := _WEIGHT.match(part):
            if float(m.group(1)) != 100:
                continue  # partial credit is not an accepted answer
            part = part[m.end() :]
        text = _restore(part.split("#", 1)[0]).strip()
        if text:
            accepted.append(text)
    if not accepted:
        raise _GiftError(f"blank {n} has no fully correct answer", f"blanks.{n - 1}.accepted")
    return {"accepted": accepted}


class _Parser:
    def __init__(self, source: str, knowledge_point: str | None):
        self.source = source
        self.knowledge_point = knowledge_point
        self.parsed = ParsedFile()
        self.category: str | None = None
        self.codes: dict[str, str] = {}

    def block(self, lines: list[tuple[int, str]]) -> None:
        comments = [text for _, text in lines if text.lstrip().startswith("//")]
        body = [(no, text) for no, text in lines if not text.lstrip().startswith("//")]
        if not body:
            return
        first = body[0][0]
        place = f"line {first}"
        text = "\n".join(t for _, t in body).strip()
        if text.startswith("$CATEGORY:"):
            self.category = text[len("$CATEGORY:") :].strip()
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
        title = None
        if protected.startswith("::"):
            end = protected.find("::", 2)
            if end == -1:
                self.parsed.problems.append(
                    Problem(place, "the question name ::… is not closed with ::", "code")
                )
                return
            title = _restore(protected[2:end]).strip()
            protected = protected[end + 2 :]
        code = ident or (title if title and ITEM_CODE.match(title) else None)
        code = code or generated_code(self.source, first)
        problems = claim_code(self.codes, code, place)

        try:
            content = self._content(protected)
        except _GiftError as exc:
            self.parsed.problems.extend([*problems, Problem(place, exc.message, exc.field)])
            return
        if tags:
            content["tags"] = tags
        for name, message in apply_meta(
            content, meta, category=self.category, knowledge_point=self.knowledge_point
        ):
            problems.append(Problem(place, message, name))
        check_and_add(self.parsed, place, code, content, problems)

    def _content(self, protected: str) -> dict[str, Any]:
        fmt, protected = _formatted(protected)
        spans = _blocks(protected)
        if not spans:
            raise _GiftError(
                "no answer block { … }: descriptions and essays are not supported", "type"
            )
        explanation = None
        bodies = []
        for start, end in spans:
            inner = protected[start + 1 : end]
            cut = inner.rfind("####")
            if cut != -1:
                if explanation is not None:
                    raise _GiftError(
                        "general feedback #### appears in more than one answer block",
                        "explanation",
                    )
                expl_fmt, expl = _formatted(inner[cut + 4 :], fmt)
                explanation = _as_html(expl, expl_fmt)
                inner = inner[:cut]
            bodies.append(inner.strip())
        kinds = [_kind(b) for b in bodies]
        content: dict[str, Any] = {}
        if len(spans) > 1 or kinds[0] == "short":
            if any(k != "short" for k in kinds):
                raise _GiftError(
                    "several answer blocks are only allowed for fill-in questions {=…}", "type"
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
            content["blanks"] = [_short(b, n) for n, b in enumerate(bodies, start=1)]
        else:
            start, end = spans[0]
            after = protected[end + 1 :]
            gap = "_____" if after.strip() else ""
            content["stem"] = _as_html(protected[:start] + gap + after, fmt)
            if kinds[0] == "tf":
                content["type"] = ItemType.TRUE_FALSE.value
                content["key"] = [_TF[bodies[0].split("#", 1)[0].strip().upper()]]
            else:
                content["type"], content["options"], content["key"] = _choice(bodies[0], fmt)
        if explanation:
            content["explanation"] = explanation
        return content


def parse(data: bytes, *, source: str = "file", knowledge_point: str | None = None) -> ParsedFile:
    """Read a GIFT file (UTF-8, UTF-8 with BOM, or GBK/GB18030)."""
    try:
        text = decode_text(data, source=source)
    except ValueError as exc:
        return ParsedFile(problems=[Problem(source, str(exc))])
    if "\x00" in text:
        return ParsedFile(problems=[Problem(source, "the file is not a GIFT text file")])
    parser = _Parser(source, knowledge_point)
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            block.append((number, line))
        elif block:
            parser.block(block)
            block = []
    if block:
        parser.block(block)
    if not parser.parsed.drafts and not parser.parsed.problems:
        parser.parsed.problems.append(Problem(source, "the file holds no GIFT questions"))
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


def _question(draft: ItemDraft) -> str:
    c = draft.content
    lines = [f"// [id:{draft.code}]"]
    for tag in [*c.tags, *meta_tags(c, points=True)]:
        if "]" not in tag and "\n" not in tag:
            lines.append(f"// [tag:{tag}]")
    head = f"::{_esc(draft.code)}::[html]"
    expl = f"\t####{_answer_text(c.explanation)}\n" if c.explanation else ""
    if c.type == ItemType.FILL_BLANK:
        pieces = BLANK_MARK.split(c.stem)  # text, n, text, n, …
        out = [_esc(pieces[0])]
        for i in range(1, len(pieces), 2):
            blank = c.blanks[int(pieces[i]) - 1]
            answers = " ".join(
                ("=%100%" if _WEIGHT.match(a) else "=") + _esc(a) for a in blank.accepted
            )
            last = i == len(pieces) - 2
            out.append(
                "{"
                + answers
                + (" ####" + _answer_text(c.explanation) if last and c.explanation else "")
                + "}"
            )
            out.append(_esc(pieces[i + 1]))
        lines.append(head + "".join(out))
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


def dump(drafts: list[ItemDraft], **options: Any) -> bytes:
    """Write drafts as a UTF-8 GIFT file, grouped under ``$CATEGORY: $course$/top/kp:CODE``."""
    if options:
        raise TypeError(f"unknown GIFT options: {sorted(options)}")
    parts = ["// Exported by exam-server. Tags kp:, difficulty:, points:, normalize: are metadata."]
    current = None
    for draft in drafts:
        kp = draft.content.knowledge_point
        if kp != current:
            parts.append(f"$CATEGORY: $course$/top/kp:{kp}")
            current = kp
        parts.append(_question(draft))
    return ("\n\n".join(parts) + "\n").encode("utf-8")

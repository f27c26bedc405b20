"""Excel workbook (.xlsx) and CSV item banks in the layout Chinese appraisal centres use.

Layout
------
One sheet named ``题库`` (if there is no such sheet the first sheet other than ``说明`` is read).
The header row names the columns; each title is Chinese with English on a second line
(``题干\\nstem``), but either language alone, a handful of common variants (``试题内容``,
``正确答案``, ``知识点`` …) and a bare option letter (``A``) are recognised, in any order. The
header is row 1 (rows above it are skipped if the first rows hold a title). Columns that are not
recognised are ignored. Row numbers in problems are spreadsheet row numbers.

=============  ==================  =====================================================
Column         English             Content
=============  ==================  =====================================================
题号           code                item code; if empty, generated (see below)
题型           type                判断题/单选题/多选题/填空题, 判断/单选/多选/填空, or
                                   true_false/single_choice/multiple_choice/fill_blank
题干           stem                item text (plain text or the allowed HTML subset)
选项A..选项H   option A..H         choice options, filled from A without gaps
答案           answer              see "Answers"
分值           points              number > 0, at most 2 decimals; default 1
难度           difficulty          number 0..1 (or a percentage such as ``35%``); default 0.5
鉴定点代码     knowledge point     knowledge-point code; default: the ``knowledge_point``
                                   argument; else a problem "no knowledge point"
解析           explanation         explanation shown after the exam
标签           tags                comma-separated (``,`` ``，`` or ``、``)
填空规则       normalize           fill-in normalisation rules, see "Fill-in rules"
题干(英文)     stem_en             English stem            } stored as the ``en``
选项A(英文)..  option A_en..H_en   English options         } translation; other
解析(英文)     explanation_en      English explanation     } languages are not carried
=============  ==================  =====================================================

Answers
-------
* Choice items: option letters in any of the forms ``ABD``, ``A,B,D``, ``A、B``, ``A B``, with
  full-width letters and lower case accepted.
* True/false items: ``对 正确 √ ✓ T TRUE 是 Y A`` mean true; ``错 错误 × ✗ X F FALSE 否 N B`` mean
  false (``A``/``B`` for sheets that list 正确/错误 as options A and B; such option cells are
  ignored). Excel TRUE/FALSE cells work too.
* Fill-in items: blanks separated by ``|``, accepted alternatives of one blank by ``;`` (full-width
  ``｜`` and ``；`` too): ``欧姆;Ω|伏特`` is blank 1 = 欧姆 or Ω, blank 2 = 伏特. A backslash
  escapes a separator or itself (``\\|``, ``\\;``, ``\\\\``); any other backslash is literal.
  The stem marks its blanks ``{{1}}``, ``{{2}}`` …; a stem without markers may instead use runs
  of three or more underscores or empty brackets ``（ ）``, which are numbered in order.

Fill-in rules
-------------
Rules per blank separated by ``|``; the rules of one blank separated by ``,`` ``+`` or spaces:
``trim`` (忽略首尾空格), ``width`` (全半角), ``case`` (忽略大小写), ``space`` (忽略空格), or
``none`` (无) for an exact comparison. An empty cell gives every blank the default
``trim,width``; a single group applies to every blank; an empty group gives that blank the default.

Item codes
----------
From the 题号 column. When it is empty the code is ``<PREFIX>-<row number, 4 digits>``: the prefix
is the file name without extension in upper case with every run of other characters than ASCII
letters and digits turned into ``-`` (``bank 2024.xlsx`` row 7 → ``BANK-2024-0007``); if the name
has characters other than ASCII letters, digits and separators (e.g. Chinese) the prefix is
``IMP-`` plus the first 6 hex digits of the SHA-256 of the name, and the default source name
``file`` gives ``IMP`` (:func:`question_bank.formats.common.generated_code`, shared by every
format). The same file therefore always yields the same codes.

CSV
---
:func:`parse_csv` reads the same columns from CSV in UTF-8 (with or without BOM) or GBK/GB18030;
comma, tab or semicolon separated. Row numbers are CSV record numbers (header = row 1), as a
spreadsheet shows them. :func:`dump_csv` writes UTF-8 with a BOM, so Excel opens it correctly.

Export writes the friendlier plain-text form of a text field when reading it back gives the same
stored HTML (``a &lt; b`` is written ``a < b``), else the stored HTML. Numbers carry Excel's 15
significant digits. Lost on export: translations other than English; an English translation whose
fields are all empty.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from html import unescape
from typing import Any

from pydantic import ValidationError

from ..messages import Msg, msg
from ..sanitize import UnsafeHTML, clean_html
from ..schema import (
    BLANK_MARK,
    OPTION_LABELS,
    ItemContent,
    ItemDraft,
    ItemType,
    error_list,
)
from . import (
    EncodingProblem,
    ImportOptions,
    ParsedFile,
    Problem,
    decode_text,
    place_row,
)
from .common import (
    DEFAULT_RULES,
    code_used_twice,
    decimal_points,
    generated_code,
    points_not_number,
    rules_text,
    unknown_rule,
)

SHEET = "题库"
INSTRUCTIONS_SHEET = "说明"
MAX_UNZIPPED = 200 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Columns


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    width: int = 12

    @property
    def title(self) -> str:
        return f"{self.zh}\n{self.en}"

    @property
    def label(self) -> str:
        """How problems name the column."""
        return f"{self.zh}/{self.en}"


def _columns() -> list[Column]:
    cols = [
        Column(
            "code",
            "题号",
            "code",
            ("试题编号", "题目编号", "编号", "试题代码", "id", "itemcode"),
            14,
        ),
        Column(
            "type", "题型", "type", ("试题类型", "题目类型", "类型", "itemtype", "questiontype"), 10
        ),
        Column(
            "stem",
            "题干",
            "stem",
            ("题目", "试题内容", "题目内容", "试题", "question", "questiontext"),
            48,
        ),
    ]
    for label in OPTION_LABELS:
        cols.append(
            Column(
                f"option_{label}", f"选项{label}", f"option {label}", (f"{label}选项", label), 18
            )
        )
    cols += [
        Column(
            "answer",
            "答案",
            "answer",
            ("正确答案", "标准答案", "参考答案", "key", "correctanswer"),
            14,
        ),
        Column("points", "分值", "points", ("分数", "score", "mark", "marks"), 8),
        Column("difficulty", "难度", "difficulty", ("难度系数", "难度值"), 8),
        Column(
            "knowledge_point",
            "鉴定点代码",
            "knowledge point",
            (
                "鉴定点",
                "鉴定点编号",
                "知识点",
                "知识点代码",
                "知识点编号",
                "kp",
                "kpcode",
                "knowledgepointcode",
            ),
            14,
        ),
        Column("explanation", "解析", "explanation", ("答案解析", "试题解析", "analysis"), 30),
        Column("tags", "标签", "tags", ("tag",), 16),
        Column(
            "normalize",
            "填空规则",
            "normalize",
            ("填空匹配规则", "normalizerules", "fillinrules"),
            14,
        ),
        Column("stem_en", "题干(英文)", "stem_en", ("英文题干",), 40),
    ]
    for label in OPTION_LABELS:
        cols.append(
            Column(f"option_{label}_en", f"选项{label}(英文)", f"option {label}_en",
                   (f"英文选项{label}", f"{label}en"), 18)
        )  # fmt: skip
    cols.append(Column("explanation_en", "解析(英文)", "explanation_en", ("英文解析",), 30))
    return cols


COLUMNS = _columns()
BY_KEY = {c.key: c for c in COLUMNS}


def _norm_header(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-()（）:：*＊]+", "", text)


_ALIASES: dict[str, str] = {}
for _col in COLUMNS:
    for _name in (_col.zh, _col.en, *_col.aliases):
        _ALIASES.setdefault(_norm_header(_name), _col.key)


def _header_key(cell: Any) -> str | None:
    text = _text(cell)
    if not text:
        return None
    candidates = [text, *text.splitlines(), *re.split(r"[/\n]", text)]
    for cand in candidates:
        key = _ALIASES.get(_norm_header(cand))
        if key:
            return key
    return None


# --------------------------------------------------------------------------------------------
# Cell values

_TRUE_WORDS = {"对", "正确", "√", "✓", "✔", "T", "TRUE", "是", "Y", "YES", "A"}
_FALSE_WORDS = {"错", "错误", "×", "✗", "✘", "X", "F", "FALSE", "否", "N", "NO", "B"}
_TF_OPTION_WORDS = {"对", "错", "正确", "错误", "√", "×", "TRUE", "FALSE", "是", "否"}

_TYPES = {
    ItemType.TRUE_FALSE: ("判断题", "判断", "是非题", "对错题", "truefalse", "tf", "judge", "judgement"),
    ItemType.SINGLE_CHOICE: ("单选题", "单选", "单项选择题", "单项选择", "singlechoice", "single", "sc"),
    ItemType.MULTIPLE_CHOICE: (
        "多选题", "多选", "多项选择题", "多项选择", "multiplechoice", "multiple", "multi", "mc",
    ),
    ItemType.FILL_BLANK: ("填空题", "填空", "fillblank", "fillin", "fill", "blank", "completion"),
}  # fmt: skip
_TYPE_ALIASES = {_norm_header(a): t for t, names in _TYPES.items() for a in names}
_TYPE_NAMES = {
    ItemType.TRUE_FALSE: "判断题",
    ItemType.SINGLE_CHOICE: "单选题",
    ItemType.MULTIPLE_CHOICE: "多选题",
    ItemType.FILL_BLANK: "填空题",
}
_RULE_ALIASES = {
    "trim": "trim", "忽略首尾空格": "trim", "去首尾空格": "trim", "首尾空格": "trim",
    "width": "width", "全半角": "width", "忽略全半角": "width",
    "case": "case", "忽略大小写": "case", "大小写": "case",
    "space": "space", "忽略空格": "space", "去空格": "space", "空格": "space",
}  # fmt: skip
_NO_RULES = {"none", "无", "exact", "精确"}


def _text(value: Any) -> str:
    """A cell value as stripped text (numbers without a spurious ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip().strip("\ufeff\u200b").strip()


def _split(text: str, seps: str, *, unescape_: bool) -> list[str]:
    """Split on any of ``seps``; a backslash escapes a separator or a backslash."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if (
            c == "\\"
            and i + 1 < len(text)
            and (text[i + 1] in seps or text[i + 1] in "\\|;｜；,，、")
        ):
            cur.append(text[i + 1] if unescape_ else text[i : i + 2])
            i += 2
            continue
        if c in seps:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + c if c == "\\" or c in specials else c for c in text)


def _friendly(html: str) -> str:
    """The plain-text form of a stored text field when it reads back as the same HTML."""
    if not html or "&" not in html:
        return html
    plain = unescape(html)
    try:
        return plain if clean_html(plain) == html else html
    except UnsafeHTML:
        return html


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# --------------------------------------------------------------------------------------------
# Parsing


class _RowError(Exception):
    def __init__(self, column: str, message: Msg):
        super().__init__(message)
        self.column = column
        self.message = message


def _schema_field_column(field: str) -> str:
    """Map a schema field (``options.2.text``) to the column that holds it."""
    parts = field.split(".")
    head = parts[0]
    if head == "options" and len(parts) > 1 and parts[1].isdigit():
        idx = int(parts[1])
        if idx < len(OPTION_LABELS):
            return BY_KEY[f"option_{OPTION_LABELS[idx]}"].label
    if head == "translations":
        if len(parts) > 2 and parts[2] == "stem":
            return BY_KEY["stem_en"].label
        if len(parts) > 2 and parts[2] == "explanation":
            return BY_KEY["explanation_en"].label
        if len(parts) > 3 and parts[2] == "options" and parts[3] in OPTION_LABELS:
            return BY_KEY[f"option_{parts[3]}_en"].label
        return "选项(英文)/options_en"
    if head == "blanks":
        if len(parts) > 2 and parts[2] == "normalize":
            return BY_KEY["normalize"].label
        return BY_KEY["answer"].label
    mapping = {
        "code": "code",
        "type": "type",
        "stem": "stem",
        "options": "option_A",
        "key": "answer",
        "points": "points",
        "knowledge_point": "knowledge_point",
        "difficulty": "difficulty",
        "explanation": "explanation",
        "tags": "tags",
    }
    if head in mapping:
        col = BY_KEY[mapping[head]]
        return "选项/options" if head == "options" else col.label
    return field


def _mark_blanks(stem: str) -> str:
    """Number ``____`` / ``（ ）`` blanks of a stem that has no ``{{n}}`` markers."""
    if BLANK_MARK.search(stem):
        return stem
    counter = itertools.count(1)
    return re.sub(r"_{3,}|[（(][\s\u3000]*[)）]", lambda _m: f"{{{{{next(counter)}}}}}", stem)


class _RowParser:
    def __init__(self, source: str, options: ImportOptions):
        self.source = source
        self.options = options
        self.items = 0
        self.parsed = ParsedFile()
        self.columns: dict[str, int] = {}
        self.codes: dict[str, str] = {}

    # header ------------------------------------------------------------------------------

    def header(self, rows: list[tuple[int, list[Any]]]) -> int | None:
        """Find the header among the first rows; return its row number."""
        for number, cells in rows[:5]:
            keys = [_header_key(c) for c in cells]
            found = {k for k in keys if k}
            if {"type", "stem"} <= found or ({"stem", "answer"} <= found):
                seen: dict[str, int] = {}
                for idx, key in enumerate(keys):
                    if not key:
                        continue
                    if key in seen:
                        self.parsed.problems.append(
                            Problem(
                                place_row(number),
                                msg(
                                    "xlsx_column_twice",
                                    "Column %(column)s appears twice (columns %(first)s and "
                                    "%(second)s).",
                                    column=BY_KEY[key].label,
                                    first=_col_letter(seen[key]),
                                    second=_col_letter(idx),
                                ),
                                BY_KEY[key].label,
                            )
                        )
                        continue
                    seen[key] = idx
                self.columns = seen
                for required in ("type", "stem", "answer"):
                    if required not in seen:
                        col = BY_KEY[required]
                        self.parsed.problems.append(
                            Problem(
                                place_row(number),
                                msg(
                                    "xlsx_column_missing",
                                    "Missing column %(column)s.",
                                    column=col.label,
                                ),
                                col.label,
                            )
                        )
                return number
        self.parsed.problems.append(
            Problem(
                place_row(1),
                msg(
                    "xlsx_no_header",
                    "No header row: the first row must name the columns (题号, 题型, 题干, "
                    "选项A…, 答案, 鉴定点代码 …); download the template.",
                ),
            )
        )
        return None

    def cell(self, cells: list[Any], key: str) -> str:
        idx = self.columns.get(key)
        if idx is None or idx >= len(cells):
            return ""
        return _text(cells[idx])

    def raw(self, cells: list[Any], key: str) -> Any:
        idx = self.columns.get(key)
        if idx is None or idx >= len(cells):
            return None
        return cells[idx]

    # rows --------------------------------------------------------------------------------

    def row(self, number: int, cells: list[Any]) -> None:
        if not any(_text(c) for c in cells):
            return
        place = place_row(number)
        self.items += 1
        if self.parsed.too_many(self.options, self.items):
            return
        problems: list[Problem] = []
        bad: set[str] = set()

        def fail(key: str, message: Msg, schema_field: str) -> None:
            problems.append(Problem(place, message, BY_KEY[key].label))
            bad.add(schema_field)

        for key, idx in self.columns.items():
            text = cells[idx] if idx < len(cells) else None
            if isinstance(text, str) and self.parsed.field_too_long(
                self.options, place, BY_KEY[key].label, text
            ):
                return

        code = self.cell(cells, "code")
        if not code:
            code = generated_code(self.source, number)
            self.parsed.generated.add(code)
        if code in self.codes:
            problems.append(
                Problem(place, code_used_twice(code, self.codes[code]), BY_KEY["code"].label)
            )
        else:
            self.codes[code] = place

        type_text = self.cell(cells, "type")
        item_type = _TYPE_ALIASES.get(_norm_header(type_text)) if type_text else None
        if item_type is None:
            if type_text:
                why = msg(
                    "xlsx_type_unknown",
                    "Unknown item type %(type)s; use 判断题, 单选题, 多选题 or 填空题.",
                    type=type_text,
                )
            else:
                why = msg(
                    "xlsx_type_empty", "Item type is empty; use 判断题, 单选题, 多选题 or 填空题."
                )
            problems.append(Problem(place, why, BY_KEY["type"].label))
            self.parsed.problems.extend(problems)
            return

        content: dict[str, Any] = {"type": item_type.value, "stem": self.cell(cells, "stem")}

        # options
        texts = [self.cell(cells, f"option_{label}") for label in OPTION_LABELS]
        last = max((i for i, t in enumerate(texts) if t), default=-1)
        options = texts[: last + 1]
        tf_options: list[str] = []
        if item_type == ItemType.TRUE_FALSE and all(
            unicodedata.normalize("NFKC", t).upper() in _TF_OPTION_WORDS for t in options
        ):
            tf_options, options = options, []
        for i, text in enumerate(options):
            if not text:
                later = OPTION_LABELS[last]
                fail(
                    f"option_{OPTION_LABELS[i]}",
                    msg(
                        "xlsx_option_gap",
                        "选项%(empty)s is empty but 选项%(later)s is filled; fill options from A "
                        "without gaps.",
                        empty=OPTION_LABELS[i],
                        later=later,
                    ),
                    "options",
                )
        if options and "options" not in bad:
            content["options"] = [
                {"label": OPTION_LABELS[i], "text": t} for i, t in enumerate(options)
            ]

        # answer
        answer_raw = self.raw(cells, "answer")
        answer = self.cell(cells, "answer")
        try:
            if item_type == ItemType.FILL_BLANK:
                content["stem"] = _mark_blanks(content["stem"])
                content["blanks"] = self._blanks(answer, self.cell(cells, "normalize"))
            elif item_type == ItemType.TRUE_FALSE:
                content["key"] = [_tf_key(answer_raw, answer, tf_options)]
            else:
                content["key"] = _choice_key(answer)
        except _RowError as exc:
            fail(exc.column, exc.message, "blanks" if item_type == ItemType.FILL_BLANK else "key")

        # numbers
        points = self.cell(cells, "points")
        if points:
            try:
                content["points"] = decimal_points(points.removesuffix("分"))
            except InvalidOperation:
                fail("points", points_not_number(points), "points")
        difficulty = self.cell(cells, "difficulty")
        if difficulty:
            text = difficulty.strip()
            pct = text.endswith("%")
            value = _number(text.rstrip("%").strip())
            if value is None:
                fail(
                    "difficulty",
                    msg(
                        "difficulty_not_number",
                        "difficulty %(value)s is not a number from 0 to 1.",
                        value=difficulty,
                    ),
                    "difficulty",
                )
            else:
                content["difficulty"] = float(value / 100 if pct else value)

        kp = self.cell(cells, "knowledge_point") or self.options.knowledge_point
        if kp:
            content["knowledge_point"] = kp
        else:
            fail(
                "knowledge_point",
                msg(
                    "xlsx_no_knowledge_point",
                    "No knowledge point: fill 鉴定点代码 or choose one for the whole file.",
                ),
                "knowledge_point",
            )

        explanation = self.cell(cells, "explanation")
        if explanation:
            content["explanation"] = explanation
        tags = self.cell(cells, "tags")
        if tags:
            content["tags"] = [
                t.strip() for t in _split(tags, ",，、", unescape_=True) if t.strip()
            ]

        en: dict[str, Any] = {}
        if stem_en := self.cell(cells, "stem_en"):
            en["stem"] = stem_en
        opts_en = {
            label: text
            for label in OPTION_LABELS
            if (text := self.cell(cells, f"option_{label}_en"))
        }
        if opts_en:
            en["options"] = opts_en
        if expl_en := self.cell(cells, "explanation_en"):
            en["explanation"] = expl_en
        if en:
            content["translations"] = {"en": en}

        self._validate(place, code, content, problems, bad)

    def _blanks(self, answer: str, rules_cell: str) -> list[dict[str, Any]]:
        if not answer:
            raise _RowError(
                "answer",
                msg(
                    "xlsx_blank_answer_empty",
                    "The answer is empty: give each blank's answers, e.g. 欧姆;Ω|伏特.",
                ),
            )
        blanks: list[dict[str, Any]] = []
        for n, group in enumerate(_split(answer, "|｜", unescape_=False), start=1):
            accepted = [a.strip() for a in _split(group, ";；", unescape_=True)]
            accepted = [a for a in accepted if a]
            if not accepted:
                raise _RowError(
                    "answer",
                    msg(
                        "xlsx_blank_no_answer",
                        "Blank %(n)s has no accepted answer in %(answer)s.",
                        n=n,
                        answer=answer,
                    ),
                )
            blanks.append({"accepted": accepted})
        if rules_cell:
            groups = [g.strip() for g in _split(rules_cell, "|｜", unescape_=True)]
            if len(groups) == 1:
                groups = groups * len(blanks)
            if len(groups) != len(blanks):
                raise _RowError(
                    "normalize",
                    msg(
                        "xlsx_rules_count",
                        "填空规则 has %(groups)s groups but the answer has %(blanks)s blanks.",
                        groups=len(groups),
                        blanks=len(blanks),
                    ),
                )
            for blank, group in zip(blanks, groups, strict=True):
                blank["normalize"] = _rules(group)
        return blanks

    def _validate(
        self,
        place: str,
        code: str,
        content: dict[str, Any],
        problems: list[Problem],
        bad: set[str],
    ) -> None:
        if not problems:
            before = len(self.parsed.problems)
            self.parsed.add(place, code, content)
            for i in range(before, len(self.parsed.problems)):
                p = self.parsed.problems[i]
                self.parsed.problems[i] = Problem(
                    p.place, p.message, _schema_field_column(p.field or "")
                )
            return
        # Report what else is wrong with the row, with placeholders for the fields already
        # reported, but keep no draft.
        trial = dict(content)
        trial.setdefault("knowledge_point", "X")
        for name in ("points", "difficulty", "options", "key", "blanks"):
            if name in bad:
                trial.pop(name, None)
        extra: list[Problem] = []
        try:
            ItemDraft(code=code, content=ItemContent.model_validate(trial))
        except ValidationError as exc:
            for err in error_list(exc):
                name = err["field"].removeprefix("content.")
                head = name.split(".")[0]
                if head in bad or (
                    head in ("key", "blanks", "options") and {"key", "blanks", "options"} & bad
                ):
                    continue
                extra.append(Problem(place, err["message"], _schema_field_column(name)))
        self.parsed.problems.extend(problems + extra)


def _col_letter(idx: int) -> str:
    letters = ""
    idx += 1
    while idx:
        idx, rem = divmod(idx - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _choice_key(answer: str) -> list[str]:
    if not answer:
        raise _RowError(
            "answer",
            msg(
                "xlsx_choice_answer_empty",
                "The answer is empty: give the option letters, e.g. A or ABD.",
            ),
        )
    text = unicodedata.normalize("NFKC", answer).upper()
    letters = re.sub(r"[\s,;/|、]+", "", text)
    bad = sorted({c for c in letters if c not in OPTION_LABELS})
    if bad:
        raise _RowError(
            "answer",
            msg(
                "xlsx_choice_answer_bad",
                "The answer %(answer)s is not option letters A–H (found %(found)s).",
                answer=answer,
                found=", ".join(bad),
            ),
        )
    return list(letters)


def _tf_key(raw: Any, answer: str, tf_options: list[str]) -> str:
    """True/false key; ``A``/``B`` refer to 正确/错误 option cells when the sheet has them."""
    if isinstance(raw, bool):
        return "T" if raw else "F"
    word = unicodedata.normalize("NFKC", answer).strip().upper()
    if word in ("A", "B") and len(tf_options) == 2:
        answer = tf_options[0 if word == "A" else 1]
        word = unicodedata.normalize("NFKC", answer).strip().upper()
    if word in _TRUE_WORDS or answer in _TRUE_WORDS:
        return "T"
    if word in _FALSE_WORDS or answer in _FALSE_WORDS:
        return "F"
    if not answer:
        raise _RowError(
            "answer", msg("xlsx_tf_answer_empty", "The answer is empty: write 对 or 错.")
        )
    raise _RowError(
        "answer",
        msg(
            "xlsx_tf_answer_bad",
            "The answer %(answer)s is not a true/false answer: write 对 or 错.",
            answer=answer,
        ),
    )


def _rules(group: str) -> list[str]:
    if not group:
        return list(DEFAULT_RULES)
    tokens = [t for t in re.split(r"[\s,，、+;；]+", group) if t]
    if len(tokens) == 1 and tokens[0].casefold() in _NO_RULES:
        return []
    rules = []
    for token in tokens:
        rule = _RULE_ALIASES.get(token.casefold())
        if rule is None:
            raise _RowError("normalize", unknown_rule(token))
        rules.append(rule)
    return rules


def _parse_rows(
    rows: Iterable[tuple[int, list[Any]]], source: str, options: ImportOptions
) -> ParsedFile:
    parser = _RowParser(source, options)
    iterator = iter(rows)
    head: list[tuple[int, list[Any]]] = []
    for item in iterator:
        head.append(item)
        if len(head) == 5:
            break
    header_row = parser.header(head)
    if header_row is None:
        return parser.parsed
    for number, cells in head:
        if number > header_row:
            parser.row(number, cells)
    for number, cells in iterator:
        parser.row(number, cells)
        if parser.parsed.extra.get("too_many"):
            break
    return parser.parsed


def _sniff_problem(data: bytes, source: str) -> Problem | None:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return Problem(
            source,
            msg(
                "xlsx_old_xls",
                "The file is an old Excel 97-2003 (.xls) workbook; save it as .xlsx (Excel 2007 "
                "or later) or as CSV and import that.",
            ),
        )
    if not data.startswith(b"PK\x03\x04"):
        if not data.strip():
            return Problem(source, msg("file_empty", "The file is empty."))
        return Problem(
            source,
            msg(
                "xlsx_not_workbook",
                "The file is not an .xlsx workbook (it looks like text or another format); use "
                "the CSV import for .csv files.",
            ),
        )
    return None


# Columns past the last one the layout knows are never read (a sheet may declare 16,384).
MAX_COLUMNS = 2 * len(COLUMNS) + 20
# Rows that may be read besides the items: a title, the header, empty formatted rows.
SPARE_ROWS = 10_000


class _SheetTooBig(Exception):
    def __init__(self, message: Msg):
        super().__init__(message)
        self.message = message


def _scan_xml(zf: zipfile.ZipFile, name: str, options: ImportOptions, *, sheet: bool) -> None:
    """Stream one workbook part through expat, counting rows and cells and measuring every text
    node, so an oversized sheet or cell is refused before openpyxl reads anything. The declared
    ``<dimension>`` is ignored. Raises :class:`_SheetTooBig`."""
    from xml.parsers import expat

    max_rows = options.max_items + SPARE_ROWS
    max_cells = max_rows * MAX_COLUMNS
    # Rows with a value: the items, a header and a few title rows at most.
    max_filled = options.max_items + 6
    state = {"rows": 0, "cells": 0, "text": 0, "filled": 0, "has_value": 0}

    def end(tag: str) -> None:
        if sheet and tag.rsplit("}", 1)[-1] == "row" and state["has_value"]:
            state["filled"] += 1
            state["has_value"] = 0
            if state["filled"] > max_filled:
                raise _SheetTooBig(
                    msg(
                        "import_too_many_items",
                        "The file holds more than %(max)s items, the most one import takes; "
                        "split it into smaller files.",
                        max=options.max_items,
                    )
                )

    def start(tag: str, _attrs: Any) -> None:
        local = tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
        if local in ("t", "v", "f"):
            state["text"] = 0
            state["has_value"] = 1
        elif sheet and local == "row":
            state["rows"] += 1
            if state["rows"] > max_rows:
                raise _SheetTooBig(
                    msg(
                        "xlsx_too_many_rows",
                        "The sheet has more than %(max)s rows; one import takes at most "
                        "%(items)s items.",
                        max=max_rows,
                        items=options.max_items,
                    )
                )
        elif sheet and local == "c":
            state["cells"] += 1
            if state["cells"] > max_cells:
                raise _SheetTooBig(
                    msg(
                        "xlsx_too_many_cells",
                        "The sheet has more than %(max)s cells.",
                        max=max_cells,
                    )
                )

    def text(data: str) -> None:
        state["text"] += len(data)
        if state["text"] > options.max_field_chars:
            raise _SheetTooBig(
                msg(
                    "xlsx_cell_too_long",
                    "A cell has more than %(max)s characters, the most a field holds.",
                    max=options.max_field_chars,
                )
            )

    def forbidden(*_args: Any) -> None:
        raise _SheetTooBig(msg("xml_forbidden", "The file uses forbidden XML features (%(detail)s).",
                               detail="DTD"))  # fmt: skip

    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True  # one text callback per node, not per chunk of it
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = forbidden
    parser.EntityDeclHandler = forbidden
    try:
        with zf.open(name) as fh:
            while chunk := fh.read(1 << 16):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise _SheetTooBig(
            msg("xml_malformed", "The file is not well-formed XML: %(detail)s.", detail=str(exc))
        ) from None


def parse(
    data: bytes,
    *,
    source: str = "file",
    knowledge_point: str | None = None,
    options: ImportOptions | None = None,
) -> ParsedFile:
    """Read an .xlsx item bank; see the module docstring for the layout."""
    options = options or ImportOptions(knowledge_point=knowledge_point)
    problem = _sniff_problem(data, source)
    if problem:
        return ParsedFile(problems=[problem])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if sum(i.file_size for i in zf.infolist()) > MAX_UNZIPPED:
                return ParsedFile(
                    problems=[
                        Problem(
                            source,
                            msg(
                                "zip_too_large",
                                "The file unpacks to more than %(max)s MB.",
                                max=MAX_UNZIPPED // (1024 * 1024),
                            ),
                        )
                    ]
                )
            names = zf.namelist()
            if "xl/workbook.xml" not in names:
                return ParsedFile(
                    problems=[
                        Problem(
                            source,
                            msg(
                                "xlsx_zip_not_workbook",
                                "The file is a zip archive but not an .xlsx workbook.",
                            ),
                        )
                    ]
                )
            for name in names:
                if name == "xl/sharedStrings.xml" or (
                    name.startswith("xl/worksheets/") and name.endswith(".xml")
                ):
                    _scan_xml(zf, name, options, sheet=name.startswith("xl/worksheets/"))
    except _SheetTooBig as exc:
        return ParsedFile(problems=[Problem(source, exc.message)])
    except Exception:  # BadZipFile, NotImplementedError (odd versions), …: a broken file
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg("xlsx_broken_zip", "The file is not a valid .xlsx file (broken zip)."),
                )
            ]
        )

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of errors for broken workbooks
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg(
                        "xlsx_unreadable",
                        "The file cannot be read as .xlsx: %(detail)s",
                        detail=str(exc),
                    ),
                )
            ]
        )
    try:
        names = wb.sheetnames
        name = (
            SHEET if SHEET in names else next((n for n in names if n != INSTRUCTIONS_SHEET), None)
        )
        if name is None:
            return ParsedFile(
                problems=[
                    Problem(
                        source,
                        msg(
                            "xlsx_no_sheet", "The file has no item sheet (%(sheet)s).", sheet=SHEET
                        ),
                    )
                ]
            )
        ws = wb[name]
        # The declared dimension may claim a million rows and 16,384 columns: read what is there.
        ws.reset_dimensions()
        try:
            rows = (
                (number, list(values))
                for number, values in enumerate(
                    ws.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1
                )
            )
            parsed = _parse_rows(_bounded(rows, options), source, options)
        except _SheetTooBig as exc:
            return ParsedFile(problems=[Problem(source, exc.message)])
        except Exception as exc:
            return ParsedFile(
                problems=[
                    Problem(
                        source,
                        msg(
                            "xlsx_sheet_broken",
                            "Sheet %(sheet)s is broken: %(detail)s",
                            sheet=name,
                            detail=str(exc),
                        ),
                    )
                ]
            )
    finally:
        wb.close()
    return parsed


def _bounded(
    rows: Iterable[tuple[int, list[Any]]], options: ImportOptions
) -> Iterator[tuple[int, list[Any]]]:
    """Rows, refusing the sheet once more rows come than an import may hold (gaps in the row
    numbers are filled by openpyxl, so this counts what is read, not what the XML says)."""
    limit = options.max_items + SPARE_ROWS
    for number, cells in rows:
        if number > limit:
            raise _SheetTooBig(
                msg(
                    "xlsx_too_many_rows",
                    "The sheet has more than %(max)s rows; one import takes at most "
                    "%(items)s items.",
                    max=limit,
                    items=options.max_items,
                )
            )
        yield number, cells


def parse_csv(
    data: bytes,
    *,
    source: str = "file",
    knowledge_point: str | None = None,
    options: ImportOptions | None = None,
) -> ParsedFile:
    """Read a CSV item bank with the same columns (UTF-8, UTF-8 with BOM, GBK/GB18030 or
    Windows-1252; see :func:`question_bank.formats.decode_text`)."""
    options = options or ImportOptions(knowledge_point=knowledge_point)
    try:
        text = decode_text(data, source=source, encoding=options.encoding)
    except EncodingProblem as exc:
        parsed = ParsedFile(problems=[Problem(source, exc.message)])
        if exc.ambiguous:
            parsed.hints.append("encoding")
        return parsed
    if not text.strip():
        return ParsedFile(problems=[Problem(source, msg("file_empty", "The file is empty."))])
    if "\x00" in text:
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg("csv_binary", "The file is not CSV text (it holds binary data)."),
                )
            ]
        )
    sample = text[:4096]
    delimiter = ","
    first = sample.splitlines()[0] if sample else ""
    if first.count("\t") > first.count(","):
        delimiter = "\t"
    elif first.count(";") > first.count(",") and first.count(";") > 2:
        delimiter = ";"
    csv.field_size_limit(max(options.max_field_chars * 4, 131072))
    # Count the records first: a file over the limit is refused before any row is parsed.
    try:
        filled = sum(
            1 for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(r)
        )
    except csv.Error as exc:
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg("csv_invalid", "The file is not valid CSV: %(detail)s", detail=str(exc)),
                )
            ]
        )
    parsed = ParsedFile()
    if parsed.too_many(options, filled - 1):
        return parsed
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: Iterator[tuple[int, list[Any]]] = (
        (number, record[:MAX_COLUMNS]) for number, record in enumerate(records, start=1)
    )
    try:
        return _parse_rows(_bounded(rows, options), source, options)
    except _SheetTooBig as exc:
        return ParsedFile(problems=[Problem(source, exc.message)])
    except csv.Error as exc:
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg("csv_invalid", "The file is not valid CSV: %(detail)s", detail=str(exc)),
                )
            ]
        )


# --------------------------------------------------------------------------------------------
# Export


def _row(draft: ItemDraft) -> list[Any]:
    c = draft.content
    values: dict[str, Any] = {
        "code": draft.code,
        "type": _TYPE_NAMES[c.type],
        "stem": _friendly(c.stem),
        "points": int(c.points) if c.points == c.points.to_integral_value() else float(c.points),
        "difficulty": c.difficulty,
        "knowledge_point": c.knowledge_point,
        "explanation": _friendly(c.explanation),
        "tags": ",".join(_escape(t, ",，、") for t in c.tags),
    }
    for opt in c.options:
        values[f"option_{opt.label}"] = _friendly(opt.text)
    if c.type == ItemType.TRUE_FALSE:
        values["answer"] = "正确" if c.key == ["T"] else "错误"
    elif c.type == ItemType.FILL_BLANK:
        values["answer"] = "|".join(
            ";".join(_escape(a, "|;｜；") for a in b.accepted) for b in c.blanks
        )
        values["normalize"] = rules_text(c.blanks)
    else:
        values["answer"] = "".join(c.key)
    en = c.translations.get("en")
    if en:
        values["stem_en"] = _friendly(en.stem)
        values["explanation_en"] = _friendly(en.explanation)
        for label, text in en.options.items():
            values[f"option_{label}_en"] = _friendly(text)
    return [values.get(col.key, "") for col in COLUMNS]


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _write_sheet(ws: Any, rows: Iterable[list[Any]]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    head_font = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    for idx, col in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=idx, value=col.title)
        cell.font = head_font
        cell.fill = head_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        ws.column_dimensions[get_column_letter(idx)].width = col.width
    ws.row_dimensions[1].height = 32
    ws.freeze_panes = "A2"
    for r, values in enumerate(rows, start=2):
        for idx, value in enumerate(values, start=1):
            if value == "" or value is None:
                continue
            cell = ws.cell(row=r, column=idx)
            if isinstance(value, str):
                cell.value = _ILLEGAL.sub("", value)
                cell.data_type = "s"  # never a formula, even if the text starts with "="
                cell.alignment = wrap
            else:
                cell.value = value


_INSTRUCTIONS = [
    ("说明 / Instructions", ""),
    (
        "每行一道题；第一行是表头，列的顺序可以调整，不认识的列会被忽略。",
        "One item per row; row 1 is the header. Columns may be reordered; unknown columns are ignored.",
    ),
    (
        "题号：试题代码（字母、数字、. _ -）；留空则按文件名和行号自动生成。",
        "code: item code (letters, digits, . _ -); left empty, it is generated from the file name and row.",
    ),
    (
        "题型：判断题、单选题、多选题、填空题。",
        "type: true/false, single choice, multiple choice, fill-in.",
    ),
    (
        "选项A–H：选择题的选项，从A开始连续填写；判断题不填选项。",
        "option A–H: options of choice items, filled from A without gaps; true/false items have none.",
    ),
    (
        "答案：选择题写字母，如 A 或 ABD（也可写 A,B,D）；判断题写 对/错（√/×、正确/错误、T/F）。",
        "answer: choice items give letters, e.g. A or ABD (A,B,D also works); true/false items 对/错 (√/×, T/F).",
    ),
    (
        "填空题：题干中用 {{1}}、{{2}} 标出空位；答案中各空用 | 分隔，同一空的多个可接受答案用 ; 分隔，"
        "如 欧姆;Ω|伏特。答案中的 | ; \\ 本身写作 \\| \\; \\\\。",
        "fill-in: mark blanks {{1}}, {{2}} in the stem; in the answer separate blanks with | and "
        "alternatives of one blank with ;, e.g. 欧姆;Ω|伏特. Write a literal | ; \\ as \\| \\; \\\\.",
    ),
    (
        "填空规则：trim（忽略首尾空格）、width（全半角）、case（忽略大小写）、space（忽略空格）、none；"
        "各空用 | 分隔；留空为 trim,width。",
        "normalize: trim, width (full/half width), case, space, or none; per blank separated by |; "
        "empty means trim,width.",
    ),
    ("分值：大于0，最多两位小数，默认1。", "points: more than 0, at most 2 decimals; default 1."),
    ("难度：0到1之间的数，默认0.5。", "difficulty: a number from 0 to 1; default 0.5."),
    (
        "鉴定点代码：该题所属鉴定点；留空则使用导入时选择的鉴定点。",
        "knowledge point: the item's knowledge-point code; empty means the one chosen when importing.",
    ),
    ("标签：用逗号分隔。", "tags: comma-separated."),
    (
        "英文列（题干(英文)、选项A(英文)…、解析(英文)）可选，作为英文翻译导入。",
        "English columns (stem_en, option A_en…, explanation_en) are optional and become the English translation.",
    ),
    (
        "文字可以是纯文本，或有限的HTML（<b> <i> <sub> <sup> <br> <table> 等）；不允许脚本。",
        "Text may be plain or a small HTML subset (<b> <i> <sub> <sup> <br> <table> …); scripts are refused.",
    ),
    (
        "也可另存为 CSV（UTF-8 或 GBK）导入，列相同。",
        "You may also save as CSV (UTF-8 or GBK) with the same columns.",
    ),
]


def _write_instructions(wb: Any) -> None:
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(INSTRUCTIONS_SHEET)
    ws.column_dimensions["A"].width = 80
    ws.column_dimensions["B"].width = 80
    for r, (zh, en) in enumerate(_INSTRUCTIONS, start=1):
        a = ws.cell(row=r, column=1, value=zh)
        b = ws.cell(row=r, column=2, value=en)
        a.data_type = b.data_type = "s"
        a.alignment = b.alignment = Alignment(wrap_text=True, vertical="top")
        if r == 1:
            a.font = Font(bold=True, size=13)


def _workbook_bytes(drafts: list[ItemDraft], *, instructions: bool, validation: bool) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    _write_sheet(ws, (_row(d) for d in drafts))
    if validation:
        letter = get_column_letter(COLUMNS.index(BY_KEY["type"]) + 1)
        dv = DataValidation(type="list", formula1='"判断题,单选题,多选题,填空题"', allow_blank=True)
        dv.add(f"{letter}2:{letter}5000")
        ws.add_data_validation(dv)
    if instructions:
        _write_instructions(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def dump(drafts: list[ItemDraft], **options: Any) -> bytes:
    """Write drafts as an .xlsx workbook. Option ``instructions`` (default True) adds 说明."""
    instructions = bool(options.pop("instructions", True))
    if options:
        raise TypeError(f"unknown xlsx options: {sorted(options)}")
    return _workbook_bytes(drafts, instructions=instructions, validation=False)


def dump_csv(drafts: list[ItemDraft], **options: Any) -> bytes:
    """Write drafts as CSV (UTF-8 with BOM, so Excel opens it correctly) with the same columns."""
    if options:
        raise TypeError(f"unknown csv options: {sorted(options)}")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label for c in COLUMNS])
    for d in drafts:
        writer.writerow(["" if v is None else str(v) if not isinstance(v, float) else repr(v)
                         for v in _row(d)])  # fmt: skip
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _examples() -> list[ItemDraft]:
    kp = "01.01.001"
    docs = [
        ("EX-001", {
            "type": "true_false", "stem": "电流的单位是安培。", "key": ["T"],
            "knowledge_point": kp, "explanation": "国际单位制中电流的单位是安培（A）。",
            "translations": {"en": {"stem": "The unit of electric current is the ampere."}},
        }),
        ("EX-002", {
            "type": "single_choice", "stem": "电阻的单位是（ ）。",
            "options": [{"label": "A", "text": "欧姆"}, {"label": "B", "text": "伏特"},
                        {"label": "C", "text": "安培"}, {"label": "D", "text": "瓦特"}],
            "key": ["A"], "knowledge_point": kp, "points": Decimal("1"), "difficulty": 0.3,
            "tags": ["基础"],
        }),
        ("EX-003", {
            "type": "multiple_choice", "stem": "下列属于导体的是（ ）。",
            "options": [{"label": "A", "text": "铜"}, {"label": "B", "text": "橡胶"},
                        {"label": "C", "text": "铝"}, {"label": "D", "text": "陶瓷"}],
            "key": ["A", "C"], "knowledge_point": kp, "points": Decimal("2"), "difficulty": 0.5,
        }),
        ("EX-004", {
            "type": "fill_blank", "stem": "电阻的单位是{{1}}，电压的单位是{{2}}。",
            "blanks": [{"accepted": ["欧姆", "Ω"]}, {"accepted": ["伏特", "V"],
                                                    "normalize": ["trim", "width", "case"]}],
            "knowledge_point": kp, "points": Decimal("2"), "difficulty": 0.4,
        }),
    ]  # fmt: skip
    return [ItemDraft(code=code, content=ItemContent.model_validate(doc)) for code, doc in docs]


def template() -> bytes:
    """A downloadable workbook: the header, one example row per item type, and 说明."""
    return _workbook_bytes(_examples(), instructions=True, validation=True)

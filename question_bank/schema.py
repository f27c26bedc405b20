"""The interchange shape of items and knowledge points.

Every import format parses into :class:`ItemDraft` and every export format writes from it, so
the rules of a valid item live in one place. Validation errors name the field (``stem``,
``options[2].text``, ``key`` …) so importers can report "row 14, key: …".

Conventions
-----------
* Item types: ``true_false``, ``single_choice``, ``multiple_choice``, ``fill_blank``.
* Choice options carry labels ``A``..``H`` in order; the key lists option labels.
* True/false items have no options; the key is ``["T"]`` or ``["F"]``.
* Fill-in items mark each blank in the stem as ``{{1}}``, ``{{2}}`` … in order, and list one
  :class:`Blank` per marker with its accepted answers and normalisation rules.
* ``difficulty`` is the classical facility, the expected proportion of candidates answering
  correctly (0–1): **higher means easier**. Item analysis keeps it updated from real responses.
* Text fields are a small HTML subset, sanitised by :func:`question_bank.sanitize.clean_html`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .messages import Msg, as_msg, pydantic_message
from .sanitize import UnsafeHTML, clean_html


class ItemType(StrEnum):
    TRUE_FALSE = "true_false"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    FILL_BLANK = "fill_blank"


class Importance(StrEnum):
    CORE = "X"
    GENERAL = "Y"
    MINOR = "Z"


OPTION_LABELS = "ABCDEFGH"
BLANK_MARK = re.compile(r"\{\{(\d+)\}\}")
ITEM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
KP_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,31}$")
LEVELS = (1, 2, 3, 4, 5)
LEVEL_NAMES = {
    5: ("五级/初级工", "Level 5 / Junior worker"),
    4: ("四级/中级工", "Level 4 / Intermediate worker"),
    3: ("三级/高级工", "Level 3 / Senior worker"),
    2: ("二级/技师", "Level 2 / Technician"),
    1: ("一级/高级技师", "Level 1 / Senior technician"),
}


def _rich(value: str) -> str:
    try:
        return clean_html(value)
    except UnsafeHTML as exc:
        raise ValueError(str(exc)) from None


RichText = Annotated[str, Field(max_length=20_000)]


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(pattern=r"^[A-H]$")
    text: RichText

    @field_validator("text")
    @classmethod
    def _clean(cls, v: str) -> str:
        v = _rich(v)
        if not v:
            raise ValueError("option text is empty")
        return v


NormalizeRule = Literal["trim", "width", "case", "space"]


class Blank(BaseModel):
    """One fill-in blank: accepted answers and how a response is normalised before comparing.

    Rules: ``trim`` strips surrounding white space; ``width`` folds full-width forms to
    half-width (NFKC); ``case`` ignores letter case; ``space`` removes all inner white space.
    """

    model_config = ConfigDict(extra="forbid")

    accepted: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20
    )
    normalize: list[NormalizeRule] = Field(default_factory=lambda: ["trim", "width"])

    @field_validator("accepted")
    @classmethod
    def _accepted(cls, v: list[str]) -> list[str]:
        out = list(dict.fromkeys(a.strip() for a in v))
        if "" in out:
            raise ValueError("an accepted answer is empty")
        return out

    @field_validator("normalize")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return sorted(set(v), key=["trim", "width", "case", "space"].index)

    def matches(self, response: str) -> bool:
        got = normalize_answer(response, self.normalize)
        return any(got == normalize_answer(a, self.normalize) for a in self.accepted)


def normalize_answer(text: str, rules: list[str]) -> str:
    if "width" in rules:
        text = unicodedata.normalize("NFKC", text)
    if "trim" in rules:
        text = text.strip()
    if "space" in rules:
        text = re.sub(r"\s+", "", text)
    if "case" in rules:
        text = text.casefold()
    return text


class Translation(BaseModel):
    """Text of an item in another language (the bank's primary language is zh-CN)."""

    model_config = ConfigDict(extra="forbid")

    stem: RichText = ""
    options: dict[str, RichText] = Field(default_factory=dict)
    explanation: RichText = ""

    @field_validator("stem", "explanation")
    @classmethod
    def _clean(cls, v: str) -> str:
        return _rich(v)

    @field_validator("options")
    @classmethod
    def _clean_options(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if k not in OPTION_LABELS]
        if bad:
            raise ValueError(f"unknown option labels {bad}")
        return {k: _rich(t) for k, t in v.items()}


class ItemContent(BaseModel):
    """Everything a version of an item says. Immutable once stored; its hash identifies it."""

    model_config = ConfigDict(extra="forbid")

    type: ItemType
    stem: RichText
    options: list[Option] = Field(default_factory=list, max_length=8)
    key: list[str] = Field(default_factory=list)
    blanks: list[Blank] = Field(default_factory=list, max_length=20)
    points: Decimal = Field(default=Decimal("1"), gt=0, le=100, decimal_places=2)
    knowledge_point: str = Field(pattern=KP_CODE.pattern)
    difficulty: float = Field(default=0.5, ge=0, le=1)
    explanation: RichText = ""
    tags: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    translations: dict[str, Translation] = Field(default_factory=dict)
    # The name another tool gave the question (Moodle's <name>, a QTI title), plain text; left
    # out of the canonical form when empty so items without one hash as before.
    title: str = Field(default="", max_length=200)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return re.sub(r"\s+", " ", v).strip()

    @field_validator("stem")
    @classmethod
    def _clean_stem(cls, v: str) -> str:
        v = _rich(v)
        if not v:
            raise ValueError("stem is empty")
        return v

    @field_validator("explanation")
    @classmethod
    def _clean_explanation(cls, v: str) -> str:
        return _rich(v)

    @field_validator("points")
    @classmethod
    def _points(cls, v: Decimal) -> Decimal:
        # One spelling per value ("2.5", never "2.50"), so equal content hashes equally.
        v = v.normalize()
        return v.quantize(Decimal(1)) if v == v.to_integral_value() else v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if re.search(r"[\r\n\[\],]", t)]
        if bad:
            raise ValueError(f"tags may not contain line breaks, commas or brackets: {bad}")
        return sorted({t.strip() for t in v if t.strip()})

    @field_validator("translations")
    @classmethod
    def _langs(cls, v: dict[str, Translation]) -> dict[str, Translation]:
        for lang in v:
            if not re.match(r"^[a-z]{2}(-[A-Z]{2})?$", lang):
                raise ValueError(f"translation language {lang!r} is not a language tag like 'en'")
        # Empty translations carry nothing; drop them so every format round-trips the rest.
        out = {}
        for lang, tr in v.items():
            tr.options = {k: t for k, t in tr.options.items() if t}
            if tr.stem or tr.options or tr.explanation:
                out[lang] = tr
        return out

    @model_validator(mode="after")
    def _rules_of_type(self) -> ItemContent:
        t = self.type
        labels = [o.label for o in self.options]
        if t in (ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE):
            if len(self.options) < 2:
                raise ValueError("options: a choice item needs at least 2 options")
            if labels != list(OPTION_LABELS[: len(labels)]):
                raise ValueError(f"options: labels must be A, B, C … in order, got {labels}")
            texts = [o.text for o in self.options]
            if len(set(texts)) != len(texts):
                raise ValueError("options: two options have the same text")
            missing = [k for k in self.key if k not in labels]
            if missing:
                raise ValueError(f"key: {missing} point at options that do not exist ({labels})")
            if len(set(self.key)) != len(self.key):
                raise ValueError("key: an option is listed twice")
            self.key = sorted(self.key)
            if t == ItemType.SINGLE_CHOICE and len(self.key) != 1:
                raise ValueError(
                    f"key: a single-choice item needs exactly 1 key, got {len(self.key)}"
                )
            # A multiple-choice item with one key is valid (Moodle and TAO allow it): the
            # candidate is not told how many options are right.
            if t == ItemType.MULTIPLE_CHOICE and not self.key:
                raise ValueError("key: a multiple-choice item needs at least 1 key, got 0")
            if self.blanks:
                raise ValueError("blanks: only fill-in items have blanks")
        elif t == ItemType.TRUE_FALSE:
            if self.options:
                raise ValueError("options: a true/false item has no options")
            if self.key not in (["T"], ["F"]):
                raise ValueError(f"key: a true/false item needs key ['T'] or ['F'], got {self.key}")
            if self.blanks:
                raise ValueError("blanks: only fill-in items have blanks")
        else:  # fill_blank
            if self.options or self.key:
                raise ValueError("key: a fill-in item has blanks, not options or a key")
            marks = [int(m) for m in BLANK_MARK.findall(self.stem)]
            if not marks:
                raise ValueError("stem: a fill-in item marks its blanks as {{1}}, {{2}} …")
            if marks != list(range(1, len(marks) + 1)):
                raise ValueError(f"stem: blanks must be numbered 1, 2, 3 … in order, got {marks}")
            if len(marks) != len(self.blanks):
                raise ValueError(
                    f"blanks: the stem has {len(marks)} blanks but {len(self.blanks)} are defined"
                )
        for lang, tr in self.translations.items():
            extra = set(tr.options) - set(labels)
            if extra:
                raise ValueError(f"translations.{lang}.options: unknown labels {sorted(extra)}")
        return self

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready dict with a stable form, used for hashing, diffs and export."""
        doc = self.model_dump(mode="json")
        if not doc["title"]:
            del doc["title"]
        return doc

    def content_hash(self) -> str:
        return content_hash(self.canonical())


def content_hash(doc: Any) -> str:
    blob = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ItemDraft(BaseModel):
    """An item as it travels in and out of the bank: stable code plus the content of one version."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=ITEM_CODE.pattern)
    content: ItemContent


class KnowledgePointNode(BaseModel):
    """One node of a knowledge table (鉴定要素细目表); children nest."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=KP_CODE.pattern)
    name: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    weight: Decimal = Field(ge=0, le=100, decimal_places=2)
    importance: Importance = Importance.GENERAL
    children: list[KnowledgePointNode] = Field(default_factory=list)


def weight_problems(nodes: list[KnowledgePointNode], parent: str = "(top level)") -> list[str]:
    """Every sibling group whose weights do not add up to 100, with its total."""
    problems: list[str] = []
    if nodes:
        total = sum((n.weight for n in nodes), Decimal(0))
        if total != 100:
            problems.append(
                f"weights under {parent} add up to {total.normalize():f}, not 100 "
                f"({', '.join(f'{n.code}={n.weight.normalize():f}' for n in nodes)})"
            )
    for n in nodes:
        problems.extend(weight_problems(n.children, n.code))
    return problems


_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.]*): (.*)$", re.S)


def error_list(exc: ValidationError) -> list[dict[str, Any]]:
    """Flatten a pydantic error into ``[{"field": "content.options.2.text", "message": Msg}]``.

    Messages are :class:`~question_bank.messages.Msg` (rendered in the user's language at the
    edge). Whole-item rules report ``"key: …"`` (or raise ``ValueError(msg, "key")``); that
    field is moved into the path.
    """
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        original = (err.get("ctx") or {}).get("error")
        message: Msg
        if isinstance(original, Exception) and original.args and isinstance(original.args[0], Msg):
            message = original.args[0]
            if len(original.args) > 1 and isinstance(original.args[1], str):
                loc.append(original.args[1])
        elif err["type"] == "value_error":
            text = err["msg"].removeprefix("Value error, ")
            m = _FIELD_PREFIX.match(text)
            if m:
                loc.append(m.group(1))
                text = m.group(2)
            message = as_msg(text, "value_invalid")
        else:
            message = pydantic_message(err)
        out.append({"field": ".".join(loc) or "item", "message": message})
    return out

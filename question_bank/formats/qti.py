"""IMS QTI 2.1 items, one bank per IMS Content Package (zip), the way TAO exports them.

``dump`` writes a zip holding ``imsmanifest.xml`` and one ``items/<identifier>.xml``
``assessmentItem`` per item. ``parse`` reads such a zip (a zip without a manifest: every
``assessmentItem`` XML file in it, in name order) or a single ``assessmentItem`` XML file. XML is
read with defusedxml. Namespaces are matched by local name, so QTI 2.0/2.2 items read too.

Items
-----
* Choice items: one ``choiceInteraction``; ``responseDeclaration`` cardinality ``single``
  (``maxChoices="1"``) is single choice, ``multiple`` (``maxChoices="0"``) multiple choice; the
  key is ``correctResponse`` (else the mapping's entries with a positive value). Choices are labelled A, B, …
  in order; exports use identifiers ``A``..``H``.
* True/false: a two-choice ``choiceInteraction`` with ``class="qb-true-false"`` and choice
  identifiers ``T`` and ``F`` (either marks it).
* Fill-in: one ``textEntryInteraction`` per blank, in stem order, with response ``RESPONSE_n``:
  accepted answers are ``correctResponse`` followed by the mapping's full-credit ``mapKey`` s
  (those with the highest ``mappedValue``; partial-credit entries are dropped).
  ``caseSensitive="false"`` on the map entries is the ``case`` rule; the full rules are also the
  interaction's class tokens ``qb-norm-trim qb-norm-width …`` (``qb-norm-none``: no rules), which
  win when present.
* Stem: exports put it in ``<div class="qb-stem">``; otherwise the item body without its
  interactions plus the choice ``prompt``. HTML ``u``/``s`` (not in QTI) become
  ``span class="qb-u"``/``"qb-s"``.
* Points: the ``MAXSCORE`` outcome's default value (default 1). Explanation: the
  ``modalFeedback`` with identifier ``EXPLANATION`` (other feedback is ignored).
* Item code: the item ``identifier``; a code that does not start with a letter gets a ``_``
  prefix to be a valid identifier, removed again on reading. (A file always names its items,
  so :func:`question_bank.formats.common.generated_code` is only used for an empty identifier.)
  The ``title`` is the item's title unless it equals the identifier; exports write the title,
  else the code.
* Images: ``<img src>`` relative to the item file, read from the package (type and size
  checked) and stored as assets; exports write each image once as ``images/<sha256>.<ext>``,
  listed as a file of the item's resource. MathML (``m:math``) is kept as MathML Core and
  written back in the MathML namespace.
* Unsupported interactions (order, match, extended text …) are problems marked unsupported,
  or skipped and listed with ``skip_unsupported``. ``mapResponse`` scoring that gives part of
  the points is noted as a change of meaning.

Package metadata (per resource in ``imsmanifest.xml``)
----------------------------------------------------
* tags: LOM ``general/keyword``;
* knowledge point: LOM ``classification/taxonPath`` whose source is ``knowledge-point``,
  taxon ``id``; a single item file may instead carry ``label="kp:CODE"``;
  else the ``knowledge_point`` argument, else a problem "no knowledge point";
* difficulty: ``<qb:difficulty>`` (namespace ``urn:exam-server:question-bank:1``) with the exact
  value; LOM ``educational/difficulty`` is written too (very easy … very difficult) and read when
  the exact value is missing.

Lost: translations; with a single item XML (no manifest) also tags and difficulty.
"""

from __future__ import annotations

import html
import io
import posixpath
import zipfile
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element, SubElement, tostring

from ..messages import Msg, msg
from ..schema import BLANK_MARK, ITEM_CODE, OPTION_LABELS, ItemDraft, ItemType
from . import ImportOptions, Note, ParsedFile, Problem, place_item
from .common import (
    DEFAULT_RULES,
    NO_KNOWLEDGE_POINT,
    RULES,
    check_and_add,
    claim_code,
    decimal_points,
    finite_float,
    generated_code,
    partial_credit_note,
    points_not_number,
    rich_field,
)
from .moodle_xml import XmlError, read_xml
from .rich import MAX_IMAGE_BYTES

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI_XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_XSD = "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"
MD_NS = "http://ltsc.ieee.org/xsd/LOM"
QTIMD_NS = "http://www.imsglobal.org/xsd/imsqti_metadata_v2p1"
QB_NS = "urn:exam-server:question-bank:1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ITEM_TYPE = "imsqti_item_xmlv2p1"
KP_SOURCE = "knowledge-point"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
MAX_UNZIPPED = 200 * 1024 * 1024
# An item file holds at most a few fields of 20,000 characters; images are read apart.
MAX_MEMBER = 4 * 1024 * 1024
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_VOID = {"br", "img", "hr"}
_INTERACTIONS = {
    "choiceInteraction", "textEntryInteraction", "extendedTextInteraction", "orderInteraction",
    "associateInteraction", "matchInteraction", "gapMatchInteraction", "inlineChoiceInteraction",
    "hottextInteraction", "hotspotInteraction", "selectPointInteraction", "sliderInteraction",
    "uploadInteraction", "drawingInteraction", "graphicOrderInteraction", "mediaInteraction",
    "positionObjectInteraction", "customInteraction", "endAttemptInteraction",
    "graphicAssociateInteraction", "graphicGapMatchInteraction",
}  # fmt: skip
_SKIP = {"feedbackInline", "feedbackBlock", "rubricBlock", "templateInline", "templateBlock"}
_LOM_DIFFICULTY = (
    (0.2, "very easy"),
    (0.4, "easy"),
    (0.6, "medium"),
    (0.8, "difficult"),
    (1.01, "very difficult"),
)
_LOM_VALUES = {
    "very easy": 0.1,
    "easy": 0.3,
    "medium": 0.5,
    "difficult": 0.7,
    "very difficult": 0.9,
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _classes(el: Element) -> list[str]:
    return (el.get("class") or "").split()


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _first(el: Element | None, *path: str) -> Element | None:
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if _local(c.tag) == name), None)
    return el


def _descendants(el: Element, name: str) -> list[Element]:
    return [c for c in el.iter() if _local(c.tag) == name]


# --------------------------------------------------------------------------------------------
# XHTML <-> HTML


class _Problem(Exception):
    def __init__(self, message: Msg, field: str | None = None, kind: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.kind = kind


def _html(el: Element, on_element: Callable[[Element], str | None]) -> str:
    """The content of ``el`` as HTML; ``on_element`` may replace a child element."""
    out = [html.escape(el.text or "", quote=False)]
    for child in el:
        replaced = on_element(child)
        if replaced is None:
            replaced = _element_html(child, on_element)
        out.append(replaced)
        out.append(html.escape(child.tail or "", quote=False))
    return "".join(out)


def _element_html(el: Element, on_element: Callable[[Element], str | None]) -> str:
    name = _local(el.tag)
    attrs = {_local(k): v for k, v in el.attrib.items() if not k.startswith("{")}
    classes = attrs.get("class", "").split()
    if name == "span" and ("qb-u" in classes or "qb-s" in classes):
        name = "u" if "qb-u" in classes else "s"
        attrs.pop("class")
    attr_text = "".join(f' {k}="{html.escape(v)}"' for k, v in attrs.items())
    if name in _VOID and not el.tag.startswith(f"{{{MATHML_NS}}}"):
        return f"<{name}{attr_text}>"
    return f"<{name}{attr_text}>{_html(el, on_element)}</{name}>"


class _ToXml(HTMLParser):
    """Build QTI body elements from stored HTML; ``<qbblank n>`` becomes a text entry."""

    def __init__(
        self,
        root: Element,
        blank: Callable[[Element, int], None] | None = None,
        image: Callable[[str], str] | None = None,
    ):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[Element, str | None]] = [(root, None)]
        self.blank = blank
        self.image = image

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, void=tag in _VOID)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, void=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, void: bool) -> None:
        parent = self.stack[-1][0]
        if tag == "qbblank" and self.blank:
            self.blank(parent, int(dict(attrs).get("n") or 0))
            return
        values = {k: v or "" for k, v in attrs}
        name = tag
        if tag in ("u", "s"):
            name = "span"
            values["class"] = f"qb-{tag}"
        if tag == "math":
            values["xmlns"] = MATHML_NS
        if tag == "img":
            values.setdefault("alt", "")
            if self.image is not None:
                values["src"] = self.image(values.get("src", ""))
        el = SubElement(parent, name, values)
        if not void:
            self.stack.append((el, tag))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i][1] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        el = self.stack[-1][0]
        if len(el):
            el[-1].tail = (el[-1].tail or "") + data
        else:
            el.text = (el.text or "") + data


def _fill(
    el: Element,
    text: str,
    blank: Callable[[Element, int], None] | None = None,
    image: Callable[[str], str] | None = None,
) -> None:
    if blank:
        text = BLANK_MARK.sub(lambda m: f'<qbblank n="{m.group(1)}"></qbblank>', text)
    parser = _ToXml(el, blank, image)
    parser.feed(text)
    parser.close()


# --------------------------------------------------------------------------------------------
# Parsing


def _code_of(identifier: str) -> str:
    if identifier.startswith("_") and ITEM_CODE.match(identifier[1:]):
        return identifier[1:]
    return identifier


def _declarations(item: Element) -> dict[str, Element]:
    return {d.get("identifier", ""): d for d in _children(item, "responseDeclaration")}


def _values(decl: Element | None) -> list[str]:
    if decl is None:
        return []
    correct = _first(decl, "correctResponse")
    return (
        [(v.text or "").strip() for v in _children(correct, "value")] if correct is not None else []
    )


def _map_entries(decl: Element | None) -> list[Element]:
    mapping = _first(decl, "mapping") if decl is not None else None
    return _children(mapping, "mapEntry") if mapping is not None else []


def _mapped(entry: Element) -> float:
    try:
        return float(entry.get("mappedValue", "0"))
    except ValueError:
        return 0.0


def _full_credit(entries: list[Element]) -> list[str]:
    """Map keys worth the most (partial-credit entries are not accepted answers)."""
    top = max((_mapped(e) for e in entries), default=0.0)
    return [e.get("mapKey", "") for e in entries if top > 0 and _mapped(e) == top]


def _item_content(item: Element) -> tuple[dict[str, Any], bool]:
    """The item's content and whether the source scored some answers with part of the points."""
    if _local(item.tag) != "assessmentItem":
        raise _Problem(
            msg(
                "qti_not_item",
                "The root element is <%(root)s>, not <assessmentItem>.",
                root=_local(item.tag),
            )
        )
    body = _first(item, "itemBody")
    if body is None:
        raise _Problem(msg("qti_no_body", "The item has no itemBody."), "stem")
    decls = _declarations(item)
    interactions = [el for el in body.iter() if _local(el.tag) in _INTERACTIONS]
    kinds = {_local(el.tag) for el in interactions}
    unsupported = kinds - {"choiceInteraction", "textEntryInteraction"}
    if unsupported:
        names = ", ".join(sorted(unsupported))
        raise _Problem(
            msg(
                "import_type_unsupported",
                "%(type)s questions are not supported by the bank.",
                type=names,
            ),
            "type",
            names,
        )
    if not interactions:
        raise _Problem(
            msg("qti_no_interaction", "The item has no choice or text-entry interaction."),
            "type",
            "no interaction",
        )
    if len(kinds) > 1:
        raise _Problem(
            msg("qti_mixed", "The item mixes choice and text-entry interactions."),
            "type",
            "choiceInteraction, textEntryInteraction",
        )
    content: dict[str, Any] = {}
    blanks: list[dict[str, Any]] = []
    partial = [False]

    def on_stem(el: Element) -> str | None:
        name = _local(el.tag)
        if name == "choiceInteraction":
            prompt = _first(el, "prompt")
            return _html(prompt, on_stem) if prompt is not None else ""
        if name == "textEntryInteraction":
            blank, part = _blank(el, decls, len(blanks) + 1)
            blanks.append(blank)
            partial[0] = partial[0] or part
            return f"{{{{{len(blanks)}}}}}"
        if name in _SKIP or name == "prompt":
            return ""
        return None

    stem_div = next((d for d in body.iter() if "qb-stem" in _classes(d)), None)
    if stem_div is not None:
        stem = _html(stem_div, on_stem)
        for el in interactions:
            if (
                _local(el.tag) == "choiceInteraction"
                and (prompt := _first(el, "prompt")) is not None
            ):
                stem += _html(prompt, on_stem)
    else:
        stem = _html(body, on_stem)
    content["stem"] = stem

    if kinds == {"textEntryInteraction"}:
        content["type"] = ItemType.FILL_BLANK.value
        content["blanks"] = blanks
        return content, partial[0] or (len(blanks) > 1 and _mapped_blanks(item))

    if len(interactions) > 1:
        raise _Problem(
            msg("qti_two_choices", "The item has more than one choiceInteraction."),
            "type",
            "choiceInteraction ×2",
        )
    choice = interactions[0]
    decl = decls.get(choice.get("responseIdentifier", ""))
    simple = _children(choice, "simpleChoice")
    idents = [c.get("identifier", "") for c in simple]
    skip = lambda el: "" if _local(el.tag) in _SKIP else None  # noqa: E731
    if "qb-true-false" in _classes(choice) or sorted(idents) == ["F", "T"]:
        key = _values(decl) or _full_credit(_map_entries(decl))
        content["type"] = ItemType.TRUE_FALSE.value
        content["key"] = key
        return content, False
    if idents == list(OPTION_LABELS[: len(idents)]):
        labels = dict(zip(idents, idents, strict=True))
    else:
        labels = {
            ident: (OPTION_LABELS[i] if i < 8 else f"#{i + 1}") for i, ident in enumerate(idents)
        }
    content["options"] = [
        {"label": labels[ident], "text": _html(c, skip)}
        for ident, c in zip(idents, simple, strict=True)
    ]
    entries = _map_entries(decl)
    key_ids = _values(decl) or [e.get("mapKey", "") for e in entries if _mapped(e) > 0]
    content["key"] = [labels.get(k, k) for k in key_ids]
    cardinality = decl.get("cardinality") if decl is not None else None
    if cardinality == "multiple" or (cardinality is None and choice.get("maxChoices") != "1"):
        content["type"] = ItemType.MULTIPLE_CHOICE.value
    else:
        content["type"] = ItemType.SINGLE_CHOICE.value
    # A mapping scores each chosen option: with more than one positive entry, part of the key
    # earns part of the points.
    uses_map = any(_local(el.tag) == "mapResponse" for el in item.iter())
    partial = uses_map and sum(_mapped(e) > 0 for e in entries) > 1
    return content, partial


def _mapped_blanks(item: Element) -> bool:
    """Whether blanks are scored one by one (``mapResponse`` per blank summed): the source then
    gives points for each right blank, where the bank scores the item only when all are right."""
    return any(_local(el.tag) == "mapResponse" for el in item.iter())


def _blank(el: Element, decls: dict[str, Element], n: int) -> tuple[dict[str, Any], bool]:
    decl = decls.get(el.get("responseIdentifier", ""))
    entries = _map_entries(decl)
    accepted: list[str] = []
    full = _full_credit(entries)
    for value in _values(decl) + full:
        if value and value not in accepted:
            accepted.append(value)
    partial = any(_mapped(e) > 0 and e.get("mapKey", "") not in full for e in entries)
    blank: dict[str, Any] = {"accepted": accepted}
    tokens = [c.removeprefix("qb-norm-") for c in _classes(el) if c.startswith("qb-norm-")]
    # caseSensitive is per map entry; the entries of the accepted answers decide the blank.
    used = [e for e in entries if e.get("mapKey", "") in accepted] or entries
    if tokens:
        blank["normalize"] = [] if tokens == ["none"] else [t for t in tokens if t in RULES]
    elif used and all(e.get("caseSensitive", "true") == "false" for e in used):
        blank["normalize"] = [*DEFAULT_RULES, "case"]
    if not accepted:
        raise _Problem(
            msg("blank_no_correct", "Blank %(n)s has no correct response.", n=n),
            f"blanks.{n - 1}.accepted",
        )
    return blank, partial


def _item_points(item: Element) -> Decimal | None:
    for outcome in _children(item, "outcomeDeclaration"):
        if outcome.get("identifier") == "MAXSCORE":
            value = _first(outcome, "defaultValue", "value")
            if value is not None and (value.text or "").strip():
                return decimal_points(value.text or "")
    return None


def _explanation(item: Element) -> str:
    for fb in _children(item, "modalFeedback"):
        if fb.get("identifier") == "EXPLANATION":
            return _html(fb, lambda el: "" if _local(el.tag) in _SKIP else None)
    return ""


def _resource_meta(resource: Element) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    metadata = _first(resource, "metadata")
    if metadata is None:
        return meta
    tags = []
    for keyword in _descendants(metadata, "keyword"):
        for s in _children(keyword, "string"):
            if (s.text or "").strip():
                tags.append(s.text.strip())
    if tags:
        meta["tags"] = tags
    for path in _descendants(metadata, "taxonPath"):
        source = _first(path, "source")
        names = (
            [(s.text or "").strip().casefold() for s in source.iter()] if source is not None else []
        )
        if any(n in (KP_SOURCE, "knowledge point", "鉴定点") for n in names):
            for taxon in _children(path, "taxon"):
                ident = _first(taxon, "id")
                entry = _first(taxon, "entry", "string")
                value = (ident.text if ident is not None else None) or (
                    entry.text if entry is not None else None
                )
                if value and value.strip():
                    meta["knowledge_point"] = value.strip()
    for el in metadata.iter():
        if el.tag == f"{{{QB_NS}}}difficulty":
            meta["difficulty"] = (el.text or "").strip()
    if "difficulty" not in meta:
        for el in _descendants(metadata, "difficulty"):
            value = _first(el, "value")
            if value is not None and (value.text or "").strip().casefold() in _LOM_VALUES:
                meta["difficulty"] = str(_LOM_VALUES[value.text.strip().casefold()])
    return meta


class _Parser:
    def __init__(self, source: str, options: ImportOptions):
        self.source = source
        self.options = options
        self.parsed = ParsedFile()
        self.codes: dict[str, str] = {}
        self.count = 0
        self.zf: zipfile.ZipFile | None = None

    def _resolver(self, item_path: str | None):
        def resolve(src: str) -> str | None:
            if self.zf is None or item_path is None or "://" in src or src.startswith("/"):
                return None
            path = posixpath.normpath(posixpath.join(posixpath.dirname(item_path), unquote(src)))
            try:
                info = self.zf.getinfo(path)
            except KeyError:
                return None
            if info.file_size > MAX_IMAGE_BYTES:
                return None
            try:
                data = _read(self.zf, path, MAX_IMAGE_BYTES)
            except _MemberError:
                return None
            return self.parsed.add_image(data, path)

        return resolve

    def item(self, data: bytes, path: str, meta: dict[str, Any]) -> None:
        self.count += 1
        place = place_item(self.count, path)
        if self.parsed.too_many(self.options, self.count):
            return
        try:
            root = read_xml(data)
        except XmlError as exc:
            self.parsed.problems.append(Problem(place, exc.message))
            return
        self.element(root, place, meta, path)

    def element(
        self, root: Element, place: str, meta: dict[str, Any], path: str | None = None
    ) -> None:
        identifier = (root.get("identifier") or "").strip()
        code = _code_of(identifier) if identifier else generated_code(self.source, self.count)
        if not identifier:
            self.parsed.generated.add(code)
        title = (root.get("title") or "").strip()
        problems = claim_code(self.codes, code, place)
        try:
            content, partial = _item_content(root)
        except _Problem as exc:
            if exc.kind and not problems:
                self.parsed.unsupported(self.options, place, title, exc.kind, exc.message)
            else:
                self.parsed.problems.extend([*problems, Problem(place, exc.message, exc.field)])
            return
        except RecursionError:
            self.parsed.problems.extend(
                [*problems, Problem(place, msg("qti_too_deep", "The item is nested too deeply."))]
            )
            return
        if title and title not in (identifier, code):
            content["title"] = title[:200]
        try:
            points = _item_points(root)
        except InvalidOperation:
            problems.append(Problem(place, points_not_number("MAXSCORE"), "points"))
            points = None
        if points is not None:
            content["points"] = points
        explanation = _explanation(root)
        if explanation:
            content["explanation"] = explanation
        if not rich_field(self.parsed, self.options, place, content, self._resolver(path), title):
            return
        if partial:
            self.parsed.notes.append(partial_credit_note(place, content["type"]))
        if meta.get("tags"):
            content["tags"] = meta["tags"]
        if "difficulty" in meta:
            try:
                content["difficulty"] = finite_float(meta["difficulty"])
            except ValueError:
                problems.append(
                    Problem(
                        place,
                        msg(
                            "difficulty_not_number",
                            "difficulty %(value)s is not a number from 0 to 1.",
                            value=meta["difficulty"],
                        ),
                        "difficulty",
                    )
                )
        label = (root.get("label") or "").strip()
        label_kp = label[3:].strip() if label.casefold().startswith("kp:") else None
        kp = meta.get("knowledge_point") or label_kp or self.options.knowledge_point
        if kp:
            content["knowledge_point"] = kp
        else:
            problems.append(Problem(place, msg(*NO_KNOWLEDGE_POINT), "knowledge_point"))
        check_and_add(self.parsed, place, code, content, problems)


class _MemberError(ValueError):
    def __init__(self, message: Msg):
        super().__init__(message)
        self.message = message


def _read(zf: zipfile.ZipFile, name: str, limit: int = MAX_MEMBER) -> bytes:
    """A member's bytes; raises :class:`_MemberError` for a broken or oversized one. The size
    the zip declares is checked first, so an oversized member is never unpacked."""
    too_big = _MemberError(
        msg(
            "package_member_too_large",
            "%(name)s is larger than %(max)s MB.",
            name=name,
            max=round(limit / (1024 * 1024), 1),
        )
    )
    if zf.getinfo(name).file_size > limit:
        raise too_big
    try:
        with zf.open(name) as fh:
            data = fh.read(limit + 1)
    except Exception as exc:  # zlib/lzma/CRC/encryption errors: a broken member, not a bug here
        raise _MemberError(
            msg(
                "package_member_broken",
                "%(name)s cannot be read from the package: %(detail)s",
                name=name,
                detail=str(exc),
            )
        ) from None
    if len(data) > limit:
        raise too_big
    return data


def _parse_zip(data: bytes, parser: _Parser) -> None:
    source = parser.source
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # BadZipFile, NotImplementedError (odd versions), …: a broken package
        parser.parsed.problems.append(
            Problem(source, msg("zip_invalid", "The file is not a valid zip file."))
        )
        return
    with zf:
        parser.zf = zf
        if sum(i.file_size for i in zf.infolist()) > MAX_UNZIPPED:
            parser.parsed.problems.append(
                Problem(
                    source,
                    msg("zip_too_large", "The file unpacks to more than %(max)s MB.", max=200),
                )
            )
            return
        names = set(zf.namelist())
        manifest_name = "imsmanifest.xml" if "imsmanifest.xml" in names else None
        if manifest_name is None:
            nested = sorted(n for n in names if n.endswith("/imsmanifest.xml"))
            manifest_name = nested[0] if nested else None
        if manifest_name is None:
            candidates = sorted(n for n in names if n.lower().endswith(".xml"))
            for name in candidates:
                try:
                    root = read_xml(_read(zf, name))
                except ValueError:  # XmlError, _MemberError: not an item, skip it
                    continue
                if _local(root.tag) == "assessmentItem":
                    parser.count += 1
                    if parser.parsed.too_many(parser.options, parser.count):
                        break
                    parser.element(root, place_item(parser.count, name), {}, name)
            if parser.count == 0:
                parser.parsed.problems.append(
                    Problem(
                        source,
                        msg(
                            "qti_no_manifest",
                            "The file has no imsmanifest.xml and no QTI items.",
                        ),
                    )
                )
            return
        try:
            manifest = read_xml(_read(zf, manifest_name))
        except _MemberError as exc:
            parser.parsed.problems.append(Problem(manifest_name, exc.message))
            return
        except XmlError as exc:
            parser.parsed.problems.append(Problem(manifest_name, exc.message))
            return
        base = posixpath.dirname(manifest_name)
        resources = [
            r
            for r in _descendants(manifest, "resource")
            if (r.get("type") or "").startswith("imsqti_item_xmlv2p")
        ]
        if parser.parsed.too_many(parser.options, len(resources)):
            return
        if not resources:
            parser.parsed.problems.append(
                Problem(
                    manifest_name,
                    msg("qti_no_resources", "The manifest lists no QTI item resources."),
                )
            )
        for resource in resources:
            href = resource.get("href") or ""
            if not href:
                file_el = _first(resource, "file")
                href = file_el.get("href", "") if file_el is not None else ""
            path = posixpath.normpath(posixpath.join(base, href)) if href else ""
            if path not in names:
                parser.count += 1
                parser.parsed.problems.append(
                    Problem(
                        place_item(parser.count, href or resource.get("identifier", "")),
                        msg(
                            "qti_member_missing",
                            "The file %(href)s named in the manifest is missing from the package.",
                            href=href,
                        ),
                    )
                )
                continue
            try:
                member = _read(zf, path)
            except _MemberError as exc:
                parser.count += 1
                parser.parsed.problems.append(Problem(place_item(parser.count, href), exc.message))
                continue
            parser.item(member, path, _resource_meta(resource))
            if parser.parsed.extra.get("too_many"):
                break


def parse(
    data: bytes,
    *,
    source: str = "file",
    knowledge_point: str | None = None,
    options: ImportOptions | None = None,
) -> ParsedFile:
    """Read a QTI 2.x content package (zip) or a single assessmentItem XML file."""
    options = options or ImportOptions(knowledge_point=knowledge_point)
    parser = _Parser(source, options)
    if data.startswith(b"PK\x03\x04"):
        _parse_zip(data, parser)
        return parser.parsed
    try:
        root = read_xml(data)
    except XmlError as exc:
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg(
                        "qti_not_package",
                        "The file is not a QTI zip package, and as XML: %(detail)s",
                        detail=exc.message,
                    ),
                )
            ]
        )
    name = _local(root.tag)
    if name == "manifest":
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg(
                        "qti_manifest_alone",
                        "The file is a manifest alone; upload the whole zip package.",
                    ),
                )
            ]
        )
    if name != "assessmentItem":
        return ParsedFile(
            problems=[
                Problem(
                    source,
                    msg(
                        "qti_not_item_file",
                        "The file is not a QTI assessmentItem (root <%(root)s>).",
                        root=name,
                    ),
                )
            ]
        )
    parser.count = 1
    parser.element(root, place_item(1), {})
    return parser.parsed


# --------------------------------------------------------------------------------------------
# Export


def identifier(code: str) -> str:
    """The QTI identifier of an item code (identifiers must start with a letter or ``_``)."""
    return code if code[:1].isalpha() else f"_{code}"


def _el(
    parent: Element, tag: str, attrs: dict[str, str] | None = None, text: str | None = None
) -> Element:
    el = SubElement(parent, tag, attrs or {})
    if text is not None:
        el.text = text
    return el


def _outcome(item: Element, ident: str, base: str, value: str | None) -> None:
    out = _el(
        item, "outcomeDeclaration", {"identifier": ident, "cardinality": "single", "baseType": base}
    )
    if value is not None:
        _el(_el(out, "defaultValue"), "value", text=value)


def _set_score(parent: Element, expression: Callable[[Element], None]) -> None:
    expression(_el(parent, "setOutcomeValue", {"identifier": "SCORE"}))


_OPAQUE = {"simpleChoice", "modalFeedback", "prompt"}


def _indent(el: Element, level: int = 0) -> None:
    if el.tag in _OPAQUE or "qb-stem" in _classes(el) or not len(el):
        return
    pad = "\n" + "  " * (level + 1)
    if not (el.text and el.text.strip()):
        el.text = pad
    for child in el:
        _indent(child, level + 1)
        if not (child.tail and child.tail.strip()):
            child.tail = pad
    el[-1].tail = "\n" + "  " * level


def _xml_bytes(root: Element) -> bytes:
    _indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"
    ).encode("utf-8")


def item_xml(draft: ItemDraft, image: Callable[[str], str] | None = None) -> bytes:
    """One assessmentItem document; ``image`` maps an ``/assets/<sha256>`` source to the
    package-relative href of the image file."""
    c = draft.content
    # The title is the item's own name if it has one, else its code (read back as no title).
    title = c.title or draft.code
    item = Element(
        "assessmentItem",
        {
            "xmlns": QTI_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": f"{QTI_NS} {QTI_XSD}",
            "identifier": identifier(draft.code),
            "title": title,
            "adaptive": "false",
            "timeDependent": "false",
            "toolName": "exam-server",
        },
    )
    if c.type == ItemType.FILL_BLANK:
        for n, blank in enumerate(c.blanks, start=1):
            decl = _el(
                item,
                "responseDeclaration",
                {"identifier": f"RESPONSE_{n}", "cardinality": "single", "baseType": "string"},
            )
            _el(_el(decl, "correctResponse"), "value", text=blank.accepted[0])
            mapping = _el(decl, "mapping", {"defaultValue": "0", "upperBound": "1"})
            seen = set()
            for answer in blank.accepted:
                if answer in seen:
                    continue
                seen.add(answer)
                _el(
                    mapping,
                    "mapEntry",
                    {
                        "mapKey": answer,
                        "mappedValue": "1",
                        "caseSensitive": "false" if "case" in blank.normalize else "true",
                    },
                )
    else:
        multiple = c.type == ItemType.MULTIPLE_CHOICE
        decl = _el(
            item,
            "responseDeclaration",
            {
                "identifier": "RESPONSE",
                "cardinality": "multiple" if multiple else "single",
                "baseType": "identifier",
            },
        )
        correct = _el(decl, "correctResponse")
        for key in c.key:
            _el(correct, "value", text=key)
    _outcome(item, "SCORE", "float", "0")
    _outcome(item, "MAXSCORE", "float", str(c.points))
    if c.explanation:
        _outcome(item, "FEEDBACK", "identifier", None)

    body = _el(item, "itemBody")
    stem = _el(body, "div", {"class": "qb-stem"})

    def blank(parent: Element, n: int) -> None:
        b = c.blanks[n - 1]
        classes = " ".join(f"qb-norm-{r}" for r in b.normalize) or "qb-norm-none"
        _el(
            parent,
            "textEntryInteraction",
            {
                "responseIdentifier": f"RESPONSE_{n}",
                "expectedLength": str(max(len(a) for a in b.accepted)),
                "class": classes,
            },
        )

    _fill(stem, c.stem, blank if c.type == ItemType.FILL_BLANK else None, image)
    if c.type == ItemType.TRUE_FALSE:
        choice = _el(
            body,
            "choiceInteraction",
            {
                "responseIdentifier": "RESPONSE",
                "shuffle": "false",
                "maxChoices": "1",
                "class": "qb-true-false",
            },
        )
        _el(choice, "simpleChoice", {"identifier": "T"}, "正确")
        _el(choice, "simpleChoice", {"identifier": "F"}, "错误")
    elif c.type != ItemType.FILL_BLANK:
        choice = _el(
            body,
            "choiceInteraction",
            {
                "responseIdentifier": "RESPONSE",
                "shuffle": "false",
                "maxChoices": "1" if c.type == ItemType.SINGLE_CHOICE else "0",
            },
        )
        for opt in c.options:
            _fill(_el(choice, "simpleChoice", {"identifier": opt.label}), opt.text, None, image)

    rp = _el(item, "responseProcessing")
    if c.type == ItemType.FILL_BLANK:

        def fraction(setter: Element) -> None:
            product = _el(setter, "product")
            _el(product, "variable", {"identifier": "MAXSCORE"})
            divide = _el(product, "divide")
            total = _el(divide, "sum")
            for n in range(1, len(c.blanks) + 1):
                _el(total, "mapResponse", {"identifier": f"RESPONSE_{n}"})
            _el(divide, "baseValue", {"baseType": "float"}, str(len(c.blanks)))

        _set_score(rp, fraction)
    else:
        cond = _el(rp, "responseCondition")
        when = _el(cond, "responseIf")
        match = _el(when, "match")
        _el(match, "variable", {"identifier": "RESPONSE"})
        _el(match, "correct", {"identifier": "RESPONSE"})
        _set_score(when, lambda s: _el(s, "variable", {"identifier": "MAXSCORE"}))
        _set_score(
            _el(cond, "responseElse"), lambda s: _el(s, "baseValue", {"baseType": "float"}, "0")
        )
    if c.explanation:
        feedback = _el(rp, "setOutcomeValue", {"identifier": "FEEDBACK"})
        _el(feedback, "baseValue", {"baseType": "identifier"}, "EXPLANATION")
        modal = _el(
            item,
            "modalFeedback",
            {"outcomeIdentifier": "FEEDBACK", "identifier": "EXPLANATION", "showHide": "show"},
        )
        _fill(modal, c.explanation, None, image)
    return _xml_bytes(item)


def _lom_difficulty(value: float) -> str:
    return next(name for bound, name in _LOM_DIFFICULTY if value < bound)


def _resource(
    resources: Element, draft: ItemDraft, href: str, n: int, files: list[str] | None = None
) -> None:
    c = draft.content
    res = _el(
        resources, "resource", {"identifier": f"RES-{n:04d}", "type": ITEM_TYPE, "href": href}
    )
    meta = _el(res, "metadata")
    lom = _el(meta, "imsmd:lom")
    general = _el(lom, "imsmd:general")
    ident = _el(general, "imsmd:identifier")
    _el(ident, "imsmd:catalog", text="exam-server")
    _el(ident, "imsmd:entry", text=draft.code)
    for tag in c.tags:
        _el(_el(general, "imsmd:keyword"), "imsmd:string", {"language": "zh-CN"}, tag)
    educational = _el(lom, "imsmd:educational")
    difficulty = _el(educational, "imsmd:difficulty")
    _el(difficulty, "imsmd:source", text="LOMv1.0")
    _el(difficulty, "imsmd:value", text=_lom_difficulty(c.difficulty))
    classification = _el(lom, "imsmd:classification")
    purpose = _el(classification, "imsmd:purpose")
    _el(purpose, "imsmd:source", text="LOMv1.0")
    _el(purpose, "imsmd:value", text="discipline")
    path = _el(classification, "imsmd:taxonPath")
    _el(_el(path, "imsmd:source"), "imsmd:string", {"language": "en"}, KP_SOURCE)
    _el(_el(path, "imsmd:taxon"), "imsmd:id", text=c.knowledge_point)
    qti = _el(meta, "imsqti:qtiMetadata")
    _el(qti, "imsqti:timeDependent", text="false")
    interaction = "textEntryInteraction" if c.type == ItemType.FILL_BLANK else "choiceInteraction"
    _el(qti, "imsqti:interactionType", text=interaction)
    _el(qti, "imsqti:toolName", text="exam-server")
    _el(meta, "qb:difficulty", text=repr(c.difficulty))
    _el(res, "file", {"href": href})
    for other in files or []:
        _el(res, "file", {"href": other})


def manifest_xml(
    drafts: list[ItemDraft], hrefs: list[str], files: list[list[str]] | None = None
) -> bytes:
    manifest = Element(
        "manifest",
        {
            "xmlns": CP_NS,
            "xmlns:imsmd": MD_NS,
            "xmlns:imsqti": QTIMD_NS,
            "xmlns:qb": QB_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": f"{CP_NS} {CP_XSD}",
            "identifier": "MANIFEST-exam-server",
        },
    )
    meta = _el(manifest, "metadata")
    _el(meta, "schema", text="QTIv2.1 Package")
    _el(meta, "schemaversion", text="1.0.0")
    _el(manifest, "organizations")
    resources = _el(manifest, "resources")
    for n, (draft, href) in enumerate(zip(drafts, hrefs, strict=True), start=1):
        _resource(resources, draft, href, n, files[n - 1] if files else None)
    return _xml_bytes(manifest)


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def dump(
    drafts: list[ItemDraft],
    *,
    assets: Any = None,
    notes: list[Note] | None = None,
    **options: Any,
) -> bytes:
    """Write drafts as a QTI 2.1 content package (zip).

    ``assets(sha256)`` gives ``(media type, bytes)`` of an image: each image an item shows is
    written once as ``images/<sha256>.<ext>``, referenced from the item by a relative href and
    listed as a file of the item's resource in the manifest."""
    if options:
        raise TypeError(f"unknown QTI options: {sorted(options)}")
    hrefs: list[str] = []
    used: set[str] = set()
    for draft in drafts:
        name = f"items/{identifier(draft.code)}.xml"
        n = 2
        while name.casefold() in used:
            name = f"items/{identifier(draft.code)}-{n}.xml"
            n += 1
        used.add(name.casefold())
        hrefs.append(name)
    images: dict[str, tuple[str, bytes]] = {}
    item_files: list[list[str]] = []
    bodies: list[bytes] = []
    for draft in drafts:
        mine: list[str] = []

        def image(src: str, draft: ItemDraft = draft, mine: list[str] = mine) -> str:
            sha = src.removeprefix("/assets/")
            found = assets(sha) if assets and src.startswith("/assets/") else None
            if found is None:
                if notes is not None:
                    notes.append(
                        Note(
                            msg("place_exported_item", "item %(code)s", code=draft.code),
                            msg(
                                "export_image_missing",
                                "The image %(sha)s is not in the bank; its reference is left "
                                "as it is.",
                                sha=sha[:12],
                            ),
                        )
                    )
                return src
            media = found[0]
            path = f"images/{sha}.{_EXTENSIONS.get(media, 'bin')}"
            images[path] = found
            if path not in mine:
                mine.append(path)
            return f"../{path}"

        bodies.append(item_xml(draft, image))
        item_files.append(mine)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:

        def write(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)

        write("imsmanifest.xml", manifest_xml(drafts, hrefs, item_files))
        for href, body in zip(hrefs, bodies, strict=True):
            write(href, body)
        for path, (_media, data) in sorted(images.items()):
            write(path, data)
    return out.getvalue()

"""Rich-text policy for stems, options and explanations.

Item text is a small HTML subset. Anything that could run in a candidate's browser (scripts,
event handlers, ``javascript:`` URLs, frames, styles) is refused with an error rather than silently
stripped: an editor must know their item changed. What remains is passed through nh3 (the Rust
``ammonia`` sanitiser) with an allow-list, so stored text is always clean.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "sub",
    "sup",
    "span",
    "div",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "code",
    "pre",
    "img",
}
# MathML Core (https://www.w3.org/TR/mathml-core/): presentation elements only; no href, no
# <maction>, no <annotation-xml> (it may hold HTML). Browsers render it natively.
MATHML_TAGS = {
    "math", "semantics", "annotation", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo",
    "mover", "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt",
    "mstyle", "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover",
    "none",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "displaystyle", "scriptlevel", "mathvariant", "dir", "fence", "separator",
    "stretchy", "symmetric", "largeop", "movablelimits", "lspace", "rspace", "minsize",
    "maxsize", "form", "accent", "accentunder", "linethickness", "width", "height", "depth",
    "voffset", "columnspan", "rowspan", "encoding",
}  # fmt: skip
ALLOWED_TAGS |= MATHML_TAGS
ALLOWED_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS},
}
# Alignment kept from an editor's styling (question_bank.formats.rich, keep_styling).
ALIGN_CLASSES = {"qb-align-center", "qb-align-right", "qb-align-justify"}
ALLOWED_CLASSES = {tag: ALIGN_CLASSES for tag in ("p", "div", "td", "th")}
# Images may only point at assets uploaded to this server (content-addressed by SHA-256).
ASSET_SRC = re.compile(r"^/assets/[0-9a-f]{64}$")
DANGEROUS_TAGS = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "frame",
    "frameset",
    "link",
    "meta",
    "base",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "svg",
    "maction",
    "annotation-xml",
}


# Built once: passing the allow-lists to nh3.clean on every call rebuilds them each time, which
# with the MathML attribute lists costs ~0.5 ms a field (a 5,000-item import spent 50 s in it).
_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    allowed_classes=ALLOWED_CLASSES,
    url_schemes=set(),
    link_rel=None,
    strip_comments=True,
)


class UnsafeHTML(ValueError):
    """Text contains markup that is not allowed; the message says what."""


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag}> tags are not allowed")
            return
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name!r} on <{tag}> is not allowed")
            elif value and re.match(r"\s*(javascript|vbscript|data):", value, re.I):
                self.problems.append(f"{name!r} on <{tag}> uses a forbidden URL scheme")
            elif name == "href" and tag in MATHML_TAGS:
                self.problems.append(f"links on <{tag}> are not allowed")
            elif name == "style":
                self.problems.append(f"inline style on <{tag}> is not allowed")
        if tag == "img":
            src = dict(attrs).get("src") or ""
            if not ASSET_SRC.match(src):
                self.problems.append(
                    f"image source {src!r} is not an uploaded asset (/assets/<sha256>)"
                )

    handle_startendtag = handle_starttag


def clean_html(text: str) -> str:
    """Validate and sanitise one rich-text field; raise :class:`UnsafeHTML` if it has unsafe markup."""
    if not text:
        return ""
    inspector = _Inspector()
    inspector.feed(text)
    inspector.close()
    if inspector.problems:
        raise UnsafeHTML("; ".join(dict.fromkeys(inspector.problems)))
    return _CLEANER.clean(text).strip()


_TAG = re.compile(r"<[^>]+>")


def plain_text(html: str) -> str:
    """Text content of a rich-text field, for search and for formats that carry plain text."""
    from html import unescape

    return re.sub(r"\s+", " ", unescape(_TAG.sub(" ", html))).strip()

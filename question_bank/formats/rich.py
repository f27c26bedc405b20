"""Rich text as other tools write it, made into the bank's HTML subset.

Editors (Moodle's Atto/TinyMCE, TAO's) put inline ``style`` attributes, ``<span style>`` and
``<font>`` into question text. The bank refuses styles in its own editor, but an import strips
them and counts them, so a file is not refused for its colours and fonts. With ``keep_styling``
the safe part becomes markup the bank allows: bold, italic, underline, sub/superscript
(``<b> <i> <u> <sub> <sup>``) and paragraph alignment (``class="qb-align-…"``).

Images are rewritten through a resolver (file name or URL → ``/assets/<sha256>``); a source the
resolver does not know is returned as unresolved, so the importer can report it per question.
Everything else (scripts, event handlers, frames, objects) is left for
:func:`question_bank.sanitize.clean_html` to refuse.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

from ..messages import Msg, msg
from ..sanitize import ASSET_SRC

MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (),  # RIFF....WEBP, checked below
}
_VOID = {"br", "img", "hr", "col", "wbr", "area", "source", "track", "input", "meta", "link"}


def image_media(data: bytes) -> str | None:
    """The media type of a PNG, JPEG, GIF or WebP image by its first bytes, else None (SVG is
    never an image here: it can carry scripts)."""
    for media, magics in IMAGE_TYPES.items():
        if any(data.startswith(m) for m in magics):
            return media
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(data: bytes, name: str) -> tuple[str, str] | Msg:
    """``(sha256, media type)`` of an image file, or the message why it cannot be an asset."""
    if len(data) > MAX_IMAGE_BYTES:
        return msg(
            "image_too_large",
            "The image %(name)s is larger than %(max)s MB.",
            name=name,
            max=MAX_IMAGE_BYTES // (1024 * 1024),
        )
    media = image_media(data)
    if media is None:
        return msg(
            "image_type_refused",
            "%(name)s is not a PNG, JPEG, GIF or WebP image (SVG and other types are refused).",
            name=name,
        )
    return hashlib.sha256(data).hexdigest(), media


@dataclass
class RichResult:
    html: str
    styling: int = 0
    unresolved: list[str] = field(default_factory=list)


_BOLD = re.compile(r"font-weight\s*:\s*(bold|bolder|[6-9]00)\b", re.I)
_ITALIC = re.compile(r"font-style\s*:\s*(italic|oblique)\b", re.I)
_UNDERLINE = re.compile(r"text-decoration(-line)?\s*:[^;]*\bunderline\b", re.I)
_SUB = re.compile(r"vertical-align\s*:\s*sub\b", re.I)
_SUPER = re.compile(r"vertical-align\s*:\s*super\b", re.I)
_ALIGN = re.compile(r"text-align\s*:\s*(center|right|justify)\b", re.I)


def _kept(style: str) -> list[str]:
    tags = []
    for pattern, tag in ((_BOLD, "b"), (_ITALIC, "i"), (_UNDERLINE, "u"), (_SUB, "sub"),
                         (_SUPER, "sup")):  # fmt: skip
        if pattern.search(style):
            tags.append(tag)
    return tags


class _Rewriter(HTMLParser):
    def __init__(self, keep: bool, resolve: Callable[[str], str | None] | None):
        super().__init__(convert_charrefs=True)
        self.keep = keep
        self.resolve = resolve
        self.out: list[str] = []
        self.stack: list[tuple[str, list[str]]] = []
        self.styling = 0
        self.unresolved: list[str] = []

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> tuple[str, list[str]]:
        wrap: list[str] = []
        parts = []
        classes: list[str] = []
        for name, value in attrs:
            value = value or ""
            if name == "style":
                self.styling += 1
                if self.keep:
                    wrap = _kept(value)
                    if m := _ALIGN.search(value):
                        classes.append(f"qb-align-{m.group(1).lower()}")
                continue
            if name == "class":
                continue
            if tag == "img" and name == "src":
                value = self._image(value.strip())
            parts.append(f' {name}="{escape(value)}"')
        if classes and tag in ("p", "div", "td", "th"):
            parts.append(f' class="{" ".join(classes)}"')
        return "".join(parts), wrap

    def _image(self, src: str) -> str:
        if ASSET_SRC.match(src) or self.resolve is None:
            return src
        resolved = self.resolve(src)
        if resolved is None:
            self.unresolved.append(src)
            return src
        return resolved

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, tag in _VOID)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], void: bool) -> None:
        if tag == "font":
            self.styling += 1
            self.stack.append((tag, []))
            return
        text, wrap = self._attrs(tag, attrs)
        if tag == "span":
            # A span only carries styling: keep its content, wrapped in what is kept.
            self.out.append("".join(f"<{w}>" for w in wrap))
            self.stack.append((tag, wrap))
            return
        self.out.append(f"<{tag}{text}>")
        if void:
            if tag not in _VOID:  # <mspace/> and other self-closed foreign elements
                self.out.append(f"</{tag}>")
            return
        self.out.append("".join(f"<{w}>" for w in wrap))
        self.stack.append((tag, wrap))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for name, wrap in reversed(self.stack[i:]):
                    self.out.append("".join(f"</{w}>" for w in reversed(wrap)))
                    if name not in ("span", "font"):
                        self.out.append(f"</{name}>")
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def close(self) -> None:
        super().close()
        for name, wrap in reversed(self.stack):
            self.out.append("".join(f"</{w}>" for w in reversed(wrap)))
            if name not in ("span", "font"):
                self.out.append(f"</{name}>")
        self.stack = []


def import_html(
    text: str,
    *,
    keep_styling: bool = False,
    resolve: Callable[[str], str | None] | None = None,
) -> RichResult:
    """``text`` without editor styling, images pointed at assets. See the module docstring."""
    if not text or ("<" not in text):
        return RichResult(text)
    rewriter = _Rewriter(keep_styling, resolve)
    rewriter.feed(text)
    rewriter.close()
    if not rewriter.styling and not rewriter.unresolved and resolve is None:
        return RichResult(text)
    return RichResult("".join(rewriter.out), rewriter.styling, rewriter.unresolved)

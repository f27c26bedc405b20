"""Items as a printable PDF (for review on paper), with formulas and images.

Item text is the bank's sanitised HTML subset. :func:`rich_blocks` turns it into ReportLab
paragraph markup: paragraphs, lists and table rows become blocks; bold, italic, underline,
strike-through, sub- and superscript keep their look; images are drawn inline from the bank's
assets; MathML Core is laid out linearly (``P = U²/R``: superscripts and subscripts raised and
lowered, a fraction as ``(numerator)/(denominator)`` where either side has more than one term,
roots as ``√(…)``). The embedded CJK font of :mod:`exam_server.fonts` prints the Chinese.

:func:`items_pdf` lists items one after another: code, type, points, knowledge point, stem,
options, key or accepted answers, explanation. Rendering is CPU work: callers on a live server
run it through :func:`exam_server.offload.run_blocking`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

from question_bank.schema import BLANK_MARK, ItemDraft, ItemType

from .fonts import reportlab_fonts

AssetLoader = Callable[[str], tuple[str, bytes] | None]

_BLOCKS = {"p", "div", "li", "tr", "pre", "ul", "ol", "table", "thead", "tbody"}
_INLINE = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "s": "strike",
           "sub": "sub", "sup": "super", "code": "font"}  # fmt: skip
_VOID = {"br", "img", "hr"}


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Node | str] = field(default_factory=list)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def _tree(html: str) -> _Node:
    parser = _Tree()
    parser.feed(html)
    parser.close()
    return parser.root


# -- MathML ----------------------------------------------------------------------------------


def _terms(node: _Node | str) -> int:
    """How many visible terms a MathML node shows (to decide on parentheses)."""
    if isinstance(node, str):
        return 1 if node.strip() else 0
    if node.tag in ("mrow", "math", "mstyle", "mpadded"):
        return sum(_terms(c) for c in node.children)
    return 1


def _elements(node: _Node) -> list[_Node]:
    return [c for c in node.children if isinstance(c, _Node)]


def _math(node: _Node | str) -> str:
    if isinstance(node, str):
        return escape(node.strip())
    kids = _elements(node)
    tag = node.tag
    if tag == "mi":
        text = "".join(c for c in node.children if isinstance(c, str)).strip()
        plain = node.attrs.get("mathvariant") == "normal" or len(text) > 1
        return escape(text) if plain else f"<i>{escape(text)}</i>"
    if tag in ("mn", "mtext", "ms"):
        return escape("".join(c for c in node.children if isinstance(c, str)).strip())
    if tag == "mo":
        op = "".join(c for c in node.children if isinstance(c, str)).strip()
        return f" {escape(op)} " if op in "=+−-×÷<>≤≥≠≈±" and op else escape(op)
    if tag == "mspace":
        return " "
    if tag in ("annotation", "mprescripts", "none", "mphantom"):
        return ""
    if tag == "semantics":
        return _math(kids[0]) if kids else ""

    def group(n: _Node) -> str:
        inner = _math(n)
        return f"({inner})" if _terms(n) > 1 else inner

    if tag == "msup" and len(kids) == 2:
        return f"{group(kids[0])}<super>{_math(kids[1])}</super>"
    if tag == "msub" and len(kids) == 2:
        return f"{group(kids[0])}<sub>{_math(kids[1])}</sub>"
    if tag == "msubsup" and len(kids) == 3:
        return f"{group(kids[0])}<sub>{_math(kids[1])}</sub><super>{_math(kids[2])}</super>"
    if tag == "mfrac" and len(kids) == 2:
        return f"{group(kids[0])}/{group(kids[1])}"
    if tag == "msqrt":
        inner = "".join(_math(k) for k in kids)
        return f"√({inner})" if sum(_terms(k) for k in kids) > 1 else f"√{inner}"
    if tag == "mroot" and len(kids) == 2:
        return f"<super>{_math(kids[1])}</super>√{group(kids[0])}"
    if tag in ("mover", "munder", "munderover") and kids:
        extra = "".join(f"<super>{_math(k)}</super>" for k in kids[1:])
        return _math(kids[0]) + extra
    if tag == "mtable":
        return "; ".join(_math(row) for row in kids)
    if tag in ("mtr", "mtd"):
        return ", ".join(_math(k) for k in kids) if tag == "mtr" else "".join(map(_math, kids))
    return "".join(_math(c) for c in node.children)


# -- HTML --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    """An image of the text, drawn as its own block after the text around it."""

    data: bytes
    width: float
    height: float


class _Blocks:
    def __init__(self, assets: AssetLoader | None):
        self.assets = assets
        self.blocks: list[str | Picture] = []
        self.current: list[str] = []
        self.pictures: list[Picture] = []

    def flush(self) -> None:
        text = "".join(self.current).strip()
        if text:
            self.blocks.append(text)
        self.blocks.extend(self.pictures)
        self.current = []
        self.pictures = []

    def walk(self, node: _Node | str, prefix: str = "") -> None:
        if isinstance(node, str):
            self.current.append(escape(node, quote=False))
            return
        tag = node.tag
        if tag == "math":
            self.current.append(_math(node))
            return
        if tag == "br":
            self.current.append("<br/>")
            return
        if tag == "img":
            self.current.append(self.image(node.attrs))
            return
        if tag in _BLOCKS:
            self.flush()
            if tag == "li":
                self.current.append(prefix)
            for i, child in enumerate(node.children, start=1):
                child_prefix = (f"{i}. " if tag == "ol" else "• ") if tag in ("ol", "ul") else ""
                if tag == "tr" and isinstance(child, _Node) and i > 1:
                    self.current.append(" | ")
                self.walk(child, child_prefix)
            self.flush()
            return
        mark = _INLINE.get(tag)
        if mark == "font":
            self.current.append('<font face="Courier">')
        elif mark:
            self.current.append(f"<{mark}>")
        for child in node.children:
            self.walk(child)
        if mark == "font":
            self.current.append("</font>")
        elif mark:
            self.current.append(f"</{mark}>")

    def image(self, attrs: dict[str, str]) -> str:
        src = attrs.get("src", "")
        found = self.assets(src.removeprefix("/assets/")) if self.assets else None
        if not src.startswith("/assets/") or found is None:
            return escape(f"[{attrs.get('alt') or 'image'}]")
        from reportlab.lib.utils import ImageReader

        data = found[1]
        width, height = ImageReader(io.BytesIO(data)).getSize()
        try:
            want = float(attrs.get("width") or width)
        except ValueError:
            want = width
        scale = min(want, 400) / max(width, 1)
        self.pictures.append(Picture(data, width * scale, height * scale))
        return ""


def rich_blocks(html: str, assets: AssetLoader | None = None) -> list[str | Picture]:
    """One rich-text field as blocks: ReportLab paragraph markup, or a :class:`Picture`."""
    out = _Blocks(assets)
    out.walk(_tree(html))
    out.flush()
    return out.blocks


_TYPE_NAMES = {
    ItemType.TRUE_FALSE: "判断题 True/false",
    ItemType.SINGLE_CHOICE: "单选题 Single choice",
    ItemType.MULTIPLE_CHOICE: "多选题 Multiple choice",
    ItemType.FILL_BLANK: "填空题 Fill-in",
}


def items_pdf(drafts: list[ItemDraft], *, title: str, assets: AssetLoader | None = None) -> bytes:
    """A printable list of ``drafts`` (A4), formulas and images included."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer

    def flow(block: str | Picture, style: ParagraphStyle):
        if isinstance(block, Picture):
            return Image(
                io.BytesIO(block.data), width=block.width, height=block.height, hAlign="LEFT"
            )
        return Paragraph(block, style)

    regular, bold = reportlab_fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=10.5, leading=16)
    head = ParagraphStyle("head", parent=body, fontName=bold, fontSize=11)
    small = ParagraphStyle("small", parent=body, fontSize=9, leading=13, textColor="#444444")
    story: list = [Paragraph(escape(title), ParagraphStyle("t", parent=head, fontSize=15))]
    story.append(Spacer(1, 6 * mm))
    for n, draft in enumerate(drafts, start=1):
        c = draft.content
        part = [
            Paragraph(
                f"{n}. {escape(draft.code)}"
                + (f" · {escape(c.title)}" if c.title else "")
                + f" · {_TYPE_NAMES[c.type]} · {c.points} 分 · {escape(c.knowledge_point)}",
                head,
            )
        ]
        stem = BLANK_MARK.sub(lambda m: f"（{m.group(1)}）____", c.stem)
        part += [flow(b, body) for b in rich_blocks(stem, assets)]
        for opt in c.options:
            blocks = rich_blocks(opt.text, assets) or [""]
            texts = [b for b in blocks if isinstance(b, str)]
            part.append(Paragraph(f"{opt.label}. " + "<br/>".join(texts), body))
            part += [flow(b, body) for b in blocks if isinstance(b, Picture)]
        if c.type == ItemType.FILL_BLANK:
            answers = "；".join(
                f"（{i}）" + " / ".join(escape(a) for a in b.accepted)
                for i, b in enumerate(c.blanks, start=1)
            )
        elif c.type == ItemType.TRUE_FALSE:
            answers = "正确 true" if c.key == ["T"] else "错误 false"
        else:
            answers = "".join(c.key)
        part.append(Paragraph(f"答案 Key: {answers}", small))
        if c.explanation:
            blocks = rich_blocks(c.explanation, assets)
            part.append(Paragraph("解析 Explanation:", small))
            part += [flow(b, small) for b in blocks]
        part.append(Spacer(1, 5 * mm))
        story.append(KeepTogether(part))
    out = io.BytesIO()
    SimpleDocTemplate(
        out, pagesize=A4, title=title, leftMargin=18 * mm, rightMargin=18 * mm,
        topMargin=18 * mm, bottomMargin=18 * mm,
    ).build(story)  # fmt: skip
    return out.getvalue()

"""A Moodle XML question bank written for these tests, following Moodle's XML format
documentation (question types, ``<file encoding="base64">`` with ``@@PLUGINFILE@@`` references,
``<usecase>``, cloze ``{n:SHORTANSWER:…}`` / ``SHORTANSWER_C`` parts, categories)."""

from __future__ import annotations

import base64
import struct
import zlib
from html import escape


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small valid PNG (PNG specification: signature, IHDR, IDAT, IEND chunks)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


CIRCUIT = png()
METER = png(2, 2, (10, 120, 10))
MATH = (
    '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>P</mi><mo>=</mo>'
    "<mfrac><msup><mi>U</mi><mn>2</mn></msup><mi>R</mi></mfrac></math>"
)


def _file(name: str, data: bytes) -> str:
    return (
        f'<file name="{name}" path="/" encoding="base64">{base64.b64encode(data).decode()}</file>'
    )


def _q(qtype: str, name: str, text: str, body: str = "", files: str = "", ident: str = "") -> str:
    return (
        f'<question type="{qtype}"><name><text>{escape(name)}</text></name>'
        f'<questiontext format="html"><text><![CDATA[{text}]]></text>{files}</questiontext>'
        f'<generalfeedback format="html"><text></text></generalfeedback>'
        f"<defaultgrade>1.0000000</defaultgrade><idnumber>{ident}</idnumber>{body}</question>"
    )


def _a(fraction: str, text: str, files: str = "") -> str:
    return (
        f'<answer fraction="{fraction}" format="html"><text><![CDATA[{text}]]></text>{files}'
        '<feedback format="html"><text></text></feedback></answer>'
    )


def moodle_bank() -> bytes:
    """Eleven questions: seven the bank holds (with an image, styling, a formula), four it
    does not (two essays, a numerical question, a description)."""
    styled = '<p style="color: #e03e2d;">电阻串联后总电阻<span style="font-weight: bold;">增大</span>。</p>'
    questions = [
        '<question type="category"><category><text>$course$/top/电工/基础</text></category></question>',
        _q(
            "multichoice",
            "Circuit",
            '<p style="text-align: center;">图中电路的等效电阻是？<br>'
            '<img src="@@PLUGINFILE@@/circuit.png" alt="电路图" width="120"></p>',
            "<single>true</single><shuffleanswers>true</shuffleanswers>"
            + _a("100", "10 Ω")
            + _a("0", "20 Ω")
            + _a("0", '<img src="@@PLUGINFILE@@/meter.png" alt="表">', _file("meter.png", METER)),
            _file("circuit.png", CIRCUIT),
            ident="EL-001",
        ),
        _q("truefalse", "T & F", styled, _a("100", "true") + _a("0", "false")),
        _q(
            "multichoice",
            "Power",
            f"<p>功率公式是 {MATH} 的电器是？（多选，实际只有一个正确）</p>",
            "<single>false</single>"
            + _a("100", "电阻炉")
            + _a("-100", "电动机")
            + _a("-100", "变压器"),
        ),
        _q("essay", "Essay one", "<p>论述安全用电的意义。</p>"),
        '<question type="category"><category><text>$course$/top/电工/测量</text></category></question>',
        _q(
            "shortanswer",
            "Unit",
            "<p>电阻的单位是 ____ 。</p>",
            "<usecase>0</usecase>" + _a("100", "Ohm") + _a("100", "欧姆"),
        ),
        _q(
            "cloze",
            "Cloze",
            "<p>电压单位 {1:SHORTANSWER_C:=V} ，电流单位 {1:SHORTANSWER:=A~=安培}。</p>",
        ),
        _q("numerical", "Number", "<p>2+3=?</p>", _a("100", "5")),
        _q("essay", "Essay two", "<p>说明接地的作用。</p>"),
        _q("description", "Info", "<p>以下为测量题。</p>"),
        _q(
            "multichoice",
            "Q",
            "<p>万用表测电阻前应？</p>",
            "<single>true</single>" + _a("100", "欧姆调零") + _a("0", "直接测量"),
        ),
        _q(
            "multichoice",
            "Q",
            "<p>兆欧表用于测量？</p>",
            "<single>true</single>" + _a("100", "绝缘电阻") + _a("0", "电流"),
        ),
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n' + "\n".join(questions) + "\n</quiz>\n"
    ).encode()


CATEGORY_MAP = "category,knowledge_point\n$course$/top/电工/基础,A-01\n"

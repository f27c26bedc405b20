"""Hostile import files (issue 13), built in memory for the import-limits benchmark and tests.

Each builder returns ``(file name, bytes)``. They follow the published layouts (Office Open XML
SpreadsheetML, IMS content packages, Moodle XML, GIFT) with sizes chosen to hurt a reader that
trusts declared dimensions or unpacks before checking.
"""

from __future__ import annotations

import io
import zipfile

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
    'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
    'application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
    'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="题库" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
_HEADER = ["题号", "题型", "题干", "选项A", "选项B", "答案", "鉴定点代码"]


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _xlsx(sheet_xml: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WB)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def _sheet(rows: list[str], dimension: str = "A1:G2") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org'
        f'/spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>'
        + "".join(rows)
        + "</sheetData></worksheet>"
    )


def _row(n: int, values: list[str]) -> str:
    cells = "".join(_cell(f"{'ABCDEFG'[i]}{n}", v) for i, v in enumerate(values))
    return f'<row r="{n}">{cells}</row>'


def xlsx_huge_dimension() -> tuple[str, bytes]:
    """A few-KB workbook declaring the largest sheet Excel allows, with one item, then a row at
    the very bottom of the sheet."""
    rows = [_row(1, _HEADER), _row(2, ["Q1", "判断题", "x", "", "", "对", "K1"])]
    rows.append('<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>')
    return "dimension.xlsx", _xlsx(_sheet(rows, "A1:XFD1048576"))


def xlsx_many_rows(n: int = 100_000) -> tuple[str, bytes]:
    """``n`` item rows: more than one import may hold."""
    rows = [_row(1, _HEADER)]
    rows += [_row(i, [f"Q{i}", "判断题", f"题{i}", "", "", "对", "K1"]) for i in range(2, n + 2)]
    return "rows.xlsx", _xlsx(_sheet(rows, f"A1:G{n + 1}"))


def xlsx_long_cell(chars: int = 20_000_000) -> tuple[str, bytes]:
    """One cell of ``chars`` characters (compresses to a few KB)."""
    rows = [_row(1, _HEADER), _row(2, ["Q1", "判断题", "x" * chars, "", "", "对", "K1"])]
    return "cell.xlsx", _xlsx(_sheet(rows))


def qti_big_stems(items: int = 9, chars: int = 20_000_000) -> tuple[str, bytes]:
    """A content package whose item files each hold a stem of ``chars`` characters."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        res = "".join(
            f'<resource identifier="R{i}" type="imsqti_item_xmlv2p1" href="i{i}.xml">'
            f'<file href="i{i}.xml"/></resource>'
            for i in range(items)
        )
        zf.writestr(
            "imsmanifest.xml",
            '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="M">'
            f"<organizations/><resources>{res}</resources></manifest>",
        )
        for i in range(items):
            zf.writestr(
                f"i{i}.xml",
                '<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" '
                f'identifier="I{i}" title="t" adaptive="false" timeDependent="false">'
                '<responseDeclaration identifier="RESPONSE" cardinality="single" '
                'baseType="identifier"><correctResponse><value>T</value></correctResponse>'
                "</responseDeclaration><itemBody><p>"
                + "x"
                * chars
                + '</p><choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">'
                '<simpleChoice identifier="T">对</simpleChoice><simpleChoice identifier="F">错'
                "</simpleChoice></choiceInteraction></itemBody></assessmentItem>",
            )
    return "stems.zip", out.getvalue()


def zip_bomb(members: int = 3, size: int = 100_000_000) -> tuple[str, bytes]:
    """Members that unpack to far more than the package may (zeros compress 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            zf.writestr(f"items/i{i}.xml", b"\x00" * size)
    return "bomb.zip", out.getvalue()


def moodle_long_stem(chars: int = 25_000_000) -> tuple[str, bytes]:
    """A Moodle XML question whose text has ``chars`` characters (under the upload limit)."""
    return "long.xml", (
        '<?xml version="1.0" encoding="UTF-8"?><quiz><question type="truefalse">'
        '<name><text>Q</text></name><questiontext format="html"><text>'
        + "x"
        * chars
        + '</text></questiontext><answer fraction="100"><text>true</text></answer>'
        "</question></quiz>"
    ).encode()


def moodle_entities() -> tuple[str, bytes]:
    """The "billion laughs" entity expansion."""
    defs = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    )
    return "laughs.xml", (f'<?xml version="1.0"?><!DOCTYPE quiz [{defs}]><quiz>&i;</quiz>').encode()


def gift_many(n: int = 30_000) -> tuple[str, bytes]:
    """More questions than one import may hold."""
    return "many.gift", "\n\n".join(f"::Q{i}:: 题 {i} {{T}}" for i in range(n)).encode()


def csv_many(n: int = 100_000) -> tuple[str, bytes]:
    lines = [",".join(_HEADER)] + [f"Q{i},判断题,题{i},,,对,K1" for i in range(n)]
    return "many.csv", "\n".join(lines).encode()


HOSTILE = {
    "xlsx declaring A1:XFD1048576": (xlsx_huge_dimension, "xlsx"),
    "xlsx with 100,000 rows": (xlsx_many_rows, "xlsx"),
    "xlsx with a 20,000,000-character cell": (xlsx_long_cell, "xlsx"),
    "QTI zip with 9 stems of 20 MB": (qti_big_stems, "qti"),
    "zip unpacking to 300 MB": (zip_bomb, "qti"),
    "Moodle XML with a 25 MB stem": (moodle_long_stem, "moodle-xml"),
    "Moodle XML entity expansion": (moodle_entities, "moodle-xml"),
    "GIFT with 30,000 questions": (gift_many, "gift"),
    "CSV with 100,000 rows": (csv_many, "csv"),
}

"""Bounded reading of hostile files (refusal, not timing: bench/import_limits.py measures), text
encodings told apart or asked for, and a GIFT file that starts with ``{``."""

from __future__ import annotations

import pytest

from bench import hostile_files as hf
from question_bank.formats import EncodingProblem, ImportOptions, decode_text, gift, xlsx
from question_bank.transfer import detect_format, parse_file


def codes(parsed) -> set[str]:
    return {p.message.code for p in parsed.problems}


@pytest.mark.parametrize(
    ("build", "fmt", "code"),
    [
        (hf.xlsx_huge_dimension, "xlsx", "xlsx_too_many_rows"),
        (lambda: hf.xlsx_many_rows(120), "xlsx", "import_too_many_items"),
        (lambda: hf.xlsx_long_cell(25_000), "xlsx", "xlsx_cell_too_long"),
        (lambda: hf.qti_big_stems(3, 5_000_000), "qti", "package_member_too_large"),
        (lambda: hf.zip_bomb(3, 80_000_000), "qti", "zip_too_large"),
        (lambda: hf.moodle_long_stem(25_000), "moodle-xml", "import_field_too_long"),
        (hf.moodle_entities, "moodle-xml", "xml_forbidden"),
        (lambda: hf.gift_many(120), "gift", "import_too_many_items"),
        (lambda: hf.csv_many(120), "csv", "import_too_many_items"),
    ],
)
def test_hostile_files_are_refused(build, fmt, code) -> None:
    name, data = build()
    parsed = parse_file(data, name, fmt, ImportOptions(knowledge_point="K1", max_items=100))
    assert code in codes(parsed)
    assert parsed.drafts == [] or code == "xlsx_too_many_rows"


def test_the_item_limit_is_checked_before_any_item_is_parsed() -> None:
    name, data = hf.gift_many(101)
    parsed = parse_file(data, name, "gift", ImportOptions(knowledge_point="K1", max_items=100))
    assert parsed.drafts == [] and len(parsed.problems) == 1
    name, data = hf.gift_many(100)
    parsed = parse_file(data, name, "gift", ImportOptions(knowledge_point="K1", max_items=100))
    assert len(parsed.drafts) == 100 and parsed.problems == []


# Moodle's GIFT documentation's own kind of text, in Windows-1252: curly quotes and accents.
WESTERN = "::Q1:: Who\u2019s buried in Grant\u2019s tomb? Caf\u00e9 na\u00efve {=Grant ~no one}\n"
CHINESE = "::Q1:: 电阻的单位是欧姆，电压的单位是伏特。 {T}\n"


def test_encodings_are_told_apart_or_asked_for() -> None:
    assert decode_text(WESTERN.encode("cp1252")) == WESTERN
    assert decode_text(CHINESE.encode("gb18030")) == CHINESE
    assert decode_text(b"\xef\xbb\xbf" + CHINESE.encode()) == CHINESE
    assert decode_text(CHINESE.encode()) == CHINESE
    parsed = gift.parse(WESTERN.encode("cp1252"), knowledge_point="K1")
    assert (
        parsed.drafts[0].content.stem
        == "Who\u2019s buried in Grant\u2019s tomb? Caf\u00e9 na\u00efve"
    )
    # "ñé" is two Western letters and, as bytes, one GBK character: the reader asks.
    with pytest.raises(EncodingProblem) as info:
        decode_text("Ma\u00f1\u00e9".encode("cp1252"))
    assert info.value.ambiguous and info.value.message.code == "encoding_ambiguous"
    parsed = gift.parse("::Q:: Ma\u00f1\u00e9 {T}\n".encode("cp1252"), knowledge_point="K1")
    assert codes(parsed) == {"encoding_ambiguous"} and parsed.hints == ["encoding"]
    parsed = gift.parse(
        "::Q:: Ma\u00f1\u00e9 {T}\n".encode("cp1252"),
        options=ImportOptions(knowledge_point="K1", encoding="windows-1252"),
    )
    assert parsed.drafts[0].content.stem == "Ma\u00f1\u00e9"


def test_csv_in_windows_1252() -> None:
    text = "题号,题型,题干,答案,鉴定点代码\nQ1,TF,Caf\u00e9\u2019s menu,T,K1\n"
    with pytest.raises(UnicodeEncodeError):
        text.encode("cp1252")
    text = "code,type,stem,answer,knowledge point\nQ1,TF,Caf\u00e9\u2019s menu,T,K1\n"
    parsed = xlsx.parse_csv(text.encode("cp1252"))
    assert parsed.problems == [] and parsed.drafts[0].content.stem == "Caf\u00e9\u2019s menu"


def test_a_gift_file_starting_with_a_brace_is_not_sniffed_as_json() -> None:
    data = b"{=Paris ~London} is the capital of France.\n"
    assert detect_format("capitals.gift", data) == "gift"
    assert detect_format("capitals.txt", data) == "gift"
    assert detect_format("upload", b'{"format": "exam-server-bank"}') == "json"
    parsed = parse_file(data, "capitals.gift", None, "K1")
    assert parsed.problems == [] and parsed.drafts[0].content.key == ["A"]


def test_editor_styling_is_stripped_and_counted_or_kept_in_part() -> None:
    from question_bank.formats.rich import import_html
    from question_bank.sanitize import clean_html

    html = (
        '<p style="text-align: center; color: red">A<span style="font-weight: bold; '
        'font-family: Arial">B</span><span style="vertical-align: super">2</span>'
        '<font color="blue">C</font><span style="text-decoration: underline">D</span></p>'
    )
    stripped = import_html(html)
    assert stripped.styling == 5 and clean_html(stripped.html) == "<p>AB2CD</p>"
    kept = import_html(html, keep_styling=True)
    assert kept.styling == 5
    assert clean_html(kept.html) == (
        '<p class="qb-align-center">A<b>B</b><sup>2</sup>C<u>D</u></p>'
    )


def test_images_a_file_does_not_carry_make_the_question_unsupported() -> None:
    from question_bank.formats import moodle_xml

    text = '::Pic:: <p>看图 <img src="https://example.org/a.png"></p> {T}\n'
    parsed = gift.parse(text.encode(), knowledge_point="K1")
    (p,) = parsed.problems
    assert p.unsupported and p.message.code == "import_image_missing"
    parsed = gift.parse(
        text.encode(), options=ImportOptions(knowledge_point="K1", skip_unsupported=True)
    )
    assert parsed.problems == [] and [(s.name, s.kind) for s in parsed.skipped] == [
        ("Pic", "image")
    ]
    # An SVG carried by a Moodle file is refused like any active content.
    svg = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="  # <svg xmlns=…/>
    doc = (
        '<quiz><question type="truefalse"><name><text>S</text></name>'
        '<questiontext format="html"><text><![CDATA[<img src="@@PLUGINFILE@@/a.svg">]]></text>'
        f'<file name="a.svg" path="/" encoding="base64">{svg}</file></questiontext>'
        '<answer fraction="100"><text>true</text></answer></question></quiz>'
    )
    parsed = moodle_xml.parse(doc.encode(), knowledge_point="K1")
    (p,) = parsed.problems
    assert p.unsupported and parsed.assets == {}

"""Import/export formats: round trips, foreign files, and every kind of bad input.

No database: formats turn bytes into :class:`ItemDraft` lists and back.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from question_bank.formats import ParsedFile, Problem, gift, moodle_xml, qti, xlsx
from question_bank.schema import ItemContent, ItemDraft

# ---------------------------------------------------------------------------------------------
# Fixed examples: every item type and the awkward corners of each format.


def draft(code: str, **content: Any) -> ItemDraft:
    content.setdefault("knowledge_point", "01.02.003")
    return ItemDraft(code=code, content=ItemContent.model_validate(content))


def opts(*texts: str) -> list[dict[str, str]]:
    return [{"label": "ABCDEFGH"[i], "text": t} for i, t in enumerate(texts)]


IMG = '<img src="/assets/' + "ab" * 32 + '" alt="电路图" width="120">'

EXAMPLES = [
    draft(
        "TF-001",
        type="true_false",
        stem="电流的单位是安培。",
        key=["T"],
        explanation="国际单位制：安培（A）。",
        translations={"en": {"stem": "The unit of current is the ampere."}},
    ),
    draft("TF-002", type="true_false", stem="1+1=2 {not a block} ~ # : \\n", key=["F"]),
    draft(
        "SC-001",
        type="single_choice",
        stem="<p>电阻 R &lt; 5 Ω 时，<b>正确</b>的是（ ）。</p>",
        options=opts("欧姆", "伏特 ~=#{}:", "%50% 安培", "[瓦特]"),
        key=["C"],
        points=Decimal("2.5"),
        difficulty=0.35,
        tags=["基础", "电工 安全"],
        explanation="见 <i>教材</i> 第 3 章\n第二行",
        translations={
            "en": {
                "stem": "Which is right?",
                "options": {"A": "ohm", "B": "volt", "C": "ampere", "D": "watt"},
                "explanation": "See chapter 3.",
            }
        },
    ),
    draft(
        "1001",
        type="multiple_choice",
        stem="下列属于导体的是：<u>下划线</u> <s>删除</s> ]]> 结尾",
        options=opts("铜", "橡胶", "铝", "陶瓷", "银"),
        key=["A", "C", "E"],
        points=Decimal("0.25"),
        difficulty=0.9,
        knowledge_point="02.01",
    ),
    draft(
        "FB-001",
        type="fill_blank",
        stem="电阻的单位是{{1}}，电压的单位是{{2}}，功率单位{{3}}。",
        blanks=[
            {"accepted": ["欧姆", "Ω", "a;b|c\\d"]},
            {"accepted": ["伏特", "V"], "normalize": ["trim", "width", "case"]},
            {"accepted": ["瓦特", 'W} # ~ / " = %'], "normalize": []},
        ],
        points=Decimal("3"),
        difficulty=0.6,
        tags=["单位"],
        explanation="单位换算",
        knowledge_point="02.01",
    ),
    draft(
        "HTML-1",
        type="single_choice",
        stem=(
            "<p>H<sub>2</sub>O&nbsp;x<sup>2</sup><br>" + IMG + "</p>"
            "<ol><li>一</li><li>二 &amp; 三</li></ol>"
        ),
        options=opts(IMG, "<code>a&lt;b</code>", "<pre>x\n  y</pre>"),
        key=["B"],
        explanation="<div><strong>粗</strong><em>斜</em></div>",
    ),
    draft(
        "FB-002",
        type="fill_blank",
        stem="<table><tbody><tr><td>{{1}}</td></tr></tbody></table>",
        blanks=[{"accepted": ["x"], "normalize": ["space", "case"]}],
    ),
]

FORMATS = {
    "xlsx": (xlsx.parse, xlsx.dump),
    "csv": (xlsx.parse_csv, xlsx.dump_csv),
    "gift": (gift.parse, gift.dump),
    "moodle_xml": (moodle_xml.parse, moodle_xml.dump),
    "qti": (qti.parse, qti.dump),
}
# Spreadsheets carry the English translation; the other formats carry no translations.
CARRIES_TRANSLATIONS = {"xlsx", "csv"}


def gift_can(d: ItemDraft) -> bool:
    """GIFT holds one blank per question and no images (the export lists the others)."""
    return len(d.content.blanks) <= 1 and "<img" not in d.content.stem + "".join(
        o.text for o in d.content.options
    )


def expected(d: ItemDraft, fmt: str) -> ItemDraft:
    if fmt in CARRIES_TRANSLATIONS:
        return d
    return d.model_copy(update={"content": d.content.model_copy(update={"translations": {}})})


def messages(parsed: ParsedFile) -> list[tuple[str, str | None, str]]:
    return [(p.place, p.field, p.message) for p in parsed.problems]


def only_problem(parsed: ParsedFile) -> Problem:
    assert len(parsed.problems) == 1, messages(parsed)
    return parsed.problems[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_fixed_examples(fmt: str) -> None:
    parse, dump = FORMATS[fmt]
    parsed = parse(dump(EXAMPLES), source=f"bank.{fmt}")
    assert parsed.problems == []
    want = [expected(d, fmt) for d in EXAMPLES if fmt != "gift" or gift_can(d)]
    assert [d.code for d in parsed.drafts] == [d.code for d in want]
    for got, exp in zip(parsed.drafts, want, strict=True):
        assert got.content.canonical() == exp.content.canonical(), got.code
    assert parsed.drafts == want


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_of_nothing_reads_back_as_nothing_or_says_so(fmt: str) -> None:
    parse, dump = FORMATS[fmt]
    parsed = parse(dump([]), source="empty")
    assert parsed.drafts == []
    if fmt in ("xlsx", "csv"):
        assert parsed.problems == []  # a header row alone is a valid, empty sheet
    else:
        p = only_problem(parsed)
        assert p.place == ("imsmanifest.xml" if fmt == "qti" else "empty")
        assert "no" in p.message


# ---------------------------------------------------------------------------------------------
# Generated drafts (hypothesis).

RICH = st.text(
    alphabet=st.sampled_from(list("ab XY电阻欧姆12<>&\"'~=#{}:\\/%[]|;,，、；\n_-.+()")),
    min_size=1,
    max_size=24,
)
ANSWER = (
    st.text(alphabet=st.sampled_from(list("ab XY欧Ω12&\"'~=#{}:\\/%[]|;,，；_-.")), max_size=12)
    .map(str.strip)
    .filter(bool)
)
TAG = (
    st.text(alphabet=st.sampled_from(list("abc XY标签12-_.:")), min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda t: t and gift.split_tags([t])[0] == [t])
)
CODE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,10}", fullmatch=True)
KP = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,8}", fullmatch=True)
POINTS = st.integers(1, 10000).map(
    lambda c: Decimal(str(c // 100)) if c % 100 == 0 else Decimal(f"{c / 100:.2f}".rstrip("0"))
)
RULES = st.lists(st.sampled_from(["trim", "width", "case", "space"]), unique=True)


@st.composite
def contents(draw: st.DrawFn, *, translations: bool, exact_floats: bool) -> dict[str, Any]:
    kind = draw(st.sampled_from(["true_false", "single_choice", "multiple_choice", "fill_blank"]))
    doc: dict[str, Any] = {
        "type": kind,
        "knowledge_point": draw(KP),
        "points": draw(POINTS),
        "difficulty": draw(
            st.floats(0, 1) if exact_floats else st.integers(0, 1000).map(lambda n: n / 1000)
        ),
        "explanation": draw(st.one_of(st.just(""), RICH)),
        "tags": draw(st.lists(TAG, max_size=3)),
    }
    labels = []
    if kind == "true_false":
        doc["stem"] = draw(RICH)
        doc["key"] = [draw(st.sampled_from("TF"))]
    elif kind == "fill_blank":
        n = draw(st.integers(1, 3))
        parts = draw(st.lists(RICH, min_size=n + 1, max_size=n + 1))
        doc["stem"] = parts[0] + "".join(f"{{{{{i}}}}}{parts[i]}" for i in range(1, n + 1))
        doc["blanks"] = [
            {
                "accepted": draw(st.lists(ANSWER, min_size=1, max_size=3, unique=True)),
                "normalize": draw(RULES),
            }
            for _ in range(n)
        ]
    else:
        doc["stem"] = draw(RICH)
        count = draw(st.integers(2, 8))
        labels = list("ABCDEFGH"[:count])
        doc["options"] = [{"label": lab, "text": draw(RICH)} for lab in labels]
        k = 1 if kind == "single_choice" else draw(st.integers(2, count))
        doc["key"] = draw(st.permutations(labels))[:k]
    if translations and draw(st.booleans()):
        doc["translations"] = {
            "en": {
                "stem": draw(RICH),
                "options": {lab: draw(RICH) for lab in labels if draw(st.booleans())},
                "explanation": draw(st.one_of(st.just(""), RICH)),
            }
        }
    return doc


@st.composite
def bank(
    draw: st.DrawFn, *, translations: bool = False, exact_floats: bool = True
) -> list[ItemDraft]:
    docs = draw(
        st.lists(
            contents(translations=translations, exact_floats=exact_floats), min_size=1, max_size=4
        )
    )
    codes = draw(st.lists(CODE, min_size=len(docs), max_size=len(docs), unique_by=str.casefold))
    drafts = []
    for code, doc in zip(codes, docs, strict=True):
        try:
            d = ItemDraft(code=code, content=ItemContent.model_validate(doc))
        except ValidationError:
            assume(False)
        # Text the sanitiser reduced to nothing is not a useful example.
        tr = d.content.translations.get("en")
        assume(tr is None or (tr.stem and all(tr.options.values())))
        drafts.append(d)
    return drafts


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("fmt", ["gift", "moodle_xml", "qti"])
@SETTINGS
@given(drafts=bank())
def test_round_trip_of_generated_items(fmt: str, drafts: list[ItemDraft]) -> None:
    parse, dump = FORMATS[fmt]
    parsed = parse(dump(drafts))
    if fmt == "gift":
        drafts = [d for d in drafts if gift_can(d)]
        if not drafts:
            return
    assert parsed.problems == []
    assert parsed.drafts == [expected(d, fmt) for d in drafts]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(drafts=bank(translations=True, exact_floats=False))
def test_round_trip_of_generated_items_through_xlsx_and_csv(drafts: list[ItemDraft]) -> None:
    for fmt in ("xlsx", "csv"):
        parse, dump = FORMATS[fmt]
        parsed = parse(dump(drafts))
        assert parsed.problems == []
        assert parsed.drafts == drafts
        assert [d.content.canonical() for d in parsed.drafts] == [
            d.content.canonical() for d in drafts
        ]


# ---------------------------------------------------------------------------------------------
# XLSX / CSV


HEADER = [
    "题号",
    "题型",
    "题干",
    "选项A",
    "选项B",
    "选项C",
    "选项D",
    "答案",
    "分值",
    "难度",
    "鉴定点代码",
]


def workbook(rows: list[list[Any]], header: list[str] = HEADER, sheet: str = "题库") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def test_template_has_instructions_and_one_valid_example_per_type() -> None:
    data = xlsx.template()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["题库", "说明"]
    header = [c.value for c in wb["题库"][1]]
    assert header[:3] == ["题号\ncode", "题型\ntype", "题干\nstem"]
    assert "stem_en" in " ".join(h for h in header if h)
    notes = " ".join(str(c.value) for row in wb["说明"].iter_rows() for c in row if c.value)
    assert "填空题" in notes and "fill-in" in notes
    parsed = xlsx.parse(data)
    assert parsed.problems == []
    assert sorted(d.content.type.value for d in parsed.drafts) == [
        "fill_blank", "multiple_choice", "single_choice", "true_false",
    ]  # fmt: skip


def test_xlsx_reads_the_answer_spellings_centres_use() -> None:
    rows = [
        ["Q1", "判断", "甲", "", "", "", "", "√", 1, 0.5, "K1"],
        ["Q2", "判断题", "乙", "正确", "错误", "", "", "B", 1, 0.5, "K1"],
        ["Q3", "true_false", "丙", "", "", "", "", "错误", "", "", "K1"],
        ["Q4", "多选", "丁", "一", "二", "三", "四", "A、B ,d", 2, "35%", "K1"],
        ["Q5", "单选题", "戊", "一", "二", "", "", "ｂ", "1.5分", "", "K1"],
        ["Q6", "填空", "电阻单位____，电压单位（  ）", "", "", "", "", "欧姆;Ω|伏特", "", "", "K1"],
        [None, "多选题", "己", 1, 2, 3, "", "A,C", "", "", 101],
    ]
    parsed = xlsx.parse(workbook(rows), source="题库 2024.xlsx")
    assert parsed.problems == []
    got = {d.code: d.content for d in parsed.drafts}
    assert got["Q1"].key == ["T"] and got["Q2"].key == ["F"] and got["Q3"].key == ["F"]
    assert got["Q2"].options == []
    assert got["Q4"].key == ["A", "B", "D"] and got["Q4"].difficulty == 0.35
    assert got["Q5"].key == ["B"] and got["Q5"].points == Decimal("1.5")
    assert got["Q6"].stem == "电阻单位{{1}}，电压单位{{2}}"
    assert [b.accepted for b in got["Q6"].blanks] == [["欧姆", "Ω"], ["伏特"]]
    # No code: generated from the file name (not ASCII, so a hash) and the row number.
    generated = [c for c in got if c.startswith("IMP-")]
    assert generated == [xlsx.generated_code("题库 2024.xlsx", 8)]
    assert generated[0].endswith("-0008")
    assert got[generated[0]].options[2].text == "3" and got[generated[0]].knowledge_point == "101"
    assert parsed.places == [f"row {n}" for n in range(2, 9)]


def test_generated_codes_are_deterministic() -> None:
    assert xlsx.generated_code("file", 7) == "IMP-0007"
    assert xlsx.generated_code("bank 2024.xlsx", 7) == "BANK-2024-0007"
    assert xlsx.generated_code("题库.xlsx", 12) == xlsx.generated_code("题库.xlsx", 12)
    assert xlsx.generated_code("题库.xlsx", 12) != xlsx.generated_code("题库2.xlsx", 12)
    assert gift.generated_code("题库.xlsx", 12) == xlsx.generated_code("题库.xlsx", 12)


def test_xlsx_fill_in_rules_and_escaped_separators() -> None:
    header = [*HEADER, "填空规则\nnormalize", "标签", "解析"]
    rows = [
        ["F1", "填空题", "{{1}} and {{2}}", "", "", "", "", r"a\|b;c\;d|e", 1, 0.5, "K", "case|none", "x,z", "因为"],
        ["F2", "填空题", "{{1}}", "", "", "", "", "q", 1, 0.5, "K", "忽略大小写 全半角", "", ""],
    ]  # fmt: skip
    parsed = xlsx.parse(workbook(rows, header))
    assert parsed.problems == []
    f1, f2 = (d.content for d in parsed.drafts)
    assert [b.accepted for b in f1.blanks] == [["a|b", "c;d"], ["e"]]
    assert [b.normalize for b in f1.blanks] == [["case"], []]
    assert f1.tags == ["x", "z"] and f1.explanation == "因为"
    assert f2.blanks[0].normalize == ["width", "case"]
    # A comma inside one tag (escaped) is refused: tags are searched as a comma-joined list.
    rows[0][12] = r"x\,y,z"
    bad = xlsx.parse(workbook(rows, header))
    assert [(p.place, p.field) for p in bad.problems] == [("row 2", "标签/tags")]
    assert "commas" in bad.problems[0].message


def test_xlsx_header_in_english_only_in_another_order() -> None:
    header = ["knowledge point", "answer", "Stem", "Type", "Option A", "Option B", "Code"]
    parsed = xlsx.parse(workbook([["K-1", "b", "Pick", "single choice", "x", "y", "E1"]], header))
    assert parsed.problems == []
    assert parsed.drafts[0].code == "E1" and parsed.drafts[0].content.key == ["B"]


def test_xlsx_rejects_files_that_are_not_xlsx() -> None:
    xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    p = only_problem(xlsx.parse(xls, source="old.xls"))
    assert p.place == "old.xls" and ".xls" in p.message and "save it as .xlsx" in p.message
    p = only_problem(xlsx.parse("题号,题型\nQ1,判断题\n".encode(), source="bank.csv"))
    assert p.place == "bank.csv" and "CSV import" in p.message
    p = only_problem(xlsx.parse(b"PK\x03\x04 broken", source="x.xlsx"))
    assert "broken zip" in p.message
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    p = only_problem(xlsx.parse(buf.getvalue(), source="x.xlsx"))
    assert "not an .xlsx workbook" in p.message


def test_xlsx_without_header_or_required_columns() -> None:
    p = only_problem(xlsx.parse(workbook([["a", "b"]], header=["foo", "bar"])))
    assert p.place == "row 1" and p.message.code == "xlsx_no_header"
    parsed = xlsx.parse(workbook([], header=["题型", "题干"]))
    assert messages(parsed) == [("row 1", "答案/answer", "Missing column 答案/answer.")]


def test_xlsx_bad_rows_each_name_row_and_column() -> None:
    rows = [
        ["Q1", "单选题", "好题", "一", "二", "", "", "A", 1, 0.5, "K1"],  # row 2 fine
        ["Q2", "单选题", "选项不存在", "一", "二", "三", "四", "E", 1, 0.5, "K1"],
        ["Q3", "多选题", "只有一个答案", "一", "二", "三", "", "B", 1, 0.5, "K1"],
        ["Q4", "判断题", "", "", "", "", "", "对", 1, 0.5, "K1"],
        ["Q5", "单选题", "<script>alert(1)</script>看", "一", "二", "", "", "A", 1, 0.5, "K1"],
        ["Q6", "判断题", "无鉴定点", "", "", "", "", "对", 1, 0.5, ""],
        ["Q1", "判断题", "重复", "", "", "", "", "错", 1, 0.5, "K1"],
        ["Q8", "问答题", "未知题型", "", "", "", "", "x", 1, 0.5, "K1"],
        ["Q9", "单选题", "空选项", "一", "", "三", "", "A", "abc", 2, "K1"],
        ["Q10", "判断题", "怪答案", "", "", "", "", "也许", 1, 0.5, "K1"],
    ]
    parsed = xlsx.parse(workbook(rows))
    # A multiple-choice item with one key is valid (Moodle and TAO allow it).
    assert [d.code for d in parsed.drafts] == ["Q1", "Q3"]
    got = {(p.place, p.field): p.message for p in parsed.problems}
    assert (
        got[("row 3", "答案/answer")]
        == "['E'] point at options that do not exist (['A', 'B', 'C', 'D'])"
    )
    assert got[("row 5", "题干/stem")] == "stem is empty"
    assert got[("row 6", "题干/stem")] == "<script> tags are not allowed"
    assert got[("row 7", "鉴定点代码/knowledge point")].code == "xlsx_no_knowledge_point"
    assert got[("row 8", "题号/code")] == "Item code Q1 is used twice (first at row 2)."
    assert got[("row 9", "题型/type")].startswith("Unknown item type 问答题")
    assert "选项B is empty but 选项C is filled" in got[("row 10", "选项B/option B")]
    assert got[("row 10", "分值/points")] == "points abc is not a number."
    assert ("row 10", "难度/difficulty") in got  # 2 is more than 1
    assert got[("row 11", "答案/answer")].code == "xlsx_tf_answer_bad"
    assert len(parsed.problems) == 10


def test_xlsx_english_columns_must_match_the_options() -> None:
    header = [*HEADER, "stem_en", "option A_en", "option E_en"]
    rows = [["Q1", "单选题", "甲", "一", "二", "", "", "A", 1, 0.5, "K1", "A", "one", "five"]]
    p = only_problem(xlsx.parse(workbook(rows, header)))
    assert (p.place, p.field) == ("row 2", "选项(英文)/options_en")
    assert p.message == "unknown labels ['E']"


def test_xlsx_knowledge_point_argument_fills_empty_cells_only() -> None:
    rows = [
        ["Q1", "判断题", "甲", "", "", "", "", "对", 1, 0.5, ""],
        ["Q2", "判断题", "乙", "", "", "", "", "错", 1, 0.5, "K9"],
    ]
    parsed = xlsx.parse(workbook(rows), knowledge_point="K1")
    assert [d.content.knowledge_point for d in parsed.drafts] == ["K1", "K9"]


def test_csv_in_gbk_and_utf8_with_bom() -> None:
    rows = [["Q1", "单选题", "电阻的单位是", "欧姆", "伏特", "", "", "A", 1, 0.5, "K1"]]
    for encoding in ("gbk", "utf-8-sig", "utf-8"):
        parsed = xlsx.parse_csv(csv_bytes(rows, encoding=encoding))
        assert parsed.problems == [], encoding
        assert parsed.drafts[0].content.stem == "电阻的单位是"
        assert parsed.drafts[0].content.options[0].text == "欧姆"


def test_csv_bad_input() -> None:
    p = only_problem(xlsx.parse_csv(b"\xff\xfe\xff\x00bad", source="x.csv"))
    assert p.place == "x.csv" and p.message.code == "encoding_not_text"
    rows = [
        ["Q1", "多选题", "一个答案", "一", "二", "", "", "", 1, 0.5, "K1"],
        ["Q1", "单选题", "答案越界", "一", "二", "", "", "C", 1, 0.5, ""],
    ]
    parsed = xlsx.parse_csv(csv_bytes(rows, encoding="gbk"), knowledge_point=None)
    got = {(p.place, p.field, p.message) for p in parsed.problems}
    assert (
        "row 2",
        "答案/answer",
        "The answer is empty: give the option letters, e.g. A or ABD.",
    ) in got
    assert ("row 3", "题号/code", "Item code Q1 is used twice (first at row 2).") in got
    assert any(p[:2] == ("row 3", "鉴定点代码/knowledge point") for p in got)
    assert ("row 3", "答案/answer", "['C'] point at options that do not exist (['A', 'B'])") in got


def test_xlsx_cells_starting_with_equals_stay_text() -> None:
    d = draft("EQ", type="single_choice", stem="=1+1", options=opts("=2", "=3"), key=["A"])
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.dump([d])))
    assert wb["题库"]["C2"].value == "=1+1" and wb["题库"]["C2"].data_type == "s"
    assert xlsx.parse(xlsx.dump([d])).drafts == [d]


# ---------------------------------------------------------------------------------------------
# GIFT


MOODLE_GIFT = """// A file as teachers write it.
$CATEGORY: $course$/top/电工基础/kp:03.01

::Q1:: 1+1\\=2 {T}

::Q2:: What's between orange and green in the spectrum?
{ =yellow # right; good! ~red # wrong ~blue # wrong }

// [tag:kp:09.09] [tag:单位] [tag:difficulty:0.8] [tag:points:1.5]
::Q3:: Two plus {=two =2 =%50%deux} equals four.

::Q4:: 导体 {~%50%铜 ~%50%铝 ~%-100%橡胶 ####金属导电}

Grant is {~buried =entombed ~living} in Grant's tomb.

// [id:ID-7]
::Some title:: [plain]a <b> b {FALSE}
"""


def test_gift_reads_a_hand_written_file() -> None:
    parsed = gift.parse(MOODLE_GIFT.encode(), source="quiz.gift")
    assert parsed.problems == []
    # A ::name:: is a title, not an identity: the code is generated unless // [id:…] gives it.
    got = {d.content.title or d.code: d.content for d in parsed.drafts}
    assert [d.code for d in parsed.drafts] == [
        "QUIZ-0004", "QUIZ-0006", "QUIZ-0010", "QUIZ-0012", "QUIZ-0014", "ID-7"
    ]  # fmt: skip
    assert parsed.generated == {"QUIZ-0004", "QUIZ-0006", "QUIZ-0010", "QUIZ-0012", "QUIZ-0014"}
    assert list(got) == ["Q1", "Q2", "Q3", "Q4", "QUIZ-0014", "Some title"]
    assert got["Q1"].stem == "1+1=2" and got["Q1"].key == ["T"]
    assert got["Q1"].knowledge_point == "03.01"
    assert [o.text for o in got["Q2"].options] == ["yellow", "red", "blue"]
    assert got["Q2"].type == "single_choice" and got["Q2"].key == ["A"]
    q3 = got["Q3"]
    assert q3.stem == "Two plus {{1}} equals four." and q3.blanks[0].accepted == ["two", "2"]
    # Moodle's GIFT reader ignores case in short answers.
    assert q3.blanks[0].normalize == ["trim", "width", "case"]
    assert q3.knowledge_point == "09.09" and q3.tags == ["单位"]
    assert q3.difficulty == 0.8 and q3.points == Decimal("1.5")
    assert got["Q4"].type == "multiple_choice" and got["Q4"].key == ["A", "B"]
    assert got["Q4"].explanation == "金属导电"
    assert got["QUIZ-0014"].stem == "Grant is _____ in Grant's tomb." and got["QUIZ-0014"].key == [
        "B"
    ]
    assert got["Some title"].stem == "a &lt;b&gt; b" and got["Some title"].key == ["F"]
    assert parsed.places == ["line 4", "line 6", "line 10", "line 12", "line 14", "line 17"]
    # Moodle gives part of the points for %50%deux and for one of the two keys of Q4.
    assert [(n.place, n.message.code) for n in parsed.notes] == [
        ("line 10", "note_partial_blank"),
        ("line 12", "note_partial_choice"),
    ]


def test_gift_in_gbk_and_with_bom() -> None:
    text = "::Q1:: 电阻的单位是欧姆 {T}\n"
    for data in (text.encode("gbk"), b"\xef\xbb\xbf" + text.encode()):
        parsed = gift.parse(data, knowledge_point="K1")
        assert parsed.problems == []
        assert parsed.drafts[0].content.stem == "电阻的单位是欧姆"


def test_gift_bad_questions_each_name_their_line() -> None:
    text = "\n".join(
        [
            "::Q1:: fine {T}",  # line 1
            "",
            "::Q2:: one key {~%100%a ~%-50%b ~%-50%c}",  # line 3
            "",
            "::Q3:: {T}",  # line 5
            "",
            "::Q4:: <script>x</script>hi {F}",  # line 7
            "",
            "::Q1:: again {F}",  # line 9
            "",
            "::Q6:: open { =a",  # line 11
            "",
            "::Q7:: match {=a -> 1 =b -> 2}",  # line 13
            "",
            "::Q8:: numbers {#5:1}",  # line 15
            "",
            "::Q9 broken name {T}",  # line 17
        ]
    )
    text = text.replace("::Q1:: again", "// [id:IMP-0001]\n::Q1:: again")
    parsed = gift.parse(text.encode(), knowledge_point="K1")
    # One key of a multiple-response question is a valid multiple-choice item.
    assert [(d.code, d.content.title) for d in parsed.drafts] == [
        ("IMP-0001", "Q1"),
        ("IMP-0003", "Q2"),
    ]
    assert parsed.drafts[1].content.type == "multiple_choice"
    assert parsed.drafts[1].content.key == ["A"]
    assert messages(parsed) == [
        ("line 5", "stem", "stem is empty"),
        ("line 7", "stem", "<script> tags are not allowed"),
        ("line 10", "code", "Item code IMP-0001 is used twice (first at line 1)."),
        ("line 12", None, "An answer block { is not closed with }."),
        ("line 14", "type", "Matching questions are not supported by the bank."),
        ("line 16", "type", "Numerical questions are not supported by the bank."),
        ("line 18", "code", "The question name ::… is not closed with ::."),
    ]
    assert [p.unsupported for p in parsed.problems] == [False] * 4 + [True] * 2 + [False]


def test_gift_missing_knowledge_point_and_malformed_file() -> None:
    p = only_problem(gift.parse(b"::Q1:: x {T}\n"))
    assert (p.place, p.field) == ("line 1", "knowledge_point")
    assert p.message.code == "no_knowledge_point"
    p = only_problem(gift.parse(b"PK\x03\x04\x00\x00binary", source="a.zip"))
    assert p.place == "a.zip" and p.message.code == "gift_not_text"
    p = only_problem(gift.parse(b"\xff\xfe\xff", source="b.txt"))
    assert p.place == "b.txt" and p.message.code == "encoding_not_text"
    p = only_problem(gift.parse(b"// only a comment\n", source="c.txt"))
    assert p.message.code == "gift_no_questions"


def test_gift_bad_metadata_tags() -> None:
    text = "// [tag:difficulty:hard] [tag:points:x] [tag:kp:K1]\n::Q1:: a {{=1} b {=2}}\n"
    parsed = gift.parse(text.encode())
    assert messages(parsed) == [
        ("line 2", None, "An answer block { … } opens inside another; escape { as \\{."),
    ]
    text = "// [tag:difficulty:hard] [tag:points:x] [tag:normalize:trim|bogus] [tag:kp:K1]\n::Q1:: a {=1} b {=2}\n"
    got = {p.field: p.message for p in gift.parse(text.encode()).problems}
    assert got == {
        "difficulty": "difficulty hard is not a number from 0 to 1.",
        "points": "points x is not a number.",
        "normalize": "Unknown fill-in rule bogus; use trim, width, case, space or none.",
    }


# ---------------------------------------------------------------------------------------------
# Moodle XML


MOODLE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
<!-- question: 0  -->
  <question type="category">
    <category><text>$course$/top/Default for 电工/kp:03.01</text></category>
  </question>
  <question type="multichoice">
    <name><text>电阻单位</text></name>
    <questiontext format="html"><text><![CDATA[<p>电阻的单位是？</p>]]></text></questiontext>
    <generalfeedback format="html"><text><![CDATA[<p>欧姆</p>]]></text></generalfeedback>
    <defaultgrade>1.0000000</defaultgrade>
    <penalty>0.3333333</penalty>
    <hidden>0</hidden>
    <idnumber></idnumber>
    <single>true</single>
    <answer fraction="100" format="html"><text><![CDATA[<p>欧姆</p>]]></text></answer>
    <answer fraction="0" format="html"><text><![CDATA[<p>伏特</p>]]></text></answer>
  </question>
  <question type="multichoice">
    <name><text>M2</text></name>
    <questiontext format="html"><text>导体</text></questiontext>
    <defaultgrade>2.5000000</defaultgrade>
    <single>false</single>
    <answer fraction="50"><text>铜</text></answer>
    <answer fraction="-100"><text>橡胶</text></answer>
    <answer fraction="50"><text>铝</text></answer>
    <tags><tag><text>difficulty:0.7</text></tag><tag><text>安全</text></tag></tags>
  </question>
  <question type="truefalse">
    <name><text>T3</text></name>
    <questiontext format="plain_text"><text>a &lt; b</text></questiontext>
    <answer fraction="0"><text>true</text></answer>
    <answer fraction="100"><text>false</text></answer>
  </question>
  <question type="shortanswer">
    <name><text>S4</text></name>
    <questiontext format="html"><text>单位符号是 _____ 。</text></questiontext>
    <usecase>0</usecase>
    <answer fraction="100"><text>Ω</text></answer>
    <answer fraction="100"><text>ohm</text></answer>
    <answer fraction="50"><text>o</text></answer>
  </question>
  <question type="cloze">
    <name><text>C5</text></name>
    <idnumber>CLOZE-5</idnumber>
    <questiontext format="html"><text><![CDATA[<p>{1:SHORTANSWER:=欧姆~%100%Ω#fb~%50%ou} and {2:SAC:=V\\}x~=a &amp; b}</p>]]></text></questiontext>
    <tags><tag><text>kp:07.07</text></tag></tags>
  </question>
  <question type="essay">
    <name><text>E6</text></name>
    <questiontext format="html"><text>Discuss.</text></questiontext>
  </question>
</quiz>
"""


def test_moodle_xml_reads_a_moodle_export() -> None:
    parsed = moodle_xml.parse(MOODLE_XML.encode(), source="moodle.xml")
    assert messages(parsed) == [
        ("question 6 (E6)", "type", "Essay questions are not supported by the bank.")
    ]
    assert parsed.problems[0].unsupported
    # Names are titles; only <idnumber> names the item (else the code is generated).
    assert [d.code for d in parsed.drafts] == [
        "MOODLE-0001", "MOODLE-0002", "MOODLE-0003", "MOODLE-0004", "CLOZE-5"
    ]  # fmt: skip
    got = {d.content.title or d.code: d.content for d in parsed.drafts}
    assert list(got) == ["电阻单位", "M2", "T3", "S4", "C5"]
    m1 = got["电阻单位"]
    assert m1.type == "single_choice" and m1.key == ["A"] and m1.points == Decimal("1")
    assert m1.points.as_tuple().exponent == 0 and m1.explanation == "<p>欧姆</p>"
    assert m1.knowledge_point == "03.01"
    m2 = got["M2"]
    assert m2.type == "multiple_choice" and m2.key == ["A", "C"]
    assert str(m2.points) == "2.5" and m2.difficulty == 0.7 and m2.tags == ["安全"]
    assert got["T3"].key == ["F"] and got["T3"].stem == "a &lt; b"
    s4 = got["S4"]
    assert s4.stem == "单位符号是 {{1}} 。" and s4.blanks[0].accepted == ["Ω", "ohm"]
    assert s4.blanks[0].normalize == ["trim", "width", "case"]
    c5 = got["C5"]
    assert c5.stem == "<p>{{1}} and {{2}}</p>" and c5.knowledge_point == "07.07"
    assert [b.accepted for b in c5.blanks] == [["欧姆", "Ω"], ["V}x", "a & b"]]
    assert [b.normalize for b in c5.blanks] == [["trim", "width", "case"], ["trim", "width"]]


def question_xml(name: str, body: str, qtype: str = "multichoice") -> str:
    return f'<question type="{qtype}"><name><text>{name}</text></name>{body}</question>'


def test_moodle_xml_bad_questions_name_index_and_name() -> None:
    choice = (
        '<answer fraction="100"><text>a</text></answer><answer fraction="0"><text>b</text></answer>'
    )
    questions = [
        question_xml("Q1", "<questiontext><text>fine</text></questiontext>" + choice),
        question_xml(
            "Q2",
            "<questiontext><text>one key</text></questiontext><single>false</single>"
            '<answer fraction="100"><text>a</text></answer><answer fraction="0"><text>b</text></answer>',
        ),
        question_xml("Q3", "<questiontext><text></text></questiontext>" + choice),
        question_xml("Q4", "<questiontext><text><![CDATA[<script>x</script>]]></text></questiontext>" + choice),
        question_xml("Q1", "<questiontext><text>again</text></questiontext>" + choice),
        question_xml("Q6", "<questiontext><text>{1:MULTICHOICE:=a~b}</text></questiontext>", "cloze"),
        question_xml("Q7", '<questiontext><text>tf</text></questiontext><answer fraction="0"><text>true</text></answer>', "truefalse"),
    ]  # fmt: skip
    data = ("<quiz>" + "".join(questions) + "</quiz>").encode()
    data = data.replace(
        b"<text>again</text></questiontext>",
        b"<text>again</text></questiontext><idnumber>IMP-0001</idnumber>",
    )
    parsed = moodle_xml.parse(data, knowledge_point="K1")
    # A multiple-response question with one right answer is a valid multiple-choice item.
    assert [(d.code, d.content.title) for d in parsed.drafts] == [
        ("IMP-0001", "Q1"),
        ("IMP-0002", "Q2"),
    ]
    assert messages(parsed) == [
        ("question 3 (Q3)", "stem", "stem is empty"),
        ("question 4 (Q4)", "stem", "<script> tags are not allowed"),
        (
            "question 5 (Q1)",
            "code",
            "Item code IMP-0001 is used twice (first at question 1 (Q1)).",
        ),
        (
            "question 6 (Q6)",
            "type",
            "Cloze part {1:MULTICHOICE:=a~b} is MULTICHOICE; only SHORTANSWER parts are supported.",
        ),
        ("question 7 (Q7)", "key", "Neither true nor false is marked correct (fraction 100)."),
    ]


def test_moodle_xml_missing_knowledge_point() -> None:
    data = ("<quiz>" + question_xml("T", "<questiontext><text>x</text></questiontext>"
            '<answer fraction="100"><text>true</text></answer>', "truefalse") + "</quiz>").encode()  # fmt: skip
    p = only_problem(moodle_xml.parse(data))
    assert (p.place, p.field) == ("question 1 (T)", "knowledge_point")
    assert p.message.code == "no_knowledge_point"
    assert moodle_xml.parse(data, knowledge_point="K2").drafts[0].content.knowledge_point == "K2"


def test_moodle_xml_malformed_and_hostile_files() -> None:
    p = only_problem(moodle_xml.parse(b"<quiz><question>", source="a.xml"))
    assert p.place == "a.xml" and p.message.code == "xml_malformed"
    p = only_problem(moodle_xml.parse(b"<html><body/></html>", source="b.xml"))
    assert p.message.code == "moodle_not_quiz"
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<quiz><question type="truefalse"><name><text>&x;</text></name></question></quiz>'
    )
    p = only_problem(moodle_xml.parse(xxe, source="c.xml"))
    assert p.place == "c.xml" and "forbidden XML features" in p.message
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<quiz>&b;</quiz>"
    )
    assert "forbidden XML features" in only_problem(moodle_xml.parse(bomb)).message


def test_moodle_xml_export_writes_what_moodle_expects() -> None:
    text = moodle_xml.dump(EXAMPLES).decode()
    assert (
        "<text><![CDATA[下列属于导体的是：<u>下划线</u> <s>删除</s> ]]&gt; 结尾]]></text>" in text
    )
    assert (
        '<question type="cloze">' in text
        and '{1:SHORTANSWER_C:=瓦特~=W\\} \\# \\~ \\/ \\" = %}' in text
    )
    assert "<idnumber>FB-001</idnumber>" in text and "<defaultgrade>2.5</defaultgrade>" in text
    assert "<text>$course$/top/kp:02.01</text>" in text
    assert "<text>normalize:trim,width|trim,width,case|none</text>" in text


# ---------------------------------------------------------------------------------------------
# QTI


FOREIGN_ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="i15a" title="t"
    adaptive="false" timeDependent="false" label="kp:02.03">
  <responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="identifier">
    <correctResponse><value>choice_1</value><value>choice_3</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <p>Which are <em>metals</em>?</p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="0">
      <prompt>Select all.</prompt>
      <simpleChoice identifier="choice_1">Copper</simpleChoice>
      <simpleChoice identifier="choice_2">Rubber <feedbackInline outcomeIdentifier="F" identifier="x" showHide="show">no</feedbackInline></simpleChoice>
      <simpleChoice identifier="choice_3">Iron</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>
"""

FOREIGN_TEXT_ENTRY = """<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p2" identifier="TE1"
    title="t" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="R1" cardinality="single" baseType="string">
    <correctResponse><value>York</value></correctResponse>
    <mapping defaultValue="0">
      <mapEntry mapKey="York" mappedValue="1" caseSensitive="false"/>
      <mapEntry mapKey="Yorkshire" mappedValue="0.5" caseSensitive="false"/>
      <mapEntry mapKey="York City" mappedValue="1" caseSensitive="false"/>
    </mapping>
  </responseDeclaration>
  <itemBody><p>Richard III was Duke of <textEntryInteraction responseIdentifier="R1" expectedLength="15"/>.</p></itemBody>
</assessmentItem>
"""


def test_qti_reads_a_single_foreign_item() -> None:
    parsed = qti.parse(FOREIGN_ITEM.encode(), source="item.xml")
    assert parsed.problems == []
    (d,) = parsed.drafts
    assert d.code == "i15a" and d.content.knowledge_point == "02.03"
    assert d.content.type == "multiple_choice" and d.content.key == ["A", "C"]
    assert [o.text for o in d.content.options] == ["Copper", "Rubber", "Iron"]
    assert d.content.stem.startswith("<p>Which are <em>metals</em>?</p>")
    assert d.content.stem.endswith("Select all.")
    parsed = qti.parse(FOREIGN_TEXT_ENTRY.encode(), knowledge_point="K1")
    assert parsed.problems == []
    c = parsed.drafts[0].content
    assert c.stem == "<p>Richard III was Duke of {{1}}.</p>"
    assert c.blanks[0].accepted == ["York", "York City"]
    assert c.blanks[0].normalize == ["trim", "width", "case"]


def test_qti_package_layout_and_metadata() -> None:
    data = qti.dump(EXAMPLES)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        manifest = zf.read("imsmanifest.xml").decode()
        mc = zf.read("items/_1001.xml").decode()
        tf = zf.read("items/TF-001.xml").decode()
    assert names[0] == "imsmanifest.xml" and len(names) == len(EXAMPLES) + 1
    assert 'type="imsqti_item_xmlv2p1" href="items/_1001.xml"' in manifest
    assert (
        "<imsmd:id>02.01</imsmd:id>" in manifest
        and "<qb:difficulty>0.9</qb:difficulty>" in manifest
    )
    assert '<imsmd:string language="zh-CN">电工 安全</imsmd:string>' in manifest
    assert 'identifier="_1001"' in mc and 'cardinality="multiple"' in mc and 'maxChoices="0"' in mc
    assert '<span class="qb-u">下划线</span>' in mc
    assert "<value>0.25</value>" in mc
    assert 'class="qb-true-false"' in tf and '<simpleChoice identifier="T">' in tf
    assert qti.dump(EXAMPLES) == data  # deterministic bytes


def rezip(data: bytes, change: dict[str, bytes | None]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name in change:
                if change[name] is not None:
                    dst.writestr(name, change[name])
            else:
                dst.writestr(name, src.read(name))
    return out.getvalue()


def test_qti_bad_items_name_their_place() -> None:
    good = draft("G1", type="true_false", stem="x", key=["T"])
    others = [draft(f"B{i}", type="true_false", stem="y", key=["T"]) for i in range(2, 8)]
    data = qti.dump([good, *others])
    one = qti.item_xml(good).decode()
    mc = qti.item_xml(
        draft("B3", type="multiple_choice", stem="m", options=opts("a", "b", "c"), key=["A", "B"])
    ).decode()
    sc = qti.item_xml(
        draft("B2", type="single_choice", stem="s", options=opts("a", "b"), key=["A"])
    ).decode()
    data = rezip(
        data,
        {
            "items/B2.xml": sc.replace("<value>A</value>", "<value>E</value>").encode(),
            "items/B3.xml": mc.replace("<value>B</value>", "").encode(),
            "items/B4.xml": one.replace(">x<", "><").replace('"G1"', '"B4"').encode(),
            "items/B5.xml": one.replace(">x<", "><script>alert(1)</script>y<")
            .replace('"G1"', '"B5"')
            .encode(),
            "items/B6.xml": one.encode(),
            "items/B7.xml": None,
        },
    )
    parsed = qti.parse(data, source="bank.zip")
    # One correct response of a multiple-response item is a valid multiple-choice item.
    assert [d.code for d in parsed.drafts] == ["G1", "B3"]
    assert messages(parsed) == [
        ("item 2 (items/B2.xml)", "key", "['E'] point at options that do not exist (['A', 'B'])"),
        ("item 4 (items/B4.xml)", "stem", "stem is empty"),
        ("item 5 (items/B5.xml)", "stem", "<script> tags are not allowed"),
        ("item 6 (items/B6.xml)", "code", "Item code G1 is used twice (first at item 1 (items/G1.xml))."),
        ("item 7 (items/B7.xml)", None, "The file items/B7.xml named in the manifest is missing from the package."),
    ]  # fmt: skip


def test_qti_missing_knowledge_point_and_malformed_input() -> None:
    item = qti.item_xml(draft("G1", type="true_false", stem="x", key=["T"]))
    p = only_problem(qti.parse(item))
    assert (p.place, p.field) == ("item 1", "knowledge_point")
    assert p.message.code == "no_knowledge_point"
    assert qti.parse(item, knowledge_point="K3").drafts[0].content.knowledge_point == "K3"
    p = only_problem(qti.parse(b"PK\x03\x04 not really", source="q.zip"))
    assert p.place == "q.zip" and p.message.code == "zip_invalid"
    p = only_problem(qti.parse(b"hello", source="q.xml"))
    assert p.message.code == "qti_not_package"
    assert p.message.params["detail"].code == "xml_malformed"
    p = only_problem(qti.parse(b"<manifest/>", source="imsmanifest.xml"))
    assert p.message.code == "qti_manifest_alone"
    xxe = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><assessmentItem>&x;</assessmentItem>'
    assert "forbidden XML features" in only_problem(qti.parse(xxe)).message
    broken = rezip(
        qti.dump([draft("G1", type="true_false", stem="x", key=["T"])]),
        {"items/G1.xml": b"<assessmentItem"},
    )
    p = only_problem(qti.parse(broken))
    assert p.place == "item 1 (items/G1.xml)" and "not well-formed XML" in p.message


def test_qti_zip_without_manifest_reads_every_item() -> None:
    data = rezip(qti.dump(EXAMPLES[:2]), {"imsmanifest.xml": None})
    parsed = qti.parse(data, knowledge_point="K1")
    assert parsed.problems == []
    assert [d.code for d in parsed.drafts] == ["TF-001", "TF-002"]
    # Without the manifest the item keeps what it carries itself (not the tags/difficulty).
    assert parsed.drafts[0].content.explanation == EXAMPLES[0].content.explanation


def test_dump_rejects_unknown_options() -> None:
    for _parse, dump in FORMATS.values():
        with pytest.raises(TypeError):
            dump(EXAMPLES, colour="red")


# ---------------------------------------------------------------------------------------------
# Regressions found by fuzzing: parsers report, never raise.


def test_xml_declaring_gbk_is_read_and_unknown_encodings_are_reported() -> None:
    doc = (
        '<?xml version="1.0" encoding="GBK"?><quiz><question type="truefalse">'
        "<name><text>Q1</text></name><questiontext><text>电阻的单位是欧姆</text></questiontext>"
        '<answer fraction="100"><text>true</text></answer></question></quiz>'
    )
    parsed = moodle_xml.parse(doc.encode("gbk"), knowledge_point="K1")
    assert parsed.problems == [] and parsed.drafts[0].content.stem == "电阻的单位是欧姆"
    bad = doc.replace("GBK", "UTF-R").encode("gbk")
    p = only_problem(moodle_xml.parse(bad, source="m.xml"))
    assert p.message == "The file declares the unknown encoding UTF-R."
    p = only_problem(qti.parse(bad, source="q.xml"))
    assert p.message.endswith("declares the unknown encoding UTF-R.")


def test_non_finite_numbers_are_problems() -> None:
    text = "// [tag:kp:K] [tag:difficulty:nan] [tag:points:inf]\n::Q:: x {T}\n"
    assert {(p.field, p.message) for p in gift.parse(text.encode()).problems} == {
        ("difficulty", "difficulty nan is not a number from 0 to 1."),
        ("points", "points inf is not a number."),
    }
    rows = [["Q1", "判断题", "甲", "", "", "", "", "对", "NaN", "inf", "K1"]]
    assert {p.field for p in xlsx.parse(workbook(rows)).problems} == {
        "分值/points",
        "难度/difficulty",
    }


def test_corrupted_package_member_and_deep_nesting_are_problems() -> None:
    data = bytearray(qti.dump(EXAMPLES[:3]))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("items/TF-002.xml")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 5] ^= 0xFF
    parsed = qti.parse(bytes(data))
    assert [d.code for d in parsed.drafts] == ["TF-001", "SC-001"]
    p = only_problem(parsed)
    assert p.place == "item 2 (items/TF-002.xml)" and "cannot be read from the package" in p.message
    deep = (
        '<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="D"><itemBody>'
        + "<div>" * 5000
        + "x"
        + "</div>" * 5000
        + '<choiceInteraction responseIdentifier="R" maxChoices="1"><simpleChoice identifier="A">a'
        + '</simpleChoice><simpleChoice identifier="B">b</simpleChoice></choiceInteraction>'
        + "</itemBody></assessmentItem>"
    )
    p = only_problem(qti.parse(deep.encode(), knowledge_point="K"))
    assert (p.place, p.message) == ("item 1", "The item is nested too deeply.")

"""Bank import/export through the database: all-or-nothing, revisions, native round trip, CLI."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from exam_server.cli import bank_export, bank_import, bank_release, demo_command
from exam_server.demo import demo_bank_bytes
from question_bank.audit import Actor, verify_chain
from question_bank.errors import ImportRejected
from question_bank.models import BankRelease, Item, ItemVersion
from question_bank.transfer import import_bank
from tests.question_bank.helpers import OCC, TREE, add_item, approve, choice, setup_bank

ED = Actor(None, "test-editor")


def _doc(items, **over):
    doc = {
        "format": "exam-server-bank",
        "format_version": 1,
        "occupation": {"code": OCC, "name": "电工", "name_en": "Electrician"},
        "level": 4,
        "knowledge_points": TREE,
        "items": items,
    }
    doc.update(over)
    return json.dumps(doc, ensure_ascii=False).encode()


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_import_with_one_bad_row_writes_nothing_and_lists_every_problem(app, session):
    items = [
        {"code": "G-1", "content": choice()},
        {"code": "B-1", "content": choice(key=["Z"])},
        {"code": "B-2", "content": choice(stem="<p onclick='x()'>hi</p>")},
        {"code": "G-1", "content": choice(difficulty=0.3)},
        {"code": "B-3", "content": choice(knowledge_point="NOPE")},
        {"code": "B-4", "content": choice(type="multiple_choice", key=[])},
        {"code": "B-5", "content": choice(stem="")},
    ]
    try:
        import_bank(session, ED, _doc(items), "bank.json")
        raise AssertionError("import should have been rejected")
    except ImportRejected as exc:
        problems = exc.problems
    session.rollback()
    by_place = {p["place"]: p for p in problems}
    assert by_place["item 2 (B-1)"]["field"] == "key"
    assert "event handler" in by_place["item 3 (B-2)"]["message"]
    assert "used twice (first at item 1 (G-1))" in by_place["item 4 (G-1)"]["message"]
    assert by_place["item 5 (B-3)"]["message"] == "Unknown knowledge point code NOPE."
    assert by_place["item 5 (B-3)"]["message"].code == "import_kp_unknown"
    assert "at least 1 key" in by_place["item 6 (B-4)"]["message"]
    assert by_place["item 7 (B-5)"]["message"] == "stem is empty"
    assert len(problems) == 6
    assert _count(session, Item) == 0
    assert _count(session, BankRelease) == 0


def test_import_refuses_bad_weights(app, session):
    tree = [{**TREE[0], "weight": 50}, TREE[1]]
    try:
        import_bank(
            session,
            ED,
            _doc([{"code": "G-1", "content": choice()}], knowledge_points=tree),
            "bank.json",
        )
        raise AssertionError("import should have been rejected")
    except ImportRejected as exc:
        assert "add up to 110, not 100" in exc.problems[0]["message"]
    session.rollback()
    assert _count(session, Item) == 0


def test_reimport_revises_changed_items_only(app, session):
    import_bank(
        session,
        ED,
        _doc(
            [
                {"code": "G-1", "content": choice()},
                {"code": "G-2", "content": choice(difficulty=0.2)},
            ]
        ),
        "a.json",
    )
    session.commit()
    rep = import_bank(
        session,
        ED,
        _doc(
            [
                {"code": "G-1", "content": choice()},
                {"code": "G-2", "content": choice(difficulty=0.25)},
                {"code": "G-3", "content": choice()},
            ]
        ),
        "b.json",
    )
    session.commit()
    assert (rep.created, rep.revised, rep.unchanged) == (["G-3"], ["G-2"], ["G-1"])
    g2 = session.scalar(select(Item).where(Item.code == "G-2"))
    assert g2.latest_version == 2
    assert verify_chain(session).ok


def test_native_json_round_trip_keeps_versions_statuses_and_tree(app, session, api_as, tmp_path):
    ed, rev = api_as("editor"), api_as("reviewer")
    setup_bank(ed)
    add_item(ed, "Q1")
    approve(ed, rev, "Q1")
    ed.post("/api/items/Q1/versions", json={"content": choice(difficulty=0.4), "note": "v2"})
    add_item(
        ed,
        "Q2",
        type="fill_blank",
        options=[],
        key=[],
        stem="<p>我国工频为 {{1}} Hz，{{2}} 相制。</p>",
        blanks=[
            {"accepted": ["50"], "normalize": ["trim", "width"]},
            {"accepted": ["三", "3"], "normalize": ["trim"]},
        ],
    )
    resp = ed.get(f"/api/bank/export?occupation={OCC}&level=4&format=json")
    assert resp.status_code == 200
    exported = resp.data
    doc = json.loads(exported)
    q1 = next(i for i in doc["items"] if i["code"] == "Q1")
    assert [v["status"] for v in q1["versions"]] == ["approved", "draft"]
    assert [r["to"] for r in q1["versions"][0]["reviews"]] == ["in_review", "approved"]

    # Import into an empty second database (a new app on a fresh file) and export again.
    from exam_server import create_app
    from exam_server.cli import upgrade_database
    from exam_server.extensions import db

    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path / "o"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.sqlite'}",
        }
    )
    with other.app_context():
        upgrade_database()
        rep = import_bank(db.session, ED, exported, "backup.json", keep_status=True)
        db.session.commit()
        assert sorted(rep.created) == ["Q1", "Q2"]
        from question_bank.knowledge import get_occupation
        from question_bank.transfer import export_native

        again = json.loads(export_native(db.session, get_occupation(db.session, OCC), 4))
        db.engine.dispose()
    assert again["knowledge_points"] == doc["knowledge_points"]
    for a, b in zip(again["items"], doc["items"], strict=True):
        assert a["code"] == b["code"]
        assert [
            (v["number"], v["status"], v["content"], v["change_note"], v["created_at"])
            for v in a["versions"]
        ] == [
            (v["number"], v["status"], v["content"], v["change_note"], v["created_at"])
            for v in b["versions"]
        ]


def test_keep_status_needs_admin(app, api_as):
    ed = api_as("editor")
    data = {"file": (_doc_bytes(), "bank.json"), "keep_status": "1"}
    resp = ed.post("/api/bank/import", data=data, content_type="multipart/form-data")
    assert resp.status_code == 403


def _doc_bytes():
    import io

    return io.BytesIO(_doc([{"code": "G-1", "content": choice()}]))


def test_import_api_reports_problems_as_422(app, api_as, session):
    ed = api_as("editor")
    import io

    bad = io.BytesIO(_doc([{"code": "G-1", "content": choice(key=["Q"])}]))
    resp = ed.post(
        "/api/bank/import", data={"file": (bad, "bank.json")}, content_type="multipart/form-data"
    )
    body = resp.get_json()
    assert resp.status_code == 422 and body["error"] == "import_rejected"
    assert body["details"][0]["place"] == "item 1 (G-1)"
    assert "nothing was written" in body["message"]
    resp = ed.post(
        "/api/bank/import",
        data={"file": (io.BytesIO(b"{not json"), "x.json")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422 and "Not valid JSON" in resp.get_json()["details"][0]["message"]
    resp = ed.post("/api/bank/import", data={}, content_type="multipart/form-data")
    assert resp.status_code == 422 and resp.get_json()["field"] == "file"
    ok = ed.post(
        "/api/bank/import",
        data={"file": (_doc_bytes(), "bank.json")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 201 and ok.get_json()["report"]["created"] == 1
    assert _count(session, ItemVersion) == 1


def test_cli_import_release_export(app, session, tmp_path):
    runner = app.test_cli_runner()
    src = tmp_path / "demo.json"
    src.write_bytes(demo_bank_bytes())
    result = runner.invoke(bank_import, [str(src)])
    assert result.exit_code == 0, result.output
    assert "73 created" in result.output
    # Nothing approved yet: the release is refused with a clear message and exit code 2.
    result = runner.invoke(bank_release, ["R1", "--occupation", "6-31-01-03", "--level", "4"])
    assert result.exit_code == 2 and "no approved item versions" in result.output
    bad = tmp_path / "bad.json"
    bad.write_bytes(_doc([{"code": "X", "content": choice(key=["Q"])}]))
    result = runner.invoke(bank_import, [str(bad)])
    assert result.exit_code == 2
    assert "item 1 (X) [key]" in result.output
    out = tmp_path / "out.json"
    result = runner.invoke(
        bank_export, ["--occupation", "6-31-01-03", "--level", "4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_bytes())["items"]) == 73


def test_demo_setup_is_complete_and_idempotent(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(demo_command, ["--setup-only"])
    assert result.exit_code == 0, result.output
    assert "release R1 (73 items)" in result.output
    rel = session.scalar(select(BankRelease))
    assert rel.item_count == 73
    approved = session.scalar(
        select(func.count()).select_from(ItemVersion).where(ItemVersion.status == "approved")
    )
    assert approved == 73
    result = runner.invoke(demo_command, ["--setup-only"])
    assert result.exit_code == 0 and "already loaded" in result.output
    assert verify_chain(session).ok


def _small_bank(api_as):
    """Four items of every type, with translations and a title that not every format carries."""
    ed = api_as("editor")
    setup_bank(ed)
    add_item(
        ed,
        "T-1",
        type="true_false",
        options=[],
        key=["F"],
        stem="<p>安全电压是 220 V。</p>",
        translations={"en": {"stem": "The safety voltage is 220 V."}, "ja": {"stem": "安全電圧"}},
    )
    add_item(ed, "S-1", explanation="<p>欧姆定律</p>", points="1.5", title="Ohm & co")
    add_item(ed, "M-1", type="multiple_choice", key=["A", "C"], points="2", tags=["多选", "基础"])
    add_item(
        ed,
        "F-1",
        type="fill_blank",
        options=[],
        key=[],
        stem="<p>工频 {{1}} Hz，相数 {{2}}。</p>",
        blanks=[
            {"accepted": ["50"], "normalize": ["trim", "width"]},
            {"accepted": ["3", "三"], "normalize": ["trim"]},
        ],
    )
    return ed


def test_every_format_exports_and_reimports_unchanged(app, api_as):
    import io

    ed = _small_bank(api_as)
    for fmt in ("json", "xlsx", "gift", "moodle-xml", "qti"):
        resp = ed.get(f"/api/bank/export?occupation={OCC}&level=4&format={fmt}")
        assert resp.status_code == 200, (fmt, resp.get_json())
        name = resp.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
        back = ed.post(
            "/api/bank/import",
            data={"file": (io.BytesIO(resp.data), name), "occupation": OCC, "level": "4"},
            content_type="multipart/form-data",
        )
        report = back.get_json()["report"]
        assert back.status_code == 201, (fmt, back.get_json())
        assert report["format"] == fmt
        # GIFT holds one blank per question: the export leaves the two-blank item out and
        # says so in the file.
        kept = 3 if fmt == "gift" else 4
        assert (report["created"], report["revised"], report["unchanged"]) == (0, 0, kept), fmt
        if fmt == "gift":
            assert b"Not exported: a fill-in item with 2 blanks" in resp.data


def test_filled_xlsx_template_imports(app, api_as):
    import io

    from openpyxl import load_workbook

    ed = api_as("editor")
    setup_bank(ed)
    template = ed.get("/api/bank/template.xlsx")
    assert template.status_code == 200
    book = load_workbook(io.BytesIO(template.data))
    sheet = book["题库"]
    headers = [c.value.split("\n")[0] if c.value else "" for c in sheet[1]]
    col = {h: i + 1 for i, h in enumerate(headers)}
    # Replace the template's example rows with our own items (knowledge points of this bank).
    sheet.delete_rows(2, sheet.max_row)
    rows = [
        {"题号": "X-1", "题型": "单选题", "题干": "电流的单位是？", "选项A": "安培", "选项B": "伏特",
         "答案": "A", "分值": 1, "难度": 0.9, "鉴定点代码": "A-01"},
        {"题号": "X-2", "题型": "判断题", "题干": "保护接地线用黄绿双色线。", "答案": "√",
         "分值": 1, "难度": 0.8, "鉴定点代码": "A-02"},
        {"题号": "X-3", "题型": "多选题", "题干": "属于低压电器的是？", "选项A": "接触器",
         "选项B": "熔断器", "选项C": "变压器", "答案": "A、B", "分值": 2, "难度": 0.6,
         "鉴定点代码": "B-01"},
    ]  # fmt: skip
    for r, row in enumerate(rows, start=2):
        for key, value in row.items():
            sheet.cell(row=r, column=col[key], value=value)
    buf = io.BytesIO()
    book.save(buf)
    resp = ed.post(
        "/api/bank/import",
        data={"file": (io.BytesIO(buf.getvalue()), "filled.xlsx"), "occupation": OCC, "level": "4"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["report"]["created"] == 3
    m = ed.get("/api/items/X-3").get_json()["latest"]["content"]
    assert m["key"] == ["A", "B"] and m["points"] == "2"


def test_gbk_csv_with_a_bad_row_writes_nothing(app, api_as, session):
    import io

    ed = api_as("editor")
    setup_bank(ed)
    csv_text = (
        "题号,题型,题干,选项A,选项B,答案,分值,难度,鉴定点代码\n"
        "C-1,单选题,电压的单位是？,伏特,安培,A,1,0.8,A-01\n"
        "C-2,单选题,电阻的单位是？,欧姆,瓦特,C,1,0.8,A-01\n"
        "C-3,判断题,,,,对,1,0.8,A-01\n"
    )
    resp = ed.post(
        "/api/bank/import",
        data={
            "file": (io.BytesIO(csv_text.encode("gbk")), "b.csv"),
            "occupation": OCC,
            "level": "4",
        },
        content_type="multipart/form-data",
    )
    body = resp.get_json()
    assert resp.status_code == 422, body
    places = sorted((p["place"], p.get("field", "")) for p in body["details"])
    assert [p for p, _f in places] == ["row 3", "row 4"]
    assert _count(session, Item) == 0
    fixed = csv_text.replace(",C,1", ",A,1").replace("C-3,判断题,,", "C-3,判断题,接地线黄绿色,")
    resp = ed.post(
        "/api/bank/import",
        data={
            "file": (io.BytesIO(b"\xef\xbb\xbf" + fixed.encode()), "b.csv"),
            "occupation": OCC,
            "level": "4",
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    assert _count(session, Item) == 3

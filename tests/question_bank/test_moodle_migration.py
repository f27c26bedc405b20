"""Moving a Moodle bank in and out in one pass (issue 13's "done when"): a Moodle XML export
with images, editor styling, a formula and unsupported questions imports with
--skip-unsupported; the report lists exactly what was skipped and what styling went; the images
are assets a candidate can fetch; answers that score in Moodle score here; the bank exported as
Moodle XML and as a QTI package imports into an empty bank with nothing lost."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile

from sqlalchemy import select

from exam_server import create_app
from exam_server.cli import bank_export, bank_import
from exam_server.delivery.services import is_correct
from exam_server.extensions import db
from question_bank.audit import Actor
from question_bank.errors import ImportRejected
from question_bank.models import Asset, Item, ItemVersion
from question_bank.schema import ItemContent
from question_bank.transfer import import_bank, import_options, parse_category_map
from tests.question_bank.helpers import OCC, setup_bank
from tests.question_bank.moodle_bank import CATEGORY_MAP, CIRCUIT, METER, moodle_bank

ED = Actor(None, "test-editor")
SHA = hashlib.sha256(CIRCUIT).hexdigest()
METER_SHA = hashlib.sha256(METER).hexdigest()


def _contents(session) -> dict[str, ItemContent]:
    rows = session.execute(
        select(Item.code, ItemVersion.content)
        .join(ItemVersion, ItemVersion.item_id == Item.id)
        .where(ItemVersion.is_latest.is_(True))
    )
    return {code: ItemContent.model_validate(c) for code, c in rows}


def test_without_the_option_the_file_is_refused_and_the_report_says_which_option(app, api_as):
    setup_bank(api_as("editor"))
    try:
        import_bank(
            db.session, ED, moodle_bank(), "moodle.xml", occupation=OCC, level=4,
            options=import_options("B-01"),
        )  # fmt: skip
        raise AssertionError("should be refused")
    except ImportRejected as exc:
        problems, hint = exc.problems, exc.hint
    db.session.rollback()
    assert [(p["place"], p["field"]) for p in problems] == [
        ("question 4 (Essay one)", "type"),
        ("question 7 (Number)", "type"),
        ("question 8 (Essay two)", "type"),
        ("question 9 (Info)", "type"),
    ]
    assert hint.code == "import_hint_skip" and hint.params == {"n": 4, "others": 7}
    assert db.session.scalar(select(Item.id)) is None


def test_moodle_bank_in_one_pass_and_out_again_with_nothing_lost(
    app, api_as, tmp_path, sqlite_template
):
    setup_bank(api_as("editor"))
    src = tmp_path / "moodle.xml"
    src.write_bytes(moodle_bank())
    cmap = tmp_path / "map.csv"
    cmap.write_text(CATEGORY_MAP, encoding="utf-8")
    runner = app.test_cli_runner(env={"EXAM_LANG": "en"})
    result = runner.invoke(
        bank_import,
        [str(src), "--occupation", OCC, "--level", "4", "--knowledge-point", "B-01",
         "--skip-unsupported", "--category-map", str(cmap)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output
    assert "7 created, 0 revised, 0 unchanged, 4 skipped, 2 images" in out
    assert "question 4 (Essay one)" in out and "question 9 (Info)" in out
    skipped = out.split("Skipped questions:\n")[1].split("Editor styling")[0].splitlines()
    assert skipped == [
        "  question 4 (Essay one) [essay] Essay one: Essay questions are not supported by the bank.",
        "  question 7 (Number) [numerical] Number: Numerical questions are not supported by the bank.",
        "  question 8 (Essay two) [essay] Essay two: Essay questions are not supported by the bank.",
        "  question 9 (Info) [description] Info: Description questions are not supported by the bank.",
    ]
    assert (
        "Editor styling removed: 3 attributes or tags\n"
        "  question 1 (Circuit): 1\n"
        "  question 2 (T & F): 2\n"
    ) in out
    assert "question 6 (Cloze): Answers worth part of the points are not kept" in out
    assert "$course$/top/电工/测量 (4)" in out  # not in the map: fell back to B-01

    # The same report through the API, in Chinese.
    contents = _contents(db.session)
    assert len(contents) == 7
    circuit = contents["EL-001"]
    assert f'<img src="/assets/{SHA}" alt="电路图" width="120">' in circuit.stem
    assert circuit.stem.startswith("<p>") and "style" not in circuit.stem
    assert f"/assets/{METER_SHA}" in circuit.options[2].text
    assert circuit.knowledge_point == "A-01"
    assert {a.sha256 for a in db.session.scalars(select(Asset))} == {SHA, METER_SHA}
    assert db.session.get(Asset, SHA).data == CIRCUIT

    by_title = {c.title: (code, c) for code, c in contents.items()}
    code_tf, tf = by_title["T & F"]
    assert code_tf.startswith("MOODLE-") and tf.stem == "<p>电阻串联后总电阻增大。</p>"
    # Duplicate names get distinct codes.
    assert len({code for code, c in contents.items() if c.title == "Q"}) == 2

    power = by_title["Power"][1]
    assert power.type == "multiple_choice" and power.key == ["A"]
    assert "<math" in power.stem and "<mfrac>" in power.stem and "<msup>" in power.stem

    # Answers that score in Moodle score here (Moodle: usecase 0 ignores case per answer;
    # SHORTANSWER_C is case-sensitive, SHORTANSWER is not).
    order = {"options": ["A", "B", "C"]}
    assert is_correct(circuit, order, ["A"]) and not is_correct(circuit, order, ["B"])
    assert is_correct(power, order, ["A"]) and not is_correct(power, order, ["A", "B"])
    assert is_correct(tf, {}, "T")
    unit = by_title["Unit"][1]
    assert is_correct(unit, {}, ["ohm"]) and is_correct(unit, {}, ["OHM"])
    cloze = by_title["Cloze"][1]
    assert is_correct(cloze, {}, ["V", "a"]) and not is_correct(cloze, {}, ["v", "A"])

    # Export as Moodle XML and as QTI; both carry the images; each imports into an empty bank
    # with every item exactly as it is here.
    for fmt, name in (("moodle-xml", "bank.xml"), ("qti", "bank.zip")):
        target = tmp_path / name
        result = runner.invoke(
            bank_export,
            ["--occupation", OCC, "--level", "4", "--format", fmt, "--out", str(target)],
        )
        assert result.exit_code == 0, result.output
        data = target.read_bytes()
        if fmt == "moodle-xml":
            assert f"@@PLUGINFILE@@/{SHA}.png" in data.decode()
            assert '<file name="' + SHA + '.png" path="/" encoding="base64">' in data.decode()
        else:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                assert zf.read(f"images/{SHA}.png") == CIRCUIT
                manifest = zf.read("imsmanifest.xml").decode()
                assert f'<file href="images/{SHA}.png" />' in manifest
                assert f'src="../images/{SHA}.png"' in zf.read("items/EL-001.xml").decode()
        fresh = _fresh_app(tmp_path / fmt, sqlite_template)
        with fresh.app_context():
            _setup_fresh_bank()
            report = import_bank(
                db.session, ED, data, name, occupation=OCC, level=4, options=import_options()
            )
            db.session.commit()
            assert len(report.created) == 7 and not report.skipped, fmt
            again = _contents(db.session)
            assert again == contents, fmt
            assert db.session.get(Asset, SHA).data == CIRCUIT
            db.session.remove()
    # Importing the export into the bank it came from changes nothing.
    data = (tmp_path / "bank.xml").read_bytes()
    report = import_bank(db.session, ED, data, "bank.xml", occupation=OCC, level=4)
    assert (len(report.created), len(report.revised), len(report.unchanged)) == (0, 0, 7)


def _fresh_app(folder, template):
    folder.mkdir()
    shutil.copy(template, folder / "exam.sqlite")
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'exam.sqlite'}",
            "INSTANCE_PATH": str(folder / "instance"),
            "SECRET_KEY": "x",
        }
    )


def _setup_fresh_bank():
    from question_bank.knowledge import ensure_occupation, save_tree
    from question_bank.schema import KnowledgePointNode
    from tests.question_bank.helpers import TREE

    occ = ensure_occupation(db.session, ED, OCC, "电工", "Electrician")
    save_tree(db.session, ED, occ, 4, [KnowledgePointNode.model_validate(n) for n in TREE])


def test_category_map_files(app):
    assert parse_category_map(CATEGORY_MAP.encode()) == {"$course$/top/电工/基础": "A-01"}
    assert parse_category_map(json.dumps({"top/a": "K1"}).encode()) == {"top/a": "K1"}


def test_import_page_api_skips_and_reports_in_chinese(app, api_as):
    ed = api_as("editor")
    setup_bank(ed)
    ed.language = "zh-CN"
    form = {"occupation": OCC, "level": "4", "knowledge_point": "B-01"}
    resp = ed.post(
        "/api/bank/import",
        data={**form, "file": (io.BytesIO(moodle_bank()), "moodle.xml")},
        content_type="multipart/form-data",
    )
    body = resp.get_json()
    assert resp.status_code == 422 and body["error"] == "import_rejected"
    assert body["details"][0]["place"] == "第 4 题（Essay one）"
    assert "--skip-unsupported" in body["hint"] and "其余 7 道题" in body["hint"]
    resp = ed.post(
        "/api/bank/import",
        data={
            **form,
            "skip_unsupported": "1",
            "file": (io.BytesIO(moodle_bank()), "moodle.xml"),
            "category_map": (io.BytesIO(CATEGORY_MAP.encode()), "map.csv"),
        },
        content_type="multipart/form-data",
    )
    report = resp.get_json()["report"]
    assert resp.status_code == 201, report
    assert [(s["place"], s["type"]) for s in report["skipped"]] == [
        ("第 4 题（Essay one）", "essay"),
        ("第 7 题（Number）", "numerical"),
        ("第 8 题（Essay two）", "essay"),
        ("第 9 题（Info）", "description"),
    ]
    assert report["skipped"][0]["reason"] == "题库不支持 Essay 类试题。"
    assert report["styling_removed"] == [
        {"place": "第 1 题（Circuit）", "count": 1},
        {"place": "第 2 题（T & F）", "count": 2},
    ]
    assert report["images"] == 2 and report["created"] == 7
    assert report["unmapped_categories"] == [{"category": "$course$/top/电工/测量", "questions": 4}]


def test_a_candidate_fetches_the_images_of_a_delivered_paper_by_signed_link(app):
    from exam_server.delivery.assets import asset_signature, sign_images

    db.session.add(Asset(sha256=SHA, media_type="image/png", data=CIRCUIT, size=len(CIRCUIT)))
    db.session.commit()
    paper = {"items": [{"stem": f'<p><img src="/assets/{SHA}" alt="图"></p>'}]}
    signed = sign_images(paper)["items"][0]["stem"]
    link = f"/exam/assets/{SHA}?k={asset_signature(SHA)}"
    assert signed == f'<p><img src="{link}" alt="图"></p>'
    client = app.test_client()  # no staff session, as on the candidate page
    resp = client.get(link)
    assert resp.status_code == 200 and resp.data == CIRCUIT and resp.mimetype == "image/png"
    assert client.get(f"/exam/assets/{SHA}?k=" + "0" * 32).status_code == 404
    assert client.get(f"/assets/{SHA}").status_code in (302, 401)


def test_items_print_as_pdf_with_formulas_and_images(app, api_as):
    import pypdf

    ed = api_as("editor")
    setup_bank(ed)
    report = import_bank(
        db.session, ED, moodle_bank(), "moodle.xml", occupation=OCC, level=4,
        options=import_options("B-01", skip_unsupported=True),
    )  # fmt: skip
    db.session.commit()
    assert len(report.created) == 7
    resp = ed.get(f"/api/bank/export?occupation={OCC}&level=4&format=pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(resp.data))
    text = "".join(page.extract_text() for page in pdf.pages)
    # The formula laid out linearly (U² written as U with a raised 2), Chinese in the embedded font.
    assert "P = U2/R" in text.replace("\n", "")
    assert "电阻串联后总电阻增大" in text and "EL-001" in text
    assert sum(len(page.images) for page in pdf.pages) == 2  # the circuit and the meter

"""Roster import: CSV in UTF-8, UTF-8 with BOM and GBK, xlsx, a zip with photos; Chinese or
English headers; all or nothing with every bad row reported by row number."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import func, select

from exam_server.extensions import db
from exam_server.sessions.models import Registration
from question_bank.audit import AuditEvent
from tests.exam_server import sessions_helpers as helpers
from tests.exam_server.sessions_helpers import open_session, png, valid_id, wrong_check

clock, world, fast_passwords = helpers.clock, helpers.world, helpers.fast_passwords


def upload(admin, sid: int, data: bytes, name: str, **form):
    return admin.post(
        f"/api/sessions/{sid}/roster",
        data={"file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", bom: bool = False) -> bytes:
    text = "\r\n".join(",".join(r) for r in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def registrations_count(sid: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Registration).where(Registration.session_id == sid)
    )


HEADER = ["姓名", "证件类型", "身份证号", "准考证号", "考场", "座位号"]


def good_rows() -> list[list[str]]:
    return [
        HEADER,
        ["孙悟空", "身份证", valid_id(21), "", "第一考场", "10"],
        ["猪八戒", "", valid_id(22, birth="19851203"), "A2026-0001", "第一考场", ""],
        ["沙和尚", "护照", "E98765432", "", "第二考场", "1"],
    ]


def test_gbk_csv_with_chinese_headers(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    resp = upload(admin, sid, csv_bytes(good_rows(), "gbk"), "名单.csv", reason="报名系统导出")
    assert resp.status_code == 201, resp.get_json()
    report = resp.get_json()["report"]
    assert report == {
        "format": "csv",
        "created": 3,
        "replaced": 0,
        "generated_tickets": 2,
        "assigned_seats": 1,
        "photos": 0,
        "eligibility": "pending",
    }
    regs = admin.get(f"/api/sessions/{sid}/registrations?q=猪八戒").get_json()["registrations"]
    assert regs[0]["ticket_number"] == "A2026-0001" and regs[0]["seat"] == 4  # next free seat
    regs = admin.get(f"/api/sessions/{sid}/registrations?q=孙悟空").get_json()["registrations"]
    assert regs[0]["ticket_number"] == "E202606150101010"
    regs = admin.get(f"/api/sessions/{sid}/registrations?q=沙和尚").get_json()["registrations"]
    assert regs[0]["id_type"] == "passport" and regs[0]["ticket_number"] == "E202606150102001"
    (ev,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "roster.imported"))
    data = json.loads(ev.data)
    assert ev.reason == "报名系统导出" and data["created"] == 3 and len(data["tickets"]) == 3


def test_bom_csv_with_english_headers_title_row_and_approval(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    rows = [
        ["2026年6月电工四级考生名单"],
        ["Name", "ID_Number", "Ticket", "Room", "Seat", "notes"],
        ["Li Lei", valid_id(31), "", "第二考场", "2", "ignored column"],
    ]
    resp = upload(admin, sid, csv_bytes(rows, bom=True), "roster.csv", eligibility="approved")
    assert resp.status_code == 201, resp.get_json()
    reg = admin.get(f"/api/sessions/{sid}/registrations?q=Li").get_json()["registrations"][0]
    assert reg["eligibility"] == "approved" and reg["eligibility_by_id"] is not None
    resp = upload(admin, sid, csv_bytes(rows, bom=True), "roster.csv", eligibility="rejected")
    assert resp.status_code == 422 and resp.get_json()["field"] == "eligibility"


def test_every_bad_row_is_reported_and_nothing_is_written(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    rows = [
        HEADER,
        ["周一", "", wrong_check(valid_id(41)), "", "第一考场", ""],  # row 2: check digit
        ["吴二", "", valid_id(42), "T-0001", "第一考场", ""],
        ["郑三", "", valid_id(43), "T-0001", "第一考场", ""],  # row 4: duplicate ticket
        ["王四", "", valid_id(44), "", "第一考场", "20"],
        ["冯五", "", valid_id(45), "", "第一考场", "20"],  # row 6: duplicate seat
        ["陈六", "", valid_id(46), "", "第九考场", ""],  # row 7: unknown room
        ["褚七", "", valid_id(47), "", "第二考场", "3"],  # row 8: beyond capacity 2
        ["", "", valid_id(48), "", "第一考场", ""],  # row 9: missing name
        ["卫八", "", valid_id(1), "", "第一考场", ""],  # row 10: already registered (张三)
        ["蒋九", "", valid_id(42), "", "第一考场", ""],  # row 11: same person as row 3
        ["沈十", "", valid_id(50), "E202606150101001", "第一考场", ""],  # row 12: 张三's ticket
        ["韩十一", "", valid_id(51), "", "第一考场", "1"],  # row 13: 张三's seat
        ["杨十二", "", valid_id(52), "", "第一考场", "三"],  # row 14: seat not a number
    ]
    resp = upload(admin, sid, csv_bytes(rows, "gbk"), "bad.csv")
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "import_rejected" and "nothing was written" in body["message"]
    got = [(p["place"], p["field"], p["message"]) for p in body["details"]]
    expected = [
        ("row 2", "id_number", "check digit"),
        ("row 4", "ticket_number", "duplicate ticket T-0001 (row 3)"),
        ("row 6", "seat", "duplicate seat 20 in room 第一考场 (row 5)"),
        ("row 7", "room", "unknown room '第九考场'"),
        ("row 8", "seat", "beyond the capacity (2) of room 第二考场"),
        ("row 9", "candidate_name", "the name is missing"),
        ("row 10", "id_number", "duplicate ID number"),
        ("row 11", "id_number", "duplicate ID number"),
        ("row 12", "ticket_number", "duplicate ticket E202606150101001 (registration"),
        ("row 13", "seat", "duplicate seat 1 in room 第一考场 (registration"),
        ("row 14", "seat", "whole number"),
    ]
    assert len(got) == len(expected), got
    for (place, field, message), (e_place, e_field, e_words) in zip(got, expected, strict=True):
        assert (place, field) == (e_place, e_field) and e_words in message, (place, message)
    assert registrations_count(sid) == 3
    assert (
        db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "roster.imported"))
        is None
    )


def test_file_level_problems(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    cases = [
        (b"", "r.csv", "empty"),
        (b"\xd0\xcf\x11\xe0rest", "r.xls", ".xls"),
        (b"foo,bar\r\n1,2\r\n", "r.csv", "no header row"),
        (
            csv_bytes([["姓名", "考场"], ["张", "第一考场"]]),
            "r.csv",
            "no 身份证号/id_number column",
        ),
        (csv_bytes([["姓名", "身份证号", "name"], ["张", "1", "x"]]), "r.csv", "two columns"),
        (csv_bytes([HEADER]), "r.csv", "holds no candidates"),
        (b"PK\x03\x04broken", "r.xlsx", "broken zip"),
        (b"not a zip", "r.zip", "not a valid .xlsx or .zip"),
        (bytes([0xFF, 0xFE, 0x00, 0x41]) * 3, "r.csv", "is not UTF-8, GBK/GB18030 or Windows-1252"),
    ]
    for data, name, words in cases:
        resp = upload(admin, sid, data, name)
        assert resp.status_code == 422, (name, words, resp.get_json())
        messages = " | ".join(p["message"] for p in resp.get_json()["details"])
        assert words in messages, (words, messages)
    assert upload(admin, sid, b"", "").status_code == 422  # no file name: no file
    assert registrations_count(sid) == 3


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "考生"
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_roster_and_numbers_excel_damaged(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    rows = [
        ["姓名\nname", "身份证号\nid_number", "考场\nroom", "座位号\nseat", "准考证号\nticket"],
        ["欧阳修", valid_id(61), "第一考场", 12, 20260001],
        ["诸葛亮", valid_id(62), "2", 2.0, None],  # room by number, seat as Excel float
    ]
    resp = upload(admin, sid, xlsx_bytes(rows), "roster.xlsx")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["report"]["format"] == "xlsx"
    reg = admin.get(f"/api/sessions/{sid}/registrations?q=欧阳修").get_json()["registrations"][0]
    assert (reg["seat"], reg["ticket_number"]) == (12, "20260001")
    # An ID number typed into a number cell has lost its last digits: say so, per row.
    rows = [["姓名", "身份证号", "考场"], ["司马光", float(valid_id(63)), "第一考场"]]
    resp = upload(admin, sid, xlsx_bytes(rows), "roster.xlsx")
    (problem,) = resp.get_json()["details"]
    assert problem["place"] == "row 2" and problem["field"] == "id_number"
    assert "format the column as text" in problem["message"]


def test_zip_with_photos(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    rows = [
        ["姓名", "身份证号", "考场", "照片"],
        ["唐僧", valid_id(71), "第一考场", "photos/tang.png"],
        ["白龙马", valid_id(72), "第一考场", ""],  # found by its ID number
        ["哪吒", valid_id(73), "第一考场", ""],  # no photo at all
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("名单.csv", csv_bytes(rows))
        zf.writestr("photos/tang.png", png())
        zf.writestr(f"{valid_id(72)}.png", png(color=(0, 0, 200)))
        zf.writestr("__MACOSX/._名单.csv", b"junk")
    resp = upload(admin, sid, buf.getvalue(), "roster.zip")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["report"]["photos"] == 2
    assert resp.get_json()["report"]["format"] == "zip+csv"
    # A named photo that is missing, or is not an image, is a row problem; photos outside a
    # zip cannot be imported.
    rows = [
        ["姓名", "身份证号", "考场", "照片"],
        ["孙权", valid_id(74), "第一考场", "missing.jpg"],
        ["刘备", valid_id(75), "第一考场", "bad.png"],
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("r.csv", csv_bytes(rows))
        zf.writestr("bad.png", b"not really a png")
    resp = upload(admin, sid, buf.getvalue(), "roster.zip")
    got = [(p["place"], p["field"]) for p in resp.get_json()["details"]]
    assert got == [("row 2", "photo"), ("row 3", "photo")]
    resp = upload(admin, sid, csv_bytes(rows), "r.csv")
    assert [p["field"] for p in resp.get_json()["details"]] == ["photo", "photo"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", csv_bytes(rows))
        zf.writestr("b.csv", csv_bytes(rows))
    resp = upload(admin, sid, buf.getvalue(), "two.zip")
    assert "exactly one roster file" in resp.get_json()["details"][0]["message"]


def test_replace_the_roster_and_refuse_after_opening(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    rows = [["姓名", "身份证号", "考场"], ["张三", valid_id(1), "第一考场"]]  # same person
    resp = upload(admin, sid, csv_bytes(rows), "r.csv")
    assert resp.status_code == 422  # duplicate ID against the current roster
    resp = upload(admin, sid, csv_bytes(rows), "r.csv", replace="1")
    assert resp.status_code == 201 and resp.get_json()["report"]["replaced"] == 3
    assert registrations_count(sid) == 1
    upload(admin, sid, csv_bytes(rows), "r.csv", replace="1", eligibility="approved")
    open_session(world)
    resp = upload(admin, sid, csv_bytes(rows), "r.csv", replace="1")
    assert resp.status_code == 409 and resp.get_json()["field"] == "state"
    assert api_as("proctor").post(f"/api/sessions/{sid}/roster").status_code == 403


def test_the_template_imports(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    resp = admin.get("/api/sessions/roster-template.csv")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    assert upload(admin, sid, resp.data, "template.csv").status_code == 201

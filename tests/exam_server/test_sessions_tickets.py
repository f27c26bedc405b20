"""Admission tickets (准考证) as PDF, read back with pypdf; and the session commands of the CLI."""

from __future__ import annotations

import io
import json

from pypdf import PdfReader
from sqlalchemy import select

from exam_server.cli import (
    roster_import,
    session_create,
    session_list,
    session_open,
    session_show,
    tickets_command,
)
from exam_server.extensions import db
from question_bank.audit import AuditEvent
from tests.exam_server import sessions_helpers as helpers
from tests.exam_server.sessions_helpers import OCC, make_blueprint, make_release, png, valid_id

clock, world, fast_passwords = helpers.clock, helpers.world, helpers.fast_passwords


def pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_tickets_of_a_room_and_of_one_candidate(app, api_as, world):
    admin, sid, regs = world["admin"], world["sid"], world["regs"]
    photo = png(250, 350)
    admin.put(
        f"/api/sessions/{sid}/registrations/{regs[0]['id']}/photo",
        data={"file": (io.BytesIO(photo), "p.png")},
    )
    resp = admin.get(f"/api/sessions/{sid}/tickets.pdf?room={world['room1']['id']}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "tickets-E2026061501-room01.pdf" in resp.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(resp.data))
    assert len(reader.pages) == 1  # two approved candidates, two tickets per page
    (page,) = pdf_text(resp.data)
    for words in ("准考证", "张三", "李四", "E202606150101001", "E202606150101002", "第一考场"):
        assert words in page, words
    assert "王五" not in page  # pending: no ticket
    assert "电工" in page and "四级/中级工" in page and "2026年6月电工四级理论考试" in page
    assert "2026年06月15日 09:00–10:30" in page  # Beijing time
    assert "09:15 以后" in page and "开考 30 分钟后方可交卷" in page
    masked = valid_id(1)[:4] + "*" * 10 + valid_id(1)[14:]
    assert masked in page and valid_id(1) not in page
    assert any(reader.pages[0].images)  # the photo is embedded
    assert reader.metadata.title == "准考证 E2026061501"

    resp = admin.get(f"/api/sessions/{sid}/registrations/{regs[1]['id']}/ticket.pdf")
    assert resp.status_code == 200
    (page,) = pdf_text(resp.data)
    assert "李四" in page and "张三" not in page and "贴照片处" in page
    resp = admin.get(f"/api/sessions/{sid}/registrations/{regs[2]['id']}/ticket.pdf")
    assert resp.status_code == 409 and resp.get_json()["field"] == "eligibility"
    resp = admin.get(f"/api/sessions/{sid}/tickets.pdf?room={world['room2']['id']}")
    assert resp.status_code == 409  # nobody approved in room 2
    assert admin.get(f"/api/sessions/{sid}/tickets.pdf?room=999").status_code == 404
    for role in ("proctor", "supervisor"):
        assert api_as(role).get(f"/api/sessions/{sid}/tickets.pdf").status_code == 403
    printed = list(
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == "tickets.printed"))
    )
    assert [json.loads(e.data)["count"] for e in printed] == [2, 1]


def test_whole_session_tickets_span_pages_in_seat_order(app, api_as, world):
    admin, sid = world["admin"], world["sid"]
    for seq, name in [(4, "赵六"), (5, "钱七"), (6, "孙八")]:
        helpers.add_candidate(admin, sid, name, seq)
    ids = [
        r["id"] for r in admin.get(f"/api/sessions/{sid}/registrations").get_json()["registrations"]
    ]
    admin.post(
        f"/api/sessions/{sid}/eligibility", json={"registration_ids": ids, "status": "approved"}
    )
    resp = admin.get(f"/api/sessions/{sid}/tickets.pdf")
    pages = pdf_text(resp.data)
    assert len(pages) == 3
    assert "张三" in pages[0] and "李四" in pages[0] and "孙八" in pages[2]


def test_session_commands(app, api_as, tmp_path):
    runner = app.test_cli_runner()
    release = make_release(api_as)
    blueprint_version = make_blueprint(api_as)
    result = runner.invoke(
        session_create,
        [
            "S-CLI-1", "--name", "命令行场次", "--occupation", OCC, "--level", "4",
            "--start", "2026-06-15 09:00", "--duration", "90", "--release", str(release),
            "--blueprint-version", str(blueprint_version),
            "--room", "第一考场:30", "--room", "第二考场:10",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "planned with 2 rooms" in result.output and "access code" in result.output
    bad = runner.invoke(
        session_create,
        ["S-CLI-2", "--name", "x", "--occupation", OCC, "--level", "4", "--start", "soon",
         "--duration", "90"],
    )  # fmt: skip
    assert bad.exit_code == 2 and "not a time" in bad.output
    bad = runner.invoke(
        session_create,
        ["S-CLI-2", "--name", "x", "--occupation", OCC, "--level", "4",
         "--start", "2026-06-15 09:00", "--duration", "90", "--late", "100"],
    )  # fmt: skip
    assert bad.exit_code == 2 and "late-entry cutoff" in bad.output
    roster = tmp_path / "名单.csv"
    roster.write_bytes(
        f"姓名,身份证号,考场\n张三,{valid_id(1)},第一考场\n李四,{valid_id(2)},第二考场\n".encode(
            "gbk"
        )
    )
    result = runner.invoke(roster_import, [str(roster), "--session", "S-CLI-1", "--approve"])
    assert result.exit_code == 0, result.output
    assert "imported 2 candidates" in result.output and "approved" in result.output
    result = runner.invoke(roster_import, [str(roster), "--session", "S-CLI-1"])
    assert result.exit_code == 2 and "row 2 [id_number]: duplicate ID number" in result.output
    out = tmp_path / "tickets.pdf"
    result = runner.invoke(tickets_command, ["--session", "S-CLI-1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 tickets" in result.output and "张三" in pdf_text(out.read_bytes())[0]
    result = runner.invoke(
        tickets_command, ["--session", "S-CLI-1", "--room", "第二考场", "--out", str(out)]
    )
    assert "1 tickets" in result.output
    result = runner.invoke(session_open, ["S-CLI-1", "--reason", "考前检查完毕"])
    assert result.exit_code == 0 and "is open" in result.output
    assert "has no proctor" in result.output
    assert runner.invoke(session_open, ["S-CLI-1"]).exit_code == 2
    assert runner.invoke(session_open, ["NOPE"]).exit_code == 2
    result = runner.invoke(session_list, [])
    assert "S-CLI-1\topen\t2026-06-15 09:00" in result.output
    result = runner.invoke(session_show, ["S-CLI-1"])
    assert "2 registered: 2 approved" in result.output and "09:00 CST" in result.output
    (ev,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "exam_session.opened"))
    assert ev.reason == "考前检查完毕" and ev.actor.startswith("cli:")

"""Admission tickets (准考证) as PDF: two per A4 page, with a cut line between them.

Each ticket shows the ticket number (also as a Code 128 barcode for scanners at the door), the
candidate's name, document type and masked number, the photo (or a box to affix one), session,
occupation and level, room and seat, the exam time with the late-entry rule, and the exam-room
rules. Text uses reportlab's built-in CJK font STSong-Light (Adobe-GB1), so no font file is
needed and PDF readers substitute a Song typeface. Times are printed in the configured local
time zone.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from question_bank.schema import LEVEL_NAMES

from .idcard import ID_TYPE_NAMES, mask_id_number
from .models import CandidatePhoto, Eligibility, ExamSession, Registration, Room, StartMode
from .services import check_in_deadline

FONT = "STSong-Light"
PAGE_W, PAGE_H = A4
TICKET_H = PAGE_H / 2
MARGIN = 15 * mm
PHOTO_W, PHOTO_H = 25 * mm, 35 * mm  # the one-inch photo (一寸照片)
SIDE_W = 40 * mm  # the right column: photo and barcode

_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


@dataclass(frozen=True)
class TicketData:
    """What one ticket prints; built by :func:`ticket_data`, plain values only."""

    ticket_number: str
    candidate_name: str
    id_label: str
    id_masked: str
    occupation: str
    level: str
    session: str
    room: str
    seat: int
    exam_time: str
    entry_rule: str
    submit_rule: str
    photo: bytes | None = None


def _local(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return value.astimezone(zone)


def ticket_data(
    es: ExamSession, reg: Registration, room: Room, photo: bytes | None, zone: ZoneInfo
) -> TicketData:
    start = _local(es.scheduled_start, zone)
    end = _local(es.scheduled_end, zone)
    day = f"{start:%Y年%m月%d日} {start:%H:%M}–{end:%H:%M}"
    if end.date() != start.date():
        day = f"{start:%Y年%m月%d日 %H:%M} – {end:%Y年%m月%d日 %H:%M}"
    if es.start_mode == StartMode.WINDOW and es.window_end is not None:
        window_end = _local(es.window_end, zone)
        day = f"{start:%Y年%m月%d日} {start:%H:%M}–{window_end:%H:%M} 开始作答"
        entry = (
            f"请在 {start:%H:%M} 至 {window_end:%H:%M} 之间签到并开始作答，"
            f"作答时间 {es.duration_minutes} 分钟。"
        )
    else:
        cutoff = _local(check_in_deadline(es, room), zone)
        entry = (
            f"开考 {es.late_entry_minutes} 分钟后（{cutoff:%H:%M} 以后）不得入场；"
            f"考试时长 {es.duration_minutes} 分钟。"
        )
    submit = (
        f"开考 {es.earliest_submit_minutes} 分钟后方可交卷。"
        if es.earliest_submit_minutes
        else "考试期间可随时交卷。"
    )
    occ = es.occupation
    room_text = room.name + (f"（{room.location}）" if room.location else "")
    return TicketData(
        ticket_number=reg.ticket_number,
        candidate_name=reg.candidate_name,
        id_label=ID_TYPE_NAMES.get(reg.id_type, ID_TYPE_NAMES["other"])[0],
        id_masked=mask_id_number(reg.id_type, reg.id_number),
        occupation=f"{occ.name}（{occ.code}）",
        level=LEVEL_NAMES.get(es.level, (str(es.level), ""))[0],
        session=f"{es.name}（{es.code}）",
        room=room_text,
        seat=reg.seat,
        exam_time=day,
        entry_rule=entry,
        submit_rule=submit,
        photo=photo,
    )


def approved_registrations(
    session: Session, es: ExamSession, room: Room | None = None
) -> list[Registration]:
    """The candidates who get tickets (approved ones), by room and seat."""
    q = (
        select(Registration)
        .join(Room, Room.id == Registration.room_id)
        .where(Registration.session_id == es.id, Registration.eligibility == Eligibility.APPROVED)
        .order_by(Room.number, Registration.seat)
    )
    if room is not None:
        q = q.where(Registration.room_id == room.id)
    return list(session.scalars(q))


def tickets_pdf(
    session: Session, es: ExamSession, regs: list[Registration], zone: ZoneInfo
) -> bytes:
    """The tickets of ``regs`` as one PDF, with their photos."""
    shas = {r.photo_sha256 for r in regs if r.photo_sha256}
    photos = (
        {
            p.sha256: p.data
            for p in session.scalars(select(CandidatePhoto).where(CandidatePhoto.sha256.in_(shas)))
        }
        if shas
        else {}
    )
    tickets = [ticket_data(es, r, r.room, photos.get(r.photo_sha256 or ""), zone) for r in regs]
    return render_tickets(tickets, title=f"准考证 {es.code}")


RULES = (
    "考生须持本准考证和有效身份证件，提前 30 分钟到达考场，经身份核验后对号入座。",
    "{entry}",
    "{submit}",
    "严禁携带手机、智能手表等通讯和存储设备及任何资料进入考场。",
    "服从监考人员安排，遵守考场纪律；违纪者按有关规定处理，情节严重的取消考试成绩。",
    "考试期间如遇计算机故障，请举手示意，经监考人员同意后换机继续作答，已作答内容不会丢失。",
)


def render_tickets(tickets: list[TicketData], *, title: str = "准考证") -> bytes:
    """A PDF with the given tickets, two per A4 page, in the order given."""
    font = _font()
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=True, pageCompression=1)
    canvas.setTitle(title)
    canvas.setSubject("职业技能等级认定 准考证 / Admission tickets")
    canvas.setCreator("exam-server")
    for index, ticket in enumerate(tickets):
        top_half = index % 2 == 0
        if top_half and index:
            canvas.showPage()
        origin_y = TICKET_H if top_half else 0
        _draw_ticket(canvas, ticket, origin_y, font)
        if top_half:
            canvas.saveState()
            canvas.setDash(3, 3)
            canvas.setStrokeGray(0.6)
            canvas.line(MARGIN / 2, TICKET_H, PAGE_W - MARGIN / 2, TICKET_H)
            canvas.restoreState()
    if not tickets:
        canvas.setFont(font, 12)
        canvas.drawString(MARGIN, PAGE_H - MARGIN, "（无准考证）")
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def _draw_ticket(canvas: Canvas, t: TicketData, origin_y: float, font: str) -> None:
    left, right = MARGIN, PAGE_W - MARGIN
    box_bottom = origin_y + 6 * mm
    box_top = origin_y + TICKET_H - 6 * mm
    canvas.setStrokeGray(0)
    canvas.setLineWidth(0.8)
    canvas.rect(left, box_bottom, right - left, box_top - box_bottom)

    canvas.setFont(font, 16)
    canvas.drawCentredString(PAGE_W / 2, box_top - 10 * mm, "职业技能等级认定 理论知识考试 准考证")
    canvas.setFont(font, 8)
    canvas.drawCentredString(
        PAGE_W / 2, box_top - 14.5 * mm, "Vocational skill appraisal · Admission ticket"
    )

    # Right column: photo, and the ticket number as a barcode under it.
    column_x = right - 6 * mm - SIDE_W
    photo_top = box_top - 20 * mm
    _draw_photo(canvas, t.photo, column_x + (SIDE_W - PHOTO_W) / 2, photo_top - PHOTO_H, font)
    _draw_barcode(canvas, t.ticket_number, column_x, photo_top - PHOTO_H - 4 * mm)

    label_x = left + 6 * mm
    value_x = left + 36 * mm
    value_w = column_x - value_x - 4 * mm
    y = box_top - 24 * mm
    rows = (
        ("准考证号", "Ticket No.", t.ticket_number, 13),
        ("姓名", "Name", t.candidate_name, 13),
        ("证件号码", "ID No.", f"{t.id_masked}（{t.id_label}）", 10),
        ("职业（工种）", "Occupation", t.occupation, 10),
        ("等级", "Level", t.level, 10),
        ("场次", "Session", t.session, 10),
        ("考场", "Room", t.room, 10),
        ("座位号", "Seat", str(t.seat), 13),
        ("考试时间", "Exam time", t.exam_time, 10),
    )
    for zh, en, value, size in rows:
        canvas.setFont(font, 10)
        canvas.drawString(label_x, y, zh)
        canvas.setFont(font, 6)
        canvas.setFillGray(0.35)
        canvas.drawString(label_x, y - 2.8 * mm, en)
        canvas.setFillGray(0)
        lines = (simpleSplit(value, font, size, value_w) or [""])[:2]
        canvas.setFont(font, size)
        for n, line in enumerate(lines):
            canvas.drawString(value_x, y - n * (size + 2), line)
        y -= 7 * mm + (size + 2) * (len(lines) - 1)

    y -= 1 * mm
    canvas.setFont(font, 10)
    canvas.drawString(label_x, y, "考场规则 Rules")
    y -= 4.5 * mm
    canvas.setFont(font, 9)
    width = right - label_x - 6 * mm
    for n, rule in enumerate(RULES, start=1):
        text = f"{n}. " + rule.format(entry=t.entry_rule, submit=t.submit_rule)
        for line in simpleSplit(text, font, 9, width):
            if y < box_bottom + 2 * mm:
                return
            canvas.drawString(label_x, y, line)
            y -= 4.4 * mm


def _draw_photo(canvas: Canvas, photo: bytes | None, x: float, y: float, font: str) -> None:
    canvas.setLineWidth(0.5)
    canvas.rect(x, y, PHOTO_W, PHOTO_H)
    if photo is None:
        canvas.setFont(font, 9)
        canvas.setFillGray(0.45)
        canvas.drawCentredString(x + PHOTO_W / 2, y + PHOTO_H / 2, "贴照片处")
        canvas.setFillGray(0)
        return
    image = ImageReader(io.BytesIO(photo))
    iw, ih = image.getSize()
    scale = min(PHOTO_W / iw, PHOTO_H / ih)
    w, h = iw * scale, ih * scale
    canvas.drawImage(image, x + (PHOTO_W - w) / 2, y + (PHOTO_H - h) / 2, w, h)


def _draw_barcode(canvas: Canvas, value: str, x: float, top: float) -> None:
    bar_width = 0.33 * mm
    code = Code128(value, barWidth=bar_width, barHeight=9 * mm, quiet=False)
    if code.width > SIDE_W:
        code = Code128(
            value, barWidth=bar_width * SIDE_W / code.width, barHeight=9 * mm, quiet=False
        )
    code.drawOn(canvas, x + (SIDE_W - code.width) / 2, top - 9 * mm)

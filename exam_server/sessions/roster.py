"""Roster import (考生名单): CSV, xlsx, or a zip holding one of them plus candidate photos.

The header row names the columns in Chinese or English, in any order (rows above it, such as a
title, are skipped if the header is within the first five rows). Unknown columns are ignored.

===========  ===============  ==========================================================
Column       English          Content
===========  ===============  ==========================================================
姓名         name             required
证件类型     id_type          身份证 (default), 护照, 港澳通行证, 台胞证, 外国人永久居留身份证,
                              其他, or the English keys (resident_id, passport …)
身份证号     id_number        required; resident ID numbers are checked (GB 11643)
准考证号     ticket           optional; generated as session code + room + seat
考场         room             room name (or number); optional when the session has one room
座位号       seat             optional; the lowest free seat of the room is given
照片         photo            optional; a file name inside the zip
===========  ===============  ==========================================================

CSV may be UTF-8 (with or without BOM) or GBK/GB18030, separated by commas, tabs or semicolons.
In a zip, photos (JPEG or PNG) are found by the 照片 column, else by the file name being the
ticket number or the ID number (``110105199001011237.jpg``).

The import is all or nothing: every bad row is reported with its row number (as a spreadsheet
shows it) and nothing is written unless the whole file is good.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from question_bank.audit import Actor, record
from question_bank.errors import Conflict, ImportRejected, ValidationFailed
from question_bank.formats import Problem, decode_text

from .models import CheckIn, Eligibility, ExamSession, Registration, SessionState
from .registrations import CandidateRow, SeatPlan, create_from_plan
from .services import require_state

MAX_ROWS = 5000
MAX_UNZIPPED = 200 * 1024 * 1024
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
SHEET_NAMES = ("考生", "考生名单", "名单", "roster", "candidates")


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.zh}/{self.en}"


COLUMNS = (
    Column("name", "姓名", "name", ("考生姓名", "candidate", "candidatename", "fullname")),
    Column("id_type", "证件类型", "id_type", ("证件种类", "idtype", "documenttype")),
    Column(
        "id_number",
        "身份证号",
        "id_number",
        ("身份证号码", "身份证", "证件号码", "证件号", "idnumber", "idno", "documentnumber"),
    ),
    Column(
        "ticket",
        "准考证号",
        "ticket",
        ("准考证", "准考证编号", "ticketnumber", "ticketno", "admissionticket"),
    ),
    Column("room", "考场", "room", ("考场名称", "考场号", "考室", "roomname")),
    Column("seat", "座位号", "seat", ("座位", "座号", "seatnumber", "seatno")),
    Column("photo", "照片", "photo", ("相片", "照片文件", "photofile")),
)
BY_KEY = {c.key: c for c in COLUMNS}
# Where a column's problems are reported: the API's field names.
FIELD_OF = {
    "name": "candidate_name",
    "id_type": "id_type",
    "id_number": "id_number",
    "ticket": "ticket_number",
    "room": "room",
    "seat": "seat",
    "photo": "photo",
}


def _norm_header(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-()（）:：*＊/]+", "", text)


_ALIASES = {_norm_header(name): c.key for c in COLUMNS for name in (c.zh, c.en, c.key, *c.aliases)}


def _header_key(cell: Any) -> str | None:
    text = "" if cell is None else str(cell).strip()
    if not text:
        return None
    for candidate in (text, *re.split(r"[/\n]", text)):
        key = _ALIASES.get(_norm_header(candidate))
        if key:
            return key
    return None


class _Damaged(ValueError):
    pass


def _cell(value: Any, key: str) -> Any:
    """A cell as text (seats may stay numbers). Long numbers in Excel have lost digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) and key in ("id_number", "ticket"):
        digits = f"{value:.0f}" if isinstance(value, float) else str(value)
        if len(digits) > 15 or (isinstance(value, float) and not value.is_integer()):
            raise _Damaged(
                "the number is stored as a number in Excel, which keeps only 15 digits; "
                "format the column as text and enter it again"
            )
        return digits
    if isinstance(value, int | float) and key == "seat":
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip().strip("\ufeff\u200b").strip()


# -- reading files ----------------------------------------------------------------------------


@dataclass
class ParsedRoster:
    rows: list[tuple[int, CandidateRow]] = field(default_factory=list)
    problems: list[tuple[int, Problem]] = field(default_factory=list)
    file_format: str = ""
    # (place, field) of cells already reported as unreadable, so the row checks stay quiet.
    reported: set[tuple[str, str]] = field(default_factory=set)

    def bad(self, row: int, message: str, field_name: str | None = None, place: str = "") -> None:
        self.problems.append((row, Problem(place or f"row {row}", message, field_name)))


def _rows_to_candidates(
    records: list[tuple[int, list[Any]]], parsed: ParsedRoster, source: str
) -> dict[int, str]:
    """Find the header, then turn each non-empty row into a CandidateRow. Returns the raw
    photo names by row number."""
    header_at, columns = None, {}
    for number, cells in records[:5]:
        found = {i: k for i, c in enumerate(cells) if (k := _header_key(c))}
        if len(found) >= 2:
            header_at, columns = number, found
            break
    if header_at is None:
        parsed.bad(
            0,
            "no header row found: the first rows must name the columns "
            "(姓名/name, 身份证号/id_number, …)",
            place=source,
        )
        return {}
    keys = set(columns.values())
    for required in ("name", "id_number"):
        if required not in keys:
            parsed.bad(
                header_at,
                f"the header has no {BY_KEY[required].label} column",
                FIELD_OF[required],
                place=f"row {header_at}",
            )
    seen: dict[str, int] = {}
    for index, key in columns.items():
        if key in seen:
            parsed.bad(
                header_at,
                f"two columns are {BY_KEY[key].label} (columns {seen[key] + 1} and {index + 1})",
                FIELD_OF[key],
            )
        seen.setdefault(key, index)
    if parsed.problems:
        return {}
    photos: dict[int, str] = {}
    for number, cells in records:
        if number <= header_at:
            continue
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        if len(parsed.rows) >= MAX_ROWS:
            parsed.bad(number, f"a roster has at most {MAX_ROWS} candidates", place=source)
            break
        values: dict[str, Any] = {}
        for index, key in columns.items():
            raw = cells[index] if index < len(cells) else None
            try:
                values[key] = _cell(raw, key)
            except _Damaged as exc:
                parsed.bad(number, str(exc), FIELD_OF[key])
                parsed.reported.add((f"row {number}", FIELD_OF[key]))
                values[key] = ""
        if values.get("photo"):
            photos[number] = str(values["photo"])
        parsed.rows.append(
            (
                number,
                CandidateRow(
                    f"row {number}",
                    name=values.get("name", ""),
                    id_type=values.get("id_type", ""),
                    id_number=values.get("id_number", ""),
                    ticket=values.get("ticket", ""),
                    room=values.get("room", ""),
                    seat=values.get("seat"),
                ),
            )
        )
    return photos


def _read_csv(data: bytes, source: str, parsed: ParsedRoster) -> dict[int, str]:
    parsed.file_format = "csv"
    try:
        text = decode_text(data, source=source)
    except ValueError as exc:
        parsed.bad(0, str(exc), place=source)
        return {}
    if not text.strip():
        parsed.bad(0, "the file is empty", place=source)
        return {}
    if "\x00" in text:
        parsed.bad(0, "the file is not CSV text (it holds binary data)", place=source)
        return {}
    first = text.splitlines()[0]
    delimiter = ","
    if first.count("\t") > first.count(","):
        delimiter = "\t"
    elif first.count(";") > first.count(","):
        delimiter = ";"
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        parsed.bad(0, f"the file is not valid CSV: {exc}", place=source)
        return {}
    return _rows_to_candidates(list(enumerate(records, start=1)), parsed, source)


def _read_xlsx(data: bytes, source: str, parsed: ParsedRoster) -> dict[int, str]:
    from openpyxl import load_workbook

    parsed.file_format = "xlsx"
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of errors for broken workbooks
        parsed.bad(0, f"the file cannot be read as .xlsx: {exc}", place=source)
        return {}
    try:
        names = wb.sheetnames
        name = next((n for n in names if n.strip().casefold() in SHEET_NAMES), names[0])
        records = [
            (number, list(values))
            for number, values in enumerate(wb[name].iter_rows(values_only=True), start=1)
        ]
    except Exception as exc:
        parsed.bad(0, f"the workbook is broken: {exc}", place=source)
        return {}
    finally:
        wb.close()
    return _rows_to_candidates(records, parsed, source)


def _zip_name(info: zipfile.ZipInfo) -> str:
    # Windows zip tools write GBK names without the UTF-8 flag; Python reads them as cp437.
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def read_roster(data: bytes, filename: str) -> tuple[ParsedRoster, dict[str, bytes]]:
    """Parse a roster file; returns the rows with every problem found, and the photos of a zip
    (by lower-case file name, with and without extension)."""
    parsed = ParsedRoster()
    source = filename or "file"
    lower = source.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        parsed.bad(
            0, "old Excel 97-2003 (.xls) files are not read; save as .xlsx or CSV", place=source
        )
        return parsed, {}
    if not data.startswith(b"PK\x03\x04"):
        if lower.endswith((".xlsx", ".zip")):
            parsed.bad(0, "the file is not a valid .xlsx or .zip file", place=source)
            return parsed, {}
        photo_names = _read_csv(data, source, parsed)
        _no_photos(parsed, photo_names)
        return parsed, {}
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, NotImplementedError, OSError):
        parsed.bad(0, "the file is a broken zip archive", place=source)
        return parsed, {}
    with zf:
        if sum(i.file_size for i in infos) > MAX_UNZIPPED:
            parsed.bad(0, "the file unpacks to more than 200 MB", place=source)
            return parsed, {}
        names = {i.filename for i in infos}
        if "xl/workbook.xml" in names:
            photo_names = _read_xlsx(data, source, parsed)
            _no_photos(parsed, photo_names)
            return parsed, {}
        return _read_bundle(zf, infos, source, parsed)


def _no_photos(parsed: ParsedRoster, photo_names: dict[int, str]) -> None:
    for number, name in photo_names.items():
        parsed.bad(
            number,
            f"photo {name!r} is named, but photos can only come in a zip together with the roster",
            "photo",
        )


def _read_bundle(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], source: str, parsed: ParsedRoster
) -> tuple[ParsedRoster, dict[str, bytes]]:
    files = [
        (i, _zip_name(i))
        for i in infos
        if not i.is_dir()
        and not i.filename.startswith("__MACOSX/")
        and not PurePosixPath(i.filename).name.startswith(".")
    ]
    rosters = [(i, n) for i, n in files if n.lower().endswith((".csv", ".txt", ".xlsx"))]
    if len(rosters) != 1:
        parsed.bad(
            0,
            f"a zip must hold exactly one roster file (.csv or .xlsx); found {len(rosters)}",
            place=source,
        )
        return parsed, {}
    info, name = rosters[0]
    inner = zf.read(info)
    if name.lower().endswith(".xlsx"):
        photo_names = _read_xlsx(inner, name, parsed)
    else:
        photo_names = _read_csv(inner, name, parsed)
    parsed.file_format = f"zip+{parsed.file_format}"
    photos: dict[str, bytes] = {}
    for i, n in files:
        base = PurePosixPath(n).name.lower()
        if base.endswith(PHOTO_SUFFIXES):
            content = zf.read(i)
            photos[base] = content
            photos.setdefault(base.rsplit(".", 1)[0], content)
    by_row = dict(parsed.rows)
    for number, photo_name in photo_names.items():
        key = PurePosixPath(photo_name.replace("\\", "/")).name.lower()
        if key in photos:
            by_row[number].photo, by_row[number].photo_name = photos[key], photo_name
        else:
            parsed.bad(number, f"photo {photo_name!r} is not in the zip", "photo")
    for number, row in parsed.rows:
        if row.photo is not None or number in photo_names:
            continue
        for key in (str(row.ticket).strip().lower(), str(row.id_number).strip().lower()):
            if key and key in photos:
                row.photo, row.photo_name = photos[key], key
                break
    return parsed, photos


# -- import -----------------------------------------------------------------------------------


@dataclass
class RosterReport:
    file_format: str
    created: list[str] = field(default_factory=list)
    replaced: int = 0
    generated_tickets: int = 0
    assigned_seats: int = 0
    photos: int = 0
    eligibility: str = Eligibility.PENDING

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.file_format,
            "created": len(self.created),
            "replaced": self.replaced,
            "generated_tickets": self.generated_tickets,
            "assigned_seats": self.assigned_seats,
            "photos": self.photos,
            "eligibility": self.eligibility,
        }


def _row_number(place: str) -> int:
    match = re.match(r"row (\d+)", place)
    return int(match.group(1)) if match else 0


def import_roster(
    session: Session,
    actor: Actor,
    es: ExamSession,
    data: bytes,
    filename: str,
    *,
    replace: bool = False,
    eligibility: str = Eligibility.PENDING,
    reason: str = "",
    now: dt.datetime,
) -> RosterReport:
    """Import a roster all-or-nothing; ``replace`` drops the current roster first."""
    require_state(es, SessionState.PLANNED, doing="importing a roster")
    if eligibility not in (Eligibility.PENDING, Eligibility.APPROVED):
        raise ValidationFailed(
            "imported candidates are pending or approved (rejections need a reason each)",
            field="eligibility",
        )
    if not es.rooms:
        raise Conflict(f"session {es.code} has no rooms; add them before the roster", field="rooms")
    if replace and session.scalar(
        select(CheckIn.id)
        .where(CheckIn.session_id == es.id, CheckIn.registration_id.is_not(None))
        .limit(1)
    ):
        raise Conflict(
            "the roster has sign-in attempts on record and cannot be replaced", field="replace"
        )
    parsed, _photos = read_roster(data, filename)
    plan = SeatPlan(session, es, replace=replace)
    given_seats = given_tickets = 0
    for _number, row in parsed.rows:
        given_seats += row.seat not in (None, "")
        given_tickets += bool(str(row.ticket or "").strip())
        plan.add(row)
    rows = plan.finish()
    problems = sorted(
        [
            *parsed.problems,
            *(
                (_row_number(p.problem.place), p.problem)
                for p in plan.problems
                if (p.problem.place, p.problem.field) not in parsed.reported
            ),
        ],
        key=lambda item: item[0],
    )
    if not problems and not rows:
        problems = [(0, Problem(filename or "file", "the file holds no candidates"))]
    if problems:
        raise ImportRejected([p.to_dict() for _n, p in problems], source=filename or "file")
    report = RosterReport(parsed.file_format, eligibility=eligibility)
    if replace:
        report.replaced = (
            session.scalar(
                select(func.count())
                .select_from(Registration)
                .where(Registration.session_id == es.id)
            )
            or 0
        )
        session.execute(delete(Registration).where(Registration.session_id == es.id))
    made = create_from_plan(session, actor, es, rows, eligibility=eligibility, now=now)
    report.created = [r.ticket_number for r in made]
    report.generated_tickets = len(made) - given_tickets
    report.assigned_seats = len(made) - given_seats
    report.photos = sum(1 for r in made if r.photo_sha256)
    record(
        session,
        actor,
        "roster.imported",
        "exam_session",
        es.id,
        reason=reason,
        data={"session": es.code, "file": filename, **report.to_dict(), "tickets": report.created},
        at=now,
    )
    return report

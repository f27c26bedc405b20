"""Exam sessions: ``session``, ``roster``, ``tickets``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from question_bank.errors import DomainError

from ..extensions import db
from .base import _actor, _fail, main


def _local_time(value: str):
    """A time typed at the command line: ISO with offset, or local wall time in the configured
    time zone (``2026-06-15 09:00``)."""
    import datetime as dt

    from ..sessions.clock import local_zone

    text = value.strip().replace("T", " ")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a time like 2026-06-15 09:00") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed.astimezone(dt.UTC)


def _room_spec(value: str) -> dict:
    name, sep, capacity = value.rpartition(":")
    if not sep or not name.strip() or not capacity.strip().isdigit():
        raise click.BadParameter(f"{value!r}: give a room as NAME:SEATS, e.g. 第一考场:30")
    return {"name": name.strip(), "capacity": int(capacity)}


def _exam_session(code: str):
    from ..sessions.services import get_session_by_code

    return get_session_by_code(db.session, code)


@main.group("session")
def session_group() -> None:
    """Exam sessions (场次): plan, list, show, open, start, close."""


@session_group.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Session name, e.g. 2026年6月电工四级理论考试.")
@click.option("--occupation", required=True, help="Occupation code.")
@click.option("--level", type=click.IntRange(1, 5), required=True)
@click.option("--start", "start", required=True, help="Scheduled start, local time or ISO.")
@click.option("--duration", type=int, required=True, help="Minutes.")
@click.option("--late", type=int, default=15, show_default=True, help="Late entry, minutes.")
@click.option("--earliest-submit", type=int, default=30, show_default=True, help="Minutes.")
@click.option("--mode", type=click.Choice(["unified", "window"]), default="unified")
@click.option("--window", type=int, help="Window mode: minutes candidates may still start.")
@click.option("--release", "release_id", type=int, help="Bank release id to draw papers from.")
@click.option("--blueprint-version", "blueprint_version_id", type=int)
@click.option("--room", "rooms", multiple=True, help="NAME:SEATS; repeat for several rooms.")
@click.option("--as", "as_user", help="Record the change as this user.")
@with_appcontext
def session_create(code, name, occupation, level, start, duration, late, earliest_submit,
                   mode, window, release_id, blueprint_version_id, rooms, as_user):  # fmt: skip
    """Plan session CODE; rooms get random access codes."""
    from ..sessions import services
    from ..sessions.schemas import SessionIn
    from ..validation import validate

    try:
        spec = validate(
            SessionIn,
            {
                "code": code,
                "name": name,
                "occupation": occupation,
                "level": level,
                "scheduled_start": _local_time(start),
                "duration_minutes": duration,
                "late_entry_minutes": late,
                "earliest_submit_minutes": earliest_submit,
                "start_mode": mode,
                "start_window_minutes": window,
                "release_id": release_id,
                "blueprint_version_id": blueprint_version_id,
                "rooms": [_room_spec(r) for r in rooms],
            },
        )
        es = services.create_session(db.session, _actor(as_user), spec)
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    click.echo(f"session {es.code} planned with {len(es.rooms)} rooms")
    _echo_rooms(es)


def _echo_rooms(es) -> None:
    from ..sessions.clock import local_zone

    zone = local_zone()
    for room in es.rooms:
        click.echo(
            f"  room {room.number:2} {room.name}: {room.capacity} seats, access code "
            f"{room.access_code}"
            + (f", started {room.started_at.astimezone(zone):%H:%M}" if room.started_at else "")
        )


@session_group.command("list")
@click.option("--state", type=click.Choice(["planned", "open", "running", "closed"]))
@with_appcontext
def session_list(state: str | None) -> None:
    """List sessions, latest start first."""
    from ..sessions import services
    from ..sessions.clock import local_zone

    zone = local_zone()
    for es in services.list_sessions(db.session, state=state):
        click.echo(
            f"{es.code}\t{es.state}\t{es.scheduled_start.astimezone(zone):%Y-%m-%d %H:%M}\t"
            f"{es.occupation.code} L{es.level}\t{len(es.rooms)} rooms\t{es.name}"
        )


@session_group.command("show")
@click.argument("code")
@with_appcontext
def session_show(code: str) -> None:
    """A session's schedule, rooms with access codes, and roster counts."""
    from ..sessions import services
    from ..sessions.clock import local_zone

    try:
        es = _exam_session(code)
    except DomainError as exc:
        _fail(exc)
    detail = services.session_detail(db.session, es, code_rooms=None, room_ids=None)
    start = es.scheduled_start.astimezone(local_zone())
    click.echo(f"{es.code} {es.name} [{es.state}]")
    click.echo(
        f"  {es.occupation.code} level {es.level}, start {start:%Y-%m-%d %H:%M %Z}, "
        f"{es.duration_minutes} min, {es.start_mode} start, release {es.release_id or '-'}"
    )
    counts = detail["counts"]
    click.echo(
        f"  {counts['registered']} registered: {counts['approved']} approved, "
        f"{counts['pending']} pending, {counts['rejected']} rejected; "
        f"{counts['checked_in']} checked in"
    )
    _echo_rooms(es)


def _transition(action: str, code: str, reason: str, as_user: str | None) -> None:
    from ..sessions import services
    from ..sessions.clock import server_now

    try:
        es = _exam_session(code)
        warnings = services.transition(
            db.session, _actor(as_user), es, action, now=server_now(), reason=reason
        )
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    click.echo(f"session {es.code} is {es.state}")
    for warning in warnings:
        click.echo(f"  note: {warning}")


_transition_options = [
    click.argument("code"),
    click.option("--reason", default="", help="For the audit log."),
    click.option("--as", "as_user", help="Record the change as this user."),
    with_appcontext,
]


def _with_transition_options(command):
    for decorate in reversed(_transition_options):
        command = decorate(command)
    return command


@session_group.command("open")
@_with_transition_options
def session_open(code: str, reason: str, as_user: str | None) -> None:
    """Open session CODE for check-in (papers are assembled now)."""
    _transition("open", code, reason, as_user)


@session_group.command("start")
@_with_transition_options
def session_start(code: str, reason: str, as_user: str | None) -> None:
    """Start session CODE (every room, for a unified start)."""
    _transition("start", code, reason, as_user)


@session_group.command("close")
@_with_transition_options
def session_close(code: str, reason: str, as_user: str | None) -> None:
    """Close session CODE."""
    _transition("close", code, reason, as_user)


@main.group("roster")
def roster_group() -> None:
    """Candidate rosters of exam sessions."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--session", "code", required=True, help="Session code.")
@click.option("--replace", is_flag=True, help="Replace the current roster.")
@click.option("--approve", is_flag=True, help="Mark the candidates eligible (reviewed already).")
@click.option("--reason", default="", help="For the audit log.")
@click.option("--as", "as_user", help="Record the import as this user.")
@with_appcontext
def roster_import(file: Path, code: str, replace: bool, approve: bool, reason: str, as_user):
    """Import FILE (CSV in UTF-8 or GBK, xlsx, or a zip with photos) all-or-nothing."""
    from ..sessions.clock import server_now
    from ..sessions.roster import import_roster

    try:
        es = _exam_session(code)
        report = import_roster(
            db.session,
            _actor(as_user),
            es,
            file.read_bytes(),
            file.name,
            replace=replace,
            eligibility="approved" if approve else "pending",
            reason=reason,
            now=server_now(),
        )
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    r = report.to_dict()
    click.echo(
        f"imported {r['created']} candidates into {es.code} ({r['format']}, {r['eligibility']}): "
        f"{r['generated_tickets']} tickets generated, {r['assigned_seats']} seats assigned, "
        f"{r['photos']} photos" + (f", {r['replaced']} replaced" if replace else "")
    )


@main.command("tickets")
@click.option("--session", "code", required=True, help="Session code.")
@click.option("--room", "room_name", help="Only this room (name).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--as", "as_user", help="Record the printing as this user.")
@with_appcontext
def tickets_command(code: str, room_name: str | None, out: Path, as_user: str | None) -> None:
    """Write the admission tickets (准考证) of approved candidates as one PDF."""
    from question_bank.audit import record

    from ..sessions import tickets
    from ..sessions.clock import local_zone

    try:
        es = _exam_session(code)
        room = None
        if room_name:
            room = next((r for r in es.rooms if r.name == room_name), None)
            if room is None:
                raise click.UsageError(f"session {es.code} has no room {room_name!r}")
        regs = tickets.approved_registrations(db.session, es, room)
        if not regs:
            raise click.UsageError("no approved candidates: nothing to print")
        pdf = tickets.tickets_pdf(db.session, es, regs, local_zone())
        record(
            db.session,
            _actor(as_user),
            "tickets.printed",
            "exam_session",
            es.id,
            data={"session": es.code, "room": room_name, "count": len(regs)},
        )
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    out.write_bytes(pdf)
    click.echo(f"wrote {out}: {len(regs)} tickets ({len(pdf)} bytes)")

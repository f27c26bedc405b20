"""Accounts and the audit log: ``init``, ``user``, ``audit``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from question_bank.audit import verify_chain

from ..extensions import db
from ..models import Role, User
from .base import _safe_url, create_user, main, upgrade_database


@main.command("init")
@click.option(
    "--admin",
    "admin_name",
    default="admin",
    show_default=True,
    help="Username of the first administrator.",
)
@click.option(
    "--password", envvar="EXAM_ADMIN_PASSWORD", help="Or EXAM_ADMIN_PASSWORD; prompted if absent."
)
@with_appcontext
def init_command(admin_name: str, password: str | None) -> None:
    """Create or upgrade the database and the first administrator."""
    upgrade_database()
    if db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("database is up to date; users exist already, no administrator created")
        return
    if not password:
        password = click.prompt(
            "password for the administrator", hide_input=True, confirmation_prompt=True
        )
    create_user(admin_name, password, [Role.ADMIN], "Administrator")
    db.session.commit()
    click.echo(f"database ready at {_safe_url()}; administrator {admin_name!r} created")


@main.group("user")
def user_group() -> None:
    """Manage staff accounts."""


@user_group.command("create")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(Role.ALL),
    help="Repeat for several roles.",
)
@click.option("--name", "display_name", default="", help="Display name.")
@click.option(
    "--password", envvar="EXAM_USER_PASSWORD", help="Or EXAM_USER_PASSWORD; prompted if absent."
)
@with_appcontext
def user_create(username: str, roles: tuple[str, ...], display_name: str, password: str | None):
    """Create a staff user with one or more roles."""
    if not password:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    user = create_user(username, password, list(roles), display_name)
    db.session.commit()
    click.echo(f"user {user.username} created with roles {', '.join(sorted(user.roles))}")


@user_group.command("list")
@with_appcontext
def user_list() -> None:
    """List staff users and their roles."""
    for u in db.session.scalars(select(User).order_by(User.username)):
        state = "" if u.active else " (disabled)"
        click.echo(f"{u.username}\t{','.join(sorted(u.roles))}{state}")


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check the whole hash chain; name the first changed, removed or reordered event."""
    rep = verify_chain(db.session)
    if rep.ok:
        click.echo(f"audit log intact: {rep.events} events, head {rep.head_hash}")
        return
    click.echo(f"audit log BROKEN at seq {rep.first_bad_seq}: {rep.problem}", err=True)
    click.echo(f"{rep.events} events before it verified", err=True)
    sys.exit(1)

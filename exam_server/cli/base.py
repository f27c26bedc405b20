"""The ``exam-server`` command group and what every area's commands share."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup
from sqlalchemy import select

from question_bank.audit import Actor
from question_bank.errors import DomainError, ImportRejected

from .. import create_app
from ..extensions import db
from ..models import User


def _create_app(*_args, **_kwargs):
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """Exam delivery server for vocational skill appraisal (职业技能等级认定).

    Quick start: `exam-server demo` runs a server with a demo bank on an SQLite file.
    Production: `exam-server init`, then gunicorn (see docs/operations.md).
    """


def _actor(username: str | None) -> Actor:
    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.UsageError(f"no user {username!r} (--as)")
        return user.actor
    return Actor(None, f"cli:{getpass.getuser()}")


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    click.echo(f"error: {exc.message}", err=True)
    if isinstance(exc, ImportRejected):
        for p in exc.problems:
            field = f" [{p['field']}]" if p.get("field") else ""
            click.echo(f"  {p['place']}{field}: {p['message']}", err=True)
    sys.exit(2)


def upgrade_database() -> None:
    from flask_migrate import upgrade

    # "heads": apply every branch, so migrations written in parallel never block each other.
    upgrade(directory=str(Path(__file__).parent.parent / "migrations"), revision="heads")


def create_user(
    username: str,
    password: str,
    roles: list[str],
    display_name: str = "",
    actor: Actor | None = None,
) -> User:
    from question_bank.audit import record

    if db.session.scalar(select(User.id).where(User.username == username)):
        raise click.UsageError(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name or username)
    try:
        user.roles = roles
        user.set_password(password)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    db.session.add(user)
    db.session.flush()
    record(
        db.session,
        actor or Actor(None, f"cli:{getpass.getuser()}"),
        "user.created",
        "user",
        user.id,
        data={"username": username, "roles": sorted(user.roles)},
    )
    return user


def _safe_url() -> str:
    return db.engine.url.render_as_string(hide_password=True)

"""Running the server: ``demo``, ``serve``, ``config``."""

from __future__ import annotations

import contextlib
import json
import os

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from .base import _safe_url, main, upgrade_database


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--setup-only", is_flag=True, help="Prepare the demo data and exit.")
@with_appcontext
def demo_command(host: str, port: int, setup_only: bool) -> None:
    """Run a server with a demo bank (electrician, level 4) and demo users."""
    from question_bank.db import utcnow

    from ..demo import DEMO_USERS, calibrate_demo_bank, setup_demo, setup_demo_session

    upgrade_database()
    summary = setup_demo()
    summary += "\n" + calibrate_demo_bank()
    code, access_code, candidates = setup_demo_session(utcnow())
    db.session.commit()
    click.echo(f"database: {_safe_url()}")
    click.echo(summary)
    click.echo("demo users (username / password / roles):")
    for name, password, roles in DEMO_USERS:
        click.echo(f"  {name:10} {password:14} {', '.join(roles)}")
    click.echo(
        f"demo session {code} is open: candidates sign in at /exam with room access "
        f"code {access_code} and start their own 90 minutes (window start, 24 hours)"
    )
    click.echo("  ticket number / ID number / name")
    for name, ticket, id_number in candidates:
        click.echo(f"  {ticket}  {id_number}  {name}")
    from ..sessions.models import ExamSession

    session_id = db.session.scalar(select(ExamSession.id).where(ExamSession.code == code))
    click.echo(
        f"proctor console: http://{host}:{port}/proctor/sessions/{session_id} "
        "(sign in as proctor or supervisor)"
    )
    if setup_only:
        return
    serve(current_app._get_current_object(), host, port)


def serve(app, host: str, port: int) -> None:
    """Serve HTTP and Socket.IO with gevent in this process, with the deadline sweeper."""
    from ..extensions import socketio
    from ..live import start_sweeper

    start_sweeper(app)
    click.echo(f"serving on http://{host}:{port}/  (Ctrl+C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        socketio.run(app, host=host, port=port, log_output=False, use_reloader=False)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Run the server in this process (production: gunicorn, see docs/operations.md)."""
    serve(current_app._get_current_object(), host, port)


@main.command("config")
@with_appcontext
def config_command() -> None:
    """Show the effective configuration (secrets hidden)."""
    cfg = current_app.config
    shown = {
        "database": _safe_url(),
        "redis": cfg.get("REDIS_URL") or "(none: embedded)",
        "instance_path": current_app.instance_path,
        "default_locale": cfg["BABEL_DEFAULT_LOCALE"],
        "secret_key": "set from EXAM_SECRET_KEY"
        if os.environ.get("EXAM_SECRET_KEY")
        else "generated in the instance folder",
    }
    click.echo(json.dumps(shown, indent=2, ensure_ascii=False))

"""Browser pages for staff. Pages render a shell; data comes from the JSON API via fetch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from ..auth import roles_required
from ..models import Role

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("home.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/bank/items")
@roles_required(Role.EDITOR, Role.REVIEWER, Role.SUPERVISOR)
def items():
    return render_template("bank/items.html")

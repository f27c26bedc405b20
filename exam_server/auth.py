"""Sign-in for people who work with the system (candidates sign in differently, per attempt).

* Browser: ``/login`` form -> Flask-Login session cookie; every state-changing request made with
  the cookie must carry the CSRF token (form field ``csrf_token`` or header ``X-CSRFToken``).
* JSON API: ``POST /api/auth/token`` with username and password -> a signed bearer token that
  expires (``EXAM_API_TOKEN_HOURS``) and dies when the password changes.

Role checks: :func:`roles_required` on every route; admins hold every role.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, Field
from sqlalchemy import select

from question_bank.audit import record
from question_bank.db import utcnow
from question_bank.errors import DomainError, Forbidden

from .extensions import csrf, db, limiter, login_manager
from .models import User
from .validation import parse_json

bp = Blueprint("auth", __name__)


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="exam-api-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "g": user.token_generation})


def user_from_token(token: str) -> User | None:
    max_age = int(float(current_app.config["API_TOKEN_HOURS"]) * 3600)
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("u"))
    if user is None or not user.is_active or user.token_generation != data.get("g"):
        return None
    return user


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    # The session id includes the token generation, so a password change ends old sessions.
    uid, _, gen = session_id.partition(":")
    user = db.session.get(User, int(uid)) if uid.isdigit() else None
    if user is None or str(user.token_generation) != gen or not user.is_active:
        return None
    return user


@login_manager.request_loader
def _load_from_header(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_from_token(header.removeprefix("Bearer ").strip())
        if user is not None:
            g.bearer_auth = True
        return user
    return None


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/"):
        raise Unauthorized("sign in first (session cookie or 'Authorization: Bearer <token>')")
    return redirect(url_for("auth.login", next=request.full_path))


def protect_csrf() -> None:
    """CSRF applies to cookie-authenticated writes; bearer-token requests carry no ambient
    credential, so they are exempt."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return
    # Sign-ins that take credentials in the body (no ambient cookie to abuse) are exempt too.
    if request.endpoint in ("auth.api_token", "candidate_api.sign_in"):
        return
    csrf.protect()


def roles_required(*roles: str) -> Callable:
    """Allow signed-in users who hold any of ``roles`` (admins always)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapped

    return decorate


def authenticate(username: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not user.check_password(password):
        return None
    user.last_login_at = utcnow()
    record(
        db.session,
        user.actor,
        "user.sign_in",
        "user",
        user.id,
        data={"ip": request.remote_addr, "via": request.path},
    )
    return user


def _login_rate() -> str:
    return f"{current_app.config['LOGIN_RATE_PER_MINUTE']}/minute"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def login():
    if request.method == "POST":
        user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is not None:
            login_user(user)
            nxt = request.args.get("next", "")
            # Only local paths, never another host.
            if not nxt.startswith("/") or nxt.startswith("//"):
                nxt = url_for("pages.home")
            return redirect(nxt)
        flash(_("Wrong username or password."), "error")
        return render_template("login.html"), 401
    return render_template("login.html")


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        record(db.session, current_user.actor, "user.sign_out", "user", current_user.id)
    logout_user()
    return redirect(url_for("auth.login"))


@bp.post("/api/auth/token")
@limiter.limit(_login_rate)
def api_token():
    body = parse_json(TokenRequest)
    user = authenticate(body.username, body.password)
    if user is None:
        raise Unauthorized("wrong username or password")
    hours = float(current_app.config["API_TOKEN_HOURS"])
    return jsonify(token=issue_token(user), expires_in=int(hours * 3600), user=user.to_dict())


@bp.get("/api/auth/me")
@roles_required()
def api_me():
    return jsonify(user=current_user.to_dict())

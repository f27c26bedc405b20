"""Sign-in (browser and API), roles, CSRF and the JSON error shape."""

from __future__ import annotations

import re

from exam_server.extensions import db
from exam_server.models import User
from tests.conftest import make_user


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_api_token_and_me(app, api_as):
    api = api_as("editor")
    resp = api.get("/api/auth/me")
    assert resp.status_code == 200
    assert resp.get_json()["user"]["roles"] == ["editor"]


def test_wrong_password_is_401_with_error_shape(app):
    make_user("li", ("editor",))
    resp = app.test_client().post("/api/auth/token", json={"username": "li", "password": "nope"})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "unauthorized", "message": "wrong username or password"}


def test_token_body_validation_names_the_field(app):
    resp = app.test_client().post("/api/auth/token", json={"username": "li"})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "validation_error" and body["field"] == "password"
    resp = app.test_client().post("/api/auth/token", data="not json")
    assert resp.status_code == 422 and resp.get_json()["field"] == "body"


def test_no_credentials_is_401_and_bad_token_is_401(app):
    client = app.test_client()
    assert client.get("/api/items").status_code == 401
    resp = client.get("/api/items", headers={"Authorization": "Bearer forged.token.value"})
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"


def test_role_is_checked(app, api_as):
    proctor = api_as("proctor")
    resp = proctor.get("/api/items")
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "forbidden"
    # Admins hold every role.
    assert api_as("admin").get("/api/items").status_code == 200


def test_password_change_revokes_tokens(app, api_as):
    api = api_as("editor")
    assert api.get("/api/auth/me").status_code == 200
    user = db.session.query(User).filter_by(username="editor").one()
    user.set_password("another-password")
    db.session.commit()
    assert api.get("/api/auth/me").status_code == 401


def test_unknown_route_is_json_404(app, api_as):
    resp = api_as("editor").get("/api/no-such-thing")
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


def test_browser_sign_in_needs_csrf_and_sets_session(app):
    make_user("wang", ("editor",))
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    # Without the CSRF token the form post is refused.
    resp = client.post("/login", data={"username": "wang", "password": "password-123"})
    assert resp.status_code == 400
    resp = client.post(
        "/login",
        data={"username": "wang", "password": "password-123", "csrf_token": _csrf(page.text)},
    )
    assert resp.status_code == 302
    assert client.get("/api/auth/me").get_json()["user"]["username"] == "wang"
    # A cookie-authenticated API write also needs the token (header), a bearer one does not.
    body = {"code": "X-1", "name": "测试"}
    assert client.post("/api/occupations", json=body).status_code == 400
    token = _csrf(client.get("/").text)
    resp = client.post("/api/occupations", json=body, headers={"X-CSRFToken": token})
    assert resp.status_code == 201


def test_wrong_browser_password_and_open_redirect(app):
    make_user("zhao", ("editor",))
    client = app.test_client()
    token = _csrf(client.get("/login").text)
    resp = client.post("/login", data={"username": "zhao", "password": "x", "csrf_token": token})
    assert resp.status_code == 401
    resp = client.post(
        "/login?next=//evil.example/",
        data={"username": "zhao", "password": "password-123", "csrf_token": token},
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_sign_in_is_rate_limited(app):
    app.config["LOGIN_RATE_PER_MINUTE"] = 3
    make_user("qian", ("editor",))
    client = app.test_client()
    codes = [
        client.post("/api/auth/token", json={"username": "qian", "password": "bad"}).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429
    resp = client.post("/api/auth/token", json={"username": "qian", "password": "password-123"})
    assert resp.status_code == 429 and resp.get_json()["error"] == "too_many_requests"


def test_security_headers(app):
    resp = app.test_client().get("/login")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_sign_in_is_audited(app, api_as):
    api_as("editor")
    from question_bank.audit import AuditEvent

    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert "user.sign_in" in actions

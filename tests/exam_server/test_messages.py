"""Messages reach people in their language: API errors (domain, pydantic, HTTP), socket replies,
and the message objects themselves (codes, parameters, nested messages)."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, Field, ValidationError

from exam_server import socket_replies
from exam_server.i18n import gettext_for, normalize_locale
from question_bank.errors import Conflict, ValidationFailed
from question_bank.messages import Msg, localize, msg, pydantic_message

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_msg_renders_english_and_chinese_with_parameters():
    m = msg(
        "query_out_of_range", "%(name)s must be between %(lo)s and %(hi)s.", name="n", lo=1, hi=5
    )
    assert str(m) == "n must be between 1 and 5."
    assert m.render(gettext_for("zh_CN")) == "n 必须在 1 到 5 之间。"
    assert m.render(gettext_for("en")) == "n must be between 1 and 5."


def test_nested_messages_and_lists_render_in_the_same_language():
    inner = msg("field_required", "This field is required.")
    outer = msg("field_invalid", "%(field)s: %(message)s", field="name", message=inner)
    assert outer.render(gettext_for("zh_CN")) == "name：此项为必填项。"
    joined = msg("x_list", "%(field)s: %(message)s", field="a", message=[inner, inner])
    assert joined.render(gettext_for("zh_CN")) == "a：此项为必填项。、此项为必填项。"
    assert localize({"a": [inner], "b": 3}, gettext_for("en")) == {
        "a": ["This field is required."],
        "b": 3,
    }


def test_message_codes_are_checked():
    with pytest.raises(ValueError, match="lower_snake_case"):
        Msg("Bad Code", "x")


class _Body(BaseModel):
    code: str = Field(pattern=r"^\d-\d\d$")
    tags: list[str] = Field(default_factory=list, max_length=2)
    n: int = Field(default=0, ge=0, le=10)


@pytest.mark.parametrize(
    ("data", "english"),
    [
        ({"code": "x"}, "The format is not valid."),
        ({"code": "1-01", "tags": ["a", "b", "c"]}, "Must have at most 2 entries."),
        ({"code": "1-01", "n": 11}, "Must be at most 10."),
        ({}, "This field is required."),
    ],
)
def test_pydantic_errors_become_messages_without_patterns(data, english):
    with pytest.raises(ValidationError) as info:
        _Body.model_validate(data)
    m = pydantic_message(info.value.errors()[0])
    assert m.render() == english
    zh = m.render(gettext_for("zh_CN"))
    assert CJK.search(zh) and "pattern" not in zh and "should" not in zh


def test_locale_names_are_normalized():
    assert normalize_locale("zh-CN") == "zh_CN"
    assert normalize_locale("zh_Hans_CN") == "zh_CN"
    assert normalize_locale("en-GB") == "en"
    assert normalize_locale("fr") is None


def test_api_errors_follow_accept_language(api_as):
    editor = api_as("editor")
    bad = {"code": "not a code", "name": "x"}
    zh = editor.post("/api/occupations", json=bad, headers={"Accept-Language": "zh-CN"})
    en = editor.post("/api/occupations", json=bad, headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 422
    assert zh.get_json()["error"] == en.get_json()["error"] == "validation_error"
    assert CJK.search(zh.get_json()["message"]), zh.get_json()
    assert "should match" not in zh.get_json()["message"]
    assert not CJK.search(en.get_json()["message"]), en.get_json()
    # the details carry every problem, rendered too
    assert all(CJK.search(d["message"]) for d in zh.get_json()["details"])


def test_http_errors_are_translated(api_as):
    editor = api_as("editor")
    zh = editor.get("/api/no-such-thing", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 404
    assert zh.get_json() == {"error": "not_found", "message": "找不到该页面或记录。"}
    en = editor.get("/api/no-such-thing", headers={"Accept-Language": "en"})
    assert en.get_json()["message"] == "The page or record was not found."


def test_domain_errors_carry_reason_and_translate(app):
    exc = ValidationFailed(msg("field_required", "This field is required."), field="name")
    body = exc.to_dict(gettext_for("zh_CN"))
    assert body == {
        "error": "validation_error",
        "message": "此项为必填项。",
        "reason": "field_required",
        "field": "name",
    }
    # a plain string still works (no reason: it is not a catalogue message)
    assert Conflict("legacy text").to_dict() == {"error": "conflict", "message": "legacy text"}


def test_socket_error_replies_render_in_the_connection_language(app):
    reply = socket_replies.unauthorized()
    assert socket_replies.render(reply, "zh_CN")["message"] == "请重新登录。"
    assert socket_replies.render(reply, "en")["message"] == "Please sign in again."
    ok = {"ok": True, "value": 1}
    assert socket_replies.render(ok, "zh_CN") is ok

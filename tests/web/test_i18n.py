"""The translation catalogue: every message of the source (gettext calls, templates and every
``msg(code, template)`` of the services) translated, no stale entries, one template per message
code, and Flask-Babel and the socket/CLI renderers actually using the catalogue."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from exam_server import i18n_tools

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "exam_server" / "translations"


def test_catalogue_is_in_step_with_the_source():
    """Fails on an untranslated, fuzzy, missing or stale message, on placeholders that differ,
    and on a message code used with two templates (run ./dev i18n and translate)."""
    problems = i18n_tools.problems()
    assert not problems, "\n".join(problems)


def test_every_message_code_is_translated():
    """Walks every ``msg(code, template)`` in the packages: each renders in Chinese to a text
    other than its English template (an untranslated code fails here by name)."""
    from exam_server.i18n import gettext_for

    zh = gettext_for("zh_CN")
    uses = list(i18n_tools.msg_uses())
    assert len(uses) > 20
    untranslated = sorted(
        {
            u.code
            for u in uses
            if zh(u.template) == u.template and re.search("[A-Za-z]{3}", u.template)
        }
    )
    assert not untranslated, untranslated


def test_compiled_catalogue_is_fresh():
    """The .mo that gettext reads holds what the .po says (./dev setup compiles it)."""
    import gettext

    i18n_tools.compile_catalogs()
    po = i18n_tools.read(i18n_tools.LOCALES["zh_Hans_CN"], "zh_Hans_CN")
    with (TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        mo = gettext.GNUTranslations(f)
    for m in po:
        if m.id and isinstance(m.id, str) and m.string:
            got = mo.pgettext(m.context, m.id) if m.context else mo.gettext(m.id)
            assert got == m.string


@contextmanager
def request_in(app, query: str):
    """A request context with its own locale (the test's app context is shared, and Flask-Babel
    caches the locale on it)."""
    import flask_babel

    with app.test_request_context(f"/{query}"):
        flask_babel.refresh()
        yield


def leaves(node, prefix=""):
    """``(dotted key, text)`` of every text in a nested dict of script texts."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), node


def script_texts(app, strings: Callable[[], dict]) -> dict[str, str]:
    """The English texts (by dotted key) of ``strings()``, the texts a view hands its page
    scripts; checked to have the same keys in Chinese, every one of them translated."""
    with request_in(app, "?lang=en"):
        english = dict(leaves(strings()))
    with request_in(app, "?lang=zh_CN"):
        chinese = dict(leaves(strings()))
    assert english.keys() == chinese.keys()
    same = [k for k in english if english[k] == chinese[k]]
    assert not same, same
    return english


def i18n_block(html: str) -> dict:
    """The script texts a page carries in its ``<script id="i18n">`` JSON block."""
    return json.loads(re.search(r'id="i18n">(.*?)</script>', html, re.S).group(1))


def test_flask_babel_finds_the_catalog(app):
    from flask_babel import gettext as _

    assert Path(app.config["BABEL_TRANSLATION_DIRECTORIES"]) == TRANSLATIONS
    with request_in(app, ""):
        assert _("Items") == "题库"
        assert _("Welcome, %(name)s", name="李") == "欢迎，李"
    with request_in(app, "?lang=en"):
        assert _("Items") == "Items"


def test_chinese_script_texts_differ_from_english(app):
    """Every text the page scripts show is translated (no English left in the zh_CN UI)."""
    from exam_server.views.pages import js_strings

    script_texts(app, js_strings)

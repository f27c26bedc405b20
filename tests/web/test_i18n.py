"""The translation catalogs: compiled .mo in step with the .po, every message translated, the
template (.pot) in step with the source, and Flask-Babel actually using the catalog."""

from __future__ import annotations

import gettext
import io
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "exam_server" / "translations"
POT = TRANSLATIONS / "messages.pot"
# Babel parses the configured default locale "zh_CN" as zh_Hans_CN; the catalog lives there.
ZH_DIR = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES"
REFRESH = "re-run the pybabel commands listed in babel.cfg"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _ids(catalog) -> set[str]:
    return {m.id for m in catalog if m.id}


@pytest.fixture(scope="module")
def zh():
    return _read(ZH_DIR / "messages.po", "zh_Hans_CN")


def test_compiled_catalog_matches_the_po(zh):
    buffer = io.BytesIO()
    write_mo(buffer, zh)
    buffer.seek(0)
    expected = gettext.GNUTranslations(buffer)._catalog
    with (ZH_DIR / "messages.mo").open("rb") as f:
        stored = gettext.GNUTranslations(f)._catalog
    assert stored == expected, f"messages.mo is stale: {REFRESH}"


def test_every_message_of_the_template_is_translated(zh):
    pot = _read(POT)
    assert len(_ids(pot)) > 100
    problems = []
    for message in pot:
        if not message.id:
            continue
        translated = zh.get(message.id)
        if translated is None or not translated.string:
            problems.append(f"untranslated: {message.id!r}")
        elif translated.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif set(PLACEHOLDER.findall(message.id)) != set(PLACEHOLDER.findall(translated.string)):
            problems.append(f"placeholders differ: {message.id!r} -> {translated.string!r}")
    assert not problems, "\n".join(problems)
    assert not zh.obsolete


def test_template_is_in_step_with_the_source():
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = {
        msgid
        for _file, _line, msgid, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map
        )
        if isinstance(msgid, str)
    }
    pot = _ids(_read(POT))
    assert not found - pot, f"strings missing from messages.pot ({REFRESH}): {sorted(found - pot)}"
    assert not pot - found, f"stale strings in messages.pot ({REFRESH}): {sorted(pot - found)}"


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

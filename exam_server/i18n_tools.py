"""Keep the translation catalogue in step with the source (a developer tool, ``./dev i18n``).

    python -m exam_server.i18n_tools update    # add new messages, drop removed ones, sort
    python -m exam_server.i18n_tools check     # exit 1 on untranslated, fuzzy or stale entries
    python -m exam_server.i18n_tools compile   # write the .mo files (./dev setup does this)
    python -m exam_server.i18n_tools todo      # the untranslated messages, as JSON to fill in
    python -m exam_server.i18n_tools fill F.json  # set translations from {"English": "中文"}
    python -m exam_server.i18n_tools resolve   # after a git merge conflict in the .po: keep both

Source strings are English; ``zh_Hans_CN/LC_MESSAGES/messages.po`` is the one catalogue in git
(the ``.pot`` template and the compiled ``.mo`` are build products, not committed, so parallel
branches only ever merge the sorted ``.po``). Messages are found by Babel's extractors
(``babel.cfg``) with these keywords: gettext's usual ones, ``_l``/``lazy_gettext``, ``N_`` (a
marked label) and ``msg(code, template, …)`` (:mod:`question_bank.messages`, the template is the
second argument). The ``.po`` header is kept as it is, so an update changes only real entries.
"""

from __future__ import annotations

import ast
import contextlib
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALES = {"zh_Hans_CN": TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"}
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "N_": None, "msg": (2,)}
# Directories never searched for messages.
SKIP_DIRS = {"node_modules", "tests", "bench", "deploy", "docs", "build", "dist", "instance"}
PLACEHOLDER_CHARS = "%("


def _mapping():
    with (ROOT / "babel.cfg").open() as f:
        return parse_mapping_cfg(f)


def extract() -> Catalog:
    """Every translatable message of the source, as a template catalogue."""
    method_map, options_map = _mapping()
    catalog = Catalog(project="exam-server")

    def keep(dirpath: str) -> bool:
        name = Path(dirpath).name
        return not (name.startswith((".", "_")) or name in SKIP_DIRS)

    # Babel warns about every f-string argument of a keyword call, including msg()'s parameter
    # values (never translated themselves); only the template, a plain literal, is extracted.
    with contextlib.redirect_stderr(io.StringIO()):
        found = list(
            extract_from_dir(
                str(ROOT),
                method_map,
                options_map,
                keywords=KEYWORDS,
                strip_comment_tags=True,
                directory_filter=keep,
            )
        )
    for filename, lineno, message, comments, context in found:
        if not message or (isinstance(message, tuple) and not message[0]):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read(path: Path, locale: str) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _write(path: Path, catalog: Catalog) -> None:
    import io
    import re

    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, no_location=True, sort_output=True, include_previous=False)
    # Babel writes its own version into the header; a fixed name keeps the file independent of
    # the installed Babel (a version bump must not change or conflict the catalogue).
    text = re.sub(
        rb'"Generated-By: [^"]*"', rb'"Generated-By: exam-server i18n_tools\\n"', buffer.getvalue()
    )
    path.write_bytes(text)


def update() -> list[str]:
    """Add new messages (untranslated) and drop removed ones in every catalogue; returns a
    report of what changed."""
    template = extract()
    report: list[str] = []
    for locale, path in LOCALES.items():
        catalog = read(path, locale)
        wanted = {m.id for m in template if m.id}
        have = {m.id for m in catalog if m.id}
        for message in template:
            if message.id and message.id not in have:
                catalog.add(message.id, "" if isinstance(message.id, str) else ("",) * 2)
                report.append(f"{locale}: new {message.id!r}")
        for mid in sorted(have - wanted, key=str):
            report.append(f"{locale}: removed {mid!r} ({catalog[mid].string!r})")
            del catalog[mid]
        for message in catalog:
            flags = set(message.flags)
            ident = message.id if isinstance(message.id, str) else message.id[0]
            if message.id and PLACEHOLDER_CHARS in ident:
                flags.add("python-format")
            else:
                flags.discard("python-format")
            message.flags = flags
            message.locations = []
        catalog.obsolete.clear()
        _write(path, catalog)
    return report


@dataclass(frozen=True)
class MsgUse:
    code: str
    template: str
    where: str


def msg_uses() -> Iterator[MsgUse]:
    """Every ``msg("code", "template", …)`` call in our Python packages."""
    for sub in ("exam_server", "question_bank", "item_analysis"):
        for path in sorted((ROOT / sub).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == "msg"
                    and len(node.args) >= 2
                    and all(isinstance(a, ast.Constant) for a in node.args[:2])
                ):
                    code, template = node.args[0].value, node.args[1].value
                    rel = path.relative_to(ROOT)
                    yield MsgUse(str(code), str(template), f"{rel}:{node.lineno}")


def problems() -> list[str]:
    """Everything that is not in step: untranslated, fuzzy, missing or stale messages,
    placeholders that differ, and message codes used for two different templates."""
    import re

    placeholder = re.compile(r"%\((\w+)\)s")
    out: list[str] = []
    template = extract()
    wanted = {m.id for m in template if m.id}
    for locale, path in LOCALES.items():
        catalog = read(path, locale)
        have = {m.id for m in catalog if m.id}
        for mid in sorted(wanted - have, key=str):
            out.append(f"{locale}: missing {mid!r} (run ./dev i18n)")
        for mid in sorted(have - wanted, key=str):
            out.append(f"{locale}: stale {mid!r} (run ./dev i18n)")
        for m in catalog:
            if not m.id or m.id not in wanted:
                continue
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            ident = m.id if isinstance(m.id, str) else m.id[0]
            if not all(strings):
                out.append(f"{locale}: untranslated {ident!r}")
            elif m.fuzzy:
                out.append(f"{locale}: fuzzy {ident!r}")
            elif any(
                set(placeholder.findall(ident)) != set(placeholder.findall(s)) for s in strings
            ):
                out.append(f"{locale}: placeholders differ in {ident!r} -> {strings!r}")
    seen: dict[str, MsgUse] = {}
    for use in msg_uses():
        first = seen.setdefault(use.code, use)
        if first.template != use.template:
            out.append(
                f"message code {use.code!r} has two templates: {first.where} "
                f"{first.template!r} and {use.where} {use.template!r}"
            )
    return out


def resolve_conflict() -> list[str]:
    """Resolve a git merge conflict in the catalogue: the union of both sides' entries (a
    translation present on one side only wins over an empty one; where both sides translated
    a message differently, ours is kept and the other is reported), then :func:`update`."""
    import subprocess

    report: list[str] = []
    for locale, path in LOCALES.items():
        rel = path.relative_to(ROOT)

        def side(stage: int, rel=rel, locale=locale) -> Catalog:
            data = subprocess.run(
                ["git", "show", f":{stage}:{rel}"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            return read_po(io.BytesIO(data), locale=locale)

        ours, theirs = side(2), side(3)
        for m in theirs:
            if not m.id:
                continue
            mine = ours.get(m.id, context=m.context)
            if mine is None:
                ours[m.id] = m
            elif not mine.string and m.string:
                mine.string = m.string
            elif m.string and mine.string != m.string:
                report.append(
                    f"{locale}: kept ours for {m.id!r}: {mine.string!r} (theirs {m.string!r})"
                )
        _write(path, ours)
        subprocess.run(["git", "add", str(rel)], cwd=ROOT, check=True)
    report.extend(update())
    compile_catalogs()
    return report


def compile_catalogs() -> None:
    for locale, path in LOCALES.items():
        catalog = read(path, locale)
        with path.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        for line in update():
            print(line)
        compile_catalogs()
        left = [p for p in problems() if "untranslated" in p]
        if left:
            print(f"{len(left)} messages to translate in {', '.join(map(str, LOCALES.values()))}")
        return 0
    if command == "check":
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    if command == "compile":
        compile_catalogs()
        return 0
    if command == "resolve":
        for line in resolve_conflict():
            print(line)
        return 0
    if command == "todo":
        import json

        catalog = read(LOCALES["zh_Hans_CN"], "zh_Hans_CN")
        todo = {m.id: "" for m in catalog if m.id and isinstance(m.id, str) and not m.string}
        print(json.dumps(todo, ensure_ascii=False, indent=1))
        return 0
    if command == "fill" and len(argv) == 2:
        import json

        texts = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        path = LOCALES["zh_Hans_CN"]
        catalog = read(path, "zh_Hans_CN")
        unknown = [k for k in texts if k not in catalog]
        for key, text in texts.items():
            if key in catalog and text:
                catalog[key].string = text
                catalog[key].flags.discard("fuzzy")
        _write(path, catalog)
        compile_catalogs()
        for key in unknown:
            print(f"not in the catalogue (run update first?): {key!r}")
        return 1 if unknown else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Browser pages for staff. Pages render a shell; data comes from the JSON API via fetch.

Every page checks roles here (the API checks them again for every call). Page scripts live in
``web/static/js``; they read their texts from the ``<script type="application/json" id="i18n">``
block that :func:`js_strings` fills, so the Content-Security-Policy can forbid inline scripts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from question_bank.models import BankRelease, Item
from question_bank.schema import LEVEL_NAMES, LEVELS

from ..auth import roles_required
from ..extensions import db
from ..models import Role, User

bp = Blueprint("pages", __name__)

READERS = (Role.EDITOR, Role.REVIEWER, Role.SUPERVISOR)


# -- template helpers (available in every template) -------------------------------------------


@bp.app_template_global()
def user_roles() -> str:
    """The signed-in user's effective roles as a space-separated list (admins hold all)."""
    if not getattr(current_user, "is_authenticated", False):
        return ""
    return " ".join(r for r in Role.ALL if current_user.has_role(r))


@bp.app_template_global()
def html_lang() -> str:
    """The page language as an HTML tag: "zh-CN" or "en". (Babel spells the default locale
    zh_Hans_CN, so templates compare this rather than the locale string.)"""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh-CN"


@bp.app_template_global()
def lang_switch_url(lang: str) -> str:
    """The current page in another language, keeping its query (filters survive the switch)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", lang))
    return f"{request.path}?{urlencode(args)}"


def level_choices(lang: str) -> list[tuple[int, str]]:
    index = 1 if lang == "en" else 0
    return [(n, LEVEL_NAMES[n][index]) for n in sorted(LEVELS, reverse=True)]


def status_labels() -> dict[str, str]:
    return {
        "draft": _("Draft"),
        "in_review": _("In review"),
        "approved": _("Approved"),
        "retired": _("Retired"),
    }


def type_labels() -> dict[str, str]:
    return {
        "true_false": _("True/false"),
        "single_choice": _("Single choice"),
        "multiple_choice": _("Multiple choice"),
        "fill_blank": _("Fill in the blank"),
    }


def normalize_labels() -> dict[str, str]:
    return {
        "trim": _("Ignore leading and trailing spaces"),
        "width": _("Treat full-width and half-width characters alike"),
        "case": _("Ignore letter case"),
        "space": _("Ignore all spaces"),
    }


def js_strings() -> dict[str, Any]:
    """Texts the page scripts show, translated for the current request."""
    return {
        "status": status_labels(),
        "type": type_labels(),
        "normalize": normalize_labels(),
        "loading": _("Loading…"),
        "saving": _("Saving…"),
        "network_error": _("The server could not be reached. Check the connection and try again."),
        "error_prefix": _("Refused:"),
        "any": _("Any"),
        "choose_occ_level": _("Choose an occupation and level first"),
        "none": _("None"),
        "none_found": _("No items match these filters."),
        "found": _("%(n)s items found"),
        "page_of": _("Page %(page)s of %(pages)s"),
        "previous": _("Previous"),
        "next": _("Next"),
        "select_item": _("Select %(code)s"),
        "submitted_n": _("%(n)s items submitted for review."),
        "submit_failed": _("%(code)s: %(message)s"),
        "nothing_selected": _("Select at least one draft item first."),
        "version_n": _("Version %(n)s"),
        "latest": _("latest"),
        "correct": _("Correct"),
        "true": _("True"),
        "false": _("False"),
        "blank_n": _("Blank %(n)s"),
        "accepted": _("Accepted answers"),
        "rules": _("Comparison rules"),
        "exact": _("Exact comparison"),
        "show_en": _("Show English translation"),
        "show_zh": _("Show original (Chinese)"),
        "no_translation": _("This version has no English translation."),
        "no_changes": _("The two versions have the same content."),
        "same_version": _("Choose two different versions."),
        "change": {"added": _("Added"), "removed": _("Removed"), "changed": _("Changed")},
        "diff_caption": _("Changes from version %(a)s to version %(b)s"),
        "no_reviews": _("No review steps yet."),
        "user_n": _("User %(n)s"),
        "done_submit": _("Submitted for review."),
        "done_withdraw": _("Withdrawn from review; the version is a draft again."),
        "done_approve": _("Approved."),
        "done_reject": _("Rejected; the version is a draft again."),
        "done_retire": _("Retired."),
        "comment_needed": _("Write a comment saying why."),
        "queue_empty": _("Nothing is waiting for review."),
        "queue_count": _("%(n)s versions waiting for review"),
        "approved_code": _("%(code)s version %(version)s approved."),
        "open": _("Open"),
        "approve": _("Approve"),
        "open_label": _("Open %(code)s version %(version)s"),
        "approve_label": _("Approve %(code)s version %(version)s"),
        "saved": _("Saved. Opening the item…"),
        "fix_fields": _("The item was not saved. Correct the marked field."),
        "option_n": _("Option %(label)s"),
        "option_en_n": _("Option %(label)s (English)"),
        "correct_option": _("Option %(label)s is correct"),
        "accepted_help": _("One accepted answer per line"),
        "stem_blanks": _("The stem marks %(n)s blanks."),
        "no_releases": _("No releases yet."),
        "release_created": _("Release created. Opening it…"),
        "against_none": _("This is the first release; every item is new."),
        "diff_against": _("Compared with release %(name)s"),
        "changed_versions": _("version %(a)s → %(b)s"),
        "importing": _("Importing… large files can take a minute."),
        "import_rejected": _(
            "The import was refused: %(n)s problems. Nothing was written to the bank."
        ),
        "import_done": _("Import finished."),
        "import_skipped": _("%(n)s questions skipped"),
        "import_styling": _("Editor styling removed: %(n)s attributes or tags"),
        "exporting": _("Preparing the export…"),
        "exported": _("Download started: %(name)s"),
        "latest_versions": _("Newest version of every item"),
        "kp_module": _("(module)"),
        "levels": {str(n): name for n, name in level_choices(html_lang())},
        "label": {
            "title": _("Title"),
            "explanation": _("Explanation"),
            "status": _("Status"),
            "type": _("Item type"),
            "points": _("Points"),
            "difficulty": _("Difficulty"),
            "knowledge_point": _("Knowledge point"),
            "tags": _("Tags"),
            "author": _("Author"),
            "created": _("Created"),
            "change_note": _("Change note"),
            "content_hash": _("Content hash"),
            "review_history": _("Review history"),
            "occupation": _("Occupation"),
            "level": _("Level"),
            "latest_version": _("Latest version"),
        },
    }


def _page(template: str, **context: Any) -> str:
    return render_template(
        template,
        js_strings=js_strings(),
        levels=level_choices(html_lang()),
        status_labels=status_labels(),
        type_labels=type_labels(),
        **context,
    )


def _user_names() -> dict[int, str]:
    return {u.id: u.display_name or u.username for u in db.session.scalars(select(User))}


# -- pages ------------------------------------------------------------------------------------


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("home.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/bank/items")
@roles_required(*READERS)
def items():
    return _page("bank/items.html", args=request.args)


@bp.get("/bank/items/new")
@roles_required(Role.EDITOR)
def item_new():
    return _page("bank/edit.html", code=None, normalize_labels=normalize_labels())


@bp.get("/bank/items/<code>")
@roles_required(*READERS)
def item_view(code: str):
    if db.session.scalar(select(Item.id).where(Item.code == code)) is None:
        abort(404, _("There is no item with the code %(code)s.", code=code))
    return _page("bank/item.html", code=code, users=_user_names())


@bp.get("/bank/items/<code>/edit")
@roles_required(Role.EDITOR)
def item_edit(code: str):
    if db.session.scalar(select(Item.id).where(Item.code == code)) is None:
        abort(404, _("There is no item with the code %(code)s.", code=code))
    return _page("bank/edit.html", code=code, normalize_labels=normalize_labels())


@bp.get("/bank/review")
@roles_required(Role.REVIEWER)
def review_queue():
    return _page("bank/review.html")


@bp.get("/bank/releases")
@roles_required(*READERS)
def releases():
    return _page("bank/releases.html", args=request.args)


@bp.get("/bank/releases/<int:release_id>")
@roles_required(*READERS)
def release_view(release_id: int):
    release = db.session.get(BankRelease, release_id)
    if release is None:
        abort(404, _("There is no release %(id)s.", id=release_id))
    level_name = dict(level_choices(html_lang())).get(release.level, str(release.level))
    return _page("bank/release.html", release=release, level_name=level_name, users=_user_names())


@bp.get("/bank/import")
@roles_required(Role.EDITOR)
def import_page():
    return _page("bank/import.html")


@bp.get("/bank/export")
@roles_required(*READERS)
def export_page():
    return _page("bank/export.html", args=request.args)

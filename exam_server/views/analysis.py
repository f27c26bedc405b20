"""Staff pages of the improvement loop: analysis runs (the list with the upload form), one run's
report, the review tasks raised by flagged items, and one item's statistics per version. Data
comes from ``/api/analysis``, ``/api/review-tasks`` and ``/api/items/<code>/statistics`` via
fetch; the plots are PNG images served by the API.

The page scripts (``analysis_*.js``) read their texts from the i18n block: the common texts of
:func:`exam_server.views.pages.js_strings` plus ``an``, filled by :func:`analysis_strings`; they
look them up with ``at(key)`` from ``analysis_common.js``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from question_bank.models import Item
from question_bank.statistics import MIN_RESPONSES, AnalysisRun

from ..auth import roles_required
from ..extensions import db
from ..models import Role
from .pages import html_lang, js_strings, level_choices

bp = Blueprint("analysis_pages", __name__)

READERS = (Role.EDITOR, Role.REVIEWER, Role.SUPERVISOR)
# Who may start an analysis (the API allows the same roles).
ANALYSTS = (Role.EDITOR, Role.REVIEWER)


def reason_labels() -> dict[str, str]:
    """Readable names of the flags' reason codes (see docs/item_analysis.md, "Flags")."""
    return {
        "possible_key_error": _("Possible key error"),
        "low_discrimination": _("Low discrimination"),
        "too_easy": _("Too easy"),
        "too_hard": _("Too hard"),
        "non_functioning_distractor": _("Distractor hardly chosen"),
        "alpha_if_deleted": _("Reliability rises without it"),
        "item_misfit": _("IRT model does not fit"),
    }


def reason_help() -> dict[str, str]:
    """What each flag compares, for the legend under the item table."""
    return {
        "possible_key_error": _(
            "A distractor correlates more strongly with the rest score than the key does (the "
            "threshold is the key's option-rest r), or the item-rest r is negative (threshold "
            "0). Check the key first."
        ),
        "low_discrimination": _(
            "The item-rest correlation is below the threshold: the item separates stronger and "
            "weaker candidates poorly."
        ),
        "too_easy": _("The facility (proportion correct) is above the threshold."),
        "too_hard": _(
            "The facility is below the threshold, or hardly above what guessing would give."
        ),
        "non_functioning_distractor": _(
            "The named distractor is chosen by fewer candidates than the threshold share."
        ),
        "alpha_if_deleted": _(
            "The test's reliability without this item exceeds the reliability with it (the "
            "threshold)."
        ),
        "item_misfit": _(
            "The item's answers depart from the IRT model: the p-value of the Orlando–Thissen "
            "S-X² item-fit statistic is below the threshold."
        ),
    }


def measure_labels() -> dict[str, str]:
    """The quantity a flag's value measures, per reason."""
    return {
        "possible_key_error": _("option-rest r of option %(option)s"),
        "possible_key_error_item": _("item-rest r"),
        "low_discrimination": _("item-rest r"),
        "too_easy": _("facility"),
        "too_hard": _("facility"),
        "non_functioning_distractor": _("share choosing option %(option)s"),
        "alpha_if_deleted": _("reliability without the item"),
        "item_misfit": _("S-X² p-value"),
    }


def task_status_labels() -> dict[str, str]:
    return {"open": _("Still open"), "resolved": _("Resolved"), "dismissed": _("Dismissed")}


def analysis_strings() -> dict[str, Any]:
    """Texts of the analysis page scripts, translated for the current request."""
    return {
        "reason": reason_labels(),
        "measure": measure_labels(),
        "task_status": task_status_labels(),
        "source": {"upload": _("Upload: %(ref)s"), "session": _("Session %(ref)s")},
        "irt_model": {"": _("None"), "rasch": _("Rasch"), "2pl": _("2PL")},
        "unit": {"points": _("points"), "percent": _("percent of the points seen")},
        "no_runs": _("No analysis runs yet."),
        "runs_n": _("Analysis runs, newest first: %(n)s"),
        "open_run": _("Open the report of run %(label)s"),
        "analysing": _("Analysing the responses… large files can take a minute."),
        "analysed": _("Analysis finished. Opening the report…"),
        "required": _("%(field)s is required."),
        "fix_fields": _("The responses were not analysed. Correct the marked field."),
        "no_flags": _("No flag"),
        "flag_detail": _("%(measure)s %(value)s %(op)s threshold %(threshold)s"),
        "reliability": {"KR-20": _("KR-20"), "alpha": _("Cronbach's alpha")},
        "missing_by_design": _(
            "Candidates saw different items (randomised papers); reliability describes a paper of "
            "%(n)s items."
        ),
        "similarity": _(
            "Answer similarity: %(pairs)s candidate pairs compared, %(found)s with significant "
            "similarity (false discovery rate %(q)s)."
        ),
        "irt_summary": _(
            "%(model)s model: log-likelihood %(ll)s, AIC %(aic)s, BIC %(bic)s, %(iter)s EM "
            "cycles, %(converged)s."
        ),
        "converged": _("converged"),
        "not_converged": _("not converged"),
        "alt_histogram": _(
            "Histogram of the candidates' scores (%(unit)s): %(n)s candidates, mean %(mean)s, "
            "SD %(sd)s. The counts per score band are in the table under the figure."
        ),
        "alt_map": _(
            "Scatter plot of the items: facility (proportion correct) across, item-rest "
            "correlation up; %(flagged)s of %(n)s items flagged, drawn as red triangles. The "
            "values are in the item table."
        ),
        "alt_information": _(
            "Test information by ability θ from −4 to 4; highest %(max)s at θ = %(at)s. The "
            "values are in the table under the figure."
        ),
        "alt_trace": _(
            "Option trace lines of %(code)s: share of each score group choosing each option; "
            "the key is the thick green line. The numbers are in the option table."
        ),
        "image_failed": _("The figure could not be loaded."),
        "band": _("%(from)s to %(to)s"),
        "items_shown": _("%(shown)s of %(n)s items shown"),
        "no_items_shown": _("No item matches the filter."),
        "details": _("Details"),
        "details_of": _("Details of %(code)s"),
        "hide_details": _("Hide details"),
        "hide_details_of": _("Hide the details of %(code)s"),
        "open_item": _("Open item %(code)s version %(version)s"),
        "sorted_by": _("Sorted by %(column)s, %(direction)s."),
        "ascending": _("ascending"),
        "descending": _("descending"),
        "options_of": _("Options of %(code)s version %(version)s"),
        "key_mark": _("✓ key"),
        "no_options": _("This item has no options (fill-in), so it has no trace lines."),
        "group_low": _("Lower group (%(from)s–%(to)s)"),
        "group_high": _("Upper group (%(from)s–%(to)s)"),
        "group_mid": _("Group %(n)s (%(from)s–%(to)s)"),
        "no_tasks": _("No review tasks with this status."),
        "tasks_n": _("Review tasks shown: %(n)s"),
        "task_title": _("%(code)s version %(version)s"),
        "evidence_of": _("Evidence for %(code)s version %(version)s"),
        "run_n": _("Run %(id)s"),
        "newer_version": _(
            "A newer version (%(n)s) exists; the flags were raised on version %(version)s."
        ),
        "note_for": _("Note on the task for %(code)s version %(version)s"),
        "note_needed": _("Write a note saying what was done or why nothing is needed."),
        "resolve_label": _("Resolve the task for %(code)s version %(version)s"),
        "dismiss_label": _("Dismiss the task for %(code)s version %(version)s"),
        "done_resolve": _("Task for %(code)s resolved."),
        "done_dismiss": _("Task for %(code)s dismissed."),
        "closed_note": _("Note: %(note)s"),
        "col": {
            "flag": _("Flag"),
            "measure": _("Evidence"),
            "value": _("Value"),
            "threshold": _("Threshold"),
            "run": _("Analysis run"),
            "facility": _("Facility"),
            "item_rest_r": _("Item-rest r"),
            "flags": _("Flags"),
        },
        "task": {
            "resolve": _("Resolve"),
            "dismiss": _("Dismiss"),
            "note_hint": _(
                'Say what was done (for example "key corrected in version 2") or why no change '
                "is needed. The note is kept in the audit log."
            ),
            "open_item": _("Open the item"),
            "revise": _("Revise the item (new version)"),
            "open_run": _("Open the report"),
            "statistics": _("Item statistics"),
            "runs": _("Runs:"),
        },
        "no_statistics": _(
            "No analysis run has included this version yet; paper assembly uses the author's "
            "estimate."
        ),
        "uses_measured": _(
            "Paper assembly uses the measured facility (at least %(min)s responses)."
        ),
        "uses_estimate": _(
            "Paper assembly uses the author's estimate until %(min)s responses are measured."
        ),
        "stats_runs_of": _("Analysis runs of version %(version)s"),
        "label": {
            "sem": _("SEM"),
            "mean": _("Mean"),
            "sd": _("SD"),
            "median": _("Median"),
            "range": _("Range"),
            "skewness": _("Skewness"),
            "kurtosis": _("Excess kurtosis"),
            "n": _("Candidates (n)"),
            "occupation": _("Occupation"),
            "level": _("Level"),
            "source": _("Source"),
            "release": _("Bank release"),
            "irt": _("IRT model"),
            "created": _("Created"),
            "items": _("Number of items"),
            "flagged": _("Flagged items"),
            "estimate": _("Author's estimate"),
            "measured": _("Measured facility (pooled)"),
            "responses": _("Responses (n)"),
            "runs": _("Runs"),
            "pooled_r": _("Item-rest r (pooled)"),
            "pooled_d": _("Discrimination index (pooled)"),
            "effective": _("Difficulty used for paper assembly"),
            "proportion": _("Chosen by (all)"),
            "rest_r": _("Option-rest r"),
            "mean_total": _("Mean score of choosers"),
            "option": _("Option"),
        },
    }


def _page(template: str, **context: Any) -> str:
    return render_template(
        template,
        js_strings={**js_strings(), "an": analysis_strings()},
        levels=level_choices(html_lang()),
        task_status_labels=task_status_labels(),
        reason_labels=reason_labels(),
        reason_help=reason_help(),
        **context,
    )


@bp.get("/analysis")
@roles_required(*READERS)
def runs():
    return _page("analysis/runs.html", analysts=ANALYSTS)


@bp.get("/analysis/<int:run_id>")
@roles_required(*READERS)
def report(run_id: int):
    run = db.session.get(AnalysisRun, run_id)
    if run is None:
        abort(404, _("There is no analysis run %(id)s.", id=run_id))
    return _page("analysis/report.html", run=run)


@bp.get("/analysis/tasks")
@roles_required(*READERS)
def tasks():
    return _page("analysis/tasks.html")


@bp.get("/bank/items/<code>/statistics")
@roles_required(*READERS)
def item_statistics(code: str):
    if db.session.scalar(select(Item.id).where(Item.code == code)) is None:
        abort(404, _("There is no item with the code %(code)s.", code=code))
    return _page("analysis/item.html", code=code, min_responses=MIN_RESPONSES)

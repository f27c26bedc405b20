"""Item analysis of response files: ``analyze``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .base import main


@main.command("analyze")
@click.option(
    "--responses",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV: one row per candidate (first column the candidate id), one column per "
    "item: the chosen option letter(s) or option number(s) (1 = first option, 0 = a wrong "
    "option of its own such as 'other'), blank = no answer, '-' = not on the paper. With "
    "--scored: the points earned per item.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with columns item, key (e.g. B, ACD, 4 or 1,3), points, optional options and "
    "type. Not needed with --scored.",
)
@click.option(
    "--coding",
    type=click.Choice(["auto", "letters", "numeric"]),
    default="auto",
    show_default=True,
    help="How answers name options; auto decides per item and the report says what it found.",
)
@click.option(
    "--scored",
    is_flag=True,
    help="The responses are already scored (0/1 or points per item, no key); blank = 0 "
    "points, '-', NA or '.' = not on the paper.",
)
@click.option(
    "--max-points",
    "max_points",
    help="With --scored: each item's maximum, as one number or a CSV of item,points "
    "(default: the highest score anyone earned on the item).",
)
@click.option(
    "--groups",
    "groups_path",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV of candidate,group (room or session): answer similarity only compares "
    "candidates of the same group.",
)
@click.option("--irt", type=click.Choice(["rasch", "2pl"]), help="Also fit an IRT model.")
@click.option(
    "--similarity/--no-similarity",
    default=None,
    help="Answer similarity (default: on for up to 5,000 candidates; needs option choices).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the whole report as JSON here.",
)
def analyze_command(
    responses,
    key_path,
    coding,
    scored,
    max_points,
    groups_path,
    irt,
    similarity,
    json_out: Path | None,
) -> None:
    """Item analysis of exported responses: classical statistics, flags, IRT, forensics.

    \b
    Examples:
      exam-server analyze --responses export.csv --key key.csv --irt 2pl
      exam-server analyze --responses lsat6.csv --scored --irt 2pl
      exam-server analyze --responses r.csv --key k.csv --groups rooms.csv
    """
    from item_analysis.files import load_groups_csv, load_points_csv, run_analysis

    if not scored and not key_path:
        raise click.UsageError("--key is needed unless the responses are --scored")
    if max_points and not scored:
        raise click.UsageError("--max-points goes with --scored")
    if groups_path and scored:
        raise click.UsageError(
            "--groups is for the answer-similarity screen, which needs the chosen options "
            "(not a scored matrix)"
        )
    try:
        maxima = None
        if max_points:
            try:
                maxima = float(max_points)
            except ValueError:
                if not Path(max_points).is_file():
                    raise click.UsageError(
                        f"--max-points {max_points!r} is neither a number nor a file"
                    ) from None
                maxima = load_points_csv(max_points)
        groups = load_groups_csv(groups_path) if groups_path else None
        report = run_analysis(
            responses,
            key_path,
            irt=irt,
            similarity=similarity,
            coding=coding,
            scored=scored,
            max_points=maxima,
            groups=groups,
        )
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    test = report["test"]
    rel = test["reliability"]
    dist = test["distribution"]
    click.echo(f"{report['n_candidates']} candidates, {report['n_items']} items")
    click.echo(_coding_line(report["coding"]))
    click.echo(
        f"{rel['kind']} = {rel['alpha']:.3f}, SEM = {test['sem']:.2f}, "
        f"mean = {dist['mean']:.2f}, SD = {dist['sd']:.2f}"
    )
    has_irt = "irt" in report
    head = f"{'item':<12}{'mean':>7}{'facility':>9}{'item-rest r':>13}{'D (27%)':>9}"
    if has_irt:
        head += f"{'a (SE)':>16}{'b (SE)':>17}{'S-X2 p':>8}"
    click.echo(head + "  flags")
    for it in report["items"]:
        flags = ", ".join(
            f["reason"] + (f"({f['option']})" if f.get("option") else "") for f in it["flags"]
        )
        line = (
            f"{it['id']:<12}{_fmt(it['mean'], 2):>7}{_fmt(it['facility']):>9}"
            f"{_fmt(it['item_rest_r']):>13}{_fmt(it['discrimination_index']):>9}"
        )
        if has_irt:
            irt_row = it.get("irt") or {}
            fit = irt_row.get("fit") or {}
            line += (
                f"{_est(irt_row.get('discrimination'), irt_row.get('discrimination_se')):>16}"
                f"{_est(irt_row.get('difficulty'), irt_row.get('difficulty_se')):>17}"
                f"{_fmt(fit.get('p_value')):>8}"
            )
        click.echo(f"{line}  {flags}")
    if has_irt:
        info = report["irt"]
        fit = info.get("item_fit")
        click.echo(
            f"IRT {info['model']}: log-likelihood {info['log_likelihood']:.3f}, standard errors "
            f"from the {info['standard_errors']}"
        )
        if fit is None:
            click.echo("item fit (S-X2) needs complete data: not computed for randomized papers")
        else:
            bad = ", ".join(fit["misfitting_items"]) or "none"
            click.echo(f"item fit {fit['statistic']}: p < {fit['misfit_p']} for {bad}")
    sim = report.get("similarity") or {}
    if sim:
        groups = sim.get("groups")
        where = (
            f"within {groups['count']} groups ({groups['smallest']}-{groups['largest']} "
            f"candidates), instead of all {sim['pairs_all_candidates']} pairs"
            if groups
            else "among all candidates"
        )
        click.echo(
            f"answer similarity ({sim['method']}): {sim['n_pairs_tested']} pairs tested {where}; "
            f"{sim['n_significant']} significant at FDR q = {sim['fdr_q']} "
            f"(evidence for review, not a verdict)"
        )
    if json_out:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"report written to {json_out}")


def _coding_line(coding: dict) -> str:
    if coding["scheme"] == "scored":
        how = "inferred from the data" if coding["max_points_inferred"] else "as given"
        return (
            f"scored matrix: {coding['dichotomous_items']} dichotomous and "
            f"{coding['partial_credit_items']} partial-credit items, maximum points {how}"
        )
    how = "detected automatically" if coding["detected"] else f"as declared ({coding['requested']})"
    parts = [f"option codes: {coding['scheme']} ({how})"]
    if coding["numeric_items"] and coding["scheme"] != "numeric":
        parts.append(f"{coding['numeric_items']} items with option numbers")
    if coding["zero_option_items"]:
        parts.append(f"0 kept as a wrong option of its own in {coding['zero_option_items']} items")
    if coding["true_false_items"]:
        parts.append(f"{coding['true_false_items']} true/false items")
    return "; ".join(parts)


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _est(value, se) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} ({_fmt(se, 2)})"

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
    "item, the chosen option letter(s), blank = no answer, '-' = not on the paper.",
)
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with columns item, key (e.g. B or ACD), points, optional options and type.",
)
@click.option("--irt", type=click.Choice(["rasch", "2pl"]), help="Also fit an IRT model.")
@click.option(
    "--similarity/--no-similarity",
    default=None,
    help="All-pairs answer similarity (default: on for up to 5,000 candidates).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the whole report as JSON here.",
)
def analyze_command(responses, key_path, irt, similarity, json_out: Path | None) -> None:
    """Item analysis of exported responses: classical statistics, flags, IRT, forensics."""
    from item_analysis.files import run_analysis

    try:
        report = run_analysis(responses, key_path, irt=irt, similarity=similarity)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    test = report["test"]
    rel = test["reliability"]
    dist = test["distribution"]
    click.echo(f"{report['n_candidates']} candidates, {report['n_items']} items")
    click.echo(
        f"{rel['kind']} = {rel['alpha']:.3f}, SEM = {test['sem']:.2f}, "
        f"mean = {dist['mean']:.2f}, SD = {dist['sd']:.2f}"
    )
    click.echo(f"{'item':<12}{'facility':>9}{'item-rest r':>13}{'D (27%)':>9}  flags")
    for it in report["items"]:
        flags = ", ".join(
            f["reason"] + (f"({f['option']})" if f.get("option") else "") for f in it["flags"]
        )
        click.echo(
            f"{it['id']:<12}{it['facility']:>9.3f}{_fmt(it['item_rest_r']):>13}"
            f"{_fmt(it['discrimination_index']):>9}  {flags}"
        )
    sim = report.get("similarity") or {}
    if sim:
        click.echo(
            f"answer similarity ({sim['method']}): {sim['n_significant']} of "
            f"{sim['n_pairs_tested']} pairs significant at FDR q = {sim['fdr_q']} "
            f"(evidence for review, not a verdict)"
        )
    if json_out:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"report written to {json_out}")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"

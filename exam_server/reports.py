"""Item-analysis report figures (matplotlib) and exports (PDF, xlsx) for editors.

Figures are rendered on demand from a stored :class:`~question_bank.statistics.AnalysisRun`:
the score histogram, a difficulty × discrimination map of the analysed items, option trace lines
per item (proportion choosing each option by score group) and the test information function.
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers

from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from openpyxl import Workbook

from question_bank.statistics import AnalysisRun

# Prefer a CJK-capable font where one is installed, so Chinese labels render.
_CJK = [
    f.name
    for f in font_manager.fontManager.ttflist
    if any(k in f.name for k in ("WenQuanYi", "Noto Sans CJK", "Noto Serif CJK", "SimHei"))
]
plt.rcParams["font.sans-serif"] = [*_CJK[:1], "DejaVu Sans"]
plt.rcParams["axes.unicode_minus"] = False

KINDS = ("histogram", "map", "information")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def histogram_figure(run: AnalysisRun) -> Figure:
    dist = run.summary["test"]["distribution"]
    hist = dist["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    widths = [b - a for a, b in itertools.pairwise(edges)]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color="#3b6ea5", edgecolor="white")
    ax.axvline(dist["mean"], color="#c0392b", linestyle="--", label=f"mean {dist['mean']:.1f}")
    ax.set_xlabel(f"score ({dist['unit']})")
    ax.set_ylabel("candidates")
    ax.set_title(f"Score distribution (n = {dist['n']})")
    ax.legend(frameon=False)
    return fig


def map_figure(run: AnalysisRun) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 4.2))
    xs, ys, flagged = [], [], []
    for st in run.statistics:
        if st.facility is None or st.item_rest_r is None:
            continue
        xs.append(st.facility)
        ys.append(st.item_rest_r)
        flagged.append(bool(st.flags))
    ax.axhspan(-1, 0.2, color="#f6dcdc", zorder=0)
    ax.scatter(
        [x for x, f in zip(xs, flagged, strict=True) if not f],
        [y for y, f in zip(ys, flagged, strict=True) if not f],
        s=22,
        color="#3b6ea5",
        label="no flag",
    )
    ax.scatter(
        [x for x, f in zip(xs, flagged, strict=True) if f],
        [y for y, f in zip(ys, flagged, strict=True) if f],
        s=30,
        color="#c0392b",
        marker="^",
        label="flagged",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(min([-0.2, *ys]) - 0.05, 1)
    ax.set_xlabel("facility (proportion correct)")
    ax.set_ylabel("discrimination (item-rest r)")
    ax.set_title("Items: difficulty × discrimination (shaded: r < 0.20)")
    ax.legend(frameon=False, loc="lower right")
    return fig


def information_figure(run: AnalysisRun) -> Figure | None:
    irt = run.summary.get("irt") or {}
    info = irt.get("test_information")
    if not info:
        return None
    grid, values = info["theta"], info["information"]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(grid, values, color="#3b6ea5")
    ax.set_xlabel("ability θ")
    ax.set_ylabel("information")
    ax.set_title(f"Test information ({run.irt_model})")
    return fig


def trace_figure(run: AnalysisRun, position: int) -> Figure | None:
    st = next((s for s in run.statistics if s.position == position), None)
    if st is None or not st.options:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for opt in st.options:
        by_group = opt.get("proportion_by_group") or []
        xs = list(range(1, len(by_group) + 1))
        style = {"linewidth": 2.6, "color": "#1e8449"} if opt["is_key"] else {"linewidth": 1.4}
        label = opt["label"] + (" (key)" if opt["is_key"] else "")
        ax.plot(xs, by_group, marker="o", label=label, **style)
    ax.set_ylim(0, 1)
    n_groups = len(st.options[0].get("proportion_by_group") or [])
    ax.set_xticks(range(1, n_groups + 1))
    ax.set_xlabel("score group (low → high)")
    ax.set_ylabel("proportion choosing")
    ax.set_title(f"Option trace lines: {st.version.item.code} v{st.version.number}")
    ax.legend(frameon=False, fontsize=8, ncol=3)
    return fig


def figure(run: AnalysisRun, kind: str) -> Figure | None:
    if kind == "histogram":
        return histogram_figure(run)
    if kind == "map":
        return map_figure(run)
    if kind == "information":
        return information_figure(run)
    return None


def png(run: AnalysisRun, kind: str, position: int | None = None) -> bytes | None:
    fig = (
        trace_figure(run, position)
        if kind == "trace" and position is not None
        else figure(run, kind)
    )
    return None if fig is None else _png(fig)


def item_rows(run: AnalysisRun) -> list[dict[str, Any]]:
    return [
        {
            "item": st.version.item.code,
            "version": st.version.number,
            "n": st.n,
            "facility": st.facility,
            "sd": st.sd,
            "item_rest_r": st.item_rest_r,
            "discrimination_index": st.discrimination_index,
            "discriminative_efficiency": st.discriminative_efficiency,
            "alpha_if_deleted": st.alpha_if_deleted,
            "irt_a": st.irt_a,
            "irt_b": st.irt_b,
            "irt_a_se": st.irt_a_se,
            "irt_b_se": st.irt_b_se,
            "irt_fit_p": st.irt_fit_p,
            "flags": ", ".join(
                f["reason"] + (f"({f['option']})" if f.get("option") else "") for f in st.flags
            ),
        }
        for st in run.statistics
    ]


def xlsx_bytes(run: AnalysisRun) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "items"
    rows = item_rows(run)
    headers = list(rows[0]) if rows else ["item"]
    sheet.append(headers)
    for row in rows:
        sheet.append([row[h] for h in headers])
    options = book.create_sheet("options")
    options.append(["item", "option", "key", "proportion", "option-rest r", "by score group"])
    for st in run.statistics:
        for opt in st.options:
            options.append(
                [
                    st.version.item.code,
                    opt["label"],
                    "yes" if opt["is_key"] else "",
                    opt["proportion"],
                    opt["rest_r"],
                    ", ".join(
                        "" if p is None else f"{p:.3f}"
                        for p in opt.get("proportion_by_group") or []
                    ),
                ]
            )
    test = book.create_sheet("test")
    rel = run.summary["test"]["reliability"]
    dist = run.summary["test"]["distribution"]
    for key, value in [
        ("run", run.label),
        ("candidates", run.n_candidates),
        ("items", run.n_items),
        (rel["kind"], rel["alpha"]),
        ("SEM", run.summary["test"]["sem"]),
        ("mean", dist["mean"]),
        ("SD", dist["sd"]),
        ("skewness", dist["skewness"]),
        ("kurtosis", dist["kurtosis"]),
    ]:
        test.append([key, value])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def pdf_bytes(run: AnalysisRun) -> bytes:
    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        fig, ax = plt.subplots(figsize=(8.3, 11.7))
        ax.axis("off")
        rel = run.summary["test"]["reliability"]
        dist = run.summary["test"]["distribution"]
        lines = [
            f"Item analysis: {run.label}",
            "",
            f"candidates {run.n_candidates}, items {run.n_items}",
            f"{rel['kind']} = {rel['alpha']:.3f}, SEM = {run.summary['test']['sem']:.2f}",
            f"mean {dist['mean']:.2f}, SD {dist['sd']:.2f}",
            "",
            "Flagged items:",
        ]
        for row in item_rows(run):
            if row["flags"]:
                lines.append(f"  {row['item']} v{row['version']}: {row['flags']}")
        ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=9)
        pdf.savefig(fig)
        plt.close(fig)
        for kind in KINDS:
            extra = figure(run, kind)
            if extra is not None:
                pdf.savefig(extra, bbox_inches="tight")
                plt.close(extra)
        for st in run.statistics:
            if st.flags:
                trace = trace_figure(run, st.position)
                if trace is not None:
                    pdf.savefig(trace, bbox_inches="tight")
                    plt.close(trace)
    return buf.getvalue()

"""The session report: how equal, how well covered and how exposed a session's papers are."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .core import Paper
from .plan import KnowledgeTable, Plan

PAIR_SAMPLE = 20_000
EXPOSURE_BINS = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
#: Abilities (relative to θ_cut) at which the band of information curves is reported.
CURVE_OFFSETS = tuple(float(x) for x in np.arange(-3.0, 3.01, 0.5))


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def information_summary(plan: Plan, papers: list[Paper]) -> dict[str, Any] | None:
    """Test information at the pass mark over the papers: the target and how many papers
    are within it; min, median, max and spread; the standard error of measurement at the pass
    mark (``1/√I`` on the ability scale, and in points through the slope of the expected
    score); the band (min, median, max over papers) of the information curves; and how many
    papers hold items whose parameters are estimates (no IRT calibration yet)."""
    ip = plan.information
    if ip is None or not papers or not papers[0].indices:
        return None
    pool = plan.pool
    a, b = pool.item_parameters
    lengths = np.array([len(p.indices) for p in papers])
    flat = np.fromiter((i for p in papers for i in p.indices), np.int64, int(lengths.sum()))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pts = np.fromiter((float(x) for p in papers for x in p.points), np.float64, flat.size)

    def per_paper(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts)

    pc = _logistic(a[flat] * (ip.theta_cut - b[flat]))
    info = per_paper(a[flat] ** 2 * pc * (1 - pc))
    slope = per_paper(pts * a[flat] * pc * (1 - pc))  # d(expected score)/dθ at θ_cut
    sem_theta = 1.0 / np.sqrt(info)
    sem_points = slope * sem_theta
    estimated = ~pool.calibrated
    on_estimates = int((per_paper(estimated[flat].astype(np.float64)) > 0).sum())
    band = []
    for off in CURVE_OFFSETS:
        theta = ip.theta_cut + off
        pt = _logistic(a[flat] * (theta - b[flat]))
        values = per_paper(a[flat] ** 2 * pt * (1 - pt))
        band.append(
            {
                "theta": round(theta, 3),
                "min": round(float(values.min()), 3),
                "median": round(float(np.median(values)), 3),
                "max": round(float(values.max()), 3),
            }
        )
    within = np.abs(info - ip.target) <= ip.tolerance + 1e-9

    def stats(v: np.ndarray, digits: int = 3) -> dict[str, float]:
        return {
            "min": round(float(v.min()), digits),
            "median": round(float(np.median(v)), digits),
            "max": round(float(v.max()), digits),
        }

    return {
        "theta_cut": round(ip.theta_cut, 4),
        "pass_mark": str(plan.spec.pass_mark),
        "balanced": ip.balance,
        "target": round(ip.target, 3),
        "tolerance": round(ip.tolerance, 3),
        "relative_tolerance": ip.relative_tolerance,
        "at_cut": {
            **stats(info),
            "sd": round(float(info.std()), 3),
            "spread": round(float(info.max() - info.min()), 3),
            "spread_percent": round(float((info.max() - info.min()) / ip.target * 100), 2),
        },
        "within_tolerance": int(within.sum()),
        "sem_theta": stats(sem_theta, 4),
        "sem_points": stats(sem_points, 3),
        "calibrated_items": ip.calibrated_items,
        "eligible_items": ip.eligible_items,
        "papers_on_estimates": on_estimates,
        "band": band,
    }


def score_summary(scores: np.ndarray, plan: Plan) -> dict[str, Any]:
    """min, median, max, SD (population), spread and the share within tolerance."""
    if scores.size == 0:
        return {"papers": 0}
    within = np.abs(scores - plan.target) <= plan.tolerance + 1e-9
    return {
        "papers": int(scores.size),
        "target": round(plan.target, 3),
        "tolerance": round(plan.tolerance, 3),
        "min": round(float(scores.min()), 3),
        "median": round(float(np.median(scores)), 3),
        "max": round(float(scores.max()), 3),
        "mean": round(float(scores.mean()), 3),
        "sd": round(float(scores.std()), 3),
        "spread": round(float(scores.max() - scores.min()), 3),
        "within_tolerance": int(within.sum()),
    }


def session_report(
    plan: Plan, papers: list[Paper], *, pair_sample: int = PAIR_SAMPLE, seed: int = 0
) -> dict[str, Any]:
    """Number of papers, expected-score distribution, knowledge-point coverage, item exposure
    histogram and the pairwise overlap between papers.

    The mean overlap is exact (from the exposure counts: ``Σ c(c−1) / (n(n−1))``); the
    maximum and percentiles come from every pair when there are at most ``pair_sample`` pairs,
    else from ``pair_sample`` random pairs, and the report says which.
    """
    pool = plan.pool
    n = len(papers)
    n_items = len(pool)
    scores = np.array([p.expected_score for p in papers], dtype=np.float64)
    counts = np.zeros(n_items, dtype=np.int64)
    for p in papers:
        counts[list(p.indices)] += 1

    eligible = sorted({i for c in plan.cells for i in c.pool} | set(plan.pinned))
    pinned = set(plan.pinned)
    free = [i for i in eligible if i not in pinned]
    rates = counts[free] / n * 100 if n else np.zeros(len(free))
    hist = []
    never = int((counts[free] == 0).sum()) if free else 0
    hist.append({"range": "not used", "items": never})
    for lo, hi in itertools.pairwise(EXPOSURE_BINS):
        in_bin = (rates > lo) & (rates <= hi)
        hist.append({"range": f"{lo}–{hi}%", "items": int(in_bin.sum())})
    top = free[int(np.argmax(counts[free]))] if free else -1
    exposure = {
        "eligible_items": len(free),
        "pinned_items": len(pinned),
        "used_items": int((counts[free] > 0).sum()) if free else 0,
        "limit_percent": plan.spec.exposure_limit,
        "max_percent": round(float(rates.max()), 2) if len(free) else 0.0,
        "mean_percent": round(float(rates.mean()), 2) if len(free) else 0.0,
        "most_exposed": pool.codes[top] if top >= 0 and n else None,
        "histogram": hist,
    }

    return {
        "papers": n,
        "items_per_paper": plan.spec.paper_length,
        "expected_score": score_summary(scores, plan),
        "coverage": _coverage(plan, papers, counts),
        "exposure": exposure,
        "overlap": _overlap(papers, counts, pair_sample, seed),
        "information": information_summary(plan, papers),
    }


def _coverage(plan: Plan, papers: list[Paper], counts: np.ndarray) -> list[dict[str, Any]]:
    """Per leaf knowledge point: its weight, its share of the points on the papers, how many of
    its eligible items were used, and how many papers test it."""
    pool = plan.pool
    table = KnowledgeTable(pool.tree)
    leaves = sorted(c for c, node in table.nodes.items() if not node.children)
    leaf_pos = {c: k for k, c in enumerate(leaves)}
    kp_of = [leaf_pos.get(k, -1) for k in pool.knowledge_points]
    n = len(papers)
    total = plan.total_points
    points_on = np.zeros(len(leaves))
    papers_with = np.zeros(len(leaves), dtype=np.int64)
    for p in papers:
        seen = set()
        for i, pts in zip(p.indices, p.points, strict=True):
            k = kp_of[i]
            if k >= 0:
                points_on[k] += float(pts)
                seen.add(k)
        for k in seen:
            papers_with[k] += 1
    eligible = np.zeros(len(leaves), dtype=np.int64)
    used = np.zeros(len(leaves), dtype=np.int64)
    for i in {i for c in plan.cells for i in c.pool} | set(plan.pinned):
        k = kp_of[i]
        if k >= 0:
            eligible[k] += 1
            used[k] += counts[i] > 0
    return [
        {
            "knowledge_point": code,
            "weight_percent": round(float(table.nodes[code].share) * 100, 2),
            "points_percent": round(points_on[k] / (n * total) * 100, 2) if n else 0.0,
            "eligible_items": int(eligible[k]),
            "used_items": int(used[k]),
            "papers": int(papers_with[k]),
        }
        for k, code in enumerate(leaves)
    ]


def _overlap(
    papers: list[Paper], counts: np.ndarray, pair_sample: int, seed: int
) -> dict[str, Any]:
    n = len(papers)
    if n < 2:
        return {"pairs": 0, "mean_shared_items": None}
    c = counts.astype(np.float64)
    mean = float((c * (c - 1)).sum() / (n * (n - 1)))
    all_pairs = n * (n - 1) // 2
    sets = [frozenset(p.indices) for p in papers]
    if all_pairs <= pair_sample:
        a, b = np.triu_indices(n, k=1)
        sampled = False
    else:
        rng = np.random.default_rng(seed)
        a = rng.integers(0, n, pair_sample)
        b = (a + rng.integers(1, n, pair_sample)) % n  # never a paper with itself
        sampled = True
    shared = np.fromiter(
        (len(sets[i] & sets[j]) for i, j in zip(a, b, strict=True)), np.int64, len(a)
    )
    length = len(papers[0].indices) or 1
    return {
        "pairs": all_pairs,
        "pairs_examined": len(a),
        "sampled": sampled,
        "mean_shared_items": round(mean, 3),
        "mean_shared_percent": round(mean / length * 100, 2),
        "median_shared_items": float(np.median(shared)),
        "p95_shared_items": float(np.percentile(shared, 95)),
        "max_shared_items": int(shared.max()),
        "note": f"maximum and percentiles from {len(a)} random pairs of {all_pairs}"
        if sampled
        else "every pair examined",
    }

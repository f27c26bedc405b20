"""Paper-assembly benchmark: speed and fairness of balanced papers against a naive draw.

Targets (issue: blueprints and randomized, equivalent papers; issue 19: equally precise at
the pass mark):
  * 10,000 papers from a 5,000-item synthetic bank over 30 knowledge points with a 100-item
    blueprint in under 10 s on one core — balanced on expected score *and* on the test
    information at the pass mark (θ_cut);
  * expected-score spread (max − min) of those papers at most 2 points of 100, printed side by
    side with a naive draw that only respects section counts and quotas;
  * every paper's information at θ_cut within ±5 % of the target, printed side by side with the
    same session balanced on expected score only.

IRT estimates of the synthetic bank (seeded): 90 % of the items get a slope drawn from
U(0.4, 2.2) and a location near the one their difficulty implies (normal noise, SD 0.3); the
other 10 % have none and fall back to their difficulty with slope 1.

The bank is :func:`question_bank.synthetic.synthetic_bank` held in memory as an
:class:`~question_bank.assembly.ItemPool` (the database only loads a release into the same
structure). The blueprint: true/false 20 × 0.5, single choice 60 × 1, multiple choice 20 × 1.5
= 100 items, 100 points; quotas from the knowledge-table weights per leaf point; tolerance
±1 point around the bank's mean; exposure limit 25 %; 60 enemy pairs; 2 pinned items.

Reproduce:  .venv/bin/python -m bench.assembly [--papers 10000] [--items 5000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from question_bank.assembly import (
    ItemPool,
    KnowledgeTable,
    SessionAssembler,
    assemble,
    assembly_order,
    plan_blueprint,
    session_report,
)
from question_bank.assembly.plan import derived_quotas
from question_bank.assembly.report import information_summary
from question_bank.blueprints import parse_spec
from question_bank.synthetic import synthetic_bank


def blueprint(pool: ItemPool, rng: np.random.Generator) -> dict:
    # Enemy pairs: two single-choice items of the same knowledge point (near-duplicates).
    by_kp: dict[str, list[str]] = {}
    for code, kind, kp in zip(pool.codes, pool.types, pool.knowledge_points, strict=True):
        if kind == "single_choice":
            by_kp.setdefault(kp, []).append(code)
    kps = sorted(by_kp)
    enemies = []
    for k in range(60):
        codes = by_kp[kps[k % len(kps)]]
        a, b = rng.choice(len(codes), 2, replace=False)
        enemies.append([codes[a], codes[b]])
    # Pinned: two true/false items of points whose quota is at least one.
    quotas = derived_quotas(KnowledgeTable(pool.tree), 20, None)
    pinned_pool = [
        c
        for c, t, kp in zip(pool.codes, pool.types, pool.knowledge_points, strict=True)
        if t == "true_false" and quotas.get(kp, 0) >= 1
    ]
    first = pinned_pool[0]
    second = next(
        c
        for c in pinned_pool
        if pool.knowledge_points[pool.index[c]] != pool.knowledge_points[pool.index[first]]
    )
    return {
        "sections": [
            {"type": "true_false", "count": 20, "points": "0.5"},
            {"type": "single_choice", "count": 60, "points": 1},
            {"type": "multiple_choice", "count": 20, "points": "1.5"},
        ],
        "total_points": 100,
        "difficulty": {"tolerance": 0.01},
        "exposure_limit": 25,
        "enemy_groups": enemies,
        "pinned": [first, second],
    }


def calibrate(pool: ItemPool, seed: int) -> ItemPool:
    rng = np.random.default_rng(seed + 1)
    _, b = pool.item_parameters
    a = rng.uniform(0.4, 2.2, len(pool))
    noise = rng.normal(0, 0.3, len(pool))
    keep = rng.random(len(pool)) < 0.9
    return pool.with_irt(
        {
            v: (float(a[i]), float(b[i] + noise[i]))
            for i, v in enumerate(pool.version_ids)
            if keep[i]
        }
    )


def info_line(label: str, rep: dict) -> str:
    c = rep["at_cut"]
    return (
        f"  {label:<22}min {c['min']:6.2f}  median {c['median']:6.2f}  max {c['max']:6.2f}  "
        f"SD {c['sd']:5.2f}  spread {c['spread']:6.2f} ({c['spread_percent']:5.1f}% of target)  "
        f"within ±{rep['relative_tolerance'] * 100:g}%: {rep['within_tolerance']}  "
        f"SEM(θ) {rep['sem_theta']['min']:.3f}–{rep['sem_theta']['max']:.3f}"
    )


def summary(scores: np.ndarray) -> str:
    return (
        f"min {scores.min():6.2f}  median {np.median(scores):6.2f}  max {scores.max():6.2f}  "
        f"SD {scores.std():5.2f}  spread {scores.max() - scores.min():6.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--papers", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=5_000)
    ap.add_argument("--knowledge-points", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    t0 = time.perf_counter()
    bank = synthetic_bank(args.items, args.knowledge_points, seed=args.seed)
    pool = calibrate(ItemPool.from_bank(bank, name="SYN"), args.seed)
    t_pool = time.perf_counter() - t0
    spec = parse_spec(blueprint(pool, np.random.default_rng(args.seed)))
    t0 = time.perf_counter()
    plan = plan_blueprint(spec, pool)
    t_plan = time.perf_counter() - t0
    if plan.problems:
        raise SystemExit(f"blueprint infeasible: {[p.message for p in plan.problems]}")
    candidates = [f"C{k:06d}" for k in range(args.papers)]

    t0, c0 = time.perf_counter(), time.process_time()
    balanced = assemble(plan, "bench", candidates)
    t_balanced = time.perf_counter() - t0
    cpu_balanced = time.process_time() - c0
    score_spec = parse_spec({**blueprint(pool, np.random.default_rng(args.seed)),
                             "information": {"balance": "off"}})  # fmt: skip
    score_plan = plan_blueprint(score_spec, pool)
    t0, c0 = time.perf_counter(), time.process_time()
    score_only = assemble(score_plan, "bench", candidates)
    t_score = time.perf_counter() - t0
    cpu_score = time.process_time() - c0
    t0 = time.perf_counter()
    naive = assemble(plan, "bench", candidates, naive=True)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = session_report(plan, balanced.papers)
    t_report = time.perf_counter() - t0

    # Determinism: a fresh assembler rebuilds the first 500 papers of the session exactly.
    first = {p.candidate: p for p in balanced.papers}
    again = SessionAssembler(plan, "bench", n_papers=len(candidates))
    rebuilt = all(again.paper(c) == first[c] for c in assembly_order(candidates)[:500])

    b = np.array([p.expected_score for p in balanced.papers])
    n = np.array([p.expected_score for p in naive.papers])
    ex, ov = report["exposure"], report["overlap"]
    print(f"bank: {len(pool)} items, {args.knowledge_points} knowledge points ({t_pool:.2f} s)")
    print(
        f"blueprint: {spec.paper_length} items, {spec.total_points} points, target "
        f"{plan.target:.2f} ± {plan.tolerance:.2f}, exposure limit {spec.exposure_limit:g}%, "
        f"{len(spec.enemy_groups)} enemy groups, {len(spec.pinned)} pinned (plan {t_plan:.3f} s)"
    )
    print(
        f"balanced: {len(balanced.papers)} papers in {t_balanced:.2f} s wall, "
        f"{cpu_balanced:.2f} s CPU ({cpu_balanced / len(candidates) * 1e3:.3f} ms/paper), "
        f"failures {len(balanced.failures)}"
    )
    print(f"  expected score  {summary(b)}")
    s_only = np.array([p.expected_score for p in score_only.papers])
    print(
        f"score only: {len(score_only.papers)} papers in {t_score:.2f} s wall, {cpu_score:.2f} s "
        f"CPU, failures {len(score_only.failures)}"
    )
    print(f"  expected score  {summary(s_only)}")
    ip = plan.information
    info_both = report["information"]
    info_score = information_summary(score_plan, score_only.papers)
    info_naive = information_summary(plan, naive.papers)
    print(
        f"information at the pass mark: θ_cut {ip.theta_cut:.3f} (pass mark {spec.pass_mark}), "
        f"target {ip.target:.2f} ± {ip.tolerance:.2f} (±{ip.relative_tolerance * 100:g}%), "
        f"{ip.calibrated_items} of {ip.eligible_items} eligible items calibrated, "
        f"{info_both['papers_on_estimates']} papers hold items on estimates"
    )
    print(info_line("score + information", info_both))
    print(info_line("score only", info_score))
    print(info_line("naive draw", info_naive))
    narrower = info_both["at_cut"]["spread"] / max(info_score["at_cut"]["spread"], 1e-9)
    print(f"  band at the pass mark: {1 / narrower:.1f}x narrower than with score-only balancing")
    print(f"naive:    {len(naive.papers)} papers in {t_naive:.2f} s")
    print(f"  expected score  {summary(n)}")
    print(
        f"  naive papers outside ±{plan.tolerance:.2f}: "
        f"{int((np.abs(n - plan.target) > plan.tolerance).sum())} of {len(n)}"
    )
    print(
        f"exposure: {ex['used_items']} of {ex['eligible_items']} eligible items used, max "
        f"{ex['max_percent']:.1f}% (limit {ex['limit_percent']:g}%), mean {ex['mean_percent']:.2f}%"
    )
    print(
        f"overlap: {ov['mean_shared_items']:.2f} shared items per pair on average "
        f"({ov['mean_shared_percent']:.1f}%), p95 {ov['p95_shared_items']:.0f}, max "
        f"{ov['max_shared_items']} ({ov['note']})"
    )
    print(f"report: {t_report:.2f} s; rebuild of 500 papers identical: {rebuilt}")
    print(f"load average (1 min) after the run: {os.getloadavg()[0]:.2f}")
    ok = (
        min(t_balanced, cpu_balanced) < 10
        and b.max() - b.min() <= 2
        and not balanced.failures
        and rebuilt
        and info_both["within_tolerance"] == len(balanced.papers)
        and info_both["at_cut"]["spread"] < info_score["at_cut"]["spread"]
    )
    print(
        "targets (< 10 s on one core, spread <= 2 points, information within ±5 %, band narrower than "
        f"score-only): {'met' if ok else 'NOT met'}"
    )
    print(
        "reproduce: .venv/bin/python -m bench.assembly "
        f"--papers {args.papers} --items {args.items} --seed {args.seed}"
    )


if __name__ == "__main__":
    main()

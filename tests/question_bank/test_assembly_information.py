"""Papers equally precise at the pass mark: information balancing in assembly.

Independent references: the marginal proportion correct of a 2PL item by numerical
integration over N(0, 1) (for the fallback from difficulty); θ_cut re-derived by a fine grid
search of the average paper's expected score; test information of each paper recomputed as
Σ a² P (1 − P) from the pool; the SEM at the pass mark as 1/√I.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from question_bank.assembly import ItemPool, assemble, plan_blueprint, session_report
from question_bank.assembly.pool import DEFAULT_DISCRIMINATION
from question_bank.blueprints import parse_spec
from question_bank.synthetic import synthetic_bank

from .test_assembly import check_paper

SPEC = {
    "sections": [
        {"type": "true_false", "count": 10, "points": 1, "quota_depth": 1},
        {"type": "single_choice", "count": 30, "points": 2, "quota_depth": 1},
        {"type": "multiple_choice", "count": 5, "points": 6, "quota_depth": 1},
    ],
    "exposure_limit": 40,
}


def calibrated_pool(share: float = 0.8, seed: int = 3) -> ItemPool:
    """A synthetic bank whose items (all but 1 - ``share``) have 2PL estimates: slopes
    0.4-2.2, locations near those implied by the difficulty (so both measures agree)."""
    pool = ItemPool.from_bank(synthetic_bank(600, 8, seed=seed), name="SYN")
    rng = np.random.default_rng(seed)
    _, b = pool.item_parameters
    a = rng.uniform(0.4, 2.2, len(pool))
    keep = rng.random(len(pool)) < share
    return pool.with_irt(
        {
            v: (float(a[i]), float(b[i] + rng.normal(0, 0.3)))
            for i, v in enumerate(pool.version_ids)
            if keep[i]
        }
    )


def _info(pool: ItemPool, idx, theta: float) -> float:
    a, b = pool.item_parameters
    p = 1 / (1 + np.exp(-a[list(idx)] * (theta - b[list(idx)])))
    return float((a[list(idx)] ** 2 * p * (1 - p)).sum())


def test_fallback_location_reproduces_the_difficulty():
    pool = ItemPool.from_bank(synthetic_bank(50, 3, seed=1), name="S")
    a, b = pool.item_parameters
    assert (a == DEFAULT_DISCRIMINATION).all() and not pool.calibrated.any()
    z = np.linspace(-8, 8, 4001)
    w = np.exp(-z * z / 2)
    w /= w.sum()
    for j in range(len(pool)):
        marginal = float(w @ (1 / (1 + np.exp(-a[j] * (z - b[j])))))
        # the normal-ogive approximation of the logistic is good to about 0.01
        assert marginal == pytest.approx(np.clip(pool.difficulty[j], 0.01, 0.99), abs=0.012)


def test_theta_cut_is_where_the_average_paper_reaches_the_pass_mark():
    pool = calibrated_pool()
    plan = plan_blueprint(parse_spec({**SPEC, "pass_mark": 70}), pool)
    ip = plan.information
    assert ip is not None and ip.balance and ip.calibrated_items > 0
    a, b = pool.item_parameters
    grid = np.linspace(-4, 4, 80001)
    best, best_gap = None, np.inf
    pts = [float(p) for p in plan.section_points]
    pools = [(c.pool, c.pinned, c.need, pts[c.section]) for c in plan.cells]
    for theta in grid[::100]:
        p = 1 / (1 + np.exp(-a * (theta - b)))
        score = sum(w * (p[pin].sum() + need * p[items].mean()) for items, pin, need, w in pools)
        if abs(score - 70) < best_gap:
            best, best_gap = theta, abs(score - 70)
    assert ip.theta_cut == pytest.approx(best, abs=0.01)
    assert plan.to_dict()["information"]["theta_cut"] == pytest.approx(ip.theta_cut, abs=1e-4)


def test_papers_within_five_percent_of_the_information_target_under_every_rule():
    pool = calibrated_pool()
    plan = plan_blueprint(parse_spec(SPEC), pool)
    assert plan.feasible, plan.problems
    ip = plan.information
    res = assemble(plan, "sess", [f"c{k:03d}" for k in range(200)])
    assert res.ok, res.failures
    for paper in res.papers:
        check_paper(plan, paper)  # quotas, pins, enemies, score tolerance, options
        info = _info(pool, paper.indices, ip.theta_cut)
        assert paper.information == pytest.approx(info, rel=1e-9)
        assert abs(info - ip.target) <= 0.05 * ip.target + 1e-9
    counts = np.bincount([i for p in res.papers for i in p.indices], minlength=len(pool))
    assert counts.max() <= 0.4 * 200  # exposure limit 40 %

    rep = session_report(plan, res.papers)["information"]
    assert rep["balanced"] is True and rep["within_tolerance"] == 200
    infos = [_info(pool, p.indices, ip.theta_cut) for p in res.papers]
    assert rep["at_cut"]["min"] == pytest.approx(min(infos), abs=1e-3)
    assert rep["sem_theta"]["max"] == pytest.approx(1 / np.sqrt(min(infos)), abs=1e-4)
    # 20 % of the items have no estimates: papers holding any of them are counted
    uncal = ~pool.calibrated
    expected = sum(1 for p in res.papers if uncal[list(p.indices)].any())
    assert rep["papers_on_estimates"] == expected > 0
    band_at_cut = next(b for b in rep["band"] if abs(b["theta"] - ip.theta_cut) < 1e-3)
    assert band_at_cut["min"] == pytest.approx(rep["at_cut"]["min"], abs=1e-3)
    assert all(b["min"] <= b["median"] <= b["max"] for b in rep["band"])


def test_information_band_is_narrower_than_with_score_only_balancing():
    pool = calibrated_pool()
    plan = plan_blueprint(parse_spec(SPEC), pool)
    score_only = plan_blueprint(parse_spec({**SPEC, "information": {"balance": "off"}}), pool)
    assert not score_only.balances_information
    cands = [f"c{k:03d}" for k in range(200)]
    both = session_report(plan, assemble(plan, "s", cands).papers)["information"]
    only = session_report(score_only, assemble(score_only, "s", cands).papers)["information"]
    assert only["balanced"] is False
    assert both["at_cut"]["spread"] < only["at_cut"]["spread"] / 2
    assert only["within_tolerance"] < 200


def test_without_estimates_assembly_is_unchanged():
    pool = ItemPool.from_bank(synthetic_bank(600, 8, seed=3), name="SYN")
    auto = plan_blueprint(parse_spec(SPEC), pool)
    assert not auto.balances_information
    # the plan as it was before information existed: the same papers, item for item
    before = dataclasses.replace(auto, information=None)
    cands = [f"c{k:03d}" for k in range(30)]
    assert [p.codes for p in assemble(auto, "s", cands).papers] == [
        p.codes for p in assemble(before, "s", cands).papers
    ]
    # a spec without the information block keeps the hash it had before the block existed
    spec = parse_spec(SPEC)
    assert "information" not in spec.canonical()
    # "on" balances even without estimates (all parameters from difficulties)
    on = plan_blueprint(parse_spec({**SPEC, "information": {"balance": "on"}}), pool)
    assert on.balances_information and on.information.calibrated_items == 0
    res = assemble(on, "s", cands)
    rep = session_report(on, res.papers)["information"]
    assert rep["papers_on_estimates"] == 30 and rep["within_tolerance"] == 30


def test_feasibility_says_when_the_bank_cannot_meet_the_band():
    pool = calibrated_pool()
    high = plan_blueprint(parse_spec({**SPEC, "information": {"target": 500}}), pool)
    (problem,) = [p for p in high.problems if p.rule == "information.unreachable"]
    assert problem.message.code == "information_unreachable"
    assert "cannot be reached" in problem.message and "500.00" in problem.message
    # a band only the most informative items reach, which the exposure limit cannot put on
    # every paper: the plan passes, the trial assembly names the rule
    top = plan_blueprint(parse_spec(SPEC), pool).information.information_range[1]
    tight = plan_blueprint(
        parse_spec({**SPEC, "information": {"target": round(0.99 * top, 2), "tolerance": 0.008}}),
        pool,
    )
    assert tight.feasible
    res = assemble(tight, "s", [f"c{k:03d}" for k in range(60)])
    assert res.failures and {f.rule for f in res.failures} <= {
        "assembly.information",
        "assembly.tolerance",
    }
    from question_bank.assembly.core import failure_problems

    problems = failure_problems(tight, res.failures, 60)
    info = [p for p in problems if p.rule == "assembly.information"]
    assert info and "of test information at the pass mark" in info[0].message

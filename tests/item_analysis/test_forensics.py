"""Data forensics: answer similarity, FDR control, rapid guessing and lz person fit.

References used:
* scipy.stats.false_discovery_control (Benjamini-Hochberg adjusted p-values);
* scipy.stats.binom.sf and brute-force enumeration for the Poisson-binomial tail;
* brute-force loops for identical incorrect answers;
* hand computations (in comments) for the rapid-guessing thresholds and a small lz example;
* seeded simulations: planted copiers must be found, clean data must give (almost) no
  discoveries, model-consistent response patterns must give lz with mean ~0 and SD ~1.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from item_analysis import (
    answer_similarity,
    benjamini_hochberg,
    fit_irt,
    identical_incorrect_matrix,
    person_fit_lz,
    rapid_guessing,
)
from item_analysis.forensics import _poisson_binomial_sf

from .sim import logistic, random_papers, simulate_2pl, simulate_choices


def test_bh_matches_scipy():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=400), rng.uniform(0, 1e-3, size=40)])
    for q in (0.01, 0.05, 0.2):
        rej, thr = benjamini_hochberg(p, q)
        ref = stats.false_discovery_control(p, method="bh") <= q
        assert rej.tolist() == ref.tolist()
        assert thr == (p[rej].max() if rej.any() else 0.0)


def test_bh_with_untested_large_p_values():
    # Passing only the p-values below q together with m gives the same decisions.
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=5000), rng.uniform(0, 1e-4, size=30)])
    full, _ = benjamini_hochberg(p, 0.05)
    small = p <= 0.05
    part, _ = benjamini_hochberg(p[small], 0.05, m=p.size)
    assert full[small].tolist() == part.tolist()
    with pytest.raises(ValueError, match="m"):
        benjamini_hochberg([0.1, 0.2], 0.05, m=1)


def test_poisson_binomial_tail():
    # equal probabilities: binomial
    probs = np.full((1, 30), 0.3)
    for k in (0, 5, 9, 20, 30, 31):
        got = _poisson_binomial_sf(probs, np.array([k]))[0]
        assert got == pytest.approx(stats.binom.sf(k - 1, 30, 0.3), rel=1e-10, abs=1e-300)
    # unequal probabilities: enumerate all 2^10 outcomes
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, 10)
    pmf = np.zeros(11)
    for outcome in itertools.product([0, 1], repeat=10):
        o = np.array(outcome)
        pmf[o.sum()] += np.prod(np.where(o == 1, p, 1 - p))
    padded = np.concatenate([p, np.zeros(5)])[None, :]  # zeros = items not shared
    for k in range(12):
        assert _poisson_binomial_sf(padded, np.array([k]))[0] == pytest.approx(
            pmf[k:].sum(), rel=1e-10
        )


@pytest.fixture(scope="module")
def exam():
    rng = np.random.default_rng(2024)
    choices, keys, theta = simulate_choices(rng, 1500, 60, 4)
    return choices, keys, theta


def test_clean_data_gives_no_discoveries_and_calibrated_p_values(exam):
    choices, keys, _ = exam
    res = answer_similarity(choices, keys, n_options=4, report_p=0.01)
    assert res.n_pairs_tested == 1500 * 1499 // 2
    # BH at q = 0.05 with every null true: P(any discovery) <= 0.05; this seed gives none
    assert res.n_significant == 0
    # the p-values are valid (conservative): at most about 1 % of the pairs below 0.01
    small = sum(p.p_value <= 0.01 for p in res.pairs)
    assert small <= 0.012 * res.n_pairs_tested


def test_planted_copiers_are_detected(exam):
    choices, keys, _ = exam
    rng = np.random.default_rng(7)
    copied = choices.copy()
    planted = []
    for k in range(8):
        source, copier = 10 * k, 10 * k + 700
        # copies 70 % of the answers; with 1.1 million pairs BH needs p below ~1e-8 for the
        # first discovery, which 50 % copying of 60 items (omega ~ 5) does not reach
        take = rng.random(60) < 0.7
        copied[copier, take] = copied[source, take]
        planted.append((source, copier))
    res = answer_similarity(copied, keys, n_options=4)
    found = {(p.a, p.b) for p in res.pairs if p.significant}
    assert len(found & set(planted)) >= 7
    assert len(found - set(planted)) <= 1
    pair = next(p for p in res.pairs if (p.a, p.b) == planted[0])
    assert pair.p_exact and pair.shared_items == 60
    assert pair.identical == int((copied[pair.a] == copied[pair.b]).sum())
    assert max(pair.omega_ab, pair.omega_ba) > 4


def test_groups_restrict_pairs(exam):
    choices, keys, _ = exam
    copied = choices[:300].copy()
    copied[1] = copied[0]  # identical papers, but in different rooms
    rooms = np.repeat(["A", "B", "C"], 100)
    rooms[0], rooms[1] = "A", "B"  # room A: 99 candidates, B: 101, C: 100
    res = answer_similarity(copied, keys, n_options=4, groups=rooms)
    assert res.n_pairs_tested == 99 * 98 // 2 + 101 * 100 // 2 + 100 * 99 // 2
    assert not any({p.a, p.b} == {0, 1} for p in res.pairs)
    rooms[1] = "A"
    res = answer_similarity(copied, keys, n_options=4, groups=rooms)
    assert any({p.a, p.b} == {0, 1} and p.significant for p in res.pairs)


def test_similarity_on_randomized_papers():
    rng = np.random.default_rng(9)
    choices, keys, _ = simulate_choices(rng, 600, 100, 4)
    seen = random_papers(rng, 600, 100, 60)
    copier, source = 5, 6
    seen[copier] = seen[source]  # same paper
    take = rng.random(100) < 0.6
    choices[copier, take] = choices[source, take]
    res = answer_similarity(choices, keys, n_options=4, seen=seen, min_shared=20)
    hit = [p for p in res.pairs if {p.a, p.b} == {copier, source}]
    assert hit and hit[0].significant and hit[0].shared_items == 60
    assert res.n_significant <= 2


def test_identical_incorrect_matrix_brute_force():
    rng = np.random.default_rng(3)
    choices, keys, _ = simulate_choices(rng, 40, 15, 4)
    choices[rng.random(choices.shape) < 0.1] = -1
    seen = rng.random(choices.shape) < 0.8
    m = identical_incorrect_matrix(choices, keys, n_options=4, seen=seen)
    for i in range(40):
        for k in range(40):
            both = seen[i] & seen[k] & (choices[i] == choices[k]) & (choices[i] >= 0)
            assert m[i, k] == int((both & (choices[i] != keys)).sum())


def test_rapid_guessing_hand_computed():
    # item 0 times 30, 2, 35, 25, 200 -> median 30 -> threshold min(10, 3.0) = 3.0
    # item 1 times 400, 1, 450, 500, 350 -> median 400 -> threshold min(10, 40) = 10 (cap)
    t = np.array([[30, 400], [2, 1], [35, 450], [25, 9.5], [200, 350]], float)
    x = np.array([[1, 1], [0, 1], [1, 1], [1, 0], [1, 1]], float)
    rg = rapid_guessing(t, scores=x)
    assert rg.thresholds.tolist() == [3.0, 10.0]
    assert rg.rapid.tolist() == [
        [False, False],
        [True, True],
        [False, False],
        [False, True],
        [False, False],
    ]
    assert rg.effort.tolist() == [1.0, 0.0, 1.0, 0.5, 1.0]
    assert rg.flagged.tolist() == [False, True, False, True, False]
    assert rg.item_fidelity.tolist() == [0.8, 0.6]
    # rapid responses on item 1: candidates 1 (right) and 3 (wrong) -> 0.5
    assert rg.accuracy_rapid.tolist() == [0.0, 0.5]
    with pytest.raises(ValueError, match=r"times\[1, 0\] = -2.0"):
        rapid_guessing(np.array([[1.0], [-2.0]]))


def test_rapid_guessing_ignores_unseen_and_untimed():
    t = np.array([[30.0, np.nan], [1.0, 50.0], [40.0, 60.0]])
    seen = np.array([[True, True], [True, False], [True, True]])
    rg = rapid_guessing(t, seen=seen)
    assert rg.n_timed.tolist() == [1, 1, 2]
    assert rg.thresholds[1] == pytest.approx(6.0)  # median of the one timed, seen cell: 60


def test_lz_hand_computed():
    # One candidate, Rasch items b = (-1, 0, 1) at theta = 0, pattern (1, 0, 1).
    b = np.array([-1.0, 0.0, 1.0])
    p = logistic(-b)
    x = np.array([1.0, 0.0, 1.0])
    l0 = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    e = np.sum(p * np.log(p) + (1 - p) * np.log(1 - p))
    v = np.sum(p * (1 - p) * np.log(p / (1 - p)) ** 2)
    fit = person_fit_lz(x[None, :], np.ones(3), b, [0.0])
    assert fit.lz[0] == pytest.approx((l0 - e) / np.sqrt(v))
    assert fit.p_value[0] == pytest.approx(stats.norm.cdf(fit.lz[0]))


def test_lz_null_distribution_and_aberrant_patterns():
    rng = np.random.default_rng(5)
    n, j = 3000, 60
    a = rng.uniform(0.8, 2.0, j)
    b = rng.uniform(-2, 2, j)
    theta = rng.normal(size=n)
    x = simulate_2pl(rng, theta, a, b)
    # with the true abilities lz is close to standard normal (Drasgow et al. 1985)
    lz = person_fit_lz(x, a, b, theta).lz
    assert abs(lz.mean()) < 0.1 and abs(lz.std() - 1) < 0.1
    # aberrant: 100 random responders and 100 candidates answering hard items right and
    # easy items wrong
    aberrant = x.copy()
    aberrant[:100] = (rng.random((100, j)) < 0.5).astype(float)
    order = np.argsort(b)
    aberrant[100:200] = 0.0
    aberrant[100:200][:, order[j // 2 :]] = 1.0
    fit = fit_irt(aberrant)
    pf = person_fit_lz(aberrant, fit.discrimination, fit.difficulty, fit.theta)
    assert np.median(pf.lz[:200]) < -2.5 < 0 < np.median(pf.lz[200:]) + 0.3
    assert pf.flagged[100:200].mean() > 0.95
    assert pf.flagged[200:].mean() < 0.10


def test_similarity_validation(exam):
    choices, keys, _ = exam
    with pytest.raises(ValueError, match="q"):
        answer_similarity(choices[:10], keys, n_options=4, q=0.0)
    with pytest.raises(ValueError, match="groups has shape"):
        answer_similarity(choices[:10], keys, n_options=4, groups=[1, 2])
    with pytest.raises(ValueError, match="ability has shape"):
        answer_similarity(choices[:10], keys, n_options=4, ability=[0.0])

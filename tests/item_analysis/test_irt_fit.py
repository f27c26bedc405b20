"""Standard errors and item fit of IRT calibrations.

References used:
* **ltm** (R), published output on LSAT-6 (the ``LSAT`` data of ltm; counts in
  ``lsat6.py`` from Bock & Lieberman 1970): ``summary(ltm(LSAT ~ z1, IRT.param = TRUE))`` —
  log-likelihood −2466.653; difficulties −3.3597, −1.3696, −0.2799, −1.8659, −3.1236 with
  SEs 0.8669, 0.3073, 0.0997, 0.4341, 0.8700; discriminations 0.8254, 0.7229, 0.8905,
  0.6886, 0.6575 with SEs 0.2581, 0.1867, 0.2326, 0.1852, 0.2100 (Rizopoulos 2006, Journal
  of Statistical Software 17(5), and the package's documented example output); ``rasch(LSAT)``
  — log-likelihood −2466.938, common discrimination 0.7551 (SE 0.0694), difficulties −3.6153,
  −1.3224, −0.3176, −1.7301, −2.7802 on the N(0, 1) scale (ours: ``b / sigma``).
  ltm integrates with 21 Gauss–Hermite points, we use 41 equally spaced points, hence the
  tolerances.
* **Independent computations** (no R available here): the observed information as the
  negative finite-difference Hessian of a marginal log-likelihood written out separately;
  Orlando–Thissen ``S-X²`` expectations by enumerating every response pattern instead of the
  Lord–Wingersky recursion; the chi-square tail against ``scipy.stats.chi2.sf``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from item_analysis import analyze, chi2_sf, fit_irt, quadrature
from item_analysis.irt_fit import information_matrix, summed_score_likelihood

from .lsat6 import lsat6
from .sim import logistic, simulate_2pl

LTM_B = [-3.3597, -1.3696, -0.2799, -1.8659, -3.1236]
LTM_B_SE = [0.8669, 0.3073, 0.0997, 0.4341, 0.8700]
LTM_A = [0.8254, 0.7229, 0.8905, 0.6886, 0.6575]
LTM_A_SE = [0.2581, 0.1867, 0.2326, 0.1852, 0.2100]


@pytest.fixture(scope="module")
def lsat_2pl():
    return fit_irt(lsat6(), model="2pl", tol=1e-6)


def test_lsat6_fixture_marginals():
    # Proportions correct of LSAT-6 as published (Bock & Lieberman 1970; ltm descript).
    x = lsat6()
    assert x.shape == (1000, 5)
    np.testing.assert_allclose(x.mean(axis=0), [0.924, 0.709, 0.553, 0.763, 0.870])


def test_lsat6_2pl_estimates_and_standard_errors_match_ltm(lsat_2pl):
    fit = lsat_2pl
    assert fit.log_likelihood == pytest.approx(-2466.653, abs=0.01)
    np.testing.assert_allclose(fit.difficulty, LTM_B, atol=0.01)
    np.testing.assert_allclose(fit.discrimination, LTM_A, atol=0.005)
    np.testing.assert_allclose(fit.difficulty_se, LTM_B_SE, rtol=0.01)
    np.testing.assert_allclose(fit.discrimination_se, LTM_A_SE, rtol=0.01)
    assert fit.se_method == "observed information (Louis)"


def test_lsat6_rasch_matches_ltm():
    fit = fit_irt(lsat6(), model="rasch", tol=1e-6)
    assert fit.log_likelihood == pytest.approx(-2466.938, abs=0.01)
    assert fit.sigma == pytest.approx(0.7551, abs=0.001)
    assert fit.sigma_se == pytest.approx(0.0694, abs=0.001)
    np.testing.assert_allclose(
        fit.difficulty / fit.sigma, [-3.6153, -1.3224, -0.3176, -1.7301, -2.7802], atol=0.01
    )


def _marginal_loglik(x, s, a, d, z, w):
    """log Σ_q w_q Π_j P^x (1-P)^(1-x) over seen cells, written out directly."""
    p = logistic(a[:, None] * z[None, :] + d[:, None])  # J x Q
    total = 0.0
    for i in range(x.shape[0]):
        lik = np.ones(z.size)
        for j in range(x.shape[1]):
            if s is None or s[i, j]:
                lik *= p[j] if x[i, j] else 1 - p[j]
        total += np.log(lik @ w)
    return total


@pytest.mark.parametrize("missing", [False, True])
def test_information_matrix_is_the_negative_hessian(missing):
    rng = np.random.default_rng(3)
    n, j = 150, 4
    theta = rng.normal(size=n)
    a = rng.uniform(0.6, 1.8, j)
    d = rng.normal(0.0, 0.8, j)
    x = simulate_2pl(rng, theta, a, -d / a)
    s = (rng.random((n, j)) < 0.7) if missing else None
    if s is not None:
        x = np.where(s, x, 0.0)
    z, w = quadrature(21, 5.0)
    # posterior at (a, d)
    p = logistic(a[:, None] * z[None, :] + d[:, None])
    ll = np.log(w)[None, :] + np.zeros((n, z.size))
    for jj in range(j):
        contrib = np.where(x[:, [jj]] == 1, np.log(p[jj]), np.log(1 - p[jj]))
        if s is not None:
            contrib = contrib * s[:, [jj]]
        ll += contrib
    post = np.exp(ll - ll.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    info = information_matrix(x, None if s is None else s.astype(float), post, a, d, z)
    theta0 = np.concatenate([a, d])
    h = 1e-4
    k = theta0.size
    hess = np.zeros((k, k))

    def f(v):
        return _marginal_loglik(x, s, v[:j], v[j:], z, w)

    for r in range(k):
        for c in range(r, k):
            e_r = np.eye(k)[r] * h
            e_c = np.eye(k)[c] * h
            val = (
                f(theta0 + e_r + e_c)
                - f(theta0 + e_r - e_c)
                - f(theta0 - e_r + e_c)
                + f(theta0 - e_r - e_c)
            ) / (4 * h * h)
            hess[r, c] = hess[c, r] = val
    np.testing.assert_allclose(info, -hess, rtol=1e-4, atol=1e-3)
    blocks = information_matrix(
        x, None if s is None else s.astype(float), post, a, d, z, full=False
    )
    idx = np.arange(j)
    for rr, cc in [(idx, idx), (idx, j + idx), (j + idx, j + idx)]:
        np.testing.assert_allclose(blocks[rr, cc], info[rr, cc], rtol=1e-10)


def test_standard_errors_with_missing_by_design_data():
    # Half the cells unseen: the SEs still describe the spread of the estimates. Check against
    # the empirical spread over 30 replications (tolerance 25 %: the SD of an SD from 30
    # draws is about 13 %).
    rng = np.random.default_rng(11)
    n, j = 1500, 8
    a = np.linspace(0.8, 1.8, j)
    b = np.linspace(-1.0, 1.0, j)
    est, ses = [], []
    for _ in range(30):
        theta = rng.normal(size=n)
        x = simulate_2pl(rng, theta, a, b)
        seen = rng.random((n, j)) < 0.5
        fit = fit_irt(x, model="2pl", seen=seen)
        est.append(np.concatenate([fit.discrimination, fit.difficulty]))
        ses.append(np.concatenate([fit.discrimination_se, fit.difficulty_se]))
    spread = np.std(est, axis=0, ddof=1)
    mean_se = np.mean(ses, axis=0)
    np.testing.assert_allclose(mean_se, spread, rtol=0.25)


def test_summed_score_likelihood_by_enumeration():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.9, (5, 3))
    f = summed_score_likelihood(p)
    brute = np.zeros((3, 6))
    for pattern in itertools.product([0, 1], repeat=5):
        v = np.array(pattern)[:, None]
        brute[:, sum(pattern)] += np.prod(np.where(v == 1, p, 1 - p), axis=0)
    np.testing.assert_allclose(f, brute, rtol=1e-12)


def test_sx2_on_lsat6_matches_pattern_enumeration(lsat_2pl):
    x = lsat6()
    fit = lsat_2pl
    z, w = fit.nodes, fit.weights
    a = fit.discrimination
    d = -a * fit.difficulty
    p = logistic(a[:, None] * z[None, :] + d[:, None])
    # Expected proportion right on item j among people with summed score k, by enumerating
    # all 32 patterns and integrating each pattern's probability over the grid.
    num = np.zeros((6, 5))
    den = np.zeros(6)
    for pattern in itertools.product([0, 1], repeat=5):
        v = np.array(pattern)[:, None]
        prob = float(w @ np.prod(np.where(v == 1, p, 1 - p), axis=0))
        den[sum(pattern)] += prob
        num[sum(pattern)] += prob * np.array(pattern)
    total = x.sum(axis=1).astype(int)
    got = fit.item_fit
    assert got is not None
    for j in range(5):
        groups = []  # merged as documented: left to right until 1 expected right and wrong
        cur = [0.0, 0.0, 0.0]
        for k in range(1, 5):
            nk = float((total == k).sum())
            cur = [cur[0] + nk, cur[1] + x[total == k, j].sum(), cur[2] + nk * num[k, j] / den[k]]
            if cur[2] >= 1 and cur[0] - cur[2] >= 1:
                groups.append(cur)
                cur = [0.0, 0.0, 0.0]
        if cur[0]:
            groups[-1] = [g + c for g, c in zip(groups[-1], cur, strict=True)]
        chi = sum(n * (o / n - e / n) ** 2 / ((e / n) * (1 - e / n)) for n, o, e in groups)
        assert got.statistic[j] == pytest.approx(chi, rel=1e-9)
        assert got.df[j] == len(groups) - 2
        assert got.p_value[j] == pytest.approx(stats.chi2.sf(chi, len(groups) - 2), rel=1e-9)
    # LSAT-6 fits the 2PL well (ltm's overall goodness-of-fit does not reject it either).
    assert (got.p_value > 0.05).all()


@pytest.mark.parametrize("df", [1, 2, 3, 7, 20, 55])
def test_chi2_sf_matches_scipy(df):
    for x in [0.01, 0.5, 1.0, df, 2.5 * df, 4 * df + 10, 200.0]:
        assert chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def test_sx2_calibrated_on_model_data_and_flags_a_misfitting_item():
    # 20 items from the 2PL plus one item with a 35 % guessing floor (a 3PL item), N = 4,000.
    rng = np.random.default_rng(5)
    n = 4000
    theta = rng.normal(size=n)
    a = rng.uniform(0.8, 2.0, 20)
    b = rng.uniform(-1.5, 1.5, 20)
    x = simulate_2pl(rng, theta, a, b)
    p_bad = 0.35 + 0.65 * logistic(2.2 * (theta - 1.0))
    bad = (rng.random(n) < p_bad).astype(float)[:, None]
    rep = analyze(scores=np.hstack([x, bad]), irt="2pl")
    p = rep.irt.item_fit.p_value
    assert p[20] < 1e-4
    assert (p[:20] < 0.01).sum() <= 1  # model-consistent items: about 1 % expected
    misfit = [f for f in rep.flags if f.reason.value == "item_misfit"]
    assert [f.item for f in misfit] == [20] or 20 in [f.item for f in misfit]
    out = rep.to_dict()
    assert out["items"][20]["irt"]["fit"]["misfit"] is True
    assert "20" in out["irt"]["item_fit"]["misfitting_items"]
    assert out["items"][0]["irt"]["difficulty_se"] > 0


def test_item_fit_not_computed_for_randomized_papers():
    rng = np.random.default_rng(2)
    x = simulate_2pl(rng, rng.normal(size=800), np.ones(10), np.zeros(10))
    seen = rng.random((800, 10)) < 0.8
    fit = fit_irt(x, seen=seen)
    assert fit.item_fit is None
    assert np.isfinite(fit.difficulty_se).all()

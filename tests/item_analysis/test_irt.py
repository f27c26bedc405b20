"""IRT estimation: parameter recovery on seeded simulations and agreement with girth.

References used:
* girth 0.8 (PyPI): ``twopl_mml``, ``onepl_mml`` and ``ability_eap`` on the same data;
  girth's 1PL estimates a common slope on a N(0, 1) latent scale, which is the Rasch model
  with sigma = slope and Rasch difficulty = slope * girth difficulty;
* the true generating parameters (recovery, tolerances stated per test);
* a brute-force marginal likelihood by fine trapezoidal integration;
* the analytic item information a**2 P (1 - P) and a finite-difference version of
  P'(theta)**2 / (P (1 - P)).
"""

from __future__ import annotations

import numpy as np
import pytest

from item_analysis import eap_abilities, fit_irt, item_information, test_information

from .sim import logistic, random_papers, simulate_2pl


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def data_2pl():
    rng = np.random.default_rng(0)
    n, j = 5000, 20
    a = rng.uniform(0.7, 2.0, j)
    b = rng.uniform(-2.0, 2.0, j)
    theta = rng.normal(size=n)
    return simulate_2pl(rng, theta, a, b), a, b, theta


def test_2pl_recovery(data_2pl):
    # 5,000 candidates, 20 items: tolerances from the sampling error of MML at this size
    # (observed RMSE about 0.06-0.08 for a and 0.04-0.06 for b over seeds 0-2).
    x, a, b, theta = data_2pl
    fit = fit_irt(x, model="2pl")
    assert fit.converged
    assert rmse(fit.discrimination, a) < 0.12
    assert rmse(fit.difficulty, b) < 0.10
    assert np.corrcoef(fit.theta, theta)[0, 1] > 0.88
    assert fit.sigma == 1.0 and fit.n_parameters == 40
    # posterior SDs are the standard errors: they should match the actual EAP error spread
    assert np.mean(fit.theta_se**2) == pytest.approx(np.mean((fit.theta - theta) ** 2), rel=0.1)


def test_rasch_recovery_with_estimated_sigma():
    # Tolerances: |sigma - 1.3| < 0.05 and RMSE(b) < 0.07 at N = 5,000, J = 20.
    rng = np.random.default_rng(1)
    b = np.linspace(-2.0, 2.0, 20)
    theta = rng.normal(0.0, 1.3, 5000)
    x = simulate_2pl(rng, theta, np.ones(20), b)
    fit = fit_irt(x, model="rasch")
    assert fit.sigma == pytest.approx(1.3, abs=0.05)
    assert rmse(fit.difficulty, b) < 0.07
    assert np.all(fit.discrimination == 1.0)
    assert fit.n_parameters == 21


def test_2pl_recovery_with_missing_by_design(data_2pl):
    # Each candidate sees 10 of the 20 items: half the information, tolerances widened.
    x, a, b, _ = data_2pl
    seen = random_papers(np.random.default_rng(2), x.shape[0], x.shape[1], 10)
    garbage = np.where(seen, x, 0.5)  # unseen cells must not be read
    fit = fit_irt(garbage, seen=seen)
    assert rmse(fit.discrimination, a) < 0.15
    assert rmse(fit.difficulty, b) < 0.12
    assert fit.n_observations == seen.sum()


def test_agrees_with_girth_2pl_and_1pl():
    from girth import onepl_mml, twopl_mml

    rng = np.random.default_rng(11)
    n, j = 3000, 15
    a = rng.uniform(0.7, 2.0, j)
    b = rng.normal(0.0, 1.0, j)
    x = simulate_2pl(rng, rng.normal(size=n), a, b)
    ours = fit_irt(x, model="2pl")
    ref = twopl_mml(x.T.astype(int))
    np.testing.assert_allclose(ours.discrimination, ref["Discrimination"], atol=0.01)
    np.testing.assert_allclose(ours.difficulty, ref["Difficulty"], atol=0.01)
    ours1 = fit_irt(x, model="rasch")
    ref1 = onepl_mml(x.T.astype(int))
    assert ours1.sigma == pytest.approx(ref1["Discrimination"], abs=0.01)
    np.testing.assert_allclose(
        ours1.difficulty, ref1["Discrimination"] * ref1["Difficulty"], atol=0.01
    )


def test_eap_agrees_with_girth(data_2pl):
    from girth import ability_eap

    x, a, b, _ = data_2pl
    x = x[:500]
    ours, se = eap_abilities(x, a, b, n_quad=121)
    ref = ability_eap(
        x.T.astype(int), b, a, options={"quadrature_bounds": (-6, 6), "quadrature_n": 81}
    )
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert (se > 0).all() and (se < 1).all()


def test_log_likelihood_matches_brute_force_integration(data_2pl):
    x, _, _, _ = data_2pl
    x = x[:1000]
    fit = fit_irt(x)
    grid = np.linspace(-8, 8, 4001)
    dens = np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi)
    p = logistic(fit.discrimination[None, :] * (grid[:, None] - fit.difficulty[None, :]))
    loglik_grid = x @ np.log(p).T + (1 - x) @ np.log1p(-p).T  # (N, grid)
    like = np.trapezoid(np.exp(loglik_grid) * dens[None, :], grid, axis=1)
    assert fit.log_likelihood == pytest.approx(np.log(like).sum(), abs=0.05)
    assert fit.aic == pytest.approx(-2 * fit.log_likelihood + 2 * 40)


def test_rasch_score_collapsed_e_step_matches_direct_computation():
    # With complete data the Rasch E-step groups candidates by raw score; check its
    # log-likelihood by brute-force integration and its abilities against eap_abilities.
    rng = np.random.default_rng(6)
    b = np.linspace(-1.5, 1.5, 12)
    x = simulate_2pl(rng, rng.normal(0.0, 1.2, 1500), np.ones(12), b)
    fit = fit_irt(x, model="rasch")
    grid = np.linspace(-8, 8, 4001)
    dens = np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi)
    p = logistic(fit.sigma * grid[:, None] - fit.difficulty[None, :])
    like = np.trapezoid(np.exp(x @ np.log(p).T + (1 - x) @ np.log1p(-p).T) * dens, grid, axis=1)
    assert fit.log_likelihood == pytest.approx(np.log(like).sum(), abs=0.05)
    theta, se = eap_abilities(x, fit.discrimination, fit.difficulty, sigma=fit.sigma)
    np.testing.assert_allclose(fit.theta, theta, atol=1e-10)
    np.testing.assert_allclose(fit.theta_se, se, atol=1e-10)


def test_uncalibratable_items_are_left_out():
    rng = np.random.default_rng(4)
    x = simulate_2pl(rng, rng.normal(size=800), np.ones(6), np.zeros(6))
    x[:, 2] = 1.0  # everybody right
    seen = np.ones(x.shape, bool)
    seen[:, 4] = False  # nobody saw it
    fit = fit_irt(x, seen=seen, model="2pl")
    assert fit.calibrated.tolist() == [True, True, False, True, False, True]
    assert np.isnan(fit.difficulty[[2, 4]]).all()
    assert np.isfinite(fit.difficulty[[0, 1, 3, 5]]).all()


def test_information_functions():
    a = np.array([0.5, 1.0, 2.0])
    b = np.array([-1.0, 0.0, 1.0])
    info = item_information(b, a, b)  # each item at its own difficulty: a^2 / 4
    np.testing.assert_allclose(np.diag(info), a**2 / 4)
    theta = np.linspace(-3, 3, 13)
    h = 1e-5
    p = logistic(a * (theta[:, None] - b))
    dp = (logistic(a * (theta[:, None] + h - b)) - logistic(a * (theta[:, None] - h - b))) / (2 * h)
    np.testing.assert_allclose(item_information(theta, a, b), dp**2 / (p * (1 - p)), rtol=1e-6)
    np.testing.assert_allclose(test_information(theta, a, b), item_information(theta, a, b).sum(1))
    assert item_information([0.0], [np.nan], [0.0]).tolist() == [[0.0]]


def test_validation():
    with pytest.raises(ValueError, match=r"scores\[0, 1\] = 0.5"):
        fit_irt([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="model"):
        fit_irt([[1.0, 0.0]], model="3pl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_quad"):
        fit_irt([[1.0, 0.0], [0.0, 1.0]], n_quad=3)

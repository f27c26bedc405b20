"""Rasch and 2PL models by marginal maximum likelihood (Bock-Aitkin EM on a fixed grid).

Model: ``P(x_ij = 1 | theta_i) = 1 / (1 + exp(-a_j * (theta_i - b_j)))``.

* ``"2pl"``: ``theta ~ N(0, 1)``; ``a_j`` and ``b_j`` free.
* ``"rasch"``: ``a_j = 1``; ``theta ~ N(0, sigma**2)`` with ``sigma`` estimated. (Internally a
  1PL with a common slope on a standard-normal latent scale; slope = sigma.)

Only seen cells enter the likelihood, so missing-by-design data (randomized papers) need no
imputation. Items that nobody saw, or that everybody who saw them answered alike, cannot be
calibrated and get NaN parameters (``calibrated`` is False). Abilities are EAP estimates with
the posterior SD as standard error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._util import FloatArray, as_2d, first_bad, frozen, per_item, seen_mask
from .irt_fit import ItemFit, item_fit, standard_errors

__all__ = [
    "IRTResult",
    "eap_abilities",
    "fit_irt",
    "item_information",
    "quadrature",
    "test_information",
]

Model = Literal["rasch", "2pl"]
_A_MAX = 8.0
_D_MAX = 30.0


@dataclass(frozen=True)
class IRTResult:
    """A fitted Rasch or 2PL model.

    Attributes
    ----------
    model : ``"rasch"`` or ``"2pl"``
    discrimination, difficulty : (J,) ``a_j`` and ``b_j`` in the ability metric (NaN when
        not calibrated; ``a_j = 1`` for Rasch)
    calibrated : (J,) bool
    sigma : SD of the ability distribution (estimated for Rasch, 1 for 2PL)
    theta, theta_se : (N,) EAP ability and posterior SD
    log_likelihood : marginal log-likelihood at the estimates
    n_parameters : free parameters (J_calibrated + 1 for Rasch, 2 * J_calibrated for 2PL)
    n_observations : seen cells of calibrated items
    n_iter, converged : EM iterations used and whether the tolerance was met
    nodes, weights : (Q,) quadrature grid in the ability metric and its prior weights
    discrimination_se, difficulty_se : (J,) standard errors from the observed information
        matrix of the marginal likelihood (NaN when not calibrated; 0 for the fixed Rasch
        slope); ``sigma_se`` the SE of sigma (Rasch); ``se_method`` how they were computed
    item_fit : Orlando–Thissen ``S-X²`` per item (None unless every candidate saw every item)
    """

    model: Model
    discrimination: FloatArray
    difficulty: FloatArray
    calibrated: np.ndarray
    sigma: float
    theta: FloatArray
    theta_se: FloatArray
    log_likelihood: float
    n_parameters: int
    n_observations: int
    n_iter: int
    converged: bool
    nodes: FloatArray
    weights: FloatArray
    discrimination_se: FloatArray | None = None
    difficulty_se: FloatArray | None = None
    sigma_se: float = float("nan")
    se_method: str = ""
    item_fit: ItemFit | None = None

    @property
    def aic(self) -> float:
        return -2.0 * self.log_likelihood + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        return -2.0 * self.log_likelihood + np.log(max(self.n_observations, 1)) * self.n_parameters


def quadrature(n_quad: int = 41, bound: float = 6.0) -> tuple[FloatArray, FloatArray]:
    """Equally spaced grid on ``[-bound, bound]`` with normalised standard-normal weights.

    Examples
    --------
    >>> z, w = quadrature(5, 2.0)
    >>> z.tolist(), round(float(w.sum()), 12)
    ([-2.0, -1.0, 0.0, 1.0, 2.0], 1.0)
    """
    if not isinstance(n_quad, int | np.integer) or n_quad < 5:
        raise ValueError(f"n_quad must be an integer >= 5, got {n_quad!r}")
    if not (np.isfinite(bound) and bound > 0):
        raise ValueError(f"bound must be positive, got {bound!r}")
    z = np.linspace(-bound, bound, int(n_quad))
    w = np.exp(-0.5 * z * z)
    return z, w / w.sum()


def _binary(
    scores: ArrayLike, seen: ArrayLike | None, max_points: ArrayLike | None
) -> tuple[FloatArray, FloatArray | None]:
    x = as_2d("scores", scores, np.float64)
    sm = seen_mask(seen, x.shape)
    pts = per_item("max_points", max_points, x.shape[1], 1.0, np.float64)
    if (pts <= 0).any():
        raise ValueError(f"max_points[{first_bad(pts <= 0)}] must be positive")
    u = x / pts
    look = np.ones_like(u, dtype=bool) if sm is None else sm
    bad = look & ~((u == 0) | (u == 1))
    if bad.any():
        i, j = np.unravel_index(first_bad(bad.ravel()), bad.shape)
        raise ValueError(
            f"scores[{i}, {j}] = {x[i, j]} is not 0 or the item maximum; IRT models here are dichotomous"
        )
    if sm is None:
        return u, None
    return np.where(sm, u, 0.0), sm.astype(np.float64)


def _log_post(
    xa: FloatArray,
    xd: FloatArray,
    s: FloatArray | None,
    sp: FloatArray,
    z: FloatArray,
    logw: FloatArray,
) -> FloatArray:
    """Unnormalised log posterior on the grid, (N, Q)."""
    ll = xa[:, None] * z[None, :] + xd[:, None]
    if s is None:
        ll -= sp.sum(axis=0)[None, :]
    else:
        ll -= s @ sp
    ll += logw[None, :]
    return ll


def _normalise(ll: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Posterior weights per row and the log of each row's normalising constant."""
    mx = ll.max(axis=1, keepdims=True)
    post = np.exp(ll - mx)
    tot = post.sum(axis=1, keepdims=True)
    post /= tot
    return post, (np.log(tot) + mx)[:, 0]


def _m_step_2pl(a: FloatArray, d: FloatArray, n: FloatArray, r: FloatArray, z: FloatArray) -> None:
    for _ in range(8):
        eta = a[:, None] * z[None, :] + d[:, None]
        p = 1.0 / (1.0 + np.exp(-eta))
        res = r - n * p
        w = n * p * (1.0 - p)
        ga, gd = res @ z, res.sum(axis=1)
        haa, had, hdd = w @ (z * z), w @ z, w.sum(axis=1)
        det = haa * hdd - had * had
        ok = det > 1e-12
        det = np.where(ok, det, 1.0)
        da = np.where(ok, (hdd * ga - had * gd) / det, 0.0)
        dd = np.where(ok, (haa * gd - had * ga) / det, 0.0)
        np.clip(da, -1.0, 1.0, out=da)
        np.clip(dd, -2.0, 2.0, out=dd)
        a += da
        d += dd
        np.clip(a, -_A_MAX, _A_MAX, out=a)
        np.clip(d, -_D_MAX, _D_MAX, out=d)
        if max(np.abs(da).max(initial=0), np.abs(dd).max(initial=0)) < 1e-7:
            break


def _m_step_rasch(
    a: FloatArray, d: FloatArray, n: FloatArray, r: FloatArray, z: FloatArray
) -> None:
    # a is a length-1 array holding the common slope
    for _ in range(8):
        eta = a[0] * z[None, :] + d[:, None]
        p = 1.0 / (1.0 + np.exp(-eta))
        res = r - n * p
        w = n * p * (1.0 - p)
        gd, ga = res.sum(axis=1), float((res @ z).sum())
        h, u, v = w.sum(axis=1), w @ z, float((w @ (z * z)).sum())
        h = np.maximum(h, 1e-12)
        schur = v - float((u * u / h).sum())
        da = (ga - float((u * gd / h).sum())) / schur if schur > 1e-12 else 0.0
        da = float(np.clip(da, -1.0, 1.0))
        dd = np.clip((gd - u * da) / h, -2.0, 2.0)
        a[0] = float(np.clip(a[0] + da, 0.05, _A_MAX))
        d += dd
        np.clip(d, -_D_MAX, _D_MAX, out=d)
        if max(abs(da), np.abs(dd).max(initial=0)) < 1e-7:
            break


def fit_irt(
    scores: ArrayLike,
    *,
    model: Model = "2pl",
    seen: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
    n_quad: int = 41,
    bound: float = 6.0,
    max_iter: int = 1000,
    tol: float = 1e-4,
    errors: bool = True,
) -> IRTResult:
    """Fit a Rasch or 2PL model by marginal maximum likelihood (EM).

    Parameters
    ----------
    scores : array_like of float, shape (N, J)
        Dichotomous scores: 0 or ``max_points`` in every seen cell.
    model : {"2pl", "rasch"}
    seen : array_like of bool, shape (N, J), optional
        Unseen cells are left out of the likelihood.
    max_points : array_like, shape (J,), optional
    n_quad, bound : int, float
        Quadrature grid: ``n_quad`` equally spaced points on ``[-bound, bound]`` of the
        standard-normal latent scale (default 41 points on [-6, 6]).
    max_iter : int
        EM iteration limit.
    tol : float
        Convergence when no slope or intercept changes by more than ``tol`` in an iteration.
    errors : bool
        Also compute standard errors (observed information, see
        :mod:`item_analysis.irt_fit`) and, with complete data, the ``S-X²`` item fit.

    Returns
    -------
    IRTResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.normal(size=2000)
    >>> b = np.linspace(-1.5, 1.5, 10)
    >>> x = (rng.random((2000, 10)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(float)
    >>> fit = fit_irt(x, model="rasch")
    >>> bool(np.abs(fit.difficulty - b).max() < 0.2), round(fit.sigma, 1)
    (True, 1.0)
    """
    if model not in ("rasch", "2pl"):
        raise ValueError(f"model must be 'rasch' or '2pl', got {model!r}")
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (tol > 0):
        raise ValueError(f"tol must be positive, got {tol!r}")
    x_all, s_all = _binary(scores, seen, max_points)
    n_items = x_all.shape[1]
    z, w = quadrature(n_quad, bound)
    logw = np.log(w)

    n_j = x_all.shape[0] * np.ones(n_items) if s_all is None else s_all.sum(axis=0)
    r_j = x_all.sum(axis=0)
    cal = (n_j > 0) & (r_j > 0) & (r_j < n_j)
    x = np.ascontiguousarray(x_all[:, cal])
    s = None if s_all is None else np.ascontiguousarray(s_all[:, cal])
    if s is not None and s.all():
        s = None
    n_obs = int(n_j[cal].sum())

    p0 = r_j[cal] / n_j[cal]
    d = np.log(p0 / (1 - p0)) * np.sqrt(1 + np.pi / 8)
    a = np.ones(1) if model == "rasch" else np.ones(d.size)
    # Rasch with complete data: the posterior depends on the raw score only (sufficiency), so
    # the E-step runs on the J + 1 possible scores instead of the N candidates.
    collapsed = model == "rasch" and s is None
    if collapsed:
        raw = np.rint(x.sum(axis=1)).astype(np.intp)
        score_vals = np.arange(d.size + 1, dtype=np.float64)
        score_n = np.bincount(raw, minlength=d.size + 1).astype(np.float64)
        by_score = np.zeros((d.size + 1, d.size))
        np.add.at(by_score, raw, x)
        by_score = by_score.T  # (J, S): right answers per item among candidates with score s
        col_tot = x.sum(axis=0)
    converged = False
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        slopes = np.full(d.size, a[0]) if model == "rasch" else a
        eta = slopes[:, None] * z[None, :] + d[:, None]
        sp = np.logaddexp(0.0, eta)
        if collapsed:
            post_s, _ = _normalise(
                _log_post(score_vals * a[0], np.zeros(score_vals.size), None, sp, z, logw)
            )
            r = by_score @ post_s
            n = np.broadcast_to(score_n @ post_s, r.shape)
        else:
            post, _ = _normalise(_log_post(x @ slopes, x @ d, s, sp, z, logw))
            r = x.T @ post
            n = np.broadcast_to(post.sum(axis=0), r.shape) if s is None else s.T @ post
        a_old, d_old = a.copy(), d.copy()
        if model == "rasch":
            _m_step_rasch(a, d, n, r, z)
        else:
            _m_step_2pl(a, d, n, r, z)
        change = max(np.abs(a - a_old).max(initial=0), np.abs(d - d_old).max(initial=0))
        if change < tol:
            converged = True
            break

    slopes = np.full(d.size, a[0]) if model == "rasch" else a
    eta = slopes[:, None] * z[None, :] + d[:, None]
    sp = np.logaddexp(0.0, eta)
    if collapsed:
        post_s, lse = _normalise(
            _log_post(score_vals * a[0], np.zeros(score_vals.size), None, sp, z, logw)
        )
        loglik = float(score_n @ lse + col_tot @ d)
        ez_s = post_s @ z
        sez_s = np.sqrt(np.maximum(post_s @ (z * z) - ez_s * ez_s, 0.0))
        ez, sez = ez_s[raw], sez_s[raw]
        post = post_s[raw]
    else:
        post, lse = _normalise(_log_post(x @ slopes, x @ d, s, sp, z, logw))
        loglik = float(lse.sum())
        ez = post @ z
        sez = np.sqrt(np.maximum(post @ (z * z) - ez * ez, 0.0))

    disc = np.full(n_items, np.nan)
    diff = np.full(n_items, np.nan)
    disc_se = np.full(n_items, np.nan)
    diff_se = np.full(n_items, np.nan)
    sigma_se, se_method, fit = float("nan"), "", None
    if errors and d.size:
        se = standard_errors(x, s, post, slopes, d, z, model=model)
        disc_se[cal], diff_se[cal], sigma_se, se_method = (
            se.discrimination,
            se.difficulty,
            se.sigma,
            se.method,
        )
        if s is None and not (s_all is not None and not s_all.all()):
            a_all = np.full(n_items, np.nan)
            d_all = np.full(n_items, np.nan)
            a_all[cal], d_all[cal] = slopes, d
            fit = item_fit(
                x_all,
                a_all,
                d_all,
                z=z,
                weights=w,
                n_parameters=1 if model == "rasch" else 2,
            )
    if model == "rasch":
        sigma = float(a[0])
        disc[cal] = 1.0
        diff[cal] = -d
        theta, theta_se, nodes = sigma * ez, sigma * sez, sigma * z
        n_par = int(cal.sum()) + 1
    else:
        sigma = 1.0
        disc[cal] = a
        with np.errstate(divide="ignore", invalid="ignore"):
            diff[cal] = np.where(np.abs(a) > 1e-8, -d / a, np.nan)
        theta, theta_se, nodes = ez, sez, z
        n_par = 2 * int(cal.sum())
    return IRTResult(
        model=model,
        discrimination=frozen(disc),
        difficulty=frozen(diff),
        calibrated=frozen(cal),
        sigma=sigma,
        theta=frozen(theta),
        theta_se=frozen(theta_se),
        log_likelihood=loglik,
        n_parameters=n_par,
        n_observations=n_obs,
        n_iter=n_iter,
        converged=converged,
        nodes=frozen(nodes),
        weights=frozen(w),
        discrimination_se=frozen(disc_se),
        difficulty_se=frozen(diff_se),
        sigma_se=sigma_se,
        se_method=se_method,
        item_fit=fit,
    )


def eap_abilities(
    scores: ArrayLike,
    discrimination: ArrayLike,
    difficulty: ArrayLike,
    *,
    seen: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
    sigma: float = 1.0,
    n_quad: int = 41,
    bound: float = 6.0,
) -> tuple[FloatArray, FloatArray]:
    """EAP abilities and posterior SDs for known item parameters.

    Items with NaN parameters are skipped. The prior is ``N(0, sigma**2)``.

    Parameters
    ----------
    scores : array_like, shape (N, J)
        Dichotomous scores (0 or ``max_points``).
    discrimination, difficulty : array_like, shape (J,)
    seen : array_like of bool, shape (N, J), optional
    max_points : array_like, shape (J,), optional
    sigma : float
        SD of the ability prior.
    n_quad, bound : int, float
        Grid of ``n_quad`` points on ``[-bound * sigma, bound * sigma]``.

    Returns
    -------
    theta, se : ndarray, shape (N,)

    Examples
    --------
    >>> th, se = eap_abilities([[1, 1, 0], [0, 0, 0]], [1, 1, 1], [-1, 0, 1])
    >>> bool(th[0] > th[1]), bool((se < 1).all())
    (True, True)
    """
    x, s = _binary(scores, seen, max_points)
    j = x.shape[1]
    a = per_item("discrimination", discrimination, j, np.nan, np.float64)
    b = per_item("difficulty", difficulty, j, np.nan, np.float64)
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    ok = np.isfinite(a) & np.isfinite(b)
    z, w = quadrature(n_quad, bound)
    slopes = a[ok] * sigma
    inter = -a[ok] * b[ok]
    eta = slopes[:, None] * z[None, :] + inter[:, None]
    xs = x[:, ok]
    ss = None if s is None else s[:, ok]
    post, _ = _normalise(
        _log_post(xs @ slopes, xs @ inter, ss, np.logaddexp(0.0, eta), z, np.log(w))
    )
    ez = post @ z
    sez = np.sqrt(np.maximum(post @ (z * z) - ez * ez, 0.0))
    return sigma * ez, sigma * sez


def item_information(
    theta: ArrayLike, discrimination: ArrayLike, difficulty: ArrayLike
) -> FloatArray:
    """Fisher information ``a**2 * P * (1 - P)`` of each item at each ability.

    Parameters
    ----------
    theta : array_like, shape (T,)
    discrimination, difficulty : array_like, shape (J,)

    Returns
    -------
    ndarray, shape (T, J)
        NaN parameters give zero information.

    Examples
    --------
    >>> item_information([0.0], [1.0, 2.0], [0.0, 0.0]).tolist()
    [[0.25, 1.0]]
    """
    t = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    a = np.atleast_1d(np.asarray(discrimination, dtype=np.float64))
    b = np.atleast_1d(np.asarray(difficulty, dtype=np.float64))
    if t.ndim != 1 or a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"theta must be 1-D and discrimination/difficulty equal-length 1-D, got {t.shape}, {a.shape}, {b.shape}"
        )
    p = 1.0 / (1.0 + np.exp(-a[None, :] * (t[:, None] - b[None, :])))
    info = a[None, :] ** 2 * p * (1.0 - p)
    return np.nan_to_num(info, nan=0.0)


def test_information(
    theta: ArrayLike, discrimination: ArrayLike, difficulty: ArrayLike
) -> FloatArray:
    """Test information (sum of item information) at each ability; SE = 1 / sqrt(info).

    Examples
    --------
    >>> test_information([0.0], [1.0, 2.0], [0.0, 0.0]).tolist()
    [1.25]
    """
    return item_information(theta, discrimination, difficulty).sum(axis=1)


test_information.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

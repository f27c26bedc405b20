"""How far an IRT calibration can be trusted: standard errors and item fit.

* :func:`information_matrix` — the observed information matrix of the marginal likelihood
  (the negative Hessian of ``log L = Σ_i log Σ_q w_q Π_j P_jq^x (1 − P_jq)^(1−x)``) at given
  slope/intercept parameters, by Louis's identity: with the posterior over the quadrature
  grid, ``−∇²ℓ = −E[∇²ℓ_c] − E[g gᵀ] + Σ_i ḡ_i ḡ_iᵀ`` (``ℓ_c`` the complete-data
  log-likelihood, ``g`` its gradient, ``ḡ_i`` its posterior mean for candidate ``i``). Exact,
  not an approximation such as the cross-product matrix; its inverse is the asymptotic
  covariance of the estimates. Cost: a few ``J × J`` matrix products over the candidates (one
  per quadrature node when papers differ; beyond :data:`FULL_INFORMATION_BUDGET`
  multiply-adds only the per-item 2 × 2 blocks are formed, and the result says so).
* :func:`item_fit` — Orlando and Thissen's (2000) ``S-X²`` per item: observed and
  model-implied proportions correct within each summed-score group (the latter from the
  Lord–Wingersky recursion), ``Σ_k N_k (O_k − E_k)² / (E_k (1 − E_k))`` over the score groups
  ``1 … J − 1`` after merging neighbouring groups until every group expects at least
  ``min_expected`` right and wrong answers; ``df = groups − parameters of the item``;
  p-value from the chi-square distribution. Needs complete data (everyone saw every item).

Conventions are those of :mod:`item_analysis.irt`: ``P = 1 / (1 + exp(−(a z + d)))`` on a
standard-normal latent scale ``z``; for the 2PL ``a`` is the discrimination and
``b = −d / a``; for Rasch the common slope ``a`` equals ``σ`` and ``b = −d``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._util import FloatArray, frozen

__all__ = [
    "FULL_INFORMATION_BUDGET",
    "ItemFit",
    "StandardErrors",
    "chi2_sf",
    "information_matrix",
    "item_fit",
    "standard_errors",
    "summed_score_likelihood",
]

#: Multiply-adds allowed for the full information matrix with missing-by-design data
#: (``nodes × candidates × items²``); beyond it only per-item blocks are formed.
FULL_INFORMATION_BUDGET = 3e10


def _logistic(eta: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-eta))


def information_matrix(
    x: FloatArray,
    s: FloatArray | None,
    post: FloatArray,
    a: FloatArray,
    d: FloatArray,
    z: FloatArray,
    *,
    full: bool = True,
) -> FloatArray:
    """Observed information of the slopes and intercepts, order ``(a_1..a_J, d_1..d_J)``.

    Parameters
    ----------
    x : (N, J) 0/1 scores, 0 where unseen
    s : (N, J) seen mask as floats, or None when everyone saw everything
    post : (N, Q) posterior weights over the grid at the parameters (rows sum to 1)
    a, d : (J,) slopes and intercepts
    z : (Q,) grid
    full : bool
        False: only the per-item 2 × 2 blocks (the rest is zero).

    Returns
    -------
    ndarray, shape (2J, 2J)
    """
    j = x.shape[1]
    p = _logistic(a[:, None] * z[None, :] + d[:, None])  # (J, Q)
    pq = p * (1.0 - p)
    n_jq = np.broadcast_to(post.sum(axis=0), p.shape) if s is None else s.T @ post
    zm = [np.ones_like(z), z, z * z]
    # −E[∇²ℓ_c]: per item Σ_q n_jq P Q [z², z; z, 1].
    c = [(n_jq * pq) @ zz for zz in zm]
    # Posterior-mean gradients per candidate.
    w1 = post @ z
    u0 = post @ p.T  # (N, J): E[P_j]
    u1 = post @ (z[:, None] * p.T)  # E[z P_j]
    if s is None:
        ga = x * w1[:, None] - u1
        gd = x - u0
    else:
        ga = x * w1[:, None] - s * u1
        gd = x - s * u0
    out = np.zeros((2 * j, 2 * j))
    idx = np.arange(j)
    if full:
        # E[g gᵀ] per moment m: Σ_i Σ_q post z^m (x_ij − s_ij P_jq)(x_ik − s_ik P_kq).
        t = []
        for m, zz in enumerate(zm):
            wm = post @ zz
            um = [u0, u1, post @ ((z * z)[:, None] * p.T)][m]
            xwx = x.T @ (x * wm[:, None])
            xu = x.T @ (um if s is None else s * um)
            if s is None:
                f = (p * (zz * post.sum(axis=0))[None, :]) @ p.T
            else:
                f = np.zeros((j, j))
                for q in range(z.size):
                    dq = s.T @ (s * post[:, q : q + 1])
                    f += zz[q] * np.outer(p[:, q], p[:, q]) * dq
            t.append(xwx - xu - xu.T + f)
        out[:j, :j] = -t[2]
        out[:j, j:] = -t[1]
        out[j:, :j] = -t[1].T
        out[j:, j:] = -t[0]
        g = np.concatenate([ga, gd], axis=1)
        out += g.T @ g
    else:
        diag = []
        for m, zz in enumerate(zm):
            wm = post @ zz
            um = [u0, u1, post @ ((z * z)[:, None] * p.T)][m]
            tjj = (x * wm[:, None]).sum(axis=0) - 2.0 * (x * um).sum(axis=0)
            tjj += (n_jq * p * p) @ zz
            diag.append(tjj)
        out[idx, idx] = -diag[2] + (ga * ga).sum(axis=0)
        out[idx, j + idx] = out[j + idx, idx] = -diag[1] + (ga * gd).sum(axis=0)
        out[j + idx, j + idx] = -diag[0] + (gd * gd).sum(axis=0)
    out[idx, idx] += c[2]
    out[idx, j + idx] += c[1]
    out[j + idx, idx] += c[1]
    out[j + idx, j + idx] += c[0]
    return out


@dataclass(frozen=True)
class StandardErrors:
    """Standard errors of a calibration (NaN where not available).

    Attributes
    ----------
    discrimination, difficulty : (J,) SEs of ``a_j`` and ``b_j`` in the ability metric
    intercept : (J,) SE of the intercept ``d_j``
    sigma : SE of the ability SD (Rasch), NaN for the 2PL
    method : ``"observed information (Louis)"`` or, for very large randomized data,
        ``"observed information, per-item blocks"``
    """

    discrimination: FloatArray
    difficulty: FloatArray
    intercept: FloatArray
    sigma: float
    method: str


def standard_errors(
    x: FloatArray,
    s: FloatArray | None,
    post: FloatArray,
    slopes: FloatArray,
    d: FloatArray,
    z: FloatArray,
    *,
    model: str,
) -> StandardErrors:
    """SEs from the inverse observed information (delta method for ``b``).

    ``slopes`` holds every item's slope (for Rasch all equal to ``σ``). Arrays cover the
    calibrated items only.
    """
    j = d.size
    n = x.shape[0]
    full = s is None or z.size * n * j * j <= FULL_INFORMATION_BUDGET
    info = information_matrix(x, s, post, slopes, d, z, full=full)
    method = "observed information (Louis)" if full else "observed information, per-item blocks"
    nan = np.full(j, np.nan)
    if model == "rasch":
        if not full:
            var_d = 1.0 / np.diag(info)[j:]
            se_d = np.sqrt(np.where(var_d > 0, var_d, np.nan))
            return StandardErrors(nan, frozen(se_d), frozen(se_d), math.nan, method)
        # a_j = σ for every item: the Hessian of the Rasch parameters (σ, d) is Mᵀ H M.
        m = np.zeros((2 * j, j + 1))
        m[:j, 0] = 1.0
        m[j:, 1:] = np.eye(j)
        cov = _inverse(m.T @ info @ m)
        var = np.diag(cov)
        se_sigma = math.sqrt(var[0]) if var[0] > 0 else math.nan
        se_d = np.sqrt(np.where(var[1:] > 0, var[1:], np.nan))
        return StandardErrors(np.zeros(j), frozen(se_d), frozen(se_d), se_sigma, method)
    if full:
        cov = _inverse(info)
        vaa = np.diag(cov)[:j]
        vdd = np.diag(cov)[j:]
        vad = cov[np.arange(j), j + np.arange(j)]
    else:
        idx = np.arange(j)
        haa, had, hdd = info[idx, idx], info[idx, j + idx], info[j + idx, j + idx]
        det = haa * hdd - had * had
        with np.errstate(divide="ignore", invalid="ignore"):
            vaa, vad, vdd = hdd / det, -had / det, haa / det
    a = slopes
    with np.errstate(divide="ignore", invalid="ignore"):
        # b = −d / a: ∂b/∂a = d / a², ∂b/∂d = −1 / a.
        ga, gd = d / (a * a), -1.0 / a
        vb = ga * ga * vaa + gd * gd * vdd + 2.0 * ga * gd * vad
    return StandardErrors(
        frozen(_sqrt(vaa)), frozen(_sqrt(vb)), frozen(_sqrt(vdd)), math.nan, method
    )


def _sqrt(v: FloatArray) -> FloatArray:
    v = np.asarray(v, dtype=np.float64)
    return np.sqrt(np.where(np.isfinite(v) & (v > 0), v, np.nan))


def _inverse(m: FloatArray) -> FloatArray:
    try:
        return np.linalg.inv(m)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(m)


# -- item fit ------------------------------------------------------------------------------------


def summed_score_likelihood(p: FloatArray) -> FloatArray:
    """Lord–Wingersky recursion: ``L[q, k] = P(summed score k | node q)``.

    Parameters
    ----------
    p : (J, Q) probabilities of a right answer per item and node

    Returns
    -------
    ndarray, shape (Q, J + 1)

    Examples
    --------
    >>> summed_score_likelihood(np.array([[0.5], [0.5]])).tolist()
    [[0.25, 0.5, 0.25]]
    """
    j, q = p.shape
    f = np.zeros((q, j + 1))
    f[:, 0] = 1.0
    for k in range(j):
        pk = p[k][:, None]
        f[:, 1 : k + 2] = f[:, 1 : k + 2] * (1.0 - pk) + f[:, : k + 1] * pk
        f[:, 0] *= 1.0 - p[k]
    return f


@dataclass(frozen=True)
class ItemFit:
    """Orlando–Thissen ``S-X²`` per item (NaN where not computed).

    Attributes
    ----------
    statistic, df, p_value : (J,)
    groups : (J,) score groups after merging
    min_expected : the smallest expected count a group may have
    """

    statistic: FloatArray
    df: np.ndarray
    p_value: FloatArray
    groups: np.ndarray
    min_expected: float


def item_fit(
    scores: ArrayLike,
    slopes: ArrayLike,
    intercepts: ArrayLike,
    *,
    z: ArrayLike,
    weights: ArrayLike,
    n_parameters: int = 2,
    min_expected: float = 1.0,
) -> ItemFit:
    """Orlando and Thissen's ``S-X²`` for every item with finite parameters.

    Parameters
    ----------
    scores : (N, J) complete 0/1 scores
    slopes, intercepts : (J,) ``a`` and ``d`` on the standard-normal grid ``z`` (NaN: the
        item is left out of the summed score and gets NaN)
    z, weights : (Q,) grid and prior weights
    n_parameters : parameters estimated per item (2 for the 2PL, 1 for Rasch)
    min_expected : neighbouring score groups are merged until each expects at least this
        many right and wrong answers

    Returns
    -------
    ItemFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> th = rng.normal(size=3000)
    >>> d = np.linspace(-1, 1, 6)
    >>> x = (rng.random((3000, 6)) < 1 / (1 + np.exp(-(th[:, None] + d)))).astype(float)
    >>> from item_analysis.irt import quadrature
    >>> zz, ww = quadrature()
    >>> fit = item_fit(x, np.ones(6), d, z=zz, weights=ww)
    >>> bool((fit.p_value > 0.001).all()), fit.df.tolist()
    (True, [3, 3, 3, 3, 3, 3])
    """
    x = np.asarray(scores, dtype=np.float64)
    a = np.asarray(slopes, dtype=np.float64)
    d = np.asarray(intercepts, dtype=np.float64)
    zz = np.asarray(z, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    n_items = x.shape[1]
    stat = np.full(n_items, np.nan)
    dfs = np.zeros(n_items, dtype=np.int64)
    pv = np.full(n_items, np.nan)
    groups = np.zeros(n_items, dtype=np.int64)
    use = np.flatnonzero(np.isfinite(a) & np.isfinite(d))
    j = use.size
    if j < 3:
        return ItemFit(frozen(stat), frozen(dfs), frozen(pv), frozen(groups), min_expected)
    xu = x[:, use]
    total = np.rint(xu.sum(axis=1)).astype(np.intp)
    n_k = np.bincount(total, minlength=j + 1).astype(np.float64)
    right_k = np.zeros((j + 1, j))
    np.add.at(right_k, total, xu)
    p = _logistic(a[use][:, None] * zz[None, :] + d[use][:, None])
    f_all = summed_score_likelihood(p)
    denom = w @ f_all  # (J + 1,)
    for t, item in enumerate(use):
        rest = summed_score_likelihood(np.delete(p, t, axis=0))  # (Q, J)
        # E_k = ∫ P_j f_{-j}(k − 1) dG / ∫ f(k) dG for k = 1 … J − 1
        num = (w * p[t]) @ rest[:, : j - 1]
        ks = np.arange(1, j)
        e = num / denom[ks]
        nk = n_k[ks]
        o = right_k[ks, t]
        chi, g = _sx2(nk, o, e, min_expected)
        df = g - n_parameters
        stat[item] = chi
        groups[item] = g
        dfs[item] = max(df, 0)
        pv[item] = chi2_sf(chi, df) if df > 0 else np.nan
    return ItemFit(frozen(stat), frozen(dfs), frozen(pv), frozen(groups), min_expected)


def _sx2(nk: FloatArray, right: FloatArray, e: FloatArray, min_expected: float):
    """Merge neighbouring score groups (left to right, a short last group joins the one
    before) until each expects ``min_expected`` right and wrong answers; the statistic."""
    merged: list[tuple[float, float, float]] = []  # (N, observed right, expected right)
    cur = [0.0, 0.0, 0.0]
    for n, o, ex in zip(nk, right, e * nk, strict=True):
        cur[0] += n
        cur[1] += o
        cur[2] += ex
        if cur[2] >= min_expected and cur[0] - cur[2] >= min_expected:
            merged.append((cur[0], cur[1], cur[2]))
            cur = [0.0, 0.0, 0.0]
    if cur[0] > 0:
        if merged:
            n0, o0, e0 = merged.pop()
            merged.append((n0 + cur[0], o0 + cur[1], e0 + cur[2]))
        else:
            merged.append((cur[0], cur[1], cur[2]))
    chi = 0.0
    for n, o, ex in merged:
        if n <= 0:
            continue
        pe = ex / n
        po = o / n
        if 0 < pe < 1:
            chi += n * (po - pe) ** 2 / (pe * (1.0 - pe))
    return chi, len(merged)


def chi2_sf(x: float, df: float) -> float:
    """Upper tail of the chi-square distribution, ``Q(df/2, x/2)`` (regularised upper
    incomplete gamma: series below ``a + 1``, Lentz's continued fraction above).

    Examples
    --------
    >>> round(chi2_sf(3.841458820694124, 1), 6), round(chi2_sf(0.0, 3), 6)
    (0.05, 1.0)
    """
    if df <= 0 or not math.isfinite(x):
        return math.nan
    if x <= 0:
        return 1.0
    a = df / 2.0
    y = x / 2.0
    log_front = a * math.log(y) - y - math.lgamma(a)
    if y < a + 1.0:
        term = total = 1.0 / a
        k = a
        for _ in range(10_000):
            k += 1.0
            term *= y / k
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = y + 1.0 - a
    c = 1.0 / tiny
    dd = 1.0 / b
    h = dd
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        dd = an * dd + b
        dd = tiny if abs(dd) < tiny else dd
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        dd = 1.0 / dd
        delta = dd * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)

"""Data forensics: answer similarity, rapid guessing and person fit.

Everything here is statistical evidence (values, p-values, flags at a stated error rate), never
a finding of misconduct: a flagged pair may have studied together, a rapid responder may have
known the answers, a misfitting person may have been ill.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from ._data import Data, prepare
from ._util import (
    FloatArray,
    IntArray,
    as_2d,
    check_fraction,
    first_bad,
    frozen,
    norm_cdf,
    norm_isf,
    norm_sf,
    per_item,
    seen_mask,
)

__all__ = [
    "PairEvidence",
    "PersonFit",
    "RapidGuessing",
    "SimilarityResult",
    "answer_similarity",
    "benjamini_hochberg",
    "identical_incorrect_matrix",
    "person_fit_lz",
    "rapid_guessing",
]


# --------------------------------------------------------------------------------------------
# multiple testing


def benjamini_hochberg(
    p_values: ArrayLike, q: float = 0.05, *, m: int | None = None
) -> tuple[np.ndarray, float]:
    """Benjamini-Hochberg step-up procedure.

    Parameters
    ----------
    p_values : array_like, shape (n,)
        NaN p-values are never rejected.
    q : float
        False discovery rate.
    m : int, optional
        Total number of hypotheses when ``p_values`` holds only the smallest ones (the others
        are known to exceed ``q`` and can never be rejected). Default ``len(p_values)``.

    Returns
    -------
    reject : ndarray of bool, shape (n,)
    threshold : float
        Largest rejected p-value (0.0 when nothing is rejected).

    Examples
    --------
    >>> rej, thr = benjamini_hochberg([0.001, 0.008, 0.039, 0.041, 0.6], q=0.05)
    >>> rej.tolist(), thr
    ([True, True, False, False, False], 0.008)
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    check_fraction("q", q, low=1e-300, high=1.0)
    n = p.size
    m_tot = n if m is None else int(m)
    if m_tot < n:
        raise ValueError(f"m ({m}) must be at least the number of p-values ({n})")
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError(f"p-values must lie in [0, 1], got {p[ok][(p[ok] < 0) | (p[ok] > 1)][0]}")
    reject = np.zeros(n, dtype=bool)
    if n == 0 or m_tot == 0:
        return reject, 0.0
    vals = np.where(ok, p, np.inf)
    order = np.argsort(vals, kind="stable")
    crit = q * np.arange(1, n + 1) / m_tot
    below = np.flatnonzero(vals[order] <= crit)
    if below.size == 0:
        return reject, 0.0
    k = below[-1]
    reject[order[: k + 1]] = True
    return reject, float(vals[order[k]])


# --------------------------------------------------------------------------------------------
# answer similarity


@dataclass(frozen=True)
class PairEvidence:
    """Similarity evidence for one pair of candidates (``a < b``).

    Attributes
    ----------
    a, b : candidate indices
    shared_items : items both saw
    identical : identical responses among them (same option set, or both unanswered)
    identical_incorrect : identical wrong answers (both answered, same wrong option set)
    expected_ab, omega_ab : expected matches and Wollack's omega with ``a`` as the copier of
        ``b``: ``(identical - expected) / sd``
    expected_ba, omega_ba : the same with ``b`` as the copier
    p_value : ``min(1, 2 * min(p_ab, p_ba))``, one-sided upper tail of the number of matches
    p_exact : p_value is the exact Poisson-binomial tail (else the normal approximation)
    significant : a discovery of the Benjamini-Hochberg procedure at the requested FDR
    """

    a: int
    b: int
    shared_items: int
    identical: int
    identical_incorrect: int
    expected_ab: float
    omega_ab: float
    expected_ba: float
    omega_ba: float
    p_value: float
    p_exact: bool
    significant: bool


@dataclass(frozen=True)
class SimilarityResult:
    """All-pairs answer-similarity screening.

    Attributes
    ----------
    pairs : reported pairs (discoveries, plus any with ``p_value <= report_p``), by p-value
    n_pairs_tested : pairs in the same group sharing at least ``min_shared`` items (the ``m``
        of the FDR procedure)
    n_significant : discoveries
    q : false discovery rate
    p_threshold : largest p-value declared a discovery (0 when none)
    bandwidth : kernel bandwidth used for the option curves, in SDs of ability
    min_shared : minimum shared items for a pair to be tested
    """

    pairs: tuple[PairEvidence, ...]
    n_pairs_tested: int
    n_significant: int
    q: float
    p_threshold: float
    bandwidth: float
    min_shared: int


@dataclass
class _Cat:
    """Response categories: one column per (item, observed response pattern)."""

    col: IntArray  # category column of each cell (candidate-major order)
    item_of_col: IntArray  # (C,)
    code_of_col: IntArray  # (C,) option bit mask (0 = not answered)
    offsets: IntArray  # (N + 1,) cell offsets per candidate
    cand_item: IntArray  # item of each cell (candidate-major)
    n_cols: int


def _categories(d: Data) -> _Cat:
    assert d.mask is not None
    order = np.argsort(d.r, kind="stable")
    r = d.r[order]
    c = d.c[order]
    mask = d.flat(d.mask)[order]
    key = c.astype(np.int64) * (1 << 17) + mask
    uniq, col = np.unique(key, return_inverse=True)
    offsets = np.zeros(d.n + 1, dtype=np.intp)
    np.cumsum(np.bincount(r, minlength=d.n), out=offsets[1:])
    return _Cat(
        col=col.astype(np.intp),
        item_of_col=(uniq >> 17).astype(np.intp),
        code_of_col=(uniq & ((1 << 17) - 1)).astype(np.int64),
        offsets=offsets,
        cand_item=c,
        n_cols=int(uniq.size),
    )


def _rows_cells(cat: _Cat, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell indices (candidate-major) of the given candidates, and the local row of each."""
    lengths = cat.offsets[rows + 1] - cat.offsets[rows]
    total = int(lengths.sum())
    local = np.repeat(np.arange(rows.size), lengths)
    shift = np.repeat(cat.offsets[rows] - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total) + shift, local


def _onehot(cat: _Cat, rows: np.ndarray, n_cols: int) -> np.ndarray:
    cells, local = _rows_cells(cat, rows)
    out = np.zeros((rows.size, n_cols), dtype=np.float32)
    out[local, cat.col[cells]] = 1.0
    return out


def _seen_rows(cat: _Cat, rows: np.ndarray, n_items: int) -> np.ndarray:
    cells, local = _rows_cells(cat, rows)
    out = np.zeros((rows.size, n_items), dtype=np.float32)
    out[local, cat.cand_item[cells]] = 1.0
    return out


def _option_curves(
    cat: _Cat, u: FloatArray, usable: np.ndarray, n_items: int, bandwidth: float, smoothing: float
) -> tuple[FloatArray, FloatArray]:
    """Kernel-smoothed P(category | ability) on a grid: returns (grid, probs (G, C))."""
    idx = np.flatnonzero(usable)
    grid = np.linspace(u[idx].min(), u[idx].max(), 51) if idx.size else np.zeros(1)
    num = np.zeros((grid.size, cat.n_cols))
    den = np.zeros((grid.size, n_items))
    for start in range(0, idx.size, 4096):
        rows = idx[start : start + 4096]
        k = np.exp(-0.5 * ((grid[:, None] - u[None, rows]) / bandwidth) ** 2).astype(np.float32)
        num += k @ _onehot(cat, rows, cat.n_cols)
        den += k @ _seen_rows(cat, rows, n_items)
    counts = np.bincount(cat.col, minlength=cat.n_cols).astype(np.float64)
    item_tot = np.bincount(cat.item_of_col, weights=counts, minlength=n_items)
    prior = counts / np.maximum(item_tot[cat.item_of_col], 1.0)
    probs = (num + smoothing * prior[None, :]) / (den[:, cat.item_of_col] + smoothing)
    return grid, probs


def _interp_rows(grid: FloatArray, table: FloatArray, u: FloatArray) -> FloatArray:
    if grid.size == 1 or grid[1] == grid[0]:
        # One ability value for everyone (e.g. identical scores): the curves are flat there.
        return np.repeat(table[:1], u.size, axis=0)
    pos = np.clip((u - grid[0]) / (grid[1] - grid[0]), 0.0, grid.size - 1.0)
    i0 = np.minimum(pos.astype(np.intp), grid.size - 2)
    w = (pos - i0)[:, None]
    return (1.0 - w) * table[i0] + w * table[i0 + 1]


def _poisson_binomial_sf(probs: FloatArray, k: IntArray) -> FloatArray:
    """P(sum of independent Bernoulli(probs[i, :]) >= k[i]) for each row, exactly."""
    n_rows = probs.shape[0]
    if n_rows == 0:
        return np.zeros(0)
    p = -np.sort(-probs, axis=1)
    width = int((p > 0).sum(axis=1).max())
    p = p[:, :width]
    dist = np.zeros((n_rows, width + 1))
    dist[:, 0] = 1.0
    for j in range(width):
        pj = p[:, j : j + 1]
        shifted = dist[:, :-1] * pj
        dist *= 1.0 - pj
        dist[:, 1:] += shifted
    tail = np.cumsum(dist[:, ::-1], axis=1)[:, ::-1]
    kk = np.clip(k, 0, width + 1)
    out = np.zeros(n_rows)
    inside = kk <= width
    out[inside] = tail[np.flatnonzero(inside), kk[inside]]
    return np.clip(out, 0.0, 1.0)


def answer_similarity(
    choices: ArrayLike,
    keys: ArrayLike,
    *,
    n_options: ArrayLike | None = None,
    multi: ArrayLike | None = None,
    seen: ArrayLike | None = None,
    groups: Sequence[Hashable] | np.ndarray | None = None,
    ability: ArrayLike | None = None,
    q: float = 0.05,
    min_shared: int = 20,
    report_p: float = 0.0,
    exact_below: float = 1e-3,
    bandwidth: float | None = None,
    smoothing: float = 1.0,
    block: int = 1024,
) -> SimilarityResult:
    """Screen every pair of candidates for unusually many identical answers (Wollack's omega).

    For copier ``c`` and source ``s`` the statistic counts identical responses ``h`` on the
    items both saw (the same option set, or both unanswered) and compares it with
    ``E = sum_j P_j(response of s on j | ability of c)``, ``V = sum_j P (1 - P)``:
    ``omega = (h - E) / sqrt(V)``. The option probabilities are nominal-response-like option
    characteristic curves estimated nonparametrically: Gaussian-kernel smoothing of each
    response category against standardised ability. The pair's p-value is
    ``min(1, 2 * min(p_cs, p_sc))`` where each one-sided tail ``P(H >= h)`` comes from a
    normal approximation with continuity correction, replaced by the exact Poisson-binomial
    tail whenever the approximate pair p-value is below ``exact_below``. Benjamini-Hochberg
    controls the false discovery rate over all tested pairs.

    Parameters
    ----------
    choices : array_like of int, shape (N, J)
        Option codes (``-1`` = not answered).
    keys : array_like of int, shape (J,)
    n_options, multi : array_like, shape (J,), optional
    seen : array_like of bool, shape (N, J), optional
    groups : array_like, shape (N,), optional
        Only pairs with equal labels (e.g. the same room or session) are tested.
    ability : array_like, shape (N,), optional
        Ability used to condition the option probabilities (default: score fraction; an IRT
        theta also works).
    q : float
        False discovery rate (default 0.05).
    min_shared : int
        Pairs sharing fewer items are not tested (default 20).
    report_p : float
        Also report non-significant pairs with ``p_value <= report_p``.
    exact_below : float
        Pairs whose approximate p-value is below this get the exact tail.
    bandwidth : float, optional
        Kernel bandwidth in SDs of ability (default ``1.1 * N ** -0.2``).
    smoothing : float
        Pseudo-count pulling each curve towards the overall category share.
    block : int
        Candidates per tile of the all-pairs loop (memory ~ 6 * block**2 * 4 bytes).

    Returns
    -------
    SimilarityResult

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> ch = rng.integers(0, 4, size=(60, 40))
    >>> ch[1] = ch[0]  # candidate 1 copies candidate 0
    >>> res = answer_similarity(ch, np.zeros(40, int), n_options=4)
    >>> [(p.a, p.b) for p in res.pairs if p.significant]
    [(0, 1)]
    """
    check_fraction("q", q, low=1e-12, high=1.0)
    check_fraction("report_p", report_p)
    check_fraction("exact_below", exact_below, low=0.0, high=1.0)
    if not isinstance(min_shared, int) or min_shared < 1:
        raise ValueError(f"min_shared must be a positive integer, got {min_shared!r}")
    if not isinstance(block, int) or block < 16:
        raise ValueError(f"block must be an integer >= 16, got {block!r}")
    if not (smoothing > 0):
        raise ValueError(f"smoothing must be positive, got {smoothing!r}")
    d = prepare(choices=choices, keys=keys, n_options=n_options, multi=multi, seen=seen)
    assert d.mask is not None and d.key_mask is not None
    n = d.n
    if ability is None:
        ab = d.fraction
    else:
        ab = np.asarray(ability, dtype=np.float64)
        if ab.shape != (n,):
            raise ValueError(f"ability has shape {ab.shape}, expected ({n},)")
    usable = np.isfinite(ab) & (d.n_seen > 0)
    sd = float(np.std(ab[usable])) if usable.any() else 0.0
    u = np.where(
        usable, (ab - (ab[usable].mean() if usable.any() else 0.0)) / (sd if sd > 0 else 1.0), 0.0
    )
    h = 1.1 * max(int(usable.sum()), 1) ** -0.2 if bandwidth is None else float(bandwidth)
    if not (h > 0):
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}")

    if groups is None:
        labels = np.zeros(n, dtype=np.intp)
    else:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise ValueError(f"groups has shape {g.shape}, expected ({n},)")
        labels = np.unique(g, return_inverse=True)[1].ravel()

    cat = _categories(d)
    grid, curves = _option_curves(cat, u, usable, d.j, h, smoothing)
    wrong_col = (cat.code_of_col != 0) & (cat.code_of_col != d.key_mask[cat.item_of_col])

    t = max(exact_below, report_p)
    while True:
        found = _scan_pairs(
            cat, d, u, usable, labels, grid, curves, wrong_col, q, t, min_shared, block
        )
        m, approx_p, details = found
        exact_p = np.array([e.p_value for e in details])
        p_all = np.concatenate([approx_p, exact_p])
        reject_all, thr = benjamini_hochberg(p_all, q, m=max(m, p_all.size))
        n_sig = int(reject_all.sum())
        if thr <= t or t >= q:
            break
        t = min(q, t * 10.0)
    report = []
    for e in details:
        sig = n_sig > 0 and e.p_value <= thr
        if sig or e.p_value <= report_p:
            report.append(replace(e, significant=sig))
    report.sort(key=lambda e: (e.p_value, e.a, e.b))
    return SimilarityResult(
        pairs=tuple(report),
        n_pairs_tested=int(m),
        n_significant=n_sig,
        q=q,
        p_threshold=thr,
        bandwidth=h,
        min_shared=min_shared,
    )


def _scan_pairs(
    cat: _Cat,
    d: Data,
    u: FloatArray,
    usable: np.ndarray,
    labels: IntArray,
    grid: FloatArray,
    curves: FloatArray,
    wrong_col: np.ndarray,
    q: float,
    t: float,
    min_shared: int,
    block: int,
) -> tuple[int, FloatArray, list[PairEvidence]]:
    z_q = norm_isf(q / 2.0)
    z_t = norm_isf(t / 2.0) if t > 0 else np.inf
    m = 0
    approx: list[FloatArray] = []
    details: list[PairEvidence] = []
    for lab in np.unique(labels):
        rows = np.flatnonzero((labels == lab) & usable)
        if rows.size < 2:
            continue
        b_all = _onehot(cat, rows, cat.n_cols)
        s_all = _seen_rows(cat, rows, d.j)
        p_rows = _interp_rows(grid, curves, u[rows]).astype(np.float32)
        a_all = p_rows * s_all[:, cat.item_of_col]
        v_all = a_all * (1.0 - a_all)
        w_all = b_all * wrong_col[None, :].astype(np.float32)
        ng = rows.size
        for i0 in range(0, ng, block):
            i1 = min(ng, i0 + block)
            for j0 in range(i0, ng, block):
                j1 = min(ng, j0 + block)
                bi, bj = b_all[i0:i1], b_all[j0:j1]
                shared = s_all[i0:i1] @ s_all[j0:j1].T
                ok = shared >= min_shared - 0.5
                if i0 == j0:
                    ok &= np.triu(np.ones(ok.shape, dtype=bool), k=1)
                if not ok.any():
                    continue
                hits = bi @ bj.T
                e1 = a_all[i0:i1] @ bj.T
                v1 = v_all[i0:i1] @ bj.T
                e2 = bi @ a_all[j0:j1].T
                v2 = bi @ v_all[j0:j1].T
                with np.errstate(divide="ignore", invalid="ignore"):
                    z1 = np.where(v1 > 0, (hits - 0.5 - e1) / np.sqrt(v1), -np.inf)
                    z2 = np.where(v2 > 0, (hits - 0.5 - e2) / np.sqrt(v2), -np.inf)
                zmax = np.maximum(z1, z2)
                m += int(ok.sum())
                cand = ok & (zmax >= z_q)
                if not cand.any():
                    continue
                ii, jj = np.nonzero(cand)
                zc = zmax[ii, jj].astype(np.float64)
                pc = np.minimum(1.0, 2.0 * norm_sf(zc))
                exact = zc >= z_t
                approx.append(pc[~exact])
                if exact.any():
                    ie, je = ii[exact] + i0, jj[exact] + j0
                    details += _pair_details(
                        rows,
                        ie,
                        je,
                        b_all,
                        a_all,
                        v_all,
                        w_all,
                        s_all,
                        cat,
                        hits[ii[exact], jj[exact]],
                        e1[ii[exact], jj[exact]],
                        v1[ii[exact], jj[exact]],
                        e2[ii[exact], jj[exact]],
                        v2[ii[exact], jj[exact]],
                    )
    approx_p = np.concatenate(approx) if approx else np.zeros(0)
    return m, approx_p, details


def _pair_details(
    rows: IntArray,
    ie: IntArray,
    je: IntArray,
    b_all: np.ndarray,
    a_all: np.ndarray,
    v_all: np.ndarray,
    w_all: np.ndarray,
    s_all: np.ndarray,
    cat: _Cat,
    hits: np.ndarray,
    e1: np.ndarray,
    v1: np.ndarray,
    e2: np.ndarray,
    v2: np.ndarray,
) -> list[PairEvidence]:
    del v_all
    # per-item match probabilities: P_copier(category chosen by the source) on shared items
    p_ab = a_all[ie] * b_all[je]  # (n, C): nonzero only at the source's categories
    p_ba = a_all[je] * b_all[ie]
    h = np.rint(hits).astype(np.int64)
    sf_ab = _poisson_binomial_sf(p_ab.astype(np.float64), h)
    sf_ba = _poisson_binomial_sf(p_ba.astype(np.float64), h)
    p = np.minimum(1.0, 2.0 * np.minimum(sf_ab, sf_ba))
    shared = np.rint((s_all[ie] * s_all[je]).sum(axis=1)).astype(int)
    wrong = np.rint((w_all[ie] * w_all[je]).sum(axis=1)).astype(int)
    out = []
    for k in range(ie.size):
        a, b = int(rows[ie[k]]), int(rows[je[k]])
        sd1, sd2 = float(np.sqrt(v1[k])), float(np.sqrt(v2[k]))
        om1 = (float(hits[k]) - float(e1[k])) / sd1 if sd1 > 0 else float("nan")
        om2 = (float(hits[k]) - float(e2[k])) / sd2 if sd2 > 0 else float("nan")
        if a > b:
            a, b, om1, om2, e1k, e2k = b, a, om2, om1, float(e2[k]), float(e1[k])
        else:
            e1k, e2k = float(e1[k]), float(e2[k])
        out.append(
            PairEvidence(
                a=a,
                b=b,
                shared_items=int(shared[k]),
                identical=int(h[k]),
                identical_incorrect=int(wrong[k]),
                expected_ab=e1k,
                omega_ab=om1,
                expected_ba=e2k,
                omega_ba=om2,
                p_value=float(p[k]),
                p_exact=True,
                significant=False,
            )
        )
    del cat
    return out


def identical_incorrect_matrix(
    choices: ArrayLike,
    keys: ArrayLike,
    *,
    n_options: ArrayLike | None = None,
    multi: ArrayLike | None = None,
    seen: ArrayLike | None = None,
) -> IntArray:
    """Count, for every pair of candidates, identical incorrect answers on items both saw.

    Memory is N * N integers, so use it per room or session.

    Parameters
    ----------
    choices : array_like of int, shape (N, J)
    keys : array_like of int, shape (J,)
    n_options, multi : array_like, shape (J,), optional
    seen : array_like of bool, shape (N, J), optional

    Returns
    -------
    ndarray of int, shape (N, N)
        Diagonal = each candidate's own number of incorrect answers.

    Examples
    --------
    >>> identical_incorrect_matrix([[1, 2], [1, 2], [0, 3]], [0, 0], n_options=4).tolist()
    [[2, 2, 0], [2, 2, 0], [0, 0, 1]]
    """
    d = prepare(choices=choices, keys=keys, n_options=n_options, multi=multi, seen=seen)
    assert d.mask is not None and d.key_mask is not None
    cat = _categories(d)
    wrong = (cat.code_of_col != 0) & (cat.code_of_col != d.key_mask[cat.item_of_col])
    w = _onehot(cat, np.arange(d.n), cat.n_cols)[:, wrong].astype(np.float64)
    return np.rint(w @ w.T).astype(np.int64)


# --------------------------------------------------------------------------------------------
# rapid guessing


@dataclass(frozen=True)
class RapidGuessing:
    """Rapid-guessing screen from response times (normative threshold method).

    Attributes
    ----------
    thresholds : (J,) seconds; responses faster than this are rapid guesses
    rapid : (N, J) bool
    n_timed : (N,) seen responses with a valid time
    effort : (N,) response-time effort: share of timed responses that are not rapid
    flagged : (N,) ``effort < min_effort``
    item_fidelity : (J,) share of the item's timed responses that are not rapid
    accuracy_rapid, accuracy_solution : (J,) facility of rapid / non-rapid responses (NaN
        without scores or responses); rapid accuracy near the guess score supports guessing
    min_effort : the threshold used for ``flagged``
    """

    thresholds: FloatArray
    rapid: np.ndarray
    n_timed: IntArray
    effort: FloatArray
    flagged: np.ndarray
    item_fidelity: FloatArray
    accuracy_rapid: FloatArray
    accuracy_solution: FloatArray
    min_effort: float


def rapid_guessing(
    times: ArrayLike,
    *,
    seen: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
    fraction: float = 0.10,
    cap: float = 10.0,
    min_effort: float = 0.90,
) -> RapidGuessing:
    """Flag rapid guesses with the normative threshold ``min(cap, fraction * median time)``.

    Parameters
    ----------
    times : array_like of float, shape (N, J)
        Seconds spent per item; NaN = not recorded (left out).
    seen : array_like of bool, shape (N, J), optional
    scores : array_like, shape (N, J), optional
        For the accuracy of rapid versus non-rapid responses.
    max_points : array_like, shape (J,), optional
    fraction : float
        Share of the item's median time (default 0.10, the NT10 rule).
    cap : float
        Upper limit of a threshold in seconds (default 10).
    min_effort : float
        Candidates with response-time effort below this are flagged (default 0.90).

    Returns
    -------
    RapidGuessing

    Examples
    --------
    >>> t = np.array([[30.0, 40.0], [2.0, 1.0], [35.0, 45.0], [25.0, 50.0]])
    >>> rg = rapid_guessing(t)
    >>> rg.thresholds.tolist(), rg.effort.tolist()
    ([2.75, 4.25], [1.0, 0.0, 1.0, 1.0])
    """
    check_fraction("fraction", fraction, low=1e-9, high=1.0)
    check_fraction("min_effort", min_effort)
    if not (np.isfinite(cap) and cap > 0):
        raise ValueError(f"cap must be a positive number of seconds, got {cap!r}")
    tm = as_2d("times", times, np.float64)
    j = tm.shape[1]
    sm = seen_mask(seen, tm.shape)
    look = np.ones(tm.shape, dtype=bool) if sm is None else sm
    neg = look & (tm < 0)
    if neg.any():
        i, jj = np.unravel_index(first_bad(neg.ravel()), neg.shape)
        raise ValueError(f"times[{i}, {jj}] = {tm[i, jj]} is negative")
    timed = look & np.isfinite(tm)
    med = np.full(j, np.nan)
    for jj in range(j):
        col = tm[timed[:, jj], jj]
        if col.size:
            med[jj] = float(np.median(col))
    thr = np.minimum(cap, fraction * med)
    with np.errstate(invalid="ignore"):
        rapid = timed & (tm < thr[None, :])
    n_timed = timed.sum(axis=1)
    n_rapid = rapid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        effort = np.where(n_timed > 0, 1.0 - n_rapid / np.maximum(n_timed, 1), np.nan)
        fidelity = np.where(
            timed.sum(0) > 0, 1.0 - rapid.sum(0) / np.maximum(timed.sum(0), 1), np.nan
        )
    acc_r = np.full(j, np.nan)
    acc_s = np.full(j, np.nan)
    if scores is not None:
        sc = as_2d("scores", scores, np.float64)
        if sc.shape != tm.shape:
            raise ValueError(f"scores has shape {sc.shape}, expected {tm.shape}")
        pts = per_item("max_points", max_points, j, 1.0, np.float64)
        f = np.where(timed, sc / pts, 0.0)
        solution = timed & ~rapid
        with np.errstate(invalid="ignore", divide="ignore"):
            acc_r = np.where(
                rapid.sum(0) > 0, (f * rapid).sum(0) / np.maximum(rapid.sum(0), 1), np.nan
            )
            acc_s = np.where(
                solution.sum(0) > 0, (f * solution).sum(0) / np.maximum(solution.sum(0), 1), np.nan
            )
    return RapidGuessing(
        thresholds=frozen(thr),
        rapid=frozen(rapid),
        n_timed=frozen(n_timed.astype(np.int64)),
        effort=frozen(effort),
        flagged=frozen(np.nan_to_num(effort, nan=1.0) < min_effort),
        item_fidelity=frozen(fidelity),
        accuracy_rapid=frozen(acc_r),
        accuracy_solution=frozen(acc_s),
        min_effort=float(min_effort),
    )


# --------------------------------------------------------------------------------------------
# person fit


@dataclass(frozen=True)
class PersonFit:
    """Standardised log-likelihood person fit (Drasgow, Levine & Williams 1985).

    Attributes
    ----------
    lz : (N,) ``(l0 - E[l0]) / sqrt(Var[l0])`` at the ability estimate; large negative values
        mean response patterns unlikely under the model (NaN with fewer than 2 items)
    p_value : (N,) lower-tail standard-normal probability of ``lz`` (approximate: the
        distribution of lz with estimated ability is not exactly normal)
    n_items : (N,) items used
    flagged : (N,) ``p_value < alpha``
    alpha : the level used for ``flagged``
    """

    lz: FloatArray
    p_value: FloatArray
    n_items: IntArray
    flagged: np.ndarray
    alpha: float


def person_fit_lz(
    scores: ArrayLike,
    discrimination: ArrayLike,
    difficulty: ArrayLike,
    theta: ArrayLike,
    *,
    seen: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
    alpha: float = 0.05,
) -> PersonFit:
    """The lz person-fit statistic for dichotomous items under a Rasch/2PL model.

    ``l0 = sum x ln P + (1 - x) ln(1 - P)``, ``E = sum P ln P + (1 - P) ln(1 - P)``,
    ``Var = sum P (1 - P) ln(P / (1 - P))**2`` over the seen items with finite parameters.

    Parameters
    ----------
    scores : array_like, shape (N, J)
        0 or ``max_points`` per seen cell.
    discrimination, difficulty : array_like, shape (J,)
    theta : array_like, shape (N,)
    seen : array_like of bool, shape (N, J), optional
    max_points : array_like, shape (J,), optional
    alpha : float
        Level for ``flagged`` (default 0.05).

    Returns
    -------
    PersonFit

    Examples
    --------
    >>> b = np.linspace(-2, 2, 9)
    >>> x = np.array([[1, 1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1, 1]], float)
    >>> fit = person_fit_lz(x, np.ones(9), b, [0.0, 0.0])
    >>> bool(fit.lz[0] > 0 > fit.lz[1]), fit.flagged.tolist()
    (True, [False, True])
    """
    check_fraction("alpha", alpha)
    x = as_2d("scores", scores, np.float64)
    n, j = x.shape
    sm = seen_mask(seen, x.shape)
    pts = per_item("max_points", max_points, j, 1.0, np.float64)
    a = per_item("discrimination", discrimination, j, np.nan, np.float64)
    b = per_item("difficulty", difficulty, j, np.nan, np.float64)
    th = np.asarray(theta, dtype=np.float64)
    if th.shape != (n,):
        raise ValueError(f"theta has shape {th.shape}, expected ({n},)")
    u = x / pts
    use = np.isfinite(a) & np.isfinite(b)
    look = (np.ones(x.shape, dtype=bool) if sm is None else sm) & use[None, :]
    bad = look & ~((u == 0) | (u == 1))
    if bad.any():
        i, jj = np.unravel_index(first_bad(bad.ravel()), bad.shape)
        raise ValueError(f"scores[{i}, {jj}] = {x[i, jj]} is not 0 or the item maximum")
    aa, bb = np.where(use, a, 0.0), np.where(use, b, 0.0)
    p = 1.0 / (1.0 + np.exp(-aa[None, :] * (th[:, None] - bb[None, :])))
    p = np.clip(p, 1e-12, 1 - 1e-12)
    lp, lq = np.log(p), np.log1p(-p)
    w = look.astype(np.float64)
    uu = np.where(look, u, 0.0)
    l0 = (w * (uu * lp + (1 - uu) * lq)).sum(axis=1)
    e = (w * (p * lp + (1 - p) * lq)).sum(axis=1)
    v = (w * p * (1 - p) * (lp - lq) ** 2).sum(axis=1)
    k = look.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        lz = np.where((v > 0) & (k >= 2) & np.isfinite(th), (l0 - e) / np.sqrt(v), np.nan)
    pv = norm_cdf(lz)
    return PersonFit(
        lz=frozen(lz),
        p_value=frozen(pv),
        n_items=frozen(k.astype(np.int64)),
        flagged=frozen(np.nan_to_num(pv, nan=1.0) < alpha),
        alpha=float(alpha),
    )

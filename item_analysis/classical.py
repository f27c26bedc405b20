"""Classical test theory: item, option and test statistics.

All statistics use only the cells a candidate saw (see the package docstring). A candidate's
*score fraction* is the points earned divided by the points available on the items they saw;
the *rest score* for item ``j`` is the same fraction computed without item ``j``. With complete
data and equal points these reduce to the textbook total and rest scores (up to a constant
factor, which correlations ignore). Exact formulas are in ``docs/item_analysis.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._data import Data, prepare
from ._util import (
    FloatArray,
    IntArray,
    check_edges,
    check_fraction,
    frozen,
    pearson_from_sums,
    rank_group_weights,
    safe_div,
)
from .scoring import guess_scores

__all__ = [
    "ItemStatistics",
    "OptionStatistics",
    "Reliability",
    "ScoreDistribution",
    "TestStatistics",
    "item_statistics",
    "option_statistics",
    "reliability",
    "score_distribution",
    "test_statistics",
]

DEFAULT_GROUPS = (0.0, 0.27, 0.73, 1.0)


@dataclass(frozen=True)
class ItemStatistics:
    """Per-item classical statistics; every array has shape (J,).

    Attributes
    ----------
    n : responses (candidates who saw the item)
    mean : mean points
    sd : sample standard deviation of the points (ddof=1)
    facility : mean points / max points
    item_rest_r : Pearson (point-biserial for 0/1 items) correlation of the item score with the
        rest score, over candidates who saw the item and at least one other item
    discrimination_index : facility in the upper group minus facility in the lower group
        (groups = top and bottom ``discrimination_fraction`` of candidates by score fraction)
    facility_upper, facility_lower : the two facilities behind ``discrimination_index``
    discriminative_efficiency : cov(item, rest) / max cov attainable with the same marginal
        distributions (Moodle's definition; NaN when undefined)
    guess_score : expected facility of random answering
    omit_rate : share of responses left unanswered (NaN without option codes)
    dichotomous : every observed score is 0 or the maximum
    """

    n: IntArray
    mean: FloatArray
    sd: FloatArray
    facility: FloatArray
    item_rest_r: FloatArray
    discrimination_index: FloatArray
    facility_upper: FloatArray
    facility_lower: FloatArray
    discriminative_efficiency: FloatArray
    guess_score: FloatArray
    omit_rate: FloatArray
    dichotomous: np.ndarray


@dataclass(frozen=True)
class OptionStatistics:
    """Per-option statistics; option arrays have shape (J, K) with K = max options.

    Entries for ``o >= n_options[j]`` are NaN (``is_key`` False). For multiple-response items an
    option counts as chosen when it is in the selected set. Group arrays add a last axis of
    length G (lowest-scoring group first), as defined by ``group_edges``.

    Attributes
    ----------
    n_options : (J,) options per item
    is_key : (J, K) option belongs to the key
    proportion : (J, K) share of the candidates who saw the item that chose the option
    proportion_by_group : (J, K, G) the same within each score group
    rest_r : (J, K) point-biserial correlation of "chose the option" with the rest score
    mean_total : (J, K) mean score fraction (0-1, item included) of those choosing the option
    omit_proportion, omit_rest_r, omit_mean_total : (J,) the same for "no answer"
    omit_by_group : (J, G)
    group_edges : rank fractions bounding the score groups
    """

    n_options: IntArray
    is_key: np.ndarray
    proportion: FloatArray
    proportion_by_group: FloatArray
    rest_r: FloatArray
    mean_total: FloatArray
    omit_proportion: FloatArray
    omit_by_group: FloatArray
    omit_rest_r: FloatArray
    omit_mean_total: FloatArray
    group_edges: tuple[float, ...]


@dataclass(frozen=True)
class Reliability:
    """Internal consistency.

    Attributes
    ----------
    alpha : Cronbach's alpha (equal to KR-20 for 0/1 items); with missing-by-design data, the
        alpha of a paper of ``mean_items_seen`` items built from the pooled item variances and
        pairwise-complete covariances
    kind : ``"KR-20"`` when all items are dichotomous with equal points, else ``"alpha"``
    alpha_if_deleted : (J,) alpha recomputed without each item
    mean_items_seen : mean number of items per candidate
    mean_item_variance, mean_item_covariance : the pooled (divide-by-n) moments behind alpha
    missing_by_design : whether some candidates did not see some items
    """

    alpha: float
    kind: Literal["KR-20", "alpha"]
    alpha_if_deleted: FloatArray
    mean_items_seen: float
    mean_item_variance: float
    mean_item_covariance: float
    missing_by_design: bool


@dataclass(frozen=True)
class ScoreDistribution:
    """Descriptive statistics of candidate scores.

    ``unit`` is ``"points"`` (raw totals) or ``"percent"`` (percentage of the points of the items
    each candidate saw, used when papers differ). ``sd`` uses ddof=1; ``skewness`` and
    ``kurtosis`` (excess) are the moment estimators g1 = m3 / m2**1.5 and g2 = m4 / m2**2 - 3.
    ``counts[i]`` counts scores in ``[bin_edges[i], bin_edges[i + 1])``, the last bin closed.
    """

    unit: Literal["points", "percent"]
    n: int
    mean: float
    sd: float
    median: float
    min: float
    max: float
    skewness: float
    kurtosis: float
    bin_edges: FloatArray
    counts: IntArray


@dataclass(frozen=True)
class TestStatistics:
    """Test-level summary: reliability, score distribution and standard error of measurement.

    ``sem = distribution.sd * sqrt(1 - reliability.alpha)`` in the distribution's unit.
    """

    __test__ = False  # not a pytest test class

    reliability: Reliability
    distribution: ScoreDistribution
    sem: float


# --------------------------------------------------------------------------------------------
# internals on prepared data


_BLOCK_CELLS = 1 << 20


@dataclass
class _Core:
    """Per-item sums from one blocked pass over the cells (arrays of shape (J,))."""

    n: FloatArray  # responses
    mean: FloatArray  # mean points
    sxx: FloatArray  # centred sum of squares of the points (all responses)
    nv: FloatArray  # responses with a rest score
    sxxv: FloatArray  # centred sums over responses with a rest score
    syy: FloatArray
    sxy: FloatArray
    mean_y: FloatArray
    low: FloatArray  # weighted facility sums and weights of the lower / upper groups
    low_w: FloatArray
    up: FloatArray
    up_w: FloatArray
    partial: FloatArray  # responses scored strictly between 0 and the maximum
    omitted: FloatArray  # unanswered responses (NaN without option codes)
    de: FloatArray  # discriminative efficiency
    cross: FloatArray  # reliability: sum of u_ij * (U_i - u_ij)
    pairs: FloatArray  # reliability: sum of (L_i - 1)
    opt: FloatArray | None  # (W, J, K) option sums: count, valid count, rest, fraction, groups
    omit: FloatArray | None  # (W, J) the same for "not answered"
    group_tot: FloatArray | None  # (J, G)


def _blocks(counts: IntArray) -> list[tuple[int, int]]:
    """Consecutive item ranges holding about _BLOCK_CELLS cells each (at least one item)."""
    out = []
    j0, total = 0, 0
    for j, cnt in enumerate(counts.tolist()):
        if j > j0 and total + cnt > _BLOCK_CELLS:
            out.append((j0, j))
            j0, total = j, 0
        total += cnt
    if counts.size:
        out.append((j0, counts.size))
    return out


def _core(d: Data, disc_fraction: float, edges: tuple[float, ...] | None) -> _Core:
    j_all = d.j
    counts = d.n_item
    n = counts.astype(np.float64)
    mean = safe_div(d.item_sum(d.x), n)
    mean0 = np.nan_to_num(mean)
    # per-candidate inputs of the pass
    total, possible = d.total, d.possible
    u_sum = total - (mean0.sum() if d.complete else d.cand_sum(d.item(mean0)))  # U_i
    l_minus_1 = (d.n_seen - 1).astype(np.float64)
    w = rank_group_weights(d.fraction, (0.0, disc_fraction, 1.0 - disc_fraction, 1.0))
    w_low, w_up = np.ascontiguousarray(w[:, 0]), np.ascontiguousarray(w[:, 2])
    with_options = edges is not None and d.mask is not None
    if with_options:
        assert edges is not None
        groups = rank_group_weights(d.fraction, edges)
        cand_w = [d.fraction, *(np.ascontiguousarray(groups[:, g]) for g in range(groups.shape[1]))]
        k_max = max(int(d.n_options.max()), 1)
        patterns = 1 << k_max
        bits = ((np.arange(patterns)[:, None] >> np.arange(k_max)) & 1).astype(np.float64)
        n_w = 3 + len(cand_w)
        opt = np.zeros((n_w, j_all, k_max))
        omit = np.zeros((n_w, j_all))
        group_tot = np.zeros((j_all, len(cand_w) - 1))

    names = ("nv", "sxx", "sxxv", "syy", "sxy", "sy", "low", "low_w", "up", "up_w", "partial",
             "omitted", "cross", "pairs", "de")  # fmt: skip
    acc = {k: np.zeros(j_all) for k in names}
    acc["de"][:] = np.nan
    if d.mask is None:
        acc["omitted"][:] = np.nan
    tiled: dict[int, np.ndarray] = {}
    for j0, j1 in _blocks(counts):
        cnt = counts[j0:j1]
        s0, s1 = int(d.starts[j0]), int(d.starts[j1])
        if s1 == s0:
            continue
        if d.complete:
            x = d.x[j0:j1].ravel()
            m_cells = d.mask[j0:j1].ravel() if d.mask is not None else None
            if j1 - j0 not in tiled:
                tiled[j1 - j0] = np.tile(np.arange(d.n, dtype=np.intp), j1 - j0)
            rows = tiled[j1 - j0]
        else:
            x = d.x[s0:s1]
            m_cells = d.mask[s0:s1] if d.mask is not None else None
            assert d.rows is not None
            rows = d.rows[s0:s1]
        offsets = np.concatenate(([0], np.cumsum(cnt)))
        idx = np.minimum(offsets[:-1], s1 - s0 - 1)
        empty = cnt == 0
        local = np.repeat(np.arange(j1 - j0), cnt)

        def rsum(a: np.ndarray, idx: np.ndarray = idx, empty: np.ndarray = empty) -> FloatArray:
            out = np.add.reduceat(a, idx, dtype=np.float64)
            out[empty] = 0.0
            return out

        pts = d.max_points[j0:j1][local]
        den = np.take(possible, rows) - pts
        valid = den > 1e-12
        all_valid = bool(valid.all())
        rest = np.take(total, rows) - x
        if all_valid:
            rest /= den
            nv = cnt.astype(np.float64)
        else:
            rest /= np.where(valid, den, 1.0)
            rest[~valid] = 0.0
            nv = rsum(valid)
        frac = x / pts
        sy = rsum(rest)
        yc = rest - np.nan_to_num(safe_div(sy, nv))[local]
        if not all_valid:
            yc *= valid
        xc = x - mean0[j0:j1][local]
        sxx = rsum(xc * xc)
        if all_valid:
            xcv, sxxv = xc, sxx
        else:
            xcv = (x - np.nan_to_num(safe_div(rsum(x * valid), nv))[local]) * valid
            sxxv = rsum(xcv * xcv)
        blk = slice(j0, j1)
        acc["nv"][blk] = nv
        acc["sy"][blk] = sy
        acc["sxx"][blk] = sxx
        acc["sxxv"][blk] = sxxv
        acc["syy"][blk] = rsum(yc * yc)
        acc["sxy"][blk] = rsum(xcv * yc)
        wl = np.take(w_low, rows)
        wu = np.take(w_up, rows)
        acc["low"][blk] = rsum(wl * frac)
        acc["low_w"][blk] = rsum(wl)
        acc["up"][blk] = rsum(wu * frac)
        acc["up_w"][blk] = rsum(wu)
        acc["partial"][blk] = rsum((x != 0) & (x != pts))
        acc["cross"][blk] = rsum(xc * (np.take(u_sum, rows) - xc))
        acc["pairs"][blk] = rsum(np.take(l_minus_1, rows))
        if m_cells is not None:
            acc["omitted"][blk] = rsum(m_cells == 0)
        if with_options:
            cw_cells = [np.take(v, rows) for v in cand_w]
        for jj in range(j0, j1):
            a, b = offsets[jj - j0], offsets[jj - j0 + 1]
            if b == a:
                continue
            f_j, y_j = frac[a:b], rest[a:b]
            if not all_valid:
                v_j = valid[a:b]
                f_j, y_j = f_j[v_j], y_j[v_j]
            acc["de"][jj] = _de(f_j, y_j, acc["partial"][jj] == 0)
            if with_options:
                assert m_cells is not None
                weights = [None, None if all_valid else valid[a:b].astype(np.float64), rest[a:b]]
                weights += [cw[a:b] for cw in cw_cells]
                group_tot[jj] = [float(g.sum()) for g in weights[4:]]  # type: ignore[union-attr]
                m_j = m_cells[a:b]
                table = np.empty((n_w, patterns))
                for i, wt in enumerate(weights):
                    table[i] = table[0] if i == 1 and wt is None else np.bincount(m_j, wt, patterns)
                opt[:, jj, :] = np.einsum("wp,pk->wk", table, bits)
                omit[:, jj] = table[:, 0]
    return _Core(
        n=n,
        mean=mean,
        sxx=acc["sxx"],
        nv=acc["nv"],
        sxxv=acc["sxxv"],
        syy=acc["syy"],
        sxy=acc["sxy"],
        mean_y=safe_div(acc["sy"], acc["nv"]),
        low=acc["low"],
        low_w=acc["low_w"],
        up=acc["up"],
        up_w=acc["up_w"],
        partial=acc["partial"],
        omitted=acc["omitted"],
        de=acc["de"],
        cross=acc["cross"],
        pairs=acc["pairs"],
        opt=opt if with_options else None,
        omit=omit if with_options else None,
        group_tot=group_tot if with_options else None,
    )


def _de(f: FloatArray, y: FloatArray, dichotomous: bool) -> float:
    """Discriminative efficiency: cov(f, y) / cov_max, cov_max pairing sorted f and sorted y."""
    nv = f.size
    if nv < 2:
        return float("nan")
    mf, my = f.mean(), y.mean()
    # plain reductions, not np.dot: a multithreaded BLAS call between single-threaded numpy
    # work costs more than it saves at these sizes
    num = float(np.add.reduce(f * y)) - nv * mf * my
    if dichotomous:
        n1 = int(np.count_nonzero(f))
        if n1 == 0 or n1 == nv:
            return float("nan")
        den = float(np.partition(y, nv - n1)[nv - n1 :].sum()) - nv * mf * my
    else:
        den = float(np.add.reduce(np.sort(f) * np.sort(y))) - nv * mf * my
    return num / den if den > 1e-12 * max(1.0, abs(num)) else float("nan")


def _item_statistics(d: Data, core: _Core, guess: FloatArray) -> ItemStatistics:
    f_low = safe_div(core.low, core.low_w)
    f_up = safe_div(core.up, core.up_w)
    return ItemStatistics(
        n=frozen(d.n_item.copy()),
        mean=frozen(core.mean),
        sd=frozen(np.sqrt(safe_div(core.sxx, core.n - 1))),
        facility=frozen(core.mean / d.max_points),
        item_rest_r=frozen(pearson_from_sums(core.nv, core.sxy, core.sxxv, core.syy)),
        discrimination_index=frozen(f_up - f_low),
        facility_upper=frozen(f_up),
        facility_lower=frozen(f_low),
        discriminative_efficiency=frozen(core.de),
        guess_score=frozen(np.asarray(guess, dtype=np.float64)),
        omit_rate=frozen(safe_div(core.omitted, core.n)),
        dichotomous=frozen(core.partial == 0),
    )


def _option_statistics(d: Data, core: _Core, edges: tuple[float, ...]) -> OptionStatistics:
    assert d.key_mask is not None and core.opt is not None and core.omit is not None
    assert core.group_tot is not None
    opt, omit, group_tot = core.opt, core.omit, core.group_tot
    k_max = opt.shape[2]

    def rest_corr(cnt_v: FloatArray, sum_rest: FloatArray, nv: FloatArray) -> FloatArray:
        p = safe_div(cnt_v, nv)
        my = core.mean_y.reshape(nv.shape)
        var_y = safe_div(core.syy, core.nv).reshape(nv.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = safe_div(sum_rest, nv) - p * my
            den = np.sqrt(p * (1 - p) * var_y)
            r = np.where(den > 1e-300, cov / den, np.nan)
        return np.clip(r, -1.0, 1.0)

    proportion = safe_div(opt[0], core.n[:, None])
    by_group = safe_div(np.moveaxis(opt[4:], 0, -1), group_tot[:, None, :])
    rest_r = rest_corr(opt[1], opt[2], core.nv[:, None])
    mean_total = safe_div(opt[3], opt[0])
    valid_opt = np.arange(k_max)[None, :] < d.n_options[:, None]
    proportion[~valid_opt] = np.nan
    by_group[~valid_opt] = np.nan
    rest_r[~valid_opt] = np.nan
    mean_total[~valid_opt] = np.nan
    is_key = ((d.key_mask[:, None] >> np.arange(k_max)[None, :]) & 1).astype(bool) & valid_opt
    has_opt = d.n_options > 0
    om_p = np.where(has_opt, safe_div(omit[0], core.n), np.nan)
    om_g = np.where(has_opt[:, None], safe_div(np.moveaxis(omit[4:], 0, -1), group_tot), np.nan)
    om_r = np.where(has_opt, rest_corr(omit[1], omit[2], core.nv), np.nan)
    om_m = np.where(has_opt, safe_div(omit[3], omit[0]), np.nan)
    return OptionStatistics(
        n_options=frozen(d.n_options.copy()),
        is_key=frozen(is_key),
        proportion=frozen(proportion),
        proportion_by_group=frozen(by_group),
        rest_r=frozen(rest_r),
        mean_total=frozen(mean_total),
        omit_proportion=frozen(om_p),
        omit_by_group=frozen(om_g),
        omit_rest_r=frozen(om_r),
        omit_mean_total=frozen(om_m),
        group_edges=edges,
    )


def _reliability(d: Data, core: _Core) -> Reliability:
    nf = core.n
    ss_item = core.sxx  # per-item centred sum of squares
    cross, pairs = core.cross, core.pairs
    n_cells = float(nf.sum())
    n_cand = float(np.count_nonzero(d.n_seen))
    l_bar = n_cells / n_cand if n_cand else float("nan")

    def alpha(v_num: float, v_den: float, c_num: float, c_den: float, length: float) -> float:
        if v_den <= 0 or c_den <= 0 or not length > 1:
            return float("nan")
        v, c = v_num / v_den, c_num / c_den
        den = v + (length - 1.0) * c
        return float(length * c / den) if den > 0 else float("nan")

    sv, sp, sq = float(ss_item.sum()), float(cross.sum()), float(pairs.sum())
    a = alpha(sv, n_cells, sp, sq, l_bar)
    aid = np.array(
        [
            alpha(
                sv - ss_item[j],
                n_cells - nf[j],
                sp - 2 * cross[j],
                sq - 2 * pairs[j],
                l_bar - nf[j] / n_cand,
            )
            for j in range(d.j)
        ]
    )
    dichotomous = core.partial == 0
    equal_points = bool(np.all(d.max_points == d.max_points[0]))
    kind: Literal["KR-20", "alpha"] = (
        "KR-20" if bool(dichotomous.all()) and equal_points else "alpha"
    )
    return Reliability(
        alpha=a,
        kind=kind,
        alpha_if_deleted=frozen(aid),
        mean_items_seen=float(l_bar),
        mean_item_variance=sv / n_cells if n_cells else float("nan"),
        mean_item_covariance=sp / sq if sq else float("nan"),
        missing_by_design=not d.complete,
    )


def _candidate_scores(
    d: Data,
) -> tuple[FloatArray, Literal["points", "percent"], tuple[float, float]]:
    if d.complete:
        return d.total, "points", (0.0, float(d.max_points.sum()))
    return 100.0 * d.fraction, "percent", (0.0, 100.0)


def _test_statistics(d: Data, core: _Core, bins: int) -> TestStatistics:
    rel = _reliability(d, core)
    values, unit, rng = _candidate_scores(d)
    dist = score_distribution(values, bins=bins, range=rng, unit=unit)
    sem = dist.sd * np.sqrt(1.0 - rel.alpha) if rel.alpha <= 1 else float("nan")
    return TestStatistics(reliability=rel, distribution=dist, sem=float(sem))


# --------------------------------------------------------------------------------------------
# public API


def item_statistics(
    scores: ArrayLike,
    *,
    max_points: ArrayLike | None = None,
    seen: ArrayLike | None = None,
    n_options: ArrayLike | None = None,
    multi: ArrayLike | None = None,
    discrimination_fraction: float = 0.27,
) -> ItemStatistics:
    """Classical statistics of each item from a score matrix.

    Parameters
    ----------
    scores : array_like of float, shape (N, J)
        Points earned; cells outside ``seen`` are ignored.
    max_points : array_like, shape (J,), optional
        Maximum points per item (default 1).
    seen : array_like of bool, shape (N, J), optional
        Cells the candidate was shown (default: all).
    n_options, multi : array_like, shape (J,), optional
        Used only for ``guess_score`` (0 when ``n_options`` is not given).
    discrimination_fraction : float
        Size of the upper and lower groups for the discrimination index (default 0.27).

    Returns
    -------
    ItemStatistics

    Examples
    --------
    >>> s = item_statistics([[1, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]])
    >>> s.facility.tolist()
    [0.75, 0.5, 0.75]
    """
    check_fraction("discrimination_fraction", discrimination_fraction, low=1e-9, high=0.5)
    d = prepare(scores=scores, max_points=max_points, seen=seen)
    guess = guess_scores(n_options if n_options is not None else np.zeros(d.j, int), multi)
    if guess.shape != (d.j,):
        raise ValueError(f"n_options has shape {guess.shape}, expected ({d.j},)")
    return _item_statistics(d, _core(d, discrimination_fraction, None), guess)


def option_statistics(
    choices: ArrayLike,
    keys: ArrayLike,
    *,
    n_options: ArrayLike | None = None,
    multi: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
    seen: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    score_groups: Sequence[float] = DEFAULT_GROUPS,
) -> OptionStatistics:
    """Distractor analysis: how often each option was chosen, by whom, and its correlation.

    Parameters
    ----------
    choices : array_like of int, shape (N, J)
        Option codes (``-1`` = not answered), see :mod:`item_analysis.scoring`.
    keys : array_like of int, shape (J,)
    n_options : array_like of int, shape (J,), optional
        Inferred from the highest code seen when omitted.
    multi : array_like of bool, shape (J,), optional
    max_points : array_like, shape (J,), optional
    seen : array_like of bool, shape (N, J), optional
    scores : array_like, shape (N, J), optional
        Points, when not simply ``max_points`` for the key (e.g. items without options).
    score_groups : sequence of float
        Rank fractions bounding the score groups, lowest first: ``(0, .27, .73, 1)`` (default)
        gives lower 27 % / middle / upper 27 %; ``(0, 1/3, 2/3, 1)`` gives thirds.

    Returns
    -------
    OptionStatistics

    Examples
    --------
    >>> o = option_statistics([[0, 1], [0, 1], [1, 1], [2, 0]], [0, 1], n_options=[3, 2])
    >>> o.proportion[0].tolist()
    [0.5, 0.25, 0.25]
    """
    edges = check_edges("score_groups", score_groups)
    d = prepare(
        scores=scores,
        choices=choices,
        keys=keys,
        n_options=n_options,
        multi=multi,
        max_points=max_points,
        seen=seen,
    )
    return _option_statistics(d, _core(d, 0.27, edges), edges)


def reliability(
    scores: ArrayLike,
    *,
    max_points: ArrayLike | None = None,
    seen: ArrayLike | None = None,
) -> Reliability:
    """Cronbach's alpha / KR-20 and alpha-if-item-deleted.

    With complete data this is the usual ``J / (J - 1) * (1 - sum(var_j) / var(total))``. With
    missing-by-design data it is ``L * c / (v + (L - 1) * c)`` where ``v`` is the pooled item
    variance, ``c`` the pooled pairwise-complete inter-item covariance and ``L`` the mean
    number of items seen (identical to the usual formula when nothing is missing).

    Parameters
    ----------
    scores : array_like of float, shape (N, J)
    max_points : array_like, shape (J,), optional
    seen : array_like of bool, shape (N, J), optional

    Returns
    -------
    Reliability

    Examples
    --------
    >>> r = reliability([[1, 1, 1], [1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 0, 1]])
    >>> round(r.alpha, 4), r.kind
    (0.4615, 'KR-20')
    """
    d = prepare(scores=scores, max_points=max_points, seen=seen)
    return _reliability(d, _core(d, 0.27, None))


def score_distribution(
    values: ArrayLike,
    *,
    bins: int = 10,
    range: tuple[float, float] | None = None,
    unit: Literal["points", "percent"] = "points",
) -> ScoreDistribution:
    """Mean, SD, skewness, kurtosis and histogram of candidate scores (NaN values ignored).

    Parameters
    ----------
    values : array_like, shape (N,)
    bins : int
        Number of equal-width histogram bins.
    range : (float, float), optional
        Histogram range (default: min and max of the values).
    unit : {"points", "percent"}
        Recorded in the result.

    Returns
    -------
    ScoreDistribution

    Examples
    --------
    >>> s = score_distribution([1, 2, 2, 3, 7], bins=3, range=(0, 9))
    >>> s.mean, s.counts.tolist()
    (3.0, [3, 1, 1])
    """
    if not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if unit not in ("points", "percent"):
        raise ValueError(f"unit must be 'points' or 'percent', got {unit!r}")
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        edges = np.linspace(*(range or (0.0, 1.0)), bins + 1)
        nan = float("nan")
        return ScoreDistribution(
            unit,
            0,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            frozen(edges),
            frozen(np.zeros(bins, np.int64)),
        )
    mean = float(v.mean())
    dev = v - mean
    m2 = float(np.mean(dev**2))
    m3 = float(np.mean(dev**3))
    m4 = float(np.mean(dev**4))
    sd = float(np.sqrt(m2 * n / (n - 1))) if n > 1 else float("nan")
    skew = m3 / m2**1.5 if m2 > 0 else float("nan")
    kurt = m4 / m2**2 - 3.0 if m2 > 0 else float("nan")
    counts, edges = np.histogram(v, bins=bins, range=range)
    return ScoreDistribution(
        unit=unit,
        n=int(n),
        mean=mean,
        sd=sd,
        median=float(np.median(v)),
        min=float(v.min()),
        max=float(v.max()),
        skewness=float(skew),
        kurtosis=float(kurt),
        bin_edges=frozen(edges),
        counts=frozen(counts.astype(np.int64)),
    )


def test_statistics(
    scores: ArrayLike,
    *,
    max_points: ArrayLike | None = None,
    seen: ArrayLike | None = None,
    bins: int = 10,
) -> TestStatistics:
    """Reliability, score distribution and standard error of measurement.

    Scores are raw totals when every candidate saw every item, else percentages of the points
    each candidate saw.

    Parameters
    ----------
    scores : array_like of float, shape (N, J)
    max_points : array_like, shape (J,), optional
    seen : array_like of bool, shape (N, J), optional
    bins : int
        Histogram bins over the possible score range.

    Returns
    -------
    TestStatistics

    Examples
    --------
    >>> t = test_statistics([[1, 1, 1], [1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 0, 1]], bins=3)
    >>> t.distribution.unit, t.distribution.mean, round(t.sem, 3)
    ('points', 1.6, 0.837)
    """
    d = prepare(scores=scores, max_points=max_points, seen=seen)
    return _test_statistics(d, _core(d, 0.27, None), bins)


test_statistics.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

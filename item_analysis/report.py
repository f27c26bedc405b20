"""One call for the whole analysis: :func:`analyze` returns a :class:`Report`."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._data import Data, prepare
from ._util import FloatArray, check_edges, check_fraction, frozen, json_value
from .classical import (
    DEFAULT_GROUPS,
    ItemStatistics,
    OptionStatistics,
    TestStatistics,
    _candidate_scores,
    _core,
    _item_statistics,
    _option_statistics,
    _test_statistics,
)
from .flags import FlagThresholds, ItemFlag, flag_items, flag_misfit
from .forensics import (
    PersonFit,
    RapidGuessing,
    SimilarityResult,
    answer_similarity,
    person_fit_lz,
    rapid_guessing,
)
from .irt import IRTResult, fit_irt, test_information
from .scoring import code_to_letters, guess_scores

__all__ = ["AnalysisOptions", "Report", "analyze"]


def _default_grid() -> tuple[float, ...]:
    return tuple(float(x) for x in np.arange(-4.0, 4.01, 0.5))


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings for :func:`analyze` (all have conventional defaults).

    Attributes
    ----------
    score_groups : rank fractions bounding the option-analysis score groups
    discrimination_fraction : upper/lower group size of the discrimination index
    histogram_bins : bins of the score histogram
    thresholds : item flag thresholds
    irt_quadrature, irt_bound, irt_max_iter, irt_tol : EM settings (see :func:`fit_irt`)
    information_grid : abilities at which the test information is reported
    similarity_q, similarity_min_shared : FDR level and minimum shared items for pair tests
    rapid_fraction, rapid_cap, min_effort : rapid-guessing threshold rule and effort flag
    person_fit_alpha : level at which low lz values are flagged
    """

    score_groups: tuple[float, ...] = DEFAULT_GROUPS
    discrimination_fraction: float = 0.27
    histogram_bins: int = 10
    thresholds: FlagThresholds = field(default_factory=FlagThresholds)
    irt_quadrature: int = 41
    irt_bound: float = 6.0
    irt_max_iter: int = 1000
    irt_tol: float = 1e-4
    information_grid: tuple[float, ...] = field(default_factory=_default_grid)
    similarity_q: float = 0.05
    similarity_min_shared: int = 20
    rapid_fraction: float = 0.10
    rapid_cap: float = 10.0
    min_effort: float = 0.90
    person_fit_alpha: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "score_groups", check_edges("score_groups", self.score_groups))
        check_fraction("discrimination_fraction", self.discrimination_fraction, low=1e-9, high=0.5)
        if not isinstance(self.histogram_bins, int) or self.histogram_bins < 1:
            raise ValueError(
                f"histogram_bins must be a positive integer, got {self.histogram_bins!r}"
            )
        if not isinstance(self.thresholds, FlagThresholds):
            raise ValueError(f"thresholds must be a FlagThresholds, got {self.thresholds!r}")
        check_fraction("similarity_q", self.similarity_q, low=1e-12, high=1.0)
        check_fraction("rapid_fraction", self.rapid_fraction, low=1e-9, high=1.0)
        check_fraction("min_effort", self.min_effort)
        check_fraction("person_fit_alpha", self.person_fit_alpha)
        if not (np.isfinite(self.rapid_cap) and self.rapid_cap > 0):
            raise ValueError(f"rapid_cap must be positive, got {self.rapid_cap!r}")


@dataclass(frozen=True)
class Report:
    """Everything :func:`analyze` computed. Arrays follow the package shape convention.

    Attributes
    ----------
    n_candidates, n_items : N and J
    items : classical item statistics
    options : distractor analysis (None without option codes)
    test : reliability, score distribution, SEM
    flags : item flags
    candidate_scores : (N,) raw totals, or percentages of the points seen when papers differ
    score_unit : ``"points"`` or ``"percent"``
    multi : (J,) multiple-response items
    irt, person_fit : IRT fit and lz (None unless requested)
    test_information : (T,) test information at ``options.information_grid`` (IRT only)
    similarity : answer-similarity screen (None unless requested)
    rapid : rapid-guessing screen (None without response times)
    settings : the options used
    """

    n_candidates: int
    n_items: int
    items: ItemStatistics
    options: OptionStatistics | None
    test: TestStatistics
    flags: tuple[ItemFlag, ...]
    candidate_scores: FloatArray
    score_unit: Literal["points", "percent"]
    multi: np.ndarray
    irt: IRTResult | None
    person_fit: PersonFit | None
    test_information: FloatArray | None
    similarity: SimilarityResult | None
    rapid: RapidGuessing | None
    settings: AnalysisOptions

    def to_dict(
        self,
        *,
        item_ids: Sequence[str] | None = None,
        candidate_ids: Sequence[str] | None = None,
        include_candidates: bool = True,
    ) -> dict[str, Any]:
        """A JSON-serialisable view (NaN becomes ``None``; options are labelled A, B, ...).

        Parameters
        ----------
        item_ids, candidate_ids : sequence of str, optional
            Labels (default: indices as strings).
        include_candidates : bool
            Include the per-candidate list (scores, abilities, fit, effort).

        Returns
        -------
        dict

        Examples
        --------
        >>> rep = analyze(choices=[[0, 1], [0, 0], [1, 1]], keys=[0, 1], n_options=2)
        >>> out = rep.to_dict(item_ids=["Q1", "Q2"], candidate_ids=["a", "b", "c"])
        >>> out["items"][0]["id"], out["items"][0]["facility"], out["candidates"][1]
        ('Q1', 0.6666666666666666, {'id': 'b', 'score': 1.0, 'unit': 'points'})
        """
        return _report_dict(self, item_ids, candidate_ids, include_candidates)


def _dense_scores(d: Data) -> tuple[FloatArray, np.ndarray | None]:
    out = np.zeros((d.n, d.j))
    if d.complete:
        out[:] = d.x.reshape(d.j, d.n).T
        return out, None
    out[d.r, d.c] = d.x
    assert d.seen is not None
    return out, d.seen


def analyze(
    *,
    choices: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    keys: ArrayLike | None = None,
    n_options: ArrayLike | None = None,
    multi: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
    seen: ArrayLike | None = None,
    times: ArrayLike | None = None,
    groups: Sequence[Hashable] | np.ndarray | None = None,
    irt: Literal["rasch", "2pl"] | None = None,
    similarity: bool = False,
    options: AnalysisOptions | None = None,
) -> Report:
    """Run the item analysis: classical statistics, flags, and optionally IRT and forensics.

    Parameters
    ----------
    choices : array_like of int, shape (N, J), optional
        Option codes (``-1`` = not answered); with ``keys`` gives scores and option analysis.
    scores : array_like of float, shape (N, J), optional
        Points per cell (needed for items without options; overrides key scoring).
    keys : array_like of int, shape (J,), optional
    n_options : array_like of int, shape (J,), optional
    multi : array_like of bool, shape (J,), optional
    max_points : array_like of float, shape (J,), optional
    seen : array_like of bool, shape (N, J), optional
        Cells shown to the candidate (randomized papers); default all.
    times : array_like of float, shape (N, J), optional
        Response times in seconds; enables the rapid-guessing screen.
    groups : array_like, shape (N,), optional
        Room/session labels; answer similarity only compares candidates within a group.
    irt : {"rasch", "2pl"}, optional
        Fit an IRT model (dichotomous items only; others are left out of the model) and
        compute lz person fit.
    similarity : bool
        Run the all-pairs answer-similarity screen (needs ``choices``).
    options : AnalysisOptions, optional

    Returns
    -------
    Report

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.normal(size=500)
    >>> correct = rng.random((500, 8)) < 1 / (1 + np.exp(-(theta[:, None] - np.linspace(-1, 1, 8))))
    >>> choices = np.where(correct, 0, rng.integers(1, 4, size=(500, 8)))
    >>> rep = analyze(choices=choices, keys=np.zeros(8, int), n_options=4, irt="rasch")
    >>> rep.test.reliability.kind, rep.irt.converged
    ('KR-20', True)
    """
    opts = options or AnalysisOptions()
    if irt not in (None, "rasch", "2pl"):
        raise ValueError(f"irt must be None, 'rasch' or '2pl', got {irt!r}")
    if similarity and choices is None:
        raise ValueError("similarity needs choices (option codes)")
    d = prepare(
        scores=scores,
        choices=choices,
        keys=keys,
        n_options=n_options,
        multi=multi,
        max_points=max_points,
        seen=seen,
    )
    core = _core(d, opts.discrimination_fraction, opts.score_groups if d.mask is not None else None)
    guess = guess_scores(d.n_options, d.multi)
    items = _item_statistics(d, core, guess)
    opt_stats = _option_statistics(d, core, opts.score_groups) if d.mask is not None else None
    test = _test_statistics(d, core, opts.histogram_bins)
    flags = flag_items(
        items,
        options=opt_stats,
        reliability=test.reliability,
        multi=d.multi,
        thresholds=opts.thresholds,
    )
    cand_scores, unit, _ = _candidate_scores(d)

    irt_res = None
    fit = None
    info = None
    dense = None
    if irt is not None or times is not None:
        dense = _dense_scores(d)
    if irt is not None:
        assert dense is not None
        x, sm = dense
        use = np.broadcast_to(items.dichotomous[None, :], x.shape)
        seen_irt = use if sm is None else (sm & use)
        irt_res = fit_irt(
            x,
            model=irt,
            seen=seen_irt,
            max_points=d.max_points,
            n_quad=opts.irt_quadrature,
            bound=opts.irt_bound,
            max_iter=opts.irt_max_iter,
            tol=opts.irt_tol,
        )
        fit = person_fit_lz(
            x,
            irt_res.discrimination,
            irt_res.difficulty,
            irt_res.theta,
            seen=seen_irt,
            max_points=d.max_points,
            alpha=opts.person_fit_alpha,
        )
        info = frozen(
            test_information(
                np.asarray(opts.information_grid), irt_res.discrimination, irt_res.difficulty
            )
        )
        if irt_res.item_fit is not None:
            flags = flag_misfit(irt_res.item_fit.p_value, items.n, flags, opts.thresholds)
    sim = None
    if similarity:
        # Only items with options have choices to compare (fill-in items carry scores only).
        has_opts = np.asarray(d.n_options) > 0
        sim = answer_similarity(
            np.asarray(choices)[:, has_opts],
            np.asarray(keys)[has_opts],
            n_options=np.asarray(d.n_options)[has_opts],
            multi=np.asarray(d.multi)[has_opts],
            seen=None if d.seen is None else np.asarray(d.seen)[:, has_opts],
            groups=groups,
            ability=None if irt_res is None else irt_res.theta,
            q=opts.similarity_q,
            min_shared=opts.similarity_min_shared,
        )
    rapid = None
    if times is not None:
        assert dense is not None
        x, sm = dense
        rapid = rapid_guessing(
            times,
            seen=sm,
            scores=x,
            max_points=d.max_points,
            fraction=opts.rapid_fraction,
            cap=opts.rapid_cap,
            min_effort=opts.min_effort,
        )
    return Report(
        n_candidates=d.n,
        n_items=d.j,
        items=items,
        options=opt_stats,
        test=test,
        flags=flags,
        candidate_scores=frozen(np.array(cand_scores, dtype=np.float64)),
        score_unit=unit,
        multi=frozen(d.multi.copy()),
        irt=irt_res,
        person_fit=fit,
        test_information=info,
        similarity=sim,
        rapid=rapid,
        settings=opts,
    )


# --------------------------------------------------------------------------------------------
# JSON view


def _labels(given: Sequence[str] | None, n: int, what: str) -> list[str]:
    if given is None:
        return [str(i) for i in range(n)]
    out = [str(x) for x in given]
    if len(out) != n:
        raise ValueError(f"{what} has {len(out)} labels, expected {n}")
    return out


def _report_dict(
    rep: Report,
    item_ids: Sequence[str] | None,
    candidate_ids: Sequence[str] | None,
    include_candidates: bool,
) -> dict[str, Any]:
    iid = _labels(item_ids, rep.n_items, "item_ids")
    cid = _labels(candidate_ids, rep.n_candidates, "candidate_ids")
    it = rep.items
    op = rep.options
    rel = rep.test.reliability
    dist = rep.test.distribution
    flags_by_item: dict[int, list[dict[str, Any]]] = {}
    flag_list = []
    for f in rep.flags:
        fd = {
            "item": iid[f.item],
            "reason": f.reason.value,
            "value": json_value(f.value),
            "threshold": json_value(f.threshold),
            "option": None if f.option is None else _option_label(f.option),
        }
        flag_list.append(fd)
        flags_by_item.setdefault(f.item, []).append({k: v for k, v in fd.items() if k != "item"})

    items = []
    for j in range(rep.n_items):
        row: dict[str, Any] = {
            "id": iid[j],
            "n": int(it.n[j]),
            "mean": json_value(it.mean[j]),
            "sd": json_value(it.sd[j]),
            "facility": json_value(it.facility[j]),
            "item_rest_r": json_value(it.item_rest_r[j]),
            "discrimination_index": json_value(it.discrimination_index[j]),
            "facility_upper": json_value(it.facility_upper[j]),
            "facility_lower": json_value(it.facility_lower[j]),
            "discriminative_efficiency": json_value(it.discriminative_efficiency[j]),
            "guess_score": json_value(it.guess_score[j]),
            "omit_rate": json_value(it.omit_rate[j]),
            "alpha_if_deleted": json_value(rel.alpha_if_deleted[j]),
            "flags": flags_by_item.get(j, []),
        }
        if op is not None and op.n_options[j] > 0:
            row["options"] = [
                {
                    "label": _option_label(o),
                    "is_key": bool(op.is_key[j, o]),
                    "proportion": json_value(op.proportion[j, o]),
                    "proportion_by_group": json_value(op.proportion_by_group[j, o]),
                    "rest_r": json_value(op.rest_r[j, o]),
                    "mean_total_fraction": json_value(op.mean_total[j, o]),
                }
                for o in range(int(op.n_options[j]))
            ]
            row["key"] = "".join(
                _option_label(o) for o in range(int(op.n_options[j])) if op.is_key[j, o]
            )
            row["omitted"] = {
                "proportion": json_value(op.omit_proportion[j]),
                "proportion_by_group": json_value(op.omit_by_group[j]),
                "rest_r": json_value(op.omit_rest_r[j]),
                "mean_total_fraction": json_value(op.omit_mean_total[j]),
            }
        if rep.irt is not None:
            row["irt"] = {
                "calibrated": bool(rep.irt.calibrated[j]),
                "discrimination": json_value(rep.irt.discrimination[j]),
                "difficulty": json_value(rep.irt.difficulty[j]),
                "discrimination_se": _se(rep.irt.discrimination_se, j),
                "difficulty_se": _se(rep.irt.difficulty_se, j),
            }
            fit = rep.irt.item_fit
            if fit is not None:
                row["irt"]["fit"] = {
                    "s_x2": json_value(fit.statistic[j]),
                    "df": int(fit.df[j]),
                    "p_value": json_value(fit.p_value[j]),
                    "misfit": bool(
                        np.isfinite(fit.p_value[j])
                        and fit.p_value[j] < rep.settings.thresholds.misfit_p
                        and rep.items.n[j] >= rep.settings.thresholds.min_responses
                    ),
                }
        if rep.rapid is not None:
            row["rapid_guessing"] = {
                "threshold_seconds": json_value(rep.rapid.thresholds[j]),
                "fidelity": json_value(rep.rapid.item_fidelity[j]),
                "accuracy_rapid": json_value(rep.rapid.accuracy_rapid[j]),
                "accuracy_solution": json_value(rep.rapid.accuracy_solution[j]),
            }
        items.append(row)

    out: dict[str, Any] = {
        "n_candidates": rep.n_candidates,
        "n_items": rep.n_items,
        "score_groups": list(rep.settings.score_groups),
        "test": {
            "reliability": {
                "kind": rel.kind,
                "alpha": json_value(rel.alpha),
                "mean_items_seen": json_value(rel.mean_items_seen),
                "missing_by_design": rel.missing_by_design,
            },
            "sem": json_value(rep.test.sem),
            "distribution": {
                "unit": dist.unit,
                "n": dist.n,
                "mean": json_value(dist.mean),
                "sd": json_value(dist.sd),
                "median": json_value(dist.median),
                "min": json_value(dist.min),
                "max": json_value(dist.max),
                "skewness": json_value(dist.skewness),
                "kurtosis": json_value(dist.kurtosis),
                "histogram": {
                    "edges": json_value(dist.bin_edges),
                    "counts": json_value(dist.counts),
                },
            },
        },
        "items": items,
        "flags": flag_list,
    }
    if rep.irt is not None:
        out["irt"] = {
            "model": rep.irt.model,
            "sigma": json_value(rep.irt.sigma),
            "log_likelihood": json_value(rep.irt.log_likelihood),
            "aic": json_value(rep.irt.aic),
            "bic": json_value(rep.irt.bic),
            "n_parameters": rep.irt.n_parameters,
            "sigma_se": json_value(rep.irt.sigma_se),
            "standard_errors": rep.irt.se_method,
            "item_fit": None
            if rep.irt.item_fit is None
            else {
                "statistic": "S-X2 (Orlando and Thissen 2000)",
                "min_expected": rep.irt.item_fit.min_expected,
                "misfit_p": rep.settings.thresholds.misfit_p,
                "misfitting_items": [
                    iid[j]
                    for j in range(rep.n_items)
                    if np.isfinite(rep.irt.item_fit.p_value[j])
                    and rep.irt.item_fit.p_value[j] < rep.settings.thresholds.misfit_p
                    and rep.items.n[j] >= rep.settings.thresholds.min_responses
                ],
            },
            "n_iter": rep.irt.n_iter,
            "converged": rep.irt.converged,
            "test_information": {
                "theta": list(rep.settings.information_grid),
                "information": json_value(rep.test_information),
            },
        }
    if rep.similarity is not None:
        s = rep.similarity
        out["similarity"] = {
            "method": "wollack_omega_kernel_curves",
            "n_pairs_tested": s.n_pairs_tested,
            "n_significant": s.n_significant,
            "fdr_q": s.q,
            "p_threshold": json_value(s.p_threshold),
            "min_shared": s.min_shared,
            "pairs": [
                {
                    "a": cid[p.a],
                    "b": cid[p.b],
                    "shared_items": p.shared_items,
                    "identical": p.identical,
                    "identical_incorrect": p.identical_incorrect,
                    "expected_ab": json_value(p.expected_ab),
                    "omega_ab": json_value(p.omega_ab),
                    "expected_ba": json_value(p.expected_ba),
                    "omega_ba": json_value(p.omega_ba),
                    "p_value": json_value(p.p_value),
                    "p_exact": p.p_exact,
                    "significant": p.significant,
                }
                for p in s.pairs
            ],
        }
    if include_candidates:
        cands = []
        for i in range(rep.n_candidates):
            c: dict[str, Any] = {
                "id": cid[i],
                "score": json_value(rep.candidate_scores[i]),
                "unit": rep.score_unit,
            }
            if rep.irt is not None:
                c["theta"] = json_value(rep.irt.theta[i])
                c["theta_se"] = json_value(rep.irt.theta_se[i])
            if rep.person_fit is not None:
                c["lz"] = json_value(rep.person_fit.lz[i])
                c["lz_p"] = json_value(rep.person_fit.p_value[i])
                c["lz_flagged"] = bool(rep.person_fit.flagged[i])
            if rep.rapid is not None:
                c["response_time_effort"] = json_value(rep.rapid.effort[i])
                c["low_effort"] = bool(rep.rapid.flagged[i])
            cands.append(c)
        out["candidates"] = cands
    return out


def _se(values: FloatArray | None, j: int) -> float | None:
    return None if values is None else json_value(values[j])


def _option_label(o: int) -> str:
    return code_to_letters(o, multi=False)

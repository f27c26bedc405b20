"""Item flags with reason codes and configurable thresholds.

A flag is evidence that an item deserves a reviewer's look, never a verdict. Items seen by fewer
than ``FlagThresholds.min_responses`` candidates are never flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ._util import check_fraction
from .classical import ItemStatistics, OptionStatistics, Reliability

__all__ = ["FlagReason", "FlagThresholds", "ItemFlag", "flag_items", "flag_misfit"]


class FlagReason(StrEnum):
    """Why an item was flagged."""

    #: A distractor correlates with the rest score more than the key does (``option`` names
    #: that distractor), or the key's correlation with the rest score is negative.
    POSSIBLE_KEY_ERROR = "possible_key_error"
    #: Item-rest correlation below ``FlagThresholds.low_discrimination``.
    LOW_DISCRIMINATION = "low_discrimination"
    #: Facility above ``FlagThresholds.too_easy``.
    TOO_EASY = "too_easy"
    #: Facility below ``FlagThresholds.too_hard`` or within ``guess_margin`` of the guess score.
    TOO_HARD = "too_hard"
    #: A distractor chosen by fewer than ``nonfunctioning_distractor`` of the candidates.
    NON_FUNCTIONING_DISTRACTOR = "non_functioning_distractor"
    #: Alpha would rise by more than ``alpha_if_deleted_margin`` without the item.
    ALPHA_IF_DELETED = "alpha_if_deleted"
    #: The IRT model does not fit the item: Orlando–Thissen ``S-X²`` p-value below
    #: ``FlagThresholds.misfit_p`` (``value`` is the p-value).
    ITEM_MISFIT = "item_misfit"


@dataclass(frozen=True)
class FlagThresholds:
    """Thresholds for :func:`flag_items`.

    Attributes
    ----------
    min_responses : items seen by fewer candidates are not flagged (default 30)
    low_discrimination : item-rest correlation below this is flagged (0.20)
    too_easy : facility above this is flagged (0.95)
    too_hard : facility below this is flagged (0.10)
    guess_margin : facility at most ``guess_score + guess_margin`` is flagged too hard (0.05)
    nonfunctioning_distractor : distractors chosen by a smaller share are flagged (0.05)
    alpha_if_deleted_margin : flag when alpha-if-deleted exceeds alpha by more than this (0.0)
    key_error_margin : a distractor must beat the key's option-rest correlation by more than
        this to suggest a key error (0.0)
    misfit_p : IRT item fit (``S-X²``) p-values below this are flagged (0.01)
    """

    min_responses: int = 30
    low_discrimination: float = 0.20
    too_easy: float = 0.95
    too_hard: float = 0.10
    guess_margin: float = 0.05
    nonfunctioning_distractor: float = 0.05
    alpha_if_deleted_margin: float = 0.0
    key_error_margin: float = 0.0
    misfit_p: float = 0.01

    def __post_init__(self) -> None:
        if not isinstance(self.min_responses, int) or self.min_responses < 1:
            raise ValueError(
                f"min_responses must be a positive integer, got {self.min_responses!r}"
            )
        check_fraction("low_discrimination", self.low_discrimination, low=-1.0, high=1.0)
        check_fraction("too_easy", self.too_easy)
        check_fraction("too_hard", self.too_hard)
        check_fraction("guess_margin", self.guess_margin)
        check_fraction("nonfunctioning_distractor", self.nonfunctioning_distractor)
        check_fraction("alpha_if_deleted_margin", self.alpha_if_deleted_margin)
        check_fraction("key_error_margin", self.key_error_margin, high=2.0)
        check_fraction("misfit_p", self.misfit_p)
        if self.too_hard >= self.too_easy:
            raise ValueError(f"too_hard ({self.too_hard}) must be below too_easy ({self.too_easy})")


@dataclass(frozen=True)
class ItemFlag:
    """One flag raised on one item.

    Attributes
    ----------
    item : item index (column)
    reason : why
    value : the statistic that triggered the flag (e.g. the facility)
    threshold : the value it was compared with
    option : option index involved (distractor or key option), if any
    """

    item: int
    reason: FlagReason
    value: float
    threshold: float
    option: int | None = None


def _finite(x: float) -> bool:
    return isinstance(x, float | int | np.floating) and math.isfinite(float(x))


def flag_items(
    items: ItemStatistics,
    *,
    options: OptionStatistics | None = None,
    reliability: Reliability | None = None,
    multi: np.ndarray | None = None,
    thresholds: FlagThresholds = FlagThresholds(),
) -> tuple[ItemFlag, ...]:
    """Raise flags on items whose statistics cross the thresholds.

    Parameters
    ----------
    items : ItemStatistics
    options : OptionStatistics, optional
        Needed for key-error (distractor) and non-functioning distractor checks.
    reliability : Reliability, optional
        Needed for the alpha-if-deleted check.
    multi : array_like of bool, shape (J,), optional
        Multiple-response items: the key check compares option selections (any key option
        with negative correlation, or a non-key option above the weakest key option).
    thresholds : FlagThresholds

    Returns
    -------
    tuple of ItemFlag
        Ordered by item, then by the order of :class:`FlagReason`.

    Examples
    --------
    >>> import numpy as np
    >>> from item_analysis.classical import item_statistics
    >>> rng = np.random.default_rng(0)
    >>> scores = (rng.random((200, 5)) < [0.5, 0.5, 0.5, 0.5, 0.99]).astype(float)
    >>> sorted({f.reason.value for f in flag_items(item_statistics(scores)) if f.item == 4})
    ['low_discrimination', 'too_easy']
    """
    t = thresholds
    j_items = items.n.size
    mul = np.zeros(j_items, bool) if multi is None else np.asarray(multi, dtype=bool)
    if mul.shape != (j_items,):
        raise ValueError(f"multi has shape {mul.shape}, expected ({j_items},)")
    out: list[ItemFlag] = []
    for j in range(j_items):
        if items.n[j] < t.min_responses:
            continue
        found: list[ItemFlag] = []
        fac = float(items.facility[j])
        r = float(items.item_rest_r[j])
        if options is not None and options.n_options[j] > 0:
            found += _key_checks(j, options, r, bool(mul[j]), t)
        if _finite(r) and r < t.low_discrimination:
            found.append(ItemFlag(j, FlagReason.LOW_DISCRIMINATION, r, t.low_discrimination))
        if _finite(fac) and fac > t.too_easy:
            found.append(ItemFlag(j, FlagReason.TOO_EASY, fac, t.too_easy))
        if _finite(fac):
            guess = float(items.guess_score[j]) if _finite(items.guess_score[j]) else 0.0
            if fac < t.too_hard:
                found.append(ItemFlag(j, FlagReason.TOO_HARD, fac, t.too_hard))
            elif guess > 0 and fac <= guess + t.guess_margin:
                found.append(ItemFlag(j, FlagReason.TOO_HARD, fac, guess + t.guess_margin))
        if options is not None and options.n_options[j] > 0:
            for o in range(int(options.n_options[j])):
                p = float(options.proportion[j, o])
                if not options.is_key[j, o] and _finite(p) and p < t.nonfunctioning_distractor:
                    found.append(
                        ItemFlag(
                            j,
                            FlagReason.NON_FUNCTIONING_DISTRACTOR,
                            p,
                            t.nonfunctioning_distractor,
                            o,
                        )
                    )
        if reliability is not None:
            aid = float(reliability.alpha_if_deleted[j])
            limit = reliability.alpha + t.alpha_if_deleted_margin
            if _finite(aid) and _finite(limit) and aid > limit:
                found.append(ItemFlag(j, FlagReason.ALPHA_IF_DELETED, aid, float(limit)))
        order = list(FlagReason)
        out += sorted(
            found, key=lambda f: (order.index(f.reason), -1 if f.option is None else f.option)
        )
    return tuple(out)


def _key_checks(
    j: int, options: OptionStatistics, r_item: float, multi: bool, t: FlagThresholds
) -> list[ItemFlag]:
    k = int(options.n_options[j])
    rr = options.rest_r[j, :k]
    is_key = options.is_key[j, :k]
    flags: list[ItemFlag] = []
    if not multi:
        key_o = int(np.flatnonzero(is_key)[0]) if is_key.any() else None
        key_r = float(rr[key_o]) if key_o is not None else float("nan")
        best, best_o = -np.inf, None
        for o in range(k):
            if not is_key[o] and _finite(rr[o]) and rr[o] > best:
                best, best_o = float(rr[o]), o
        if best_o is not None and _finite(key_r) and best > key_r + t.key_error_margin:
            flags.append(
                ItemFlag(j, FlagReason.POSSIBLE_KEY_ERROR, best, key_r + t.key_error_margin, best_o)
            )
        elif _finite(r_item) and r_item < 0:
            flags.append(ItemFlag(j, FlagReason.POSSIBLE_KEY_ERROR, r_item, 0.0, key_o))
        return flags
    key_rs = [(float(rr[o]), o) for o in range(k) if is_key[o] and _finite(rr[o])]
    if not key_rs:
        return flags
    weakest, weakest_o = min(key_rs)
    if weakest < 0:
        flags.append(ItemFlag(j, FlagReason.POSSIBLE_KEY_ERROR, weakest, 0.0, weakest_o))
        return flags
    for o in range(k):
        if not is_key[o] and _finite(rr[o]) and rr[o] > weakest + t.key_error_margin:
            flags.append(
                ItemFlag(
                    j, FlagReason.POSSIBLE_KEY_ERROR, float(rr[o]), weakest + t.key_error_margin, o
                )
            )
    return flags


def flag_misfit(
    p_values: np.ndarray,
    n: np.ndarray,
    flags: tuple[ItemFlag, ...],
    thresholds: FlagThresholds = FlagThresholds(),
) -> tuple[ItemFlag, ...]:
    """``flags`` plus an :attr:`FlagReason.ITEM_MISFIT` flag for every item seen by at least
    ``min_responses`` candidates whose ``S-X²`` p-value is below ``misfit_p``; ordered by item.

    Examples
    --------
    >>> out = flag_misfit(np.array([0.5, 0.001]), np.array([100, 100]), ())
    >>> [(f.item, f.reason.value) for f in out]
    [(1, 'item_misfit')]
    """
    t = thresholds
    extra = [
        ItemFlag(j, FlagReason.ITEM_MISFIT, float(p), t.misfit_p)
        for j, p in enumerate(np.asarray(p_values, dtype=np.float64).tolist())
        if math.isfinite(p) and p < t.misfit_p and n[j] >= t.min_responses
    ]
    order = list(FlagReason)
    return tuple(
        sorted(
            [*flags, *extra],
            key=lambda f: (f.item, order.index(f.reason), -1 if f.option is None else f.option),
        )
    )

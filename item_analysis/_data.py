"""Validated inputs in "long" form: one entry per seen (candidate, item) cell.

Cells are stored item-major (all cells of item 0, then item 1, ...), so per-item work is a
``np.bincount`` over the item index or a slice ``starts[j]:starts[j + 1]``. Randomized papers
(most cells unseen) then cost memory and time in proportion to the cells actually seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._util import FloatArray, IntArray, as_2d, as_int_2d, first_bad, per_item, seen_mask
from .scoring import MAX_OPTIONS, codes_to_masks, key_masks


@dataclass
class Data:
    n: int  # candidates
    j: int  # items
    complete: bool  # every candidate saw every item
    seen: np.ndarray | None  # (N, J) bool, None when complete
    r: IntArray  # candidate of each cell
    c: IntArray  # item of each cell (non-decreasing)
    starts: IntArray  # (J + 1,) cell offsets per item
    x: FloatArray  # points earned per cell
    max_points: FloatArray  # (J,)
    n_options: IntArray  # (J,)
    multi: np.ndarray  # (J,) bool
    key_mask: IntArray | None  # (J,) bit masks, None without choices
    mask: IntArray | None  # option bit mask per cell (0 = not answered), None without choices
    # per candidate
    total: FloatArray  # points earned on seen items
    possible: FloatArray  # points available on seen items
    n_seen: IntArray  # items seen

    @property
    def n_item(self) -> IntArray:
        return np.diff(self.starts)

    @property
    def fraction(self) -> FloatArray:
        """Candidate score as a fraction of the points of the items they saw (NaN if none)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                self.possible > 0,
                self.total / np.where(self.possible > 0, self.possible, 1),
                np.nan,
            )

    def item_sum(self, weights: np.ndarray | None = None) -> FloatArray:
        """Sum of a per-cell array (or of its rows, for 2-D input) over each item's cells."""
        if weights is None:
            return self.n_item.astype(np.float64)
        if self.r.size == 0:
            return np.zeros((self.j, *weights.shape[1:]))
        idx = np.minimum(self.starts[:-1], self.r.size - 1)
        out = np.add.reduceat(weights, idx, axis=0, dtype=np.float64)
        out[self.n_item == 0] = 0.0
        return out

    def cand_sum(self, weights: np.ndarray | None = None) -> FloatArray:
        """Sum of a per-cell array over each candidate's cells."""
        if self.complete and weights is not None:
            return weights.reshape(self.j, self.n).sum(axis=0, dtype=np.float64)
        return np.bincount(self.r, weights=weights, minlength=self.n).astype(np.float64, copy=False)

    def per_cell(self, cand_values: np.ndarray) -> np.ndarray:
        """Spread a per-candidate array to the cells (``cand_values[r]``)."""
        if self.complete:
            return np.tile(cand_values, self.j)
        return np.take(cand_values, self.r)

    def item_per_cell(self, item_values: np.ndarray) -> np.ndarray:
        """Spread a per-item array to the cells (``item_values[c]``)."""
        return np.repeat(item_values, self.n_item)


def _infer_n_options(
    codes: np.ndarray, item: np.ndarray, keys: np.ndarray | None, multi: np.ndarray, j: int
) -> IntArray:
    hi = np.full(j, -1, dtype=np.int64)
    if codes.size:
        np.maximum.at(hi, item, codes.astype(np.int64))
    if keys is not None:
        hi = np.maximum(hi, np.asarray(keys, dtype=np.int64))
    out = np.where(multi, 0, hi + 1)
    for jj in np.flatnonzero(multi):
        out[jj] = int(hi[jj]).bit_length() if hi[jj] > 0 else 0
    return np.where(out > 0, np.maximum(out, 2), 0).astype(np.int64)


def prepare(
    *,
    scores: ArrayLike | None = None,
    choices: ArrayLike | None = None,
    keys: ArrayLike | None = None,
    n_options: ArrayLike | None = None,
    multi: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
    seen: ArrayLike | None = None,
) -> Data:
    if scores is None and choices is None:
        raise ValueError("either scores or choices (with keys) is required")
    ch = as_int_2d("choices", choices) if choices is not None else None
    sc = as_2d("scores", scores, np.float64) if scores is not None else None
    if ch is not None and sc is not None and ch.shape != sc.shape:
        raise ValueError(f"choices has shape {ch.shape} but scores has shape {sc.shape}")
    shape = ch.shape if ch is not None else sc.shape  # type: ignore[union-attr]
    n, j = shape
    if n < 1 or j < 1:
        raise ValueError(f"need at least one candidate and one item, got shape {shape}")
    sm = seen_mask(seen, shape)
    mul = per_item("multi", multi, j, False, bool)
    pts = per_item("max_points", max_points, j, 1.0, np.float64)
    if not np.isfinite(pts).all() or (pts <= 0).any():
        b = first_bad(~np.isfinite(pts) | (pts <= 0))
        raise ValueError(f"max_points[{b}] = {pts[b]} must be a positive number")

    if sm is None:
        c = np.repeat(np.arange(j, dtype=np.intp), n)
        r = np.tile(np.arange(n, dtype=np.intp), j)
        starts = np.arange(j + 1, dtype=np.intp) * n
    else:
        smt = np.ascontiguousarray(sm.T)
        c, r = np.nonzero(smt)
        c = c.astype(np.intp, copy=False)
        r = r.astype(np.intp, copy=False)
        starts = np.zeros(j + 1, dtype=np.intp)
        np.cumsum(smt.sum(axis=1), out=starts[1:])

    def cells(a: np.ndarray) -> np.ndarray:
        return a.T.ravel() if sm is None else a.T[smt]

    key_mask = None
    mask = None
    k = None
    if ch is not None:
        codes = cells(ch).astype(np.int64, copy=False)
        if keys is None:
            raise ValueError("keys are required with choices")
        kk = per_item("keys", keys, j, -1, np.int64) if np.ndim(keys) else None
        if kk is None:
            raise ValueError("keys must be a (J,) array of option codes")
        if n_options is None:
            k = _infer_n_options(codes, c, kk, mul, j)
        else:
            k = per_item("n_options", n_options, j, 0, np.int64)
        if (k < 0).any() or (k > MAX_OPTIONS).any() or (k == 1).any():
            b = first_bad((k < 0) | (k > MAX_OPTIONS) | (k == 1))
            raise ValueError(f"n_options[{b}] = {k[b]} must be 0 or 2..{MAX_OPTIONS}")
        key_mask = key_masks(kk, k, mul)
        mask = codes_to_masks(codes, c, k, mul)
    else:
        k = per_item("n_options", n_options, j, 0, np.int64)

    if sc is not None:
        x = cells(sc)
        bad = ~np.isfinite(x) | (x < 0) | (x > pts[c] * (1 + 1e-9))
        if bad.any():
            i = first_bad(bad)
            raise ValueError(
                f"scores[{int(r[i])}, {int(c[i])}] = {x[i]} is not within 0..{pts[c[i]]} "
                "(unseen cells must be marked in `seen`, not with NaN)"
            )
    else:
        assert mask is not None and key_mask is not None
        no_opt = k == 0
        if no_opt.any():
            raise ValueError(f"item {first_bad(no_opt)} has no options, so scores are required")
        x = ((mask == key_mask[c]) & (mask != 0)) * pts[c]

    total = np.bincount(r, weights=x, minlength=n)
    possible = np.bincount(r, weights=pts[c], minlength=n)
    n_seen = np.bincount(r, minlength=n)
    return Data(
        n=n,
        j=j,
        complete=sm is None,
        seen=sm,
        r=r,
        c=c,
        starts=starts,
        x=np.ascontiguousarray(x, dtype=np.float64),
        max_points=pts,
        n_options=k,
        multi=mul,
        key_mask=key_mask,
        mask=mask,
        total=total,
        possible=possible,
        n_seen=n_seen,
    )

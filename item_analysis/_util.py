"""Private helpers: validation, normal-distribution functions, rank groups, freezing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_erfc = np.frompyfunc(math.erfc, 1, 1)


def frozen(a: np.ndarray) -> np.ndarray:
    """Mark an array read-only so that result dataclasses are immutable in practice."""
    a = np.asarray(a)
    a.flags.writeable = False
    return a


def norm_sf(z: ArrayLike) -> FloatArray:
    """Upper tail of the standard normal distribution, accurate in the far tail."""
    z = np.asarray(z, dtype=np.float64)
    out = np.full(z.shape, np.nan)
    ok = np.isfinite(z)
    if ok.any():
        out[ok] = 0.5 * _erfc(z[ok] / math.sqrt(2.0)).astype(np.float64)
    out[z == np.inf] = 0.0
    out[z == -np.inf] = 1.0
    return out


def norm_cdf(z: ArrayLike) -> FloatArray:
    """Lower tail of the standard normal distribution."""
    return norm_sf(-np.asarray(z, dtype=np.float64))


def norm_isf(p: float) -> float:
    """Inverse of :func:`norm_sf` for one probability, by bisection on ``math.erfc``."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {p!r}")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if 0.5 * math.erfc(mid / math.sqrt(2.0)) > p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return 0.5 * (lo + hi)


def as_2d(name: str, a: ArrayLike, dtype: Any | None = None) -> np.ndarray:
    arr = np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D candidates x items array, got shape {arr.shape}")
    return arr


def as_int_2d(name: str, a: ArrayLike) -> np.ndarray:
    arr = as_2d(name, a)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "b":
            arr = arr.astype(np.int8)
        else:
            raise ValueError(f"{name} must hold integer option codes, got dtype {arr.dtype}")
    return arr


def check_shape(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> None:
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")


def per_item(name: str, a: ArrayLike | None, n_items: int, default: Any, dtype: Any) -> np.ndarray:
    """Broadcast a scalar or check a (J,) array."""
    if a is None:
        return np.full(n_items, default, dtype=dtype)
    arr = np.asarray(a, dtype=dtype)
    if arr.ndim == 0:
        return np.full(n_items, arr.item(), dtype=dtype)
    check_shape(name, arr, (n_items,))
    return arr


def seen_mask(seen: ArrayLike | None, shape: tuple[int, int]) -> BoolArray | None:
    """Return ``None`` when every cell was seen, else a validated boolean mask."""
    if seen is None:
        return None
    s = np.asarray(seen)
    if s.dtype != np.bool_:
        raise ValueError(f"seen must be a boolean array, got dtype {s.dtype}")
    check_shape("seen", s, shape)
    if s.all():
        return None
    return s


def first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_fraction(name: str, value: float, *, low: float = 0.0, high: float = 1.0) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


def check_edges(name: str, edges: Sequence[float]) -> tuple[float, ...]:
    e = tuple(float(x) for x in edges)
    if len(e) < 3 or e[0] != 0.0 or e[-1] != 1.0 or any(b <= a for a, b in pairwise(e)):
        raise ValueError(
            f"{name} must be increasing fractions from 0 to 1 defining at least 2 groups, got {edges!r}"
        )
    return e


def rank_group_weights(values: FloatArray, edges: Sequence[float]) -> FloatArray:
    """Fractional membership of each candidate in rank groups.

    Candidates are ranked by ``values`` (NaN = not ranked, weight 0). Group ``g`` covers the
    rank interval ``[edges[g] * n, edges[g + 1] * n)``. A block of tied values occupying ranks
    ``[a, b)`` gives each of its members the weight ``overlap([a, b), group) / (b - a)``, so
    results never depend on row order and the weights of a group sum to its exact size.
    """
    values = np.asarray(values, dtype=np.float64)
    n_groups = len(edges) - 1
    out = np.zeros((values.size, n_groups))
    ok = np.flatnonzero(np.isfinite(values))
    n = ok.size
    if n == 0:
        return out
    order = ok[np.argsort(values[ok], kind="stable")]
    v = values[order]
    new_block = np.empty(n, dtype=bool)
    new_block[0] = True
    new_block[1:] = v[1:] != v[:-1]
    block_id = np.cumsum(new_block) - 1
    starts = np.flatnonzero(new_block).astype(np.float64)
    ends = np.append(starts[1:], n).astype(np.float64)
    width = ends - starts
    for g in range(n_groups):
        lo, hi = edges[g] * n, edges[g + 1] * n
        overlap = np.clip(np.minimum(ends, hi) - np.maximum(starts, lo), 0.0, None)
        out[order, g] = (overlap / width)[block_id]
    return out


def safe_div(num: ArrayLike, den: ArrayLike) -> FloatArray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den != 0, out, np.nan)


def pearson_from_sums(n: ArrayLike, sxy: ArrayLike, sxx: ArrayLike, syy: ArrayLike) -> FloatArray:
    """Pearson correlation from centred cross-product sums (NaN when a variance is zero)."""
    del n
    sxy = np.asarray(sxy, dtype=np.float64)
    den = np.sqrt(np.asarray(sxx, dtype=np.float64) * np.asarray(syy, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = sxy / den
    return np.where(den > 1e-300, np.clip(r, -1.0, 1.0), np.nan)


def json_value(x: Any) -> Any:
    """Convert numpy scalars/arrays to JSON-friendly Python values (NaN/inf become None)."""
    if isinstance(x, np.ndarray):
        return [json_value(v) for v in x.tolist()] if x.ndim else json_value(x.item())
    if isinstance(x, list | tuple):
        return [json_value(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x

"""Response codes, keys, scoring and random-guess scores.

Option codes
------------
* Single-answer items (single choice, true/false): the code is the 0-based option index
  (``A`` = 0, ``B`` = 1, ...); the key is an option index.
* Multiple-response items (``multi[j]`` true): the code is a bit mask of the chosen options
  (bit ``o`` set = option ``o`` chosen, so ``"ACD"`` = 1 + 4 + 8 = 13); the key is the bit mask
  of the correct options. Scoring is all-or-nothing: full points only for the exact key set.
* ``-1`` means "seen but not answered" for every item type.
* Items without options (fill-in, ...) have ``n_options = 0`` and need explicit scores.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._util import FloatArray, IntArray, as_int_2d, first_bad, per_item

__all__ = [
    "MAX_OPTIONS",
    "code_to_letters",
    "guess_scores",
    "letters_to_code",
    "score_choices",
]

#: Largest number of options per item supported by the option codes.
MAX_OPTIONS = 16


def letters_to_code(letters: str, *, multi: bool, true_false: bool = False) -> int:
    """Convert option letters to an option code.

    Parameters
    ----------
    letters : str
        Chosen option letters, e.g. ``"B"`` or ``"ACD"``; ``""`` means no answer.
    multi : bool
        Whether the item is multiple-response (bit-mask codes).
    true_false : bool
        True/false item: ``T`` (or ``A``) is option 0 and ``F`` (or ``B``) option 1.

    Returns
    -------
    int
        The option code (``-1`` for no answer).

    Examples
    --------
    >>> letters_to_code("B", multi=False), letters_to_code("ACD", multi=True)
    (1, 13)
    """
    s = "".join(ch for ch in letters.upper() if not ch.isspace() and ch not in ",;/|")
    if not s:
        return -1
    if true_false:
        if s not in ("T", "F", "A", "B"):
            raise ValueError(f"true/false answer must be T or F, got {letters!r}")
        return 0 if s in ("T", "A") else 1
    else:
        bad = [ch for ch in s if not ("A" <= ch <= "Z")]
        if bad:
            raise ValueError(f"option letters must be A-Z, got {letters!r}")
        idx = sorted({ord(ch) - ord("A") for ch in s})
    if max(idx) >= MAX_OPTIONS:
        raise ValueError(f"option letter out of range in {letters!r} (max {MAX_OPTIONS} options)")
    if not multi:
        if len(idx) != 1:
            raise ValueError(f"single-answer item got several options {letters!r}")
        return idx[0]
    return int(sum(1 << i for i in idx))


def code_to_letters(code: int, *, multi: bool) -> str:
    """Inverse of :func:`letters_to_code`.

    Examples
    --------
    >>> code_to_letters(13, multi=True), code_to_letters(1, multi=False), code_to_letters(-1, multi=False)
    ('ACD', 'B', '')
    """
    if code < 0:
        return ""
    if not multi:
        return chr(ord("A") + code)
    return "".join(chr(ord("A") + o) for o in range(MAX_OPTIONS) if code >> o & 1)


def guess_scores(n_options: ArrayLike, multi: ArrayLike | None = None) -> FloatArray:
    """Expected fraction of the points earned by a uniformly random answer.

    ``1 / k`` for a single-answer item with ``k`` options, ``1 / (2**k - 1)`` for an
    all-or-nothing multiple-response item (a random non-empty subset), 0 for items without
    options.

    Parameters
    ----------
    n_options : array_like of int, shape (J,)
    multi : array_like of bool, shape (J,), optional

    Returns
    -------
    ndarray, shape (J,)

    Examples
    --------
    >>> guess_scores([4, 2, 4, 0], [False, False, True, False]).round(4).tolist()
    [0.25, 0.5, 0.0667, 0.0]
    """
    k = np.asarray(n_options, dtype=np.int64)
    if k.ndim != 1:
        raise ValueError(f"n_options must be 1-D, got shape {k.shape}")
    m = per_item("multi", multi, k.size, False, bool)
    if (k < 0).any() or (k > MAX_OPTIONS).any():
        j = first_bad((k < 0) | (k > MAX_OPTIONS))
        raise ValueError(f"n_options[{j}] = {k[j]} is outside 0..{MAX_OPTIONS}")
    out = np.zeros(k.size)
    single = (k > 0) & ~m
    out[single] = 1.0 / k[single]
    mul = (k > 0) & m
    out[mul] = 1.0 / (2.0 ** k[mul] - 1.0)
    return out


def key_masks(keys: IntArray, n_options: IntArray, multi: np.ndarray) -> IntArray:
    """Validate keys and return them as option bit masks (0 for items without options)."""
    keys = np.asarray(keys)
    if keys.dtype.kind not in "iu":
        raise ValueError(f"keys must be integer option codes, got dtype {keys.dtype}")
    keys = keys.astype(np.int64)
    out = np.zeros(keys.size, dtype=np.int64)
    for j in range(keys.size):
        k, key = int(n_options[j]), int(keys[j])
        if k == 0:
            continue
        if multi[j]:
            if not 1 <= key < (1 << k):
                raise ValueError(
                    f"keys[{j}] = {key} is not a valid option bit mask for {k} options"
                )
            out[j] = key
        else:
            if not 0 <= key < k:
                raise ValueError(f"keys[{j}] = {key} is not an option index below {k}")
            out[j] = 1 << key
    return out


def codes_to_masks(
    codes: np.ndarray, item: np.ndarray, n_options: IntArray, multi: np.ndarray
) -> IntArray:
    """Validate option codes of cells (``item`` = column of each cell) and return bit masks.

    Bit mask 0 means "not answered".
    """
    codes = codes.astype(np.int64, copy=False)
    k = n_options[item]
    is_multi = multi[item]
    bad = (
        (codes < -1)
        | (~is_multi & (codes >= k))
        | (is_multi & ((codes == 0) | (codes >= (1 << k))))
    )
    if bad.any():
        i = first_bad(bad)
        raise ValueError(
            f"option code {int(codes[i])} is invalid for item {int(item[i])} "
            f"({int(k[i])} options, {'multiple-response' if is_multi[i] else 'single-answer'})"
        )
    single_mask = np.left_shift(np.int64(1), np.maximum(codes, 0))
    masks = np.where(is_multi, codes, single_mask)
    masks[codes < 0] = 0
    return masks


def score_choices(
    choices: ArrayLike,
    keys: ArrayLike,
    *,
    n_options: ArrayLike,
    multi: ArrayLike | None = None,
    max_points: ArrayLike | None = None,
) -> FloatArray:
    """Score option codes against keys (all-or-nothing for multiple-response items).

    Parameters
    ----------
    choices : array_like of int, shape (N, J)
        Option codes, ``-1`` = not answered (see the module docstring).
    keys : array_like of int, shape (J,)
    n_options : array_like of int, shape (J,)
    multi : array_like of bool, shape (J,), optional
    max_points : array_like of float, shape (J,), optional
        Points for a correct answer (default 1).

    Returns
    -------
    ndarray, shape (N, J)
        Points earned (0 for wrong or missing answers).

    Examples
    --------
    >>> score_choices([[0, 5], [1, 5], [-1, 3]], [0, 5], n_options=[4, 3], multi=[False, True]).tolist()
    [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    """
    ch = as_int_2d("choices", choices)
    n, j = ch.shape
    k = per_item("n_options", n_options, j, 0, np.int64)
    m = per_item("multi", multi, j, False, bool)
    pts = per_item("max_points", max_points, j, 1.0, np.float64)
    km = key_masks(per_item("keys", keys, j, -1, np.int64), k, m)
    item = np.broadcast_to(np.arange(j), (n, j)).ravel()
    masks = codes_to_masks(ch.ravel(), item, k, m).reshape(n, j)
    return ((masks == km) & (masks != 0)) * pts

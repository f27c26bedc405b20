"""CSV input and a JSON-ready entry point for the ``exam-server analyze`` command.

Responses CSV
    A header row, then one row per candidate. The first column is the candidate id, every
    other column is an item (the header gives the item ids). A cell holds the chosen option(s)
    as letters (``B``; ``ACD`` or ``A,C,D`` for multiple response; ``T``/``F`` for
    true/false) or as option numbers (``2``; ``1,3,4``: ``1`` = the first option, ``0`` a
    distinct wrong option such as "other"/"none"), is blank when the candidate did not answer,
    or holds ``-`` when the item was not on the candidate's paper (randomized papers).

Key CSV
    One row per item: ``item, key, points[, options[, type]]``, with an optional header row
    using those names. ``key`` is the correct letter(s) or option number(s); a key of several
    options makes the item multiple-response, scored all-or-nothing; ``T``/``F`` makes it
    true/false when the item's responses are ``T``/``F`` too (otherwise it is the option
    letter, e.g. the sixth option ``F``). ``points`` defaults to 1. ``options`` is the number
    of options; when blank it is the highest option seen in the key or the responses, but at
    least 4 (2 for true/false). ``type`` (``single``, ``multiple``, ``true_false``) overrides
    the inference from the key, e.g. for a multiple-response item whose key has one option.

Option codes (``coding``)
    ``"auto"`` (default) decides per item: numbers when the item's answers (or its key) are
    option numbers, else letters; the report's ``coding`` says what was found. ``"letters"``
    or ``"numeric"`` insist on one. Letters and numbers name the same options (``A`` = ``1``).
    An item whose answers use ``0`` keeps it as an option of its own that is never right.

Scored matrices (``scored=True``)
    No key: every cell holds the points earned (``0``/``1``, or ``0`` … the item maximum),
    blank = not answered (0 points), ``-``, ``NA`` or ``.`` = not on the paper. The maximum
    per item is given (one number, or a mapping item → points) or inferred as the highest
    score anyone earned on it (said in the report).

Groups CSV
    ``candidate, group`` (room or session): answer similarity compares only candidates of the
    same group. Every candidate of the responses needs a group.

Files are read as UTF-8 (a byte-order mark is accepted).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._util import frozen
from .report import AnalysisOptions, analyze
from .scoring import MAX_OPTIONS, code_to_letters, letters_to_code

__all__ = [
    "NOT_PRESENTED",
    "Encoded",
    "KeyTable",
    "ResponseTable",
    "encode",
    "encode_responses",
    "load_groups_csv",
    "load_key_csv",
    "load_responses_csv",
    "load_scores",
    "run_analysis",
]

#: Cell marking an item that was not on the candidate's paper.
NOT_PRESENTED = "-"
#: Cells of a scored matrix that also mean "not on the paper" (R and SPSS exports).
_MISSING_SCORE = {"-", "NA", "N/A", "."}
#: Candidates above this count skip the all-pairs similarity screen unless asked for it.
SIMILARITY_AUTO_LIMIT = 5000

Coding = Literal["auto", "letters", "numeric"]

_TYPES = {
    "single": "single",
    "single_choice": "single",
    "multiple": "multiple",
    "multiple_choice": "multiple",
    "multi": "multiple",
    "true_false": "true_false",
    "tf": "true_false",
}
_NUMERIC = re.compile(r"^\d+(,\d+)*$")
_LETTERS = re.compile(r"^[A-Z]+$")


@dataclass(frozen=True)
class ResponseTable:
    """Raw responses: ``answers[i, j]`` is the normalised cell text (``""`` = blank).

    Letters are upper-cased and run together (``"a c d"`` → ``"ACD"``); option numbers are
    kept apart by commas (``"1 3"`` → ``"1,3"``).
    """

    candidate_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    answers: np.ndarray


@dataclass(frozen=True)
class KeyTable:
    """Item keys as written, with what the key file says of each item.

    ``keys``, ``multi`` and ``true_false`` are the reading of the key alone (option numbers
    count from 1, ``T``/``F`` read as true/false); :func:`encode` settles them against the
    responses. ``numeric`` marks keys written as option numbers, ``typed`` items whose type
    the file gives.
    """

    item_ids: tuple[str, ...]
    key_letters: tuple[str, ...]
    keys: np.ndarray
    n_options: np.ndarray  # 0 = infer from the responses
    multi: np.ndarray
    true_false: np.ndarray
    points: np.ndarray
    numeric: np.ndarray | None = None
    typed: np.ndarray | None = None


def _normalise_cell(text: str) -> str:
    s = text.strip()
    if s == NOT_PRESENTED:
        return s
    if any(ch.isdigit() for ch in s):
        parts = [p for p in re.split(r"[\s,;/|]+", s) if p]
        return ",".join(p.upper() for p in parts)
    return "".join(ch for ch in s.upper() if not ch.isspace() and ch not in ",;/|")


def _read_rows(path: str | os.PathLike[str]) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]


def _read_table(path: str | os.PathLike[str], normalise) -> ResponseTable:
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: the responses file is empty")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise ValueError(
            f"{path}: the header needs a candidate column and at least one item column"
        )
    items = header[1:]
    dup = {x for x in items if items.count(x) > 1}
    if dup:
        raise ValueError(f"{path}: duplicate item column {sorted(dup)[0]!r}")
    if any(not x for x in items):
        raise ValueError(f"{path}: an item column has an empty header")
    cands: list[str] = []
    answers: list[list[str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
            raise ValueError(
                f"{path}: row {line} has {len(row)} cells, the header has {len(header)}"
            )
        row = row + [""] * (len(header) - len(row))
        cid = row[0].strip()
        if not cid:
            raise ValueError(f"{path}: row {line} has no candidate id")
        cands.append(cid)
        answers.append([normalise(c) for c in row[1 : len(header)]])
    if len(set(cands)) != len(cands):
        seen: set[str] = set()
        for c in cands:
            if c in seen:
                raise ValueError(f"{path}: duplicate candidate id {c!r}")
            seen.add(c)
    if not cands:
        raise ValueError(f"{path}: no candidate rows")
    arr = np.array(answers, dtype=str).reshape(len(cands), len(items))
    return ResponseTable(tuple(cands), tuple(items), frozen(arr))


def load_responses_csv(path: str | os.PathLike[str]) -> ResponseTable:
    """Read a responses CSV (format in the module docstring).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ResponseTable

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = p.write_text("candidate,Q1,Q2,Q3\\nc1,B,a c,1 3\\nc2,,-,2\\n", encoding="utf-8")
    >>> t = load_responses_csv(p)
    >>> t.item_ids, t.answers.tolist()
    (('Q1', 'Q2', 'Q3'), [['B', 'AC', '1,3'], ['', '-', '2']])
    """
    return _read_table(path, _normalise_cell)


def _number(text: str, what: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{where}: {what} {text!r} is not a number") from None
    return v


def _numbers(text: str) -> list[int]:
    return sorted({int(p) for p in text.split(",")})


def load_key_csv(path: str | os.PathLike[str]) -> KeyTable:
    """Read a key CSV (format in the module docstring).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    KeyTable

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "k.csv"
    >>> _ = p.write_text("item,key,points\\nQ1,B,1\\nQ2,ACD,2\\nQ3,T,1\\nQ4,4,1\\n", encoding="utf-8")
    >>> k = load_key_csv(p)
    >>> k.keys.tolist(), k.multi.tolist(), k.n_options.tolist(), k.numeric.tolist()
    ([1, 13, 0, 3], [False, True, False, False], [0, 0, 2, 0], [False, False, False, True])
    """
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: the key file is empty")
    cols = {"item": 0, "key": 1, "points": 2, "options": 3, "type": 4}
    first = [c.strip().lower() for c in rows[0]]
    has_header = "item" in first or "key" in first
    if has_header:
        names = {"item": "item", "item_id": "item", "id": "item", "key": "key", "answer": "key",
                 "points": "points", "max_points": "points", "score": "points",
                 "options": "options", "n_options": "options", "type": "type"}  # fmt: skip
        cols = {}
        for i, name in enumerate(first):
            if name in names:
                cols[names[name]] = i
        if "item" not in cols or "key" not in cols:
            raise ValueError(f"{path}: the header needs 'item' and 'key' columns, got {rows[0]!r}")
        rows = rows[1:]
    ids: list[str] = []
    letters: list[str] = []
    keys: list[int] = []
    n_opt: list[int] = []
    multi: list[bool] = []
    tf: list[bool] = []
    points: list[float] = []
    numeric: list[bool] = []
    typed: list[bool] = []

    def cell(row: list[str], name: str) -> str:
        i = cols.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    for line, row in enumerate(rows, start=2 if has_header else 1):
        where = f"{path}, line {line}"
        item = cell(row, "item")
        if not item:
            raise ValueError(f"{where}: missing item id")
        if item in ids:
            raise ValueError(f"{where}: duplicate item {item!r}")
        key = _normalise_cell(cell(row, "key"))
        if not key or key == NOT_PRESENTED:
            raise ValueError(f"{where}: item {item!r} has no key")
        typ_text = cell(row, "type").lower()
        if typ_text and typ_text not in _TYPES:
            raise ValueError(f"{where}: unknown type {typ_text!r} for item {item!r}")
        is_num = bool(_NUMERIC.match(key))
        if is_num:
            nums = _numbers(key)
            if nums[0] == 0:
                raise ValueError(
                    f"{where}: key {key!r} of item {item!r} names option 0, which is kept as a "
                    f"wrong option; options are numbered from 1"
                )
            n_named = len(nums)
        else:
            n_named = len(key)
        opt_text = cell(row, "options")
        k = 0
        if opt_text:
            kf = _number(opt_text, "options", where)
            if kf != int(kf) or not 2 <= kf <= MAX_OPTIONS:
                raise ValueError(
                    f"{where}: options {opt_text!r} of item {item!r} must be 2..{MAX_OPTIONS}"
                )
            k = int(kf)
        typ = _TYPES.get(typ_text) or (
            "true_false"
            if key in ("T", "F") and k in (0, 2)
            else "multiple"
            if n_named > 1
            else "single"
        )
        is_multi = typ == "multiple"
        try:
            if is_num:
                if typ == "true_false":
                    raise ValueError("a true/false key is T or F")
                if not is_multi and len(nums) > 1:
                    raise ValueError(f"single-answer item got several options {key!r}")
                if nums[-1] > MAX_OPTIONS:
                    raise ValueError(f"option {nums[-1]} out of range (max {MAX_OPTIONS} options)")
                code = int(sum(1 << (v - 1) for v in nums)) if is_multi else nums[0] - 1
            else:
                code = letters_to_code(key, multi=is_multi, true_false=typ == "true_false")
        except ValueError as exc:
            raise ValueError(f"{where}: item {item!r}: {exc}") from None
        pts_text = cell(row, "points")
        pts = _number(pts_text, "points", where) if pts_text else 1.0
        if not (np.isfinite(pts) and pts > 0):
            raise ValueError(f"{where}: points {pts_text!r} of item {item!r} must be positive")
        if typ == "true_false":
            k = 2
        highest = code.bit_length() - 1 if is_multi else code
        if k and highest >= k:
            raise ValueError(f"{where}: key {key!r} of item {item!r} is beyond its {k} options")
        ids.append(item)
        letters.append(key)
        keys.append(code)
        n_opt.append(k)
        multi.append(is_multi)
        tf.append(typ == "true_false")
        points.append(pts)
        numeric.append(is_num)
        typed.append(bool(typ_text))
    if not ids:
        raise ValueError(f"{path}: no items in the key file")
    return KeyTable(
        item_ids=tuple(ids),
        key_letters=tuple(letters),
        keys=frozen(np.array(keys, dtype=np.int64)),
        n_options=frozen(np.array(n_opt, dtype=np.int64)),
        multi=frozen(np.array(multi, dtype=bool)),
        true_false=frozen(np.array(tf, dtype=bool)),
        points=frozen(np.array(points, dtype=np.float64)),
        numeric=frozen(np.array(numeric, dtype=bool)),
        typed=frozen(np.array(typed, dtype=bool)),
    )


@dataclass(frozen=True)
class Encoded:
    """Responses in the package's option codes, with what was decided per item.

    Attributes
    ----------
    choices : (N, J) option codes (``-1`` not answered); seen : (N, J)
    keys, n_options, multi, true_false : (J,) the keys as finally read
    numeric : (J,) items written with option numbers
    zero_option : (J,) numeric items whose answers use ``0`` (an option of its own, never
        right; option ``k`` is then code ``k``, otherwise code ``k − 1``)
    labels : per item, the label of each option code (``"A"`` …, ``"T"``/``"F"``, or the
        option numbers as written)
    key_labels : per item, the key in those labels
    """

    choices: np.ndarray
    seen: np.ndarray
    keys: np.ndarray
    n_options: np.ndarray
    multi: np.ndarray
    true_false: np.ndarray
    numeric: np.ndarray
    zero_option: np.ndarray
    labels: tuple[tuple[str, ...], ...]
    key_labels: tuple[str, ...]

    def coding_summary(self, requested: str) -> dict[str, Any]:
        """What the report says about the option codes it read."""
        n_num = int(self.numeric.sum())
        j = self.numeric.size
        scheme = "numeric" if n_num == j else "letters" if n_num == 0 else "mixed"
        return {
            "requested": requested,
            "scheme": scheme,
            "detected": requested == "auto",
            "numeric_items": n_num,
            "letter_items": int(j - n_num - self.true_false.sum()),
            "true_false_items": int(self.true_false.sum()),
            "zero_option_items": int(self.zero_option.sum()),
        }


def _option_numbers(value: str, letters: bool) -> list[int]:
    """Option numbers (1 = first option, 0 = the "other" option) of a cell or key."""
    if letters:
        return sorted({ord(ch) - ord("A") + 1 for ch in value})
    return _numbers(value)


def encode(responses: ResponseTable, key: KeyTable, coding: Coding = "auto") -> Encoded:
    """Turn the responses into option codes, in the key's item order.

    Parameters
    ----------
    responses : ResponseTable
    key : KeyTable
    coding : {"auto", "letters", "numeric"}
        How answers name options (see the module docstring).

    Returns
    -------
    Encoded

    Examples
    --------
    >>> r = ResponseTable(("c1", "c2", "c3"), ("Q1",), np.array([["2"], ["0"], ["-"]]))
    >>> k = KeyTable(("Q1",), ("2",), np.array([1]), np.array([0]), np.array([False]),
    ...              np.array([False]), np.array([1.0]), np.array([True]), np.array([False]))
    >>> e = encode(r, k)
    >>> e.choices[:, 0].tolist(), e.keys.tolist(), e.labels[0], e.zero_option.tolist()
    ([2, 0, -1], [2], ('0', '1', '2', '3', '4'), [True])
    """
    if coding not in ("auto", "letters", "numeric"):
        raise ValueError(f"coding must be 'auto', 'letters' or 'numeric', got {coding!r}")
    pos = {item: i for i, item in enumerate(responses.item_ids)}
    missing = [it for it in key.item_ids if it not in pos]
    if missing:
        raise ValueError(f"item {missing[0]!r} of the key has no column in the responses")
    extra = [it for it in responses.item_ids if it not in set(key.item_ids)]
    if extra:
        raise ValueError(f"responses column {extra[0]!r} is not in the key")
    n = len(responses.candidate_ids)
    j = len(key.item_ids)
    key_numeric = np.zeros(j, bool) if key.numeric is None else np.asarray(key.numeric, dtype=bool)
    typed = np.zeros(j, bool) if key.typed is None else np.asarray(key.typed, dtype=bool)
    choices = np.full((n, j), -1, dtype=np.int64)
    seen = np.ones((n, j), dtype=bool)
    keys = np.array(key.keys, dtype=np.int64)
    n_opt = np.array(key.n_options, dtype=np.int64)
    multi = np.array(key.multi, dtype=bool)
    tf = np.array(key.true_false, dtype=bool)
    numeric = np.zeros(j, dtype=bool)
    zero = np.zeros(j, dtype=bool)
    labels: list[tuple[str, ...]] = []
    key_labels: list[str] = []
    for jj, item in enumerate(key.item_ids):
        col = responses.answers[:, pos[item]]
        values, inverse = np.unique(col, return_inverse=True)
        inverse = inverse.ravel()
        answered = [str(v) for v in values if str(v) not in ("", NOT_PRESENTED)]

        def who(v_i: int, item: str = item, inverse: np.ndarray = inverse) -> str:
            row = int(np.flatnonzero(inverse == v_i)[0])
            return f"candidate {responses.candidate_ids[row]!r}, item {item!r}"

        nums = [v for v in answered if _NUMERIC.match(v)]
        # True/false only when the answers are T/F too: a key F may be the sixth option.
        if tf[jj] and not typed[jj] and any(v not in ("T", "F") for v in answered):
            tf[jj] = False
            keys[jj] = letters_to_code(key.key_letters[jj], multi=False)
            n_opt[jj] = 0
        if coding == "numeric":
            is_num = not tf[jj]
        elif coding == "letters":
            is_num = False
        else:
            is_num = not tf[jj] and (bool(nums) or bool(key_numeric[jj] and not answered))
        if coding == "letters" and key_numeric[jj]:
            raise ValueError(
                f"item {item!r}: key {key.key_letters[jj]!r} is an option number but the "
                f"option codes were declared letters"
            )
        numeric[jj] = is_num
        if is_num:
            bad = [v for v in answered if not _NUMERIC.match(v)]
            if bad:
                v_i = int(np.flatnonzero(values == bad[0])[0])
                raise ValueError(
                    f"{who(v_i)}: answer {bad[0]!r} is not an option number (the item's other "
                    f"answers are numbers)"
                )
            zero[jj] = any(0 in _numbers(v) for v in answered)
        shift = 0 if zero[jj] else 1
        codes = np.empty(values.size, dtype=np.int64)
        for v_i, v in enumerate(values):
            v = str(v)
            if v == NOT_PRESENTED:
                codes[v_i] = -2
                continue
            if not v:
                codes[v_i] = -1
                continue
            try:
                if tf[jj]:
                    codes[v_i] = letters_to_code(v, multi=False, true_false=True)
                    continue
                if is_num:
                    opts = [o - 1 + (1 - shift) for o in _numbers(v)]
                    if opts[-1] >= MAX_OPTIONS:
                        raise ValueError(
                            f"option number out of range in {v!r} (max {MAX_OPTIONS} options)"
                        )
                elif _NUMERIC.match(v):
                    raise ValueError(f"option letters must be A-Z, got {v!r}")
                else:
                    codes[v_i] = letters_to_code(v, multi=bool(multi[jj]))
                    continue
                if multi[jj]:
                    codes[v_i] = int(sum(1 << o for o in opts))
                elif len(opts) != 1:
                    raise ValueError(f"single-answer item got several options {v!r}")
                else:
                    codes[v_i] = opts[0]
            except ValueError as exc:
                raise ValueError(f"{who(v_i)}: {exc}") from None
        cc = codes[inverse]
        seen[:, jj] = cc != -2
        cc[cc == -2] = -1
        choices[:, jj] = cc
        # The key in this item's codes (key codes were read counting from option 1).
        if not tf[jj] and zero[jj]:
            keys[jj] = keys[jj] << 1 if multi[jj] else keys[jj] + 1
        answered_codes = [c for c in codes.tolist() if c >= 0]
        highest = max((c.bit_length() - 1 if multi[jj] else c for c in answered_codes), default=-1)
        key_high = int(keys[jj]).bit_length() - 1 if multi[jj] else int(keys[jj])
        given = int(n_opt[jj]) if not tf[jj] else 2
        if tf[jj]:
            n_opt[jj] = 2
        elif given:
            n_opt[jj] = given + (1 if zero[jj] else 0)
        else:
            n_opt[jj] = max(4 + (1 if zero[jj] else 0), highest + 1, key_high + 1)
        if highest >= n_opt[jj]:
            bad = int(np.flatnonzero((cc >> n_opt[jj]) > 0 if multi[jj] else cc >= n_opt[jj])[0])
            raise ValueError(
                f"candidate {responses.candidate_ids[bad]!r}, item {item!r}: answer "
                f"{str(responses.answers[bad, pos[item]])!r} is beyond the item's "
                f"{given or n_opt[jj]} options"
            )
        if tf[jj]:
            labs: tuple[str, ...] = ("T", "F")
        elif is_num:
            labs = tuple(str(o + shift) for o in range(int(n_opt[jj])))
        else:
            labs = tuple(code_to_letters(o, multi=False) for o in range(int(n_opt[jj])))
        labels.append(labs)
        if multi[jj]:
            key_labels.append(
                ("," if is_num else "").join(
                    labs[o] for o in range(int(n_opt[jj])) if int(keys[jj]) >> o & 1
                )
            )
        else:
            key_labels.append(labs[int(keys[jj])])
    return Encoded(
        choices=choices,
        seen=seen,
        keys=keys,
        n_options=n_opt,
        multi=multi,
        true_false=tf,
        numeric=numeric,
        zero_option=zero,
        labels=tuple(labels),
        key_labels=tuple(key_labels),
    )


def encode_responses(
    responses: ResponseTable, key: KeyTable, coding: Coding = "auto"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``choices``, ``seen`` and ``n_options`` of :func:`encode`.

    Examples
    --------
    >>> r = ResponseTable(("c1", "c2"), ("Q1",), np.array([["B"], ["-"]]))
    >>> k = KeyTable(("Q1",), ("B",), np.array([1]), np.array([0]), np.array([False]),
    ...              np.array([False]), np.array([1.0]))
    >>> [a.tolist() for a in encode_responses(r, k)]
    [[[1], [-1]], [[True], [False]], [4]]
    """
    e = encode(responses, key, coding)
    return e.choices, e.seen, e.n_options


def _normalise_score(text: str) -> str:
    s = text.strip()
    return "-" if s.upper() in _MISSING_SCORE else s


@dataclass(frozen=True)
class Scores:
    """A scored matrix: points per cell, what was seen, and each item's maximum."""

    candidate_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    scores: np.ndarray
    seen: np.ndarray
    max_points: np.ndarray
    max_points_inferred: bool


def load_scores(
    path: str | os.PathLike[str], max_points: float | Mapping[str, float] | None = None
) -> Scores:
    """Read an already-scored matrix (points per item, no key).

    Parameters
    ----------
    path : str or path-like
        Candidate id, then one column per item holding the points earned.
    max_points : float or mapping item -> float, optional
        Each item's maximum; by default the highest score anyone earned on it.

    Returns
    -------
    Scores

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("id,I1,I2\\nc1,1,2\\nc2,0,NA\\nc3,,1\\n", encoding="utf-8")
    >>> s = load_scores(p)
    >>> s.scores.tolist(), s.seen[:, 1].tolist(), s.max_points.tolist()
    ([[1.0, 2.0], [0.0, 0.0], [0.0, 1.0]], [True, False, True], [1.0, 2.0])
    """
    t = _read_table(path, _normalise_score)
    n, j = t.answers.shape
    x = np.zeros((n, j))
    seen = t.answers != "-"
    for jj, item in enumerate(t.item_ids):
        for i in range(n):
            cell = str(t.answers[i, jj])
            if cell in ("", "-"):
                continue
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(
                    f"candidate {t.candidate_ids[i]!r}, item {item!r}: a scored matrix holds "
                    f"points, got {cell!r}"
                ) from None
            if not np.isfinite(v) or v < 0:
                raise ValueError(
                    f"candidate {t.candidate_ids[i]!r}, item {item!r}: points {cell!r} must "
                    f"be a number of 0 or more"
                )
            x[i, jj] = v
    inferred = max_points is None
    if max_points is None:
        mp = np.where(seen, x, 0.0).max(axis=0)
        zero = np.flatnonzero(mp <= 0)
        if zero.size:
            raise ValueError(
                f"item {t.item_ids[int(zero[0])]!r}: nobody scored on it, so its maximum "
                f"cannot be inferred; give the maximum points"
            )
    elif isinstance(max_points, Mapping):
        unknown = [it for it in t.item_ids if it not in max_points]
        if unknown:
            raise ValueError(f"item {unknown[0]!r} has no maximum points")
        mp = np.array([float(max_points[it]) for it in t.item_ids])
    else:
        mp = np.full(j, float(max_points))
    if not (np.isfinite(mp).all() and (mp > 0).all()):
        raise ValueError("maximum points must be positive numbers")
    over = seen & (x > mp[None, :] + 1e-9)
    if over.any():
        i, jj = (int(v[0]) for v in np.nonzero(over))
        raise ValueError(
            f"candidate {t.candidate_ids[i]!r}, item {t.item_ids[jj]!r}: {x[i, jj]:g} points "
            f"is above the item's maximum of {mp[jj]:g}"
        )
    return Scores(t.candidate_ids, t.item_ids, x, seen, mp, inferred)


def load_points_csv(path: str | os.PathLike[str]) -> dict[str, float]:
    """``item, points`` rows (a header row is optional): the maximum points per item."""
    out: dict[str, float] = {}
    rows = _read_rows(path)
    for line, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise ValueError(f"{path}, line {line}: expected item, points")
        item, text = row[0].strip(), row[1].strip()
        if line == 1 and item.lower() in ("item", "item_id", "id"):
            continue
        out[item] = _number(text, "points", f"{path}, line {line}")
    if not out:
        raise ValueError(f"{path}: no items")
    return out


def load_groups_csv(path: str | os.PathLike[str]) -> dict[str, str]:
    """``candidate, group`` rows (a header row is optional): room or session per candidate.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.csv"
    >>> _ = p.write_text("candidate,room\\nc1,R1\\nc2,R2\\n", encoding="utf-8")
    >>> load_groups_csv(p)
    {'c1': 'R1', 'c2': 'R2'}
    """
    out: dict[str, str] = {}
    for line, row in enumerate(_read_rows(path), start=1):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(f"{path}, line {line}: expected candidate, group")
        cand, group = row[0].strip(), row[1].strip()
        if line == 1 and cand.lower() in ("candidate", "candidate_id", "id"):
            continue
        if cand in out and out[cand] != group:
            raise ValueError(f"{path}, line {line}: candidate {cand!r} is in two groups")
        out[cand] = group
    if not out:
        raise ValueError(f"{path}: no candidates")
    return out


def _groups_for(candidates: tuple[str, ...], groups: Mapping[str, str]) -> list[str]:
    missing = [c for c in candidates if c not in groups]
    if missing:
        raise ValueError(
            f"candidate {missing[0]!r} has no group in the groups file "
            f"({len(missing)} candidates without a group)"
        )
    return [groups[c] for c in candidates]


def _similarity_summary(out: dict[str, Any], labels: list[str] | None, n: int) -> None:
    sim = out.get("similarity")
    if sim is None:
        return
    all_pairs = n * (n - 1) // 2
    sim["pairs_all_candidates"] = all_pairs
    if labels is None:
        sim["groups"] = None
        return
    sizes = sorted(np.unique(np.asarray(labels), return_counts=True)[1].tolist())
    sim["groups"] = {
        "count": len(sizes),
        "smallest": sizes[0],
        "largest": sizes[-1],
        "pairs_within_groups": int(sum(k * (k - 1) // 2 for k in sizes)),
    }


def run_analysis(
    responses_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str] | None = None,
    irt: Literal["rasch", "2pl"] | None = None,
    *,
    similarity: bool | None = None,
    options: AnalysisOptions | None = None,
    coding: Coding = "auto",
    scored: bool = False,
    max_points: float | Mapping[str, float] | None = None,
    groups: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Analyse a responses CSV against a key CSV (or a scored matrix) and return a
    JSON-serialisable report.

    Parameters
    ----------
    responses_path : str or path-like
    key_path : str or path-like, optional
        Needed unless ``scored``.
    irt : {None, "rasch", "2pl"}
        Also fit an IRT model (standard errors, item fit, abilities, lz person fit).
    similarity : bool, optional
        Run the answer-similarity screen; by default only when there are at most 5,000
        candidates (needs option choices, so not for scored matrices).
    options : AnalysisOptions, optional
    coding : {"auto", "letters", "numeric"}
        How answers name options.
    scored : bool
        The responses hold points earned per item (no key).
    max_points : float or mapping, optional
        With ``scored``: each item's maximum (default: inferred).
    groups : mapping candidate -> group, optional
        Similarity only within groups (rooms, sessions).

    Returns
    -------
    dict
        See :meth:`item_analysis.report.Report.to_dict`; adds ``"source"`` with the file
        names and ``"coding"`` saying how the option codes (or scores) were read.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "k.csv").write_text("item,key,points\\nQ1,A,1\\nQ2,B,1\\n", encoding="utf-8")
    >>> _ = (d / "r.csv").write_text("id,Q1,Q2\\nc1,A,B\\nc2,A,C\\nc3,B,C\\n", encoding="utf-8")
    >>> out = run_analysis(d / "r.csv", d / "k.csv")
    >>> [it["facility"] for it in out["items"]], out["coding"]["scheme"]
    ([0.6666666666666666, 0.3333333333333333], 'letters')
    """
    if scored:
        return _run_scored(responses_path, irt, options, max_points)
    if key_path is None:
        raise ValueError("a key file is needed unless the responses are already scored")
    responses = load_responses_csv(responses_path)
    key = load_key_csv(key_path)
    enc = encode(responses, key, coding)
    n = len(responses.candidate_ids)
    do_sim = (n <= SIMILARITY_AUTO_LIMIT) if similarity is None else bool(similarity)
    labels = _groups_for(responses.candidate_ids, groups) if groups is not None else None
    report = analyze(
        choices=enc.choices,
        keys=enc.keys,
        n_options=enc.n_options,
        multi=enc.multi,
        max_points=key.points,
        seen=None if enc.seen.all() else enc.seen,
        groups=labels,
        irt=irt,
        similarity=do_sim and n >= 2,
        options=options,
    )
    out = report.to_dict(item_ids=key.item_ids, candidate_ids=responses.candidate_ids)
    by_item = {}
    for item, labs, key_label in zip(out["items"], enc.labels, enc.key_labels, strict=True):
        item["key"] = key_label
        by_item[item["id"]] = labs
        for o, opt in enumerate(item.get("options", [])):
            opt["label"] = labs[o]
        for flag in item["flags"]:
            flag["option"] = _relabel(flag["option"], labs)
    for flag in out["flags"]:
        flag["option"] = _relabel(flag["option"], by_item[flag["item"]])
    out["coding"] = enc.coding_summary(coding)
    _similarity_summary(out, labels, n)
    out["source"] = {"responses": Path(responses_path).name, "key": Path(key_path).name}
    return out


def _relabel(label: str | None, labels: tuple[str, ...]) -> str | None:
    if label is None:
        return None
    return labels[letters_to_code(label, multi=False)]


def _run_scored(
    responses_path: str | os.PathLike[str],
    irt: Literal["rasch", "2pl"] | None,
    options: AnalysisOptions | None,
    max_points: float | Mapping[str, float] | None,
) -> dict[str, Any]:
    sc = load_scores(responses_path, max_points)
    report = analyze(
        scores=sc.scores,
        max_points=sc.max_points,
        seen=None if sc.seen.all() else sc.seen,
        irt=irt,
        options=options,
    )
    out = report.to_dict(item_ids=sc.item_ids, candidate_ids=sc.candidate_ids)
    for item, mp in zip(out["items"], sc.max_points.tolist(), strict=True):
        item["max_points"] = mp
    dich = np.array(
        [
            bool(np.isin(sc.scores[sc.seen[:, j], j], [0.0, sc.max_points[j]]).all())
            for j in range(len(sc.item_ids))
        ]
    )
    out["coding"] = {
        "requested": "scored",
        "scheme": "scored",
        "detected": False,
        "max_points_inferred": sc.max_points_inferred,
        "dichotomous_items": int(dich.sum()),
        "partial_credit_items": int((~dich).sum()),
    }
    out["source"] = {"responses": Path(responses_path).name, "key": None}
    return out

"""CSV input and a JSON-ready entry point for the ``exam-server analyze`` command.

Responses CSV
    A header row, then one row per candidate. The first column is the candidate id, every
    other column is an item (the header gives the item ids). A cell holds the chosen option
    letter(s) (``B``; ``ACD`` or ``A,C,D`` for multiple response; ``T``/``F`` for true/false),
    is blank when the candidate did not answer, or holds ``-`` when the item was not on the
    candidate's paper (randomized papers).

Key CSV
    One row per item: ``item, key, points[, options[, type]]``, with an optional header row
    using those names. ``key`` is the correct letter(s); a key of several letters makes the item
    multiple-response, scored all-or-nothing; ``T``/``F`` makes it true/false. ``points``
    defaults to 1. ``options`` is the number of options; when blank it is the highest letter
    seen in the key or the responses, but at least 4 (2 for true/false). ``type``
    (``single``, ``multiple``, ``true_false``) overrides the inference from the key, e.g. for a
    multiple-response item whose key has one letter.

Files are read as UTF-8 (a byte-order mark is accepted).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._util import frozen
from .report import AnalysisOptions, analyze
from .scoring import MAX_OPTIONS, letters_to_code

__all__ = [
    "NOT_PRESENTED",
    "KeyTable",
    "ResponseTable",
    "encode_responses",
    "load_key_csv",
    "load_responses_csv",
    "run_analysis",
]

#: Cell marking an item that was not on the candidate's paper.
NOT_PRESENTED = "-"
#: Candidates above this count skip the all-pairs similarity screen unless asked for it.
SIMILARITY_AUTO_LIMIT = 5000

_TYPES = {
    "single": "single",
    "single_choice": "single",
    "multiple": "multiple",
    "multiple_choice": "multiple",
    "multi": "multiple",
    "true_false": "true_false",
    "tf": "true_false",
}


@dataclass(frozen=True)
class ResponseTable:
    """Raw responses: ``answers[i, j]`` is the normalised cell text (``""`` = blank)."""

    candidate_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    answers: np.ndarray


@dataclass(frozen=True)
class KeyTable:
    """Item keys, converted to the package's option codes (see :mod:`item_analysis.scoring`)."""

    item_ids: tuple[str, ...]
    key_letters: tuple[str, ...]
    keys: np.ndarray
    n_options: np.ndarray  # 0 = infer from the responses
    multi: np.ndarray
    true_false: np.ndarray
    points: np.ndarray


def _normalise_cell(text: str) -> str:
    s = text.strip()
    if s == NOT_PRESENTED:
        return s
    return "".join(ch for ch in s.upper() if not ch.isspace() and ch not in ",;/|")


def _read_rows(path: str | os.PathLike[str]) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]


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
    >>> _ = p.write_text("candidate,Q1,Q2\\nc1,B,a c\\nc2,,-\\n", encoding="utf-8")
    >>> t = load_responses_csv(p)
    >>> t.item_ids, t.answers.tolist()
    (('Q1', 'Q2'), [['B', 'AC'], ['', '-']])
    """
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
        answers.append([_normalise_cell(c) for c in row[1 : len(header)]])
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


def _number(text: str, what: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{where}: {what} {text!r} is not a number") from None
    return v


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
    >>> _ = p.write_text("item,key,points\\nQ1,B,1\\nQ2,ACD,2\\nQ3,T,1\\n", encoding="utf-8")
    >>> k = load_key_csv(p)
    >>> k.keys.tolist(), k.multi.tolist(), k.n_options.tolist()
    ([1, 13, 0], [False, True, False], [0, 0, 2])
    """
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: the key file is empty")
    cols = {"item": 0, "key": 1, "points": 2, "options": 3, "type": 4}
    first = [c.strip().lower() for c in rows[0]]
    if "item" in first or "key" in first:
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

    def cell(row: list[str], name: str) -> str:
        i = cols.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    for line, row in enumerate(rows, start=2 if "item" in first or "key" in first else 1):
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
        typ = _TYPES.get(typ_text) or (
            "true_false" if key in ("T", "F") else "multiple" if len(key) > 1 else "single"
        )
        is_multi = typ == "multiple"
        try:
            code = letters_to_code(key, multi=is_multi, true_false=typ == "true_false")
        except ValueError as exc:
            raise ValueError(f"{where}: item {item!r}: {exc}") from None
        pts_text = cell(row, "points")
        pts = _number(pts_text, "points", where) if pts_text else 1.0
        if not (np.isfinite(pts) and pts > 0):
            raise ValueError(f"{where}: points {pts_text!r} of item {item!r} must be positive")
        opt_text = cell(row, "options")
        k = 0
        if opt_text:
            kf = _number(opt_text, "options", where)
            if kf != int(kf) or not 2 <= kf <= MAX_OPTIONS:
                raise ValueError(
                    f"{where}: options {opt_text!r} of item {item!r} must be 2..{MAX_OPTIONS}"
                )
            k = int(kf)
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
    )


def encode_responses(
    responses: ResponseTable, key: KeyTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn response letters into option codes, in the key's item order.

    Parameters
    ----------
    responses : ResponseTable
    key : KeyTable

    Returns
    -------
    choices : ndarray of int, shape (N, J)
    seen : ndarray of bool, shape (N, J)
    n_options : ndarray of int, shape (J,)
        From the key, or inferred (at least 4; 2 for true/false).

    Examples
    --------
    >>> r = ResponseTable(("c1", "c2"), ("Q1",), np.array([["B"], ["-"]]))
    >>> k = KeyTable(("Q1",), ("B",), np.array([1]), np.array([0]), np.array([False]),
    ...              np.array([False]), np.array([1.0]))
    >>> [a.tolist() for a in encode_responses(r, k)]
    [[[1], [-1]], [[True], [False]], [4]]
    """
    pos = {item: i for i, item in enumerate(responses.item_ids)}
    missing = [it for it in key.item_ids if it not in pos]
    if missing:
        raise ValueError(f"item {missing[0]!r} of the key has no column in the responses")
    extra = [it for it in responses.item_ids if it not in set(key.item_ids)]
    if extra:
        raise ValueError(f"responses column {extra[0]!r} is not in the key")
    n = len(responses.candidate_ids)
    j = len(key.item_ids)
    choices = np.full((n, j), -1, dtype=np.int64)
    seen = np.ones((n, j), dtype=bool)
    n_opt = np.array(key.n_options, dtype=np.int64)
    for jj, item in enumerate(key.item_ids):
        col = responses.answers[:, pos[item]]
        multi = bool(key.multi[jj])
        values, inverse = np.unique(col, return_inverse=True)
        codes = np.empty(values.size, dtype=np.int64)
        for v_i, v in enumerate(values):
            v = str(v)
            if v == NOT_PRESENTED:
                codes[v_i] = -2
                continue
            try:
                codes[v_i] = letters_to_code(v, multi=multi, true_false=bool(key.true_false[jj]))
            except ValueError as exc:
                who = responses.candidate_ids[int(np.flatnonzero(inverse == v_i)[0])]
                raise ValueError(f"candidate {who!r}, item {item!r}: {exc}") from None
        cc = codes[inverse.ravel()]
        seen[:, jj] = cc != -2
        cc[cc == -2] = -1
        choices[:, jj] = cc
        answered = [c for c in codes.tolist() if c >= 0]
        highest = max((c.bit_length() - 1 if multi else c for c in answered), default=-1)
        key_high = int(key.keys[jj]).bit_length() - 1 if multi else int(key.keys[jj])
        if n_opt[jj] == 0:
            n_opt[jj] = max(4, highest + 1, key_high + 1)
        elif highest >= n_opt[jj]:
            bad = int(np.flatnonzero((cc >> n_opt[jj]) > 0 if multi else cc >= n_opt[jj])[0])
            raise ValueError(
                f"candidate {responses.candidate_ids[bad]!r}, item {item!r}: answer "
                f"{str(responses.answers[bad, pos[item]])!r} is beyond the item's {n_opt[jj]} options"
            )
    return choices, seen, n_opt


def run_analysis(
    responses_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str],
    irt: Literal["rasch", "2pl"] | None = None,
    *,
    similarity: bool | None = None,
    options: AnalysisOptions | None = None,
) -> dict[str, Any]:
    """Analyse a responses CSV against a key CSV and return a JSON-serialisable report.

    Parameters
    ----------
    responses_path, key_path : str or path-like
    irt : {None, "rasch", "2pl"}
        Also fit an IRT model (abilities, information, lz person fit).
    similarity : bool, optional
        Run the all-pairs answer-similarity screen; by default only when there are at most
        5,000 candidates.
    options : AnalysisOptions, optional

    Returns
    -------
    dict
        See :meth:`item_analysis.report.Report.to_dict`; adds ``"source"`` with the file
        names.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "k.csv").write_text("item,key,points\\nQ1,A,1\\nQ2,B,1\\n", encoding="utf-8")
    >>> _ = (d / "r.csv").write_text("id,Q1,Q2\\nc1,A,B\\nc2,A,C\\nc3,B,C\\n", encoding="utf-8")
    >>> out = run_analysis(d / "r.csv", d / "k.csv")
    >>> [it["facility"] for it in out["items"]], len(json.dumps(out)) > 0
    ([0.6666666666666666, 0.3333333333333333], True)
    """
    responses = load_responses_csv(responses_path)
    key = load_key_csv(key_path)
    choices, seen, n_opt = encode_responses(responses, key)
    n = len(responses.candidate_ids)
    do_sim = (n <= SIMILARITY_AUTO_LIMIT) if similarity is None else bool(similarity)
    report = analyze(
        choices=choices,
        keys=key.keys,
        n_options=n_opt,
        multi=key.multi,
        max_points=key.points,
        seen=None if seen.all() else seen,
        irt=irt,
        similarity=do_sim and n >= 2,
        options=options,
    )
    out = report.to_dict(item_ids=key.item_ids, candidate_ids=responses.candidate_ids)
    tf_label = {"A": "T", "B": "F"}
    for item, letters, tf in zip(out["items"], key.key_letters, key.true_false, strict=True):
        item["key"] = letters
        if tf:
            for opt in item.get("options", []):
                opt["label"] = tf_label[opt["label"]]
            for flag in item["flags"]:
                if flag["option"] is not None:
                    flag["option"] = tf_label[flag["option"]]
    tf_items = {it for it, tf in zip(key.item_ids, key.true_false, strict=True) if tf}
    for flag in out["flags"]:
        if flag["item"] in tf_items and flag["option"] is not None:
            flag["option"] = tf_label[flag["option"]]
    out["source"] = {"responses": Path(responses_path).name, "key": Path(key_path).name}
    return out

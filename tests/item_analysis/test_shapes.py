"""The export shapes analysts actually have: numeric option codes, scored matrices, true/false
keys only when the answers are T/F, and similarity screens within groups.

Agreement with R's psych (``psych::alpha``: ``raw_alpha``, ``r.drop``, item ``mean``): R is
not available here, so the reference values are computed independently with numpy from the
textbook definitions psych documents — alpha = k/(k−1) · (1 − tr C / ΣC) on the item
covariance matrix C, r.drop = Pearson correlation of an item with the sum of the *other*
items (``np.corrcoef``), mean = the item's mean score — and the same data are fed to
``run_analysis`` in every shape (letters + key, option numbers with 0 + key, a 0/1 matrix,
points per item). Data: LSAT-6 (``lsat6.py``, Bock & Lieberman 1970) and a seeded
partial-credit simulation.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from item_analysis.files import load_groups_csv, load_scores, run_analysis

from .lsat6 import lsat6
from .sim import simulate_choices


def psych_reference(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """raw_alpha, r.drop and item means by the textbook formulas (independent of the
    package: covariance matrix and np.corrcoef)."""
    k = x.shape[1]
    c = np.cov(x, rowvar=False)
    alpha = k / (k - 1) * (1 - np.trace(c) / c.sum())
    total = x.sum(axis=1)
    r_drop = np.array([np.corrcoef(x[:, j], total - x[:, j])[0, 1] for j in range(k)])
    return float(alpha), r_drop, x.mean(axis=0)


def _write(path, header, rows):
    path.write_text(
        "\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n",
        encoding="utf-8",
    )
    return path


def _check(out, x):
    alpha, r_drop, means = psych_reference(x)
    assert out["test"]["reliability"]["alpha"] == pytest.approx(alpha, abs=1e-10)
    got_r = [it["item_rest_r"] for it in out["items"]]
    got_m = [it["mean"] for it in out["items"]]
    np.testing.assert_allclose(got_r, r_drop, atol=1e-10)
    np.testing.assert_allclose(got_m, means, atol=1e-12)


@pytest.fixture(scope="module")
def lsat_shapes(tmp_path_factory):
    """LSAT-6 written as letters, as option numbers (with 0 = "none") and as a 0/1 matrix."""
    d = tmp_path_factory.mktemp("lsat")
    x = lsat6().astype(int)
    items = [f"Item{j + 1}" for j in range(5)]
    keys_num = [4, 2, 3, 1, 5]  # key option of each item (of 5)
    rng = np.random.default_rng(6)
    # a wrong answer: another of the 5 options, or 0 ("none of these")
    wrong_options = [[o for o in range(6) if o != k] for k in keys_num]
    pick = rng.integers(0, 5, x.shape)
    wrong = np.array([[wrong_options[t][pick[i, t]] for t in range(5)] for i in range(len(x))])
    nums = np.where(x == 1, np.array(keys_num), wrong)
    letters = np.where(nums == 0, "", np.array(list(" ABCDE"))[nums])  # 0 -> unanswered
    ids = [f"p{i:04d}" for i in range(len(x))]
    return {
        "x": x.astype(float),
        "numeric": _write(
            d / "num.csv", ["id", *items], [[i, *r] for i, r in zip(ids, nums, strict=True)]
        ),
        "numeric_key": _write(
            d / "num_key.csv",
            ["item", "key"],
            [[it, k] for it, k in zip(items, keys_num, strict=True)],
        ),
        "letters": _write(
            d / "let.csv", ["id", *items], [[i, *r] for i, r in zip(ids, letters, strict=True)]
        ),
        "letter_key": _write(
            d / "let_key.csv",
            ["item", "key"],
            [[it, "ABCDE"[k - 1]] for it, k in zip(items, keys_num, strict=True)],
        ),
        "scored": _write(
            d / "scored.csv", ["id", *items], [[i, *r] for i, r in zip(ids, x, strict=True)]
        ),
        "ids": ids,
    }


def test_lsat6_letters_agree_with_psych(lsat_shapes):
    out = run_analysis(lsat_shapes["letters"], lsat_shapes["letter_key"], similarity=False)
    _check(out, lsat_shapes["x"])
    assert out["coding"]["scheme"] == "letters"


def test_lsat6_option_numbers_with_zero_agree_with_psych(lsat_shapes):
    out = run_analysis(lsat_shapes["numeric"], lsat_shapes["numeric_key"], similarity=False)
    json.dumps(out, allow_nan=False)
    _check(out, lsat_shapes["x"])
    coding = out["coding"]
    assert coding == {
        "requested": "auto",
        "scheme": "numeric",
        "detected": True,
        "numeric_items": 5,
        "letter_items": 0,
        "true_false_items": 0,
        "zero_option_items": 5,
    }
    item3 = out["items"][2]
    assert item3["key"] == "3"
    labels = [o["label"] for o in item3["options"]]
    assert labels == ["0", "1", "2", "3", "4", "5"]
    zero = item3["options"][0]
    assert zero["is_key"] is False and zero["proportion"] > 0  # 0 is an option of its own


def test_lsat6_scored_matrix_agrees_with_psych_and_ltm(lsat_shapes):
    out = run_analysis(lsat_shapes["scored"], scored=True, irt="2pl")
    _check(out, lsat_shapes["x"])
    assert out["coding"]["scheme"] == "scored"
    assert out["coding"]["max_points_inferred"] is True
    assert out["coding"]["dichotomous_items"] == 5
    # ltm's published 2PL difficulties for LSAT-6 (see test_irt_fit.py)
    b = [it["irt"]["difficulty"] for it in out["items"]]
    np.testing.assert_allclose(b, [-3.3597, -1.3696, -0.2799, -1.8659, -3.1236], atol=0.01)
    assert all(it["irt"]["fit"]["p_value"] > 0.05 for it in out["items"])
    assert out["irt"]["item_fit"]["misfitting_items"] == []


def test_points_per_item_agree_with_psych(tmp_path):
    # Partial credit 0..3 (graded from a latent score), plus two 0/2 items.
    rng = np.random.default_rng(8)
    theta = rng.normal(size=400)
    steps = np.array([-1.0, 0.0, 1.0])
    pc = (theta[:, None, None] + rng.normal(0, 1, (400, 6, 1)) > steps).sum(axis=2)
    two = 2 * (theta[:, None] + rng.normal(0, 1, (400, 2)) > 0)
    x = np.hstack([pc, two]).astype(float)
    items = [f"T{j}" for j in range(8)]
    path = _write(
        tmp_path / "pts.csv", ["id", *items], [[f"c{i}", *map(int, r)] for i, r in enumerate(x)]
    )
    out = run_analysis(path, scored=True)
    _check(out, x)
    assert [it["max_points"] for it in out["items"]] == [3.0] * 6 + [2.0] * 2
    assert out["coding"]["partial_credit_items"] == 6
    given = run_analysis(
        path, scored=True, max_points={it: 4.0 if it == "T0" else 3.0 for it in items}
    )
    # the maximum only rescales facility; alpha and r.drop do not change
    assert given["items"][0]["facility"] == pytest.approx(x[:, 0].mean() / 4)
    _check(given, x)


def test_scored_matrix_errors(tmp_path):
    p = _write(tmp_path / "s.csv", ["id", "I1", "I2"], [["a", 1, 3], ["b", 0, "x"]])
    with pytest.raises(ValueError, match="candidate 'b', item 'I2': a scored matrix holds points"):
        load_scores(p)
    p = _write(tmp_path / "s2.csv", ["id", "I1", "I2"], [["a", 1, 3], ["b", 0, 1]])
    with pytest.raises(ValueError, match="3 points is above the item's maximum of 2"):
        load_scores(p, 2)
    p = _write(tmp_path / "s3.csv", ["id", "I1", "I2"], [["a", 1, 0], ["b", 0, "NA"]])
    with pytest.raises(ValueError, match="item 'I2': nobody scored on it"):
        load_scores(p)
    with pytest.raises(ValueError, match="a key file is needed"):
        run_analysis(p)


def test_numeric_export_with_key_four_of_eight(tmp_path):
    # The example: key file item,key with 4; responses 1..8; 0 for "other".
    rng = np.random.default_rng(4)
    choices, keys, _ = simulate_choices(rng, 300, 12, 8)
    nums = choices + 1
    nums[rng.random(nums.shape) < 0.03] = 0
    nums[:, 0] = np.where(choices[:, 0] == keys[0], 4, nums[:, 0])
    keys_num = keys + 1
    keys_num[0] = 4
    items = [f"Q{j + 1}" for j in range(12)]
    r = _write(
        tmp_path / "r.csv", ["candidate", *items], [[f"c{i}", *row] for i, row in enumerate(nums)]
    )
    k = _write(
        tmp_path / "k.csv",
        ["item", "key"],
        [[it, v] for it, v in zip(items, keys_num, strict=True)],
    )
    out = run_analysis(r, k, similarity=False)
    assert out["coding"]["scheme"] == "numeric" and out["coding"]["detected"]
    q1 = out["items"][0]
    assert q1["key"] == "4"
    assert [o["label"] for o in q1["options"]][:2] == ["0", "1"]
    assert q1["facility"] == pytest.approx(np.mean(nums[:, 0] == 4))
    assert q1["guess_score"] == pytest.approx(1 / 9)  # 8 options and "other"
    # the same file read as letters is refused with the reason
    with pytest.raises(
        ValueError, match="key '4' is an option number but the option codes were declared letters"
    ):
        run_analysis(r, k, coding="letters")


def test_multiple_response_option_numbers(tmp_path):
    r = _write(
        tmp_path / "r.csv", ["id", "M1", "S1"], [["a", "1 3", 2], ["b", "1;3", 1], ["c", "2", 2]]
    )
    k = _write(tmp_path / "k.csv", ["item", "key", "points"], [["M1", '"1,3"', 2], ["S1", 2, 1]])
    out = run_analysis(r, k, similarity=False)
    m1 = out["items"][0]
    assert m1["key"] == "1,3"
    assert m1["facility"] == pytest.approx(2 / 3)
    assert out["items"][1]["facility"] == pytest.approx(2 / 3)


def test_true_false_only_when_the_answers_are(tmp_path):
    rows = [["c1", "F", "F"], ["c2", "A", "T"], ["c3", "F", "F"], ["c4", "E", "T"]]
    r = _write(tmp_path / "r.csv", ["id", "Six", "TF"], rows)
    k = _write(
        tmp_path / "k.csv",
        ["item", "key", "points", "options"],
        [["Six", "F", 1, 6], ["TF", "F", 1, ""]],
    )
    out = run_analysis(r, k, similarity=False)
    six, tf = out["items"]
    assert [o["label"] for o in six["options"]] == list("ABCDEF") and six["key"] == "F"
    assert six["facility"] == pytest.approx(0.5)
    assert [o["label"] for o in tf["options"]] == ["T", "F"] and tf["key"] == "F"
    assert out["coding"]["true_false_items"] == 1


def test_groups_file(tmp_path):
    g = tmp_path / "g.csv"
    g.write_text("candidate,room\nc1,R1\nc2,R1\nc3,R2\n", encoding="utf-8")
    assert load_groups_csv(g) == {"c1": "R1", "c2": "R1", "c3": "R2"}
    g.write_text("c1,R1\nc1,R2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="candidate 'c1' is in two groups"):
        load_groups_csv(g)
    r = _write(tmp_path / "r.csv", ["id", "Q1"], [["c1", "A"], ["c2", "B"], ["c9", "A"]])
    k = _write(tmp_path / "k.csv", ["item", "key"], [["Q1", "A"]])
    with pytest.raises(ValueError, match="candidate 'c9' has no group"):
        run_analysis(r, k, groups={"c1": "R1", "c2": "R1"})


def test_copiers_found_within_rooms_but_not_among_all_pairs(tmp_path):
    # The simulation: 1,000 candidates, 80 four-option items, 20 copiers who copy 30 %
    # of their answers from a neighbour in the same room (rooms of 30). Among all 499,500 pairs
    # the multiplicity hides them; within rooms (14,400 pairs, 35x fewer) several are found,
    # with no false discovery.
    rng = np.random.default_rng(0)
    n, j = 1000, 80
    choices, keys, _ = simulate_choices(rng, n, j, 4)
    rooms = rng.permutation(np.repeat(np.arange(34), 30)[:n])
    planted, used = set(), set()
    while len(planted) < 20:
        c = int(rng.integers(n))
        mates = [s for s in np.flatnonzero(rooms == rooms[c]) if s != c and s not in used]
        if c in used or not mates:
            continue
        s = int(rng.choice(mates))
        used |= {c, s}
        copied = rng.choice(j, int(0.3 * j), replace=False)
        choices[c, copied] = choices[s, copied]
        planted.add((f"c{min(c, s):04d}", f"c{max(c, s):04d}"))
    items = [f"Q{t}" for t in range(j)]
    ids = [f"c{i:04d}" for i in range(n)]
    r = _write(
        tmp_path / "r.csv",
        ["id", *items],
        [[ids[i], *np.array(list("ABCD"))[choices[i]]] for i in range(n)],
    )
    k = _write(
        tmp_path / "k.csv",
        ["item", "key"],
        [[it, "ABCD"[v]] for it, v in zip(items, keys, strict=True)],
    )
    groups = {ids[i]: f"R{rooms[i]}" for i in range(n)}

    def found(out):
        sig = {
            tuple(sorted((p["a"], p["b"]))) for p in out["similarity"]["pairs"] if p["significant"]
        }
        return len(sig & planted), len(sig - planted)

    everyone = run_analysis(r, k, similarity=True)
    rooms_only = run_analysis(r, k, similarity=True, groups=groups)
    assert everyone["similarity"]["n_pairs_tested"] == 499_500
    assert rooms_only["similarity"]["n_pairs_tested"] == 33 * 435 + 45 == 14_400
    assert rooms_only["similarity"]["groups"] == {
        "count": 34,
        "smallest": 10,
        "largest": 30,
        "pairs_within_groups": 14_400,
    }
    assert everyone["similarity"]["pairs_all_candidates"] == 499_500
    hits_all, false_all = found(everyone)
    hits_rooms, false_rooms = found(rooms_only)
    assert hits_all <= 1 and false_all == 0
    assert hits_rooms >= 3 and false_rooms == 0

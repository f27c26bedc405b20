"""CSV loading and run_analysis (expected values hand-computed in comments)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from item_analysis.files import encode_responses, load_key_csv, load_responses_csv, run_analysis

from .sim import simulate_choices

RESPONSES = (
    "\ufeffcandidate,Q1,Q2,Q3\nc1,B,ACD,T\nc2,B,A C D,F\nc3,A,AC,T\nc4,,ACD,-\nc5,E,b,T\nc6,B,,F\n"
)
KEY = "item,key,points,options,type\nQ1,B,2,5,\nQ2,ACD,3,,\nQ3,T,1,,\n"


@pytest.fixture
def files(tmp_path):
    r = tmp_path / "responses.csv"
    k = tmp_path / "key.csv"
    r.write_text(RESPONSES, encoding="utf-8")
    k.write_text(KEY, encoding="utf-8")
    return r, k


def test_load_and_encode(files):
    r, k = files
    resp = load_responses_csv(r)
    key = load_key_csv(k)
    assert resp.candidate_ids == ("c1", "c2", "c3", "c4", "c5", "c6")
    assert resp.answers[1, 1] == "ACD" and resp.answers[3, 2] == "-"
    assert key.keys.tolist() == [1, 13, 0]  # B = 1; A + C + D = 1 + 4 + 8; T = option 0
    assert key.multi.tolist() == [False, True, False]
    assert key.points.tolist() == [2.0, 3.0, 1.0]
    choices, seen, n_opt = encode_responses(resp, key)
    assert choices[:, 0].tolist() == [1, 1, 0, -1, 4, 1]
    assert choices[:, 1].tolist() == [13, 13, 5, 13, 2, -1]
    assert seen[:, 2].tolist() == [True, True, True, False, True, True]
    # Q2: no "options" given, highest letter seen is D -> at least 4
    assert n_opt.tolist() == [5, 4, 2]


def test_run_analysis_hand_computed(files):
    r, k = files
    out = run_analysis(r, k)
    json.dumps(out, allow_nan=False)
    items = {it["id"]: it for it in out["items"]}
    # Q1 right for c1, c2, c6: 3 of 6; Q2 (all-or-nothing ACD) right for c1, c2, c4: 3 of 6;
    # Q3 (T) seen by 5, right for c1, c3, c5: 3 of 5
    assert items["Q1"]["facility"] == pytest.approx(0.5)
    assert items["Q2"]["facility"] == pytest.approx(0.5)
    assert items["Q3"]["facility"] == pytest.approx(0.6)
    assert items["Q2"]["key"] == "ACD"
    assert [o["label"] for o in items["Q1"]["options"]] == ["A", "B", "C", "D", "E"]
    assert [o["label"] for o in items["Q3"]["options"]] == ["T", "F"] and items["Q3"]["key"] == "T"
    assert items["Q1"]["omitted"]["proportion"] == pytest.approx(1 / 6)
    # c4 did not see Q3: score = 3 of the 5 points seen = 60 %
    cands = {c["id"]: c for c in out["candidates"]}
    assert cands["c4"]["unit"] == "percent" and cands["c4"]["score"] == pytest.approx(60.0)
    assert out["test"]["reliability"]["missing_by_design"] is True
    assert out["source"] == {"responses": "responses.csv", "key": "key.csv"}
    assert "similarity" in out  # 6 candidates: the screen runs by default


def test_key_without_header_and_types(tmp_path):
    k = tmp_path / "k.csv"
    k.write_text("Q1,B,1\nQ2,C,2,5,multiple\nQ3,F,1\n", encoding="utf-8")
    key = load_key_csv(k)
    assert key.multi.tolist() == [False, True, False]
    assert key.keys.tolist() == [1, 4, 1]
    assert key.n_options.tolist() == [0, 5, 2]
    assert key.true_false.tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("responses", "key", "message"),
    [
        (
            "id,Q1\nc1,F\n",
            "Q1,B,1,4\n",
            "candidate 'c1', item 'Q1': answer 'F' is beyond the item's 4 options",
        ),
        (
            "id,Q1\nc1,AB\n",
            "Q1,B,1\n",
            "candidate 'c1', item 'Q1': single-answer item got several options",
        ),
        ("id,Q1,Q9\nc1,A,B\n", "Q1,B,1\n", "responses column 'Q9' is not in the key"),
        ("id,Q1\nc1,A\n", "Q1,B,1\nQ2,A,1\n", "item 'Q2' of the key has no column"),
        ("id,Q1\nc1,A\nc1,B\n", "Q1,B,1\n", "duplicate candidate id 'c1'"),
        ("id,Q1\nc1,A\n", "Q1,,1\n", "item 'Q1' has no key"),
        ("id,Q1\nc1,A\n", "Q1,B,zero\n", "points 'zero' is not a number"),
        ("id,Q1\nc1,A\n", "Q1,E,1,4\n", "key 'E' of item 'Q1' is beyond its 4 options"),
        ("id,Q1\nc1,1\n", "Q1,B,1\n", "option letters must be A-Z"),
        (
            "id,Q1\nc1,B\nc2,2\n",
            "Q1,B,1\n",
            "candidate 'c1', item 'Q1': answer 'B' is not an option number",
        ),
        ("id,Q1\nc1,1\n", "Q1,0,1\n", "names option 0, which is kept as a wrong option"),
    ],
)
def test_errors_name_the_bad_value(tmp_path, responses, key, message):
    r = tmp_path / "r.csv"
    k = tmp_path / "k.csv"
    r.write_text(responses, encoding="utf-8")
    k.write_text(key, encoding="utf-8")
    # digits are option numbers unless the codes are declared letters
    coding = "letters" if message.startswith("option letters") else "auto"
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_analysis(r, k, coding=coding)


def test_run_analysis_with_irt(tmp_path):
    rng = np.random.default_rng(12)
    choices, keys, _ = simulate_choices(rng, 300, 15, 4)
    letters = np.array(list("ABCD"))
    lines = ["id," + ",".join(f"Q{j + 1}" for j in range(15))]
    for i in range(300):
        lines.append(f"s{i}," + ",".join(letters[choices[i]]))
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "k.csv").write_text(
        "item,key,points\n" + "".join(f"Q{j + 1},{letters[keys[j]]},1\n" for j in range(15)),
        encoding="utf-8",
    )
    out = run_analysis(tmp_path / "r.csv", tmp_path / "k.csv", irt="rasch", similarity=False)
    json.dumps(out, allow_nan=False)
    assert out["irt"]["model"] == "rasch" and out["irt"]["converged"]
    assert "similarity" not in out
    assert out["test"]["reliability"]["kind"] == "KR-20"
    c0 = out["candidates"][0]
    assert {"theta", "theta_se", "lz", "lz_p"} <= set(c0)
    assert out["items"][0]["irt"]["calibrated"] is True

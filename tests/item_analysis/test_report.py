"""analyze(): the report agrees with the individual functions and serialises to JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from item_analysis import (
    AnalysisOptions,
    FlagThresholds,
    analyze,
    fit_irt,
    item_statistics,
    option_statistics,
    rapid_guessing,
    reliability,
)

from .sim import random_papers, simulate_choices


@pytest.fixture(scope="module")
def exam():
    rng = np.random.default_rng(77)
    choices, keys, _ = simulate_choices(rng, 400, 25, 4)
    times = rng.lognormal(np.log(40), 0.4, size=(400, 25))
    times[:10] = rng.uniform(0.5, 2.0, size=(10, 25))  # ten rapid guessers
    rooms = np.repeat(np.arange(4), 100)
    return choices, keys, times, rooms


def test_full_report(exam):
    choices, keys, times, rooms = exam
    rep = analyze(
        choices=choices,
        keys=keys,
        n_options=4,
        times=times,
        groups=rooms,
        irt="2pl",
        similarity=True,
    )
    x = (choices == keys).astype(float)
    ref = item_statistics(x, n_options=np.full(25, 4))
    np.testing.assert_allclose(rep.items.item_rest_r, ref.item_rest_r)
    np.testing.assert_allclose(rep.items.guess_score, 0.25)
    np.testing.assert_allclose(
        rep.options.rest_r, option_statistics(choices, keys, n_options=4).rest_r, equal_nan=True
    )
    assert rep.test.reliability.alpha == pytest.approx(reliability(x).alpha)
    fit = fit_irt(x)
    np.testing.assert_allclose(rep.irt.difficulty, fit.difficulty)
    assert rep.person_fit is not None and rep.person_fit.lz.shape == (400,)
    assert rep.test_information is not None and rep.test_information.shape == (17,)
    assert rep.similarity is not None
    assert rep.similarity.n_pairs_tested == 4 * 100 * 99 // 2
    assert (
        rep.rapid is not None and rep.rapid.flagged[:10].all() and not rep.rapid.flagged[10:].any()
    )
    np.testing.assert_array_equal(rep.rapid.effort, rapid_guessing(times, scores=x).effort)
    np.testing.assert_allclose(rep.candidate_scores, x.sum(axis=1))

    ids = [f"S{i:03d}" for i in range(400)]
    out = rep.to_dict(item_ids=[f"Q{j}" for j in range(25)], candidate_ids=ids)
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert back["items"][3]["id"] == "Q3"
    assert back["candidates"][5]["id"] == "S005"
    assert len(back["items"][0]["options"]) == 4
    assert back["irt"]["model"] == "2pl"
    assert back["test"]["distribution"]["unit"] == "points"


def test_scores_only_with_partial_credit_items():
    rng = np.random.default_rng(78)
    choices, keys, theta = simulate_choices(rng, 300, 10, 4)
    fill = np.clip(np.rint(theta[:, None] + rng.normal(0, 1, (300, 2)) + 1), 0, 2)  # 0..2 points
    scores = np.column_stack([(choices == keys).astype(float), fill])
    rep = analyze(scores=scores, max_points=[1] * 10 + [2, 2], irt="rasch")
    assert rep.options is None
    assert rep.test.reliability.kind == "alpha"
    # only the dichotomous items enter the IRT model
    assert rep.irt.calibrated.tolist() == [True] * 10 + [False, False]
    json.dumps(rep.to_dict(), allow_nan=False)


def test_mixed_choice_and_fill_in_items():
    rng = np.random.default_rng(79)
    choices, keys, _ = simulate_choices(rng, 200, 6, 4)
    choices = np.column_stack([choices, np.full(200, -1)])  # item 6 is a fill-in item
    keys = np.append(keys, -1)
    scores = np.column_stack([(choices[:, :6] == keys[:6]).astype(float), rng.integers(0, 2, 200)])
    rep = analyze(choices=choices, scores=scores, keys=keys, n_options=[4] * 6 + [0])
    assert np.isnan(rep.options.proportion[6]).all()
    assert rep.items.guess_score[6] == 0.0
    with pytest.raises(ValueError, match="item 6 has no options, so scores are required"):
        analyze(choices=choices, keys=keys, n_options=[4] * 6 + [0])


def test_randomized_papers_report():
    rng = np.random.default_rng(80)
    choices, keys, _ = simulate_choices(rng, 1000, 200, 4)
    seen = random_papers(rng, 1000, 200, 50)
    rep = analyze(choices=choices, keys=keys, n_options=4, seen=seen)
    assert rep.score_unit == "percent"
    assert rep.test.reliability.missing_by_design
    assert rep.items.n.sum() == 50 * 1000
    out = rep.to_dict(include_candidates=False)
    assert "candidates" not in out
    json.dumps(out, allow_nan=False)


def test_options_validation():
    with pytest.raises(ValueError, match="histogram_bins"):
        AnalysisOptions(histogram_bins=0)
    with pytest.raises(ValueError, match="score_groups"):
        AnalysisOptions(score_groups=(0.0, 0.4, 0.3, 1.0))
    with pytest.raises(ValueError, match="irt"):
        analyze(scores=[[1.0, 0.0]], irt="3pl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="similarity needs choices"):
        analyze(scores=[[1.0, 0.0]], similarity=True)
    opts = AnalysisOptions(
        thresholds=FlagThresholds(min_responses=5), score_groups=(0, 1 / 3, 2 / 3, 1)
    )
    rep = analyze(choices=[[0, 1]] * 3 + [[1, 0]] * 3, keys=[0, 1], n_options=2, options=opts)
    assert rep.options.proportion_by_group.shape == (2, 2, 3)
    assert rep.flags  # 6 responses >= min_responses 5

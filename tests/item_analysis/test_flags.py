"""Item flags on seeded simulated data with planted problems (expected values by construction)."""

from __future__ import annotations

import numpy as np
import pytest

from item_analysis import (
    FlagReason,
    FlagThresholds,
    analyze,
    flag_items,
    item_statistics,
    option_statistics,
)

from .sim import logistic, simulate_choices


def _reasons(flags, item):
    return {f.reason for f in flags if f.item == item}


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(424242)
    n, j = 1500, 20
    choices, keys, theta = simulate_choices(rng, n, j, 4)
    true_keys = keys.copy()

    def item(p_correct, distractor_p):
        correct = rng.random(n) < p_correct
        wrong = rng.choice([1, 2, 3], size=n, p=distractor_p)
        return np.where(correct, 0, wrong)

    # item 5: keyed to its most popular distractor (a wrong key)
    d = [(choices[:, 5] == o).sum() if o != keys[5] else -1 for o in range(4)]
    keys[5] = int(np.argmax(d))
    # item 6: too easy; item 7: too hard; item 8: near the guess level (28 % vs 25 % + 5 %)
    choices[:, 6] = item(logistic(theta + 4.5), [1 / 3] * 3)
    choices[:, 7] = item(logistic(theta - 3.2), [1 / 3] * 3)
    choices[:, 8] = item(np.full(n, 0.28), [1 / 3] * 3)
    # item 9: option D chosen by about 2 %
    choices[:, 9] = item(logistic(1.5 * theta), [0.6, 0.37, 0.03])
    # item 10: unrelated to ability (low discrimination, alpha rises without it)
    choices[:, 10] = item(np.full(n, 0.5), [1 / 3] * 3)
    keys[6:11] = 0
    true_keys[6:11] = 0
    return choices, keys, true_keys


def test_planted_wrong_key_is_flagged(planted):
    choices, keys, true_keys = planted
    rep = analyze(choices=choices, keys=keys, n_options=4)
    key_errors = {f.item for f in rep.flags if f.reason is FlagReason.POSSIBLE_KEY_ERROR}
    assert 5 in key_errors
    # the flag points at the option that behaves like a key: the real one
    flag5 = [f for f in rep.flags if f.item == 5 and f.reason is FlagReason.POSSIBLE_KEY_ERROR]
    assert flag5[0].option == true_keys[5]
    assert key_errors <= {5, 8, 10}  # the key check may also fire on pure-noise items


def test_correct_key_is_not_flagged(planted):
    choices, _, true_keys = planted
    rep = analyze(choices=choices, keys=true_keys, n_options=4)
    assert 5 not in {f.item for f in rep.flags if f.reason is FlagReason.POSSIBLE_KEY_ERROR}


def test_planted_item_problems(planted):
    choices, _, keys = planted
    rep = analyze(choices=choices, keys=keys, n_options=4)
    assert FlagReason.TOO_EASY in _reasons(rep.flags, 6)
    assert FlagReason.TOO_HARD in _reasons(rep.flags, 7)
    near_guess = [f for f in rep.flags if f.item == 8 and f.reason is FlagReason.TOO_HARD]
    assert near_guess and near_guess[0].threshold == pytest.approx(0.30)
    nf = [f for f in rep.flags if f.item == 9 and f.reason is FlagReason.NON_FUNCTIONING_DISTRACTOR]
    assert [f.option for f in nf] == [3]
    assert {FlagReason.LOW_DISCRIMINATION, FlagReason.ALPHA_IF_DELETED} <= _reasons(rep.flags, 10)
    # ordinary items are not flagged for difficulty or alpha
    for j in (0, 1, 2):
        assert not _reasons(rep.flags, j) & {FlagReason.TOO_EASY, FlagReason.ALPHA_IF_DELETED}


def test_min_responses_gate(planted):
    choices, keys, _ = planted
    seen = np.ones(choices.shape, bool)
    seen[29:, 5] = False  # only 29 candidates saw the mis-keyed item
    rep = analyze(choices=choices, keys=keys, n_options=4, seen=seen)
    assert not _reasons(rep.flags, 5)
    seen[29, 5] = True  # 30 candidates: now eligible
    rep = analyze(choices=choices, keys=keys, n_options=4, seen=seen)
    assert _reasons(rep.flags, 5)


def test_thresholds_are_configurable(planted):
    choices, _, keys = planted
    x = (choices == keys).astype(float)
    items = item_statistics(x, n_options=np.full(20, 4))
    loose = FlagThresholds(low_discrimination=-1.0, too_easy=1.0, too_hard=0.0, guess_margin=0.0)
    assert not any(
        f.reason is FlagReason.LOW_DISCRIMINATION for f in flag_items(items, thresholds=loose)
    )
    strict = FlagThresholds(low_discrimination=0.99)
    assert (
        sum(f.reason is FlagReason.LOW_DISCRIMINATION for f in flag_items(items, thresholds=strict))
        == 20
    )


def test_multiple_response_key_error():
    rng = np.random.default_rng(8)
    n = 600
    theta = rng.normal(size=n)
    # options A, B, C: able candidates pick A and C, weak ones pick B
    pick = [rng.random(n) < logistic(2 * theta), rng.random(n) < logistic(-2 * theta),
            rng.random(n) < logistic(2 * theta)]  # fmt: skip
    mask = pick[0] * 1 + pick[1] * 2 + pick[2] * 4
    mask = np.where(mask == 0, -1, mask)
    anchor = (rng.random((n, 10)) < logistic(theta[:, None])).astype(int)  # key 1 = "B"
    choices = np.column_stack([mask, anchor])
    multi = [True] + [False] * 10
    good = option_statistics(choices, [5] + [1] * 10, n_options=[3] + [2] * 10, multi=multi)
    bad = option_statistics(choices, [3] + [1] * 10, n_options=[3] + [2] * 10, multi=multi)
    good_items = item_statistics((choices == [5] + [1] * 10).astype(float))
    bad_items = item_statistics((choices == [3] + [1] * 10).astype(float))
    ok = flag_items(good_items, options=good, multi=np.array(multi))
    wrong = flag_items(bad_items, options=bad, multi=np.array(multi))
    assert FlagReason.POSSIBLE_KEY_ERROR not in _reasons(ok, 0)
    assert FlagReason.POSSIBLE_KEY_ERROR in _reasons(wrong, 0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_responses": 0}, "min_responses"),
        ({"low_discrimination": 2.0}, "low_discrimination"),
        ({"too_easy": 1.5}, "too_easy"),
        ({"too_hard": 0.99}, "too_hard"),
        ({"nonfunctioning_distractor": -0.1}, "nonfunctioning_distractor"),
    ],
)
def test_threshold_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FlagThresholds(**kwargs)

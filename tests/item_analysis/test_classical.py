"""Classical statistics against independent references.

References used:
* scipy.stats.pointbiserialr / pearsonr: item-rest and option-rest correlations;
* scipy.stats.skew / kurtosis (bias=True, Fisher): distribution shape;
* girth.common.cronbach_alpha (girth 0.8, PyPI) and two textbook forms written out here
  (covariance-matrix form and variance-of-sums form) for alpha;
* hand computations, shown in comments, for the small fixed examples;
* brute-force Python loops for the missing-by-design definitions in docs/item_analysis.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from item_analysis import (
    guess_scores,
    item_statistics,
    option_statistics,
    reliability,
    score_choices,
    score_distribution,
    test_statistics,
)

from .sim import random_papers, simulate_choices


def alpha_cov_form(x: np.ndarray) -> float:
    """alpha = J/(J-1) * (1 - trace(C) / sum(C)), C = sample covariance matrix."""
    c = np.cov(x, rowvar=False)
    j = x.shape[1]
    return j / (j - 1) * (1 - np.trace(c) / c.sum())


def alpha_sum_form(x: np.ndarray) -> float:
    """alpha = J/(J-1) * (1 - sum var_j / var(total)), population variances."""
    j = x.shape[1]
    return j / (j - 1) * (1 - x.var(axis=0).sum() / x.sum(axis=1).var())


@pytest.fixture(scope="module")
def complete():
    rng = np.random.default_rng(20240601)
    choices, keys, _ = simulate_choices(rng, 400, 12, 4)
    scores = (choices == keys).astype(float)
    return choices, keys, scores


def test_hand_computed_kr20_and_sem():
    # 5 candidates x 3 items. p = (.6, .4, .6), sum pq = 3 * .24 = .72,
    # totals (3, 2, 0, 2, 1): mean 1.6, population variance 5.2 / 5 = 1.04.
    # KR-20 = 3/2 * (1 - .72 / 1.04) = 0.4615385; SD (ddof=1) = sqrt(1.3);
    # SEM = sqrt(1.3) * sqrt(1 - 0.4615385) = 0.8366600.
    x = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 0, 1]], float)
    rel = reliability(x)
    assert rel.kind == "KR-20"
    assert rel.alpha == pytest.approx(0.4615385, abs=1e-7)
    t = test_statistics(x)
    assert t.sem == pytest.approx(0.8366600, abs=1e-7)
    assert t.distribution.unit == "points"


def test_hand_computed_discrimination_index_without_ties():
    # 10 candidates; a second item worth 18 points gives rest scores 18, 16, ..., 0.
    # Item 0 (1 point) is right for candidates 0, 1, 3 and 8, so the totals are
    # 19, 17, 14, 13, 10, 8, 6, 4, 3, 0 (no ties). 20 % groups: upper = candidates 0 and 1
    # (both right: 1.0), lower = candidates 9 and 8 (one right: 0.5), so D = 0.5.
    item = np.array([1, 1, 0, 1, 0, 0, 0, 0, 1, 0], float)
    rest = 2.0 * (9 - np.arange(10))
    x = np.column_stack([item, rest])
    s = item_statistics(x, max_points=[1, 18], discrimination_fraction=0.2)
    assert s.facility_upper[0] == pytest.approx(1.0)
    assert s.facility_lower[0] == pytest.approx(0.5)
    assert s.discrimination_index[0] == pytest.approx(0.5)


def test_item_statistics_against_scipy(complete):
    _, _, x = complete
    s = item_statistics(x)
    total = x.sum(axis=1)
    np.testing.assert_allclose(s.facility, x.mean(axis=0))
    np.testing.assert_allclose(s.sd, x.std(axis=0, ddof=1))
    for j in range(x.shape[1]):
        ref = stats.pointbiserialr(x[:, j], total - x[:, j]).statistic
        assert s.item_rest_r[j] == pytest.approx(ref, abs=1e-12)
    assert s.dichotomous.all()


def _brute_group_weights(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    # Tied candidates share the rank slots of their block: weight = overlap / block size.
    n = values.size
    w = np.zeros(n)
    for i in range(n):
        a = np.sum(values < values[i])
        b = a + np.sum(values == values[i])
        w[i] = max(0.0, min(b, hi * n) - max(a, lo * n)) / (b - a)
    return w


def test_discrimination_index_with_ties_matches_brute_force(complete):
    _, _, x = complete
    s = item_statistics(x)
    frac = x.mean(axis=1)
    wl = _brute_group_weights(frac, 0.0, 0.27)
    wu = _brute_group_weights(frac, 0.73, 1.0)
    assert wl.sum() == pytest.approx(0.27 * x.shape[0])
    ref = (wu @ x) / wu.sum() - (wl @ x) / wl.sum()
    np.testing.assert_allclose(s.discrimination_index, ref, atol=1e-12)


def _brute_de(item: np.ndarray, rest: np.ndarray) -> float:
    # Moodle: covariance / covariance with both variables sorted in the same order.
    cov = np.mean(item * rest) - item.mean() * rest.mean()
    cmax = np.mean(np.sort(item) * np.sort(rest)) - item.mean() * rest.mean()
    return cov / cmax


def test_discriminative_efficiency_brute_force(complete):
    _, _, x = complete
    s = item_statistics(x)
    total = x.sum(axis=1)
    for j in range(x.shape[1]):
        assert s.discriminative_efficiency[j] == pytest.approx(
            _brute_de(x[:, j], total - x[:, j]), abs=1e-10
        )


def test_polytomous_items():
    rng = np.random.default_rng(7)
    theta = rng.normal(size=300)
    x = np.clip(np.rint(theta[:, None] + rng.normal(0, 1, (300, 6)) + 1), 0, 2)
    s = item_statistics(x, max_points=2)
    total = x.sum(axis=1)
    np.testing.assert_allclose(s.facility, x.mean(axis=0) / 2)
    for j in range(6):
        assert s.item_rest_r[j] == pytest.approx(
            stats.pearsonr(x[:, j], total - x[:, j]).statistic, abs=1e-12
        )
        assert s.discriminative_efficiency[j] == pytest.approx(
            _brute_de(x[:, j] / 2, (total - x[:, j]) / 10), abs=1e-10
        )
    assert not s.dichotomous.any()
    rel = reliability(x, max_points=2)
    assert rel.kind == "alpha"
    assert rel.alpha == pytest.approx(alpha_cov_form(x), abs=1e-12)


def test_alpha_forms_and_girth(complete):
    from girth.common import cronbach_alpha

    _, _, x = complete
    rel = reliability(x)
    assert rel.alpha == pytest.approx(alpha_cov_form(x), abs=1e-12)
    assert rel.alpha == pytest.approx(alpha_sum_form(x), abs=1e-12)
    assert rel.alpha == pytest.approx(cronbach_alpha(x.T), abs=1e-12)
    # KR-20 with p*q and the population variance of totals
    p = x.mean(axis=0)
    kr20 = x.shape[1] / (x.shape[1] - 1) * (1 - (p * (1 - p)).sum() / x.sum(axis=1).var())
    assert rel.alpha == pytest.approx(kr20, abs=1e-12)
    for j in range(x.shape[1]):
        assert rel.alpha_if_deleted[j] == pytest.approx(
            alpha_cov_form(np.delete(x, j, axis=1)), abs=1e-12
        )


def test_option_statistics_against_scipy(complete):
    choices, keys, x = complete
    o = option_statistics(choices, keys, n_options=4)
    total = x.sum(axis=1)
    for j in range(x.shape[1]):
        rest = total - x[:, j]
        for k in range(4):
            chose = choices[:, j] == k
            assert o.proportion[j, k] == pytest.approx(chose.mean())
            assert o.is_key[j, k] == (k == keys[j])
            if 0 < chose.sum() < chose.size:
                ref = stats.pointbiserialr(chose, rest).statistic
                assert o.rest_r[j, k] == pytest.approx(ref, abs=1e-10)
                assert o.mean_total[j, k] == pytest.approx((total[chose] / 12).mean())
    # by-group proportions sum to one over options in every group (no omissions here)
    np.testing.assert_allclose(np.nansum(o.proportion_by_group, axis=1), 1.0)
    wl = _brute_group_weights(total / 12, 0.0, 0.27)
    for j in range(3):
        ref = np.array([(wl * (choices[:, j] == k)).sum() / wl.sum() for k in range(4)])
        np.testing.assert_allclose(o.proportion_by_group[j, :, 0], ref, atol=1e-12)


def test_multiple_response_options_and_scoring():
    # item 0: key {A, C} = mask 5; item 1: single choice, key B
    choices = np.array([[5, 1], [5, 1], [1, 0], [7, 1], [-1, 2], [4, -1]])
    keys = np.array([5, 1])
    x = score_choices(choices, keys, n_options=[3, 3], multi=[True, False])
    assert x.tolist() == [[1, 1], [1, 1], [0, 0], [0, 1], [0, 0], [0, 0]]
    o = option_statistics(choices, keys, n_options=[3, 3], multi=[True, False])
    # option A chosen in masks 5, 5, 1, 7 -> 4 of 6; B in 7 -> 1; C in 5, 5, 7, 4 -> 4
    np.testing.assert_allclose(o.proportion[0], [4 / 6, 1 / 6, 4 / 6])
    assert o.is_key[0].tolist() == [True, False, True]
    assert o.omit_proportion.tolist() == pytest.approx([1 / 6, 1 / 6])
    # 1 / (2**3 - 1) for the multiple-response item, 1/3 for the single-choice one
    assert guess_scores([3, 3], [True, False]).tolist() == pytest.approx([1 / 7, 1 / 3])


def test_missing_by_design_item_rest_matches_brute_force():
    rng = np.random.default_rng(99)
    choices, keys, _ = simulate_choices(rng, 500, 30, 4)
    pts = rng.choice([1.0, 2.0], size=30)
    x = (choices == keys) * pts
    seen = random_papers(rng, 500, 30, 12)
    seen[0] = False
    seen[0, 3] = True  # saw a single item: no rest score
    s = item_statistics(x, seen=seen, max_points=pts)
    for j in range(30):
        rows = [i for i in range(500) if seen[i, j] and seen[i].sum() > 1]
        item, rest = [], []
        for i in rows:
            others = [k for k in range(30) if seen[i, k] and k != j]
            item.append(x[i, j])
            rest.append(sum(x[i, k] for k in others) / sum(pts[k] for k in others))
        assert s.item_rest_r[j] == pytest.approx(np.corrcoef(item, rest)[0, 1], abs=1e-10)
        assert s.n[j] == seen[:, j].sum()
        assert s.facility[j] == pytest.approx(x[seen[:, j], j].mean() / pts[j])


def test_missing_by_design_alpha_matches_pooled_definition():
    rng = np.random.default_rng(5)
    choices, keys, _ = simulate_choices(rng, 300, 20, 4)
    x = (choices == keys).astype(float)
    seen = random_papers(rng, 300, 20, 8)
    rel = reliability(x, seen=seen)
    # docs/item_analysis.md: y = score - item mean over those who saw the item;
    # v = mean of y^2 over seen cells; c = sum over candidates of sum_{j != k} y_j y_k
    # divided by sum over candidates of L_i (L_i - 1); alpha = L c / (v + (L - 1) c).
    means = np.array([x[seen[:, j], j].mean() for j in range(20)])
    y2, cross, pairs, lengths = 0.0, 0.0, 0.0, []
    for i in range(300):
        items = np.flatnonzero(seen[i])
        y = x[i, items] - means[items]
        y2 += (y**2).sum()
        cross += sum(y[a] * y[b] for a in range(len(y)) for b in range(len(y)) if a != b)
        pairs += len(y) * (len(y) - 1)
        lengths.append(len(y))
    v, c, length = y2 / sum(lengths), cross / pairs, np.mean(lengths)
    assert rel.alpha == pytest.approx(length * c / (v + (length - 1) * c), abs=1e-12)
    assert rel.missing_by_design and rel.mean_items_seen == pytest.approx(8.0)


def test_missing_by_design_alpha_estimates_alpha_of_a_random_paper():
    # Statistical check: with random 25-item papers from a 100-item pool, the pooled alpha
    # should be close to the average alpha of complete 25-item papers (same population).
    rng = np.random.default_rng(31)
    choices, keys, _ = simulate_choices(rng, 4000, 100, 4)
    x = (choices == keys).astype(float)
    seen = random_papers(rng, 4000, 100, 25)
    pooled = reliability(x, seen=seen).alpha
    subsets = [alpha_cov_form(x[:, rng.choice(100, 25, replace=False)]) for _ in range(40)]
    assert pooled == pytest.approx(np.mean(subsets), abs=0.02)


def test_missing_alpha_if_deleted_equals_full_formula_when_complete(complete):
    _, _, x = complete
    seen = np.ones(x.shape, bool)
    a = reliability(x, seen=seen)
    b = reliability(x)
    assert a.alpha == pytest.approx(b.alpha) and not a.missing_by_design


def test_score_distribution_against_scipy():
    rng = np.random.default_rng(3)
    v = rng.gamma(2.0, 3.0, size=1000)
    d = score_distribution(v, bins=7, range=(0, 40))
    assert d.mean == pytest.approx(v.mean())
    assert d.sd == pytest.approx(v.std(ddof=1))
    assert d.skewness == pytest.approx(stats.skew(v), abs=1e-12)
    assert d.kurtosis == pytest.approx(stats.kurtosis(v), abs=1e-12)
    counts, edges = np.histogram(v, bins=7, range=(0, 40))
    assert d.counts.tolist() == counts.tolist()
    np.testing.assert_allclose(d.bin_edges, edges)


def test_percent_scores_when_papers_differ():
    x = np.array([[1, 0, 1], [1, 1, 0]], float)
    seen = np.array([[True, True, False], [True, True, True]])
    t = test_statistics(x, seen=seen)
    # candidate 0: 1 of 2 seen points = 50 %; candidate 1: 2 of 3 = 66.7 %
    assert t.distribution.unit == "percent"
    assert t.distribution.mean == pytest.approx((50 + 200 / 3) / 2)


def test_results_are_read_only(complete):
    _, _, x = complete
    s = item_statistics(x)
    with pytest.raises(ValueError):
        s.facility[0] = 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": [[0.0, 2.0]], "max_points": [1, 1]}, "scores[0, 1] = 2.0"),
        ({"scores": [[0.0, np.nan]]}, "scores[0, 1] = nan"),
        ({"scores": [[0.0, 1.0]], "max_points": [1, -1]}, "max_points[1] = -1.0"),
        ({"scores": [0.0, 1.0]}, "2-D"),
        ({"scores": [[0.0, 1.0]], "seen": [[1, 1]]}, "boolean"),
    ],
)
def test_validation_names_the_bad_value(kwargs, message):
    scores = kwargs.pop("scores")
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        item_statistics(scores, **kwargs)


def test_option_code_validation():
    with pytest.raises(ValueError, match="option code 4 is invalid for item 1"):
        option_statistics([[0, 4]], [0, 0], n_options=[4, 4])
    with pytest.raises(ValueError, match=r"keys\[0\] = 5"):
        option_statistics([[0, 1]], [5, 0], n_options=[4, 4])
    with pytest.raises(ValueError, match="option code 0 is invalid"):
        option_statistics([[0, 1]], [3, 1], n_options=[4, 4], multi=[True, False])
    with pytest.raises(ValueError, match="score_groups"):
        option_statistics([[0, 1]], [0, 1], n_options=[4, 4], score_groups=(0, 0.5))


def test_unseen_cells_are_ignored(complete):
    choices, keys, x = complete
    seen = np.ones(x.shape, bool)
    seen[::3, 2] = False
    garbage = x.copy()
    garbage[~seen] = 7.5  # out of range, but not seen
    a = item_statistics(garbage, seen=seen)
    b = item_statistics(np.where(seen, x, 0.0), seen=seen)
    np.testing.assert_array_equal(a.item_rest_r, b.item_rest_r)
    bad_choices = choices.copy()
    bad_choices[~seen] = 99
    o = option_statistics(bad_choices, keys, n_options=4, seen=seen)
    assert o.proportion[2].sum() == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(seed):
    rng = np.random.default_rng(seed)
    choices, keys, _ = simulate_choices(rng, 60, 6, 3)
    x = (choices == keys).astype(float)
    perm = rng.permutation(60)
    a, b = item_statistics(x), item_statistics(x[perm])
    for field in ("facility", "item_rest_r", "discrimination_index", "discriminative_efficiency"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-12)
    oa = option_statistics(choices, keys, n_options=3)
    ob = option_statistics(choices[perm], keys, n_options=3)
    np.testing.assert_allclose(oa.proportion_by_group, ob.proportion_by_group, atol=1e-12)
    assert reliability(x).alpha == pytest.approx(reliability(x[perm]).alpha, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.5, 5.0))
def test_choices_and_scores_paths_agree(seed, points):
    rng = np.random.default_rng(seed)
    choices, keys, _ = simulate_choices(rng, 50, 5, 4)
    x = (choices == keys) * points
    a = item_statistics(x, max_points=points)
    b = option_statistics(choices, keys, n_options=4, max_points=points)
    c = option_statistics(choices, keys, n_options=4, max_points=points, scores=x)
    np.testing.assert_allclose(b.rest_r, c.rest_r, atol=1e-12, equal_nan=True)
    # the key option's "chosen" indicator is the item score itself
    key_r = np.array([b.rest_r[j, keys[j]] for j in range(5)])
    np.testing.assert_allclose(key_r, a.item_rest_r, atol=1e-10, equal_nan=True)

"""Item analysis for vocational skill appraisal exams: pure functions on numpy arrays.

Shape convention
----------------
* ``N`` candidates (rows) x ``J`` items (columns). Every candidate x item input has shape
  ``(N, J)``: ``choices`` (int option codes, ``-1`` = not answered), ``scores`` (float
  points), ``seen`` (bool, False = the item was not on this candidate's paper) and ``times``
  (float seconds, NaN = not recorded).
* Per-item inputs and outputs have shape ``(J,)`` (``keys``, ``n_options``, ``multi``,
  ``max_points``, facility, ...); per-candidate ones ``(N,)``; per-option ones ``(J, K)`` with
  ``K`` the largest number of options, NaN where an item has fewer options; score-group
  breakdowns add a last axis of length ``G``.
* Option codes are 0-based option indices for single-answer items and bit masks for
  multiple-response items (see :mod:`item_analysis.scoring`).
* Cells outside ``seen`` are ignored whatever they contain. Every statistic uses only the
  cells a candidate saw (missing by design), see ``docs/item_analysis.md`` for the formulas.

Results are frozen dataclasses holding read-only arrays. Invalid input raises ``ValueError``
naming the offending value.

Modules
-------
* :mod:`~item_analysis.scoring`: option codes, scoring, random-guess scores
* :mod:`~item_analysis.classical`: item, option (distractor) and test statistics
* :mod:`~item_analysis.flags`: item flags with reason codes
* :mod:`~item_analysis.irt`: Rasch / 2PL by marginal maximum likelihood, EAP, information
* :mod:`~item_analysis.forensics`: answer similarity with FDR control, rapid guessing, lz
* :mod:`~item_analysis.report`: :func:`analyze`, the whole analysis in one call
* :mod:`~item_analysis.files`: CSV input and a JSON-ready :func:`~item_analysis.files.run_analysis`
"""

from .classical import (
    ItemStatistics,
    OptionStatistics,
    Reliability,
    ScoreDistribution,
    TestStatistics,
    item_statistics,
    option_statistics,
    reliability,
    score_distribution,
    test_statistics,
)
from .flags import FlagReason, FlagThresholds, ItemFlag, flag_items
from .forensics import (
    PairEvidence,
    PersonFit,
    RapidGuessing,
    SimilarityResult,
    answer_similarity,
    benjamini_hochberg,
    identical_incorrect_matrix,
    person_fit_lz,
    rapid_guessing,
)
from .irt import IRTResult, eap_abilities, fit_irt, item_information, quadrature, test_information
from .irt_fit import ItemFit, chi2_sf, item_fit, summed_score_likelihood
from .report import AnalysisOptions, Report, analyze
from .scoring import code_to_letters, guess_scores, letters_to_code, score_choices

__all__ = [
    "AnalysisOptions",
    "FlagReason",
    "FlagThresholds",
    "IRTResult",
    "ItemFit",
    "ItemFlag",
    "ItemStatistics",
    "OptionStatistics",
    "PairEvidence",
    "PersonFit",
    "RapidGuessing",
    "Reliability",
    "Report",
    "ScoreDistribution",
    "SimilarityResult",
    "TestStatistics",
    "analyze",
    "answer_similarity",
    "benjamini_hochberg",
    "chi2_sf",
    "code_to_letters",
    "eap_abilities",
    "fit_irt",
    "flag_items",
    "guess_scores",
    "identical_incorrect_matrix",
    "item_fit",
    "item_information",
    "item_statistics",
    "letters_to_code",
    "option_statistics",
    "person_fit_lz",
    "quadrature",
    "rapid_guessing",
    "reliability",
    "score_choices",
    "score_distribution",
    "summed_score_likelihood",
    "test_information",
    "test_statistics",
]

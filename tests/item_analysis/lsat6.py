"""LSAT-6: five items of the Law School Admission Test, section 6, answered by 1,000 people.

Response-pattern counts typed from the table in Bock, R. D. and Lieberman, M. (1970),
"Fitting a response model for n dichotomously scored items", Psychometrika 35(2), 179-197
(the same data are ``LSAT`` in R's ltm package and ``LSAT6`` in mirt). Patterns with no
respondent (01010, 01100) are absent from the table.
"""

from __future__ import annotations

import numpy as np

# pattern (items 1-5) -> number of people
PATTERNS: dict[str, int] = {
    "00000": 3, "00001": 6, "00010": 2, "00011": 11, "00100": 1, "00101": 1,
    "00110": 3, "00111": 4, "01000": 1, "01001": 8, "01011": 16, "01101": 3,
    "01110": 2, "01111": 15, "10000": 10, "10001": 29, "10010": 14, "10011": 81,
    "10100": 3, "10101": 28, "10110": 15, "10111": 80, "11000": 16, "11001": 56,
    "11010": 21, "11011": 173, "11100": 11, "11101": 61, "11110": 28, "11111": 298,
}  # fmt: skip


def lsat6() -> np.ndarray:
    """The 1,000 x 5 matrix of 0/1 scores, patterns in the table's order."""
    rows = [[int(c) for c in pattern] for pattern, n in PATTERNS.items() for _ in range(n)]
    return np.asarray(rows, dtype=np.float64)

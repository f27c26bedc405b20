"""Seeded simulators shared by the item-analysis tests."""

from __future__ import annotations

import numpy as np


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_2pl(
    rng: np.random.Generator, theta: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """0/1 responses from the 2PL model."""
    p = logistic(a[None, :] * (theta[:, None] - b[None, :]))
    return (rng.random(p.shape) < p).astype(np.float64)


def simulate_choices(
    rng: np.random.Generator, n: int, j: int, k: int = 4, *, theta: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Option choices from a nominal response model whose key has the largest slope.

    Returns ``choices (N, J)``, ``keys (J,)`` and ``theta (N,)``.
    """
    th = rng.normal(size=n) if theta is None else theta
    slopes = rng.normal(0.0, 0.4, (j, k))
    ints = rng.normal(0.0, 0.6, (j, k))
    keys = rng.integers(0, k, j)
    slopes[np.arange(j), keys] = rng.uniform(1.0, 2.0, j)
    ints[np.arange(j), keys] += 0.8
    eta = th[:, None, None] * slopes[None] + ints[None]
    p = np.exp(eta - eta.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    u = rng.random((n, j, 1))
    choices = (u > p.cumsum(axis=-1)).sum(axis=-1)
    return np.minimum(choices, k - 1).astype(np.int64), keys, th


def random_papers(rng: np.random.Generator, n: int, j: int, length: int) -> np.ndarray:
    """``seen`` mask: each candidate gets ``length`` distinct items drawn at random."""
    order = np.argsort(rng.random((n, j)), axis=1)[:, :length]
    seen = np.zeros((n, j), dtype=bool)
    np.put_along_axis(seen, order, True, axis=1)
    return seen

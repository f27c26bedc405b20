"""Item-analysis benchmark (pure numpy package ``item_analysis``).

Targets (issue: item analysis, statistical half):
  * classical report, 100,000 candidates x 100 items, complete data          < 2 s
  * classical report, 100,000 candidates on randomized papers
    (each sees 100 items of a 1,000-item pool)                              < 5 s
  * 2PL by marginal maximum likelihood, 20,000 x 100                        < 30 s
  * answer similarity over every pair of 5,000 candidates (100 items)       < 60 s

Where girth (PyPI, a pure-Python IRT/CTT library) offers the same computation it is timed on
the same data and the ratio girth / ours is printed. girth is a test-only dependency; without
it (or with --skip-girth) those rows are skipped.

Timings are seconds of the library call only (data generation excluded): wall-clock time of
the first (cold) call, the best and median wall-clock time of --repeat further calls, and the
process CPU time of the best call (user + system, all threads; on a machine shared with other
work it is the steadier figure). The 1-minute load average is printed with each row.

Reproduce:  .venv/bin/python -m bench.analysis [--repeat 3] [--skip-girth] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from item_analysis import analyze, answer_similarity, fit_irt


def _choices_from_ability(
    rng: np.random.Generator,
    theta: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    keys: np.ndarray,
    k: int,
) -> np.ndarray:
    """2PL correctness; wrong answers spread over the distractors, weaker candidates more
    often on the first distractor (so that distractors differ in behaviour)."""
    p = 1.0 / (1.0 + np.exp(-a * (theta - b)))
    correct = rng.random(p.shape, dtype=np.float32) < p
    shift = rng.integers(1, k, size=p.shape, dtype=np.int8)
    return np.where(correct, keys, (keys + shift) % k).astype(np.int8)


def complete_data(
    rng: np.random.Generator, n: int, j: int, k: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    theta = rng.normal(size=n).astype(np.float32)
    a = rng.uniform(0.6, 2.0, j).astype(np.float32)
    b = rng.normal(0, 1, j).astype(np.float32)
    keys = rng.integers(0, k, j)
    return _choices_from_ability(rng, theta[:, None], a, b, keys, k), keys


def randomized_data(
    rng: np.random.Generator, n: int, pool: int, length: int, k: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta = rng.normal(size=n).astype(np.float32)
    a = rng.uniform(0.6, 2.0, pool).astype(np.float32)
    b = rng.normal(0, 1, pool).astype(np.float32)
    keys = rng.integers(0, k, pool)
    items = np.argpartition(rng.random((n, pool), dtype=np.float32), length, axis=1)[:, :length]
    seen = np.zeros((n, pool), dtype=bool)
    np.put_along_axis(seen, items, True, axis=1)
    cells = _choices_from_ability(rng, theta[:, None], a[items], b[items], keys[items], k)
    choices = np.zeros((n, pool), dtype=np.int8)
    np.put_along_axis(choices, items, cells, axis=1)
    return choices, keys, seen


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, float, Any]:
    """(cold, best, median) wall seconds over 1 + repeat calls, CPU seconds of the best call,
    and the last result."""
    times = []
    cpu = []
    result = None
    for _ in range(1 + repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    warm = list(zip(times[1:], cpu[1:], strict=True)) or [(times[0], cpu[0])]
    best = min(warm)
    return times[0], best[0], statistics.median(t for t, _ in warm), best[1], result


class _Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float, float, float, str]] = []

    def ours(
        self, name: str, target: str, res: tuple[float, float, float, float, Any], note: str
    ) -> None:
        cold, best, med, cpu, _ = res
        load = os.getloadavg()[0]
        self.rows.append((name, target, cold, best, cpu, load, note))
        print(
            f"{name}: cold {cold:.2f} s, best {best:.2f} s, median {med:.2f} s, CPU {cpu:.2f} s "
            f"(target {target}; load {load:.1f}) {note}",
            flush=True,
        )

    def girth(self, name: str, fn: Callable[[], Any], ours_best: float, ours_cpu: float) -> Any:
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        note = f"girth / ours: wall {wall / ours_best:.1f}x, CPU {cpu / ours_cpu:.1f}x"
        self.rows.append(
            (f"girth {name}, same data", "", wall, wall, cpu, os.getloadavg()[0], note)
        )
        print(f"  girth {name} on the same data: {wall:.2f} s, CPU {cpu:.2f} s; {note}", flush=True)
        return result

    def markdown(self) -> str:
        lines = [
            "| benchmark | target | cold wall (s) | best wall (s) | CPU (s) | load | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, target, cold, best, cpu, load, note in self.rows:
            lines.append(
                f"| {name} | {target} | {cold:.2f} | {best:.2f} | {cpu:.2f} | {load:.1f} | {note} |"
            )
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed calls after the first (default 3)"
    )
    parser.add_argument("--skip-girth", action="store_true", help="do not time girth")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    girth = None
    if not args.skip_girth:
        try:
            import girth  # type: ignore[import-not-found,no-redef]
        except ImportError:
            print("girth not installed: comparison rows skipped")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}; load average {os.getloadavg()[0]:.2f}"
    )
    table = _Table()

    # 1. classical, complete data
    choices, keys = complete_data(rng, 100_000, 100)
    res = timed(lambda: analyze(choices=choices, keys=keys, n_options=4), args.repeat)
    table.ours(
        "classical report 100,000 x 100, complete",
        "< 2 s",
        res,
        f"alpha {res[4].test.reliability.alpha:.4f}",
    )
    if girth is not None:
        x01 = (choices == keys).astype(np.int64)
        table.girth(
            "classical_test_statistics",
            lambda: girth.classical_test_statistics(x01.T, start_value=0, stop_value=1),
            res[1],
            res[3],
        )

    # 2. classical, randomized papers
    choices, keys, seen = randomized_data(rng, 100_000, 1000, 100)
    res = timed(lambda: analyze(choices=choices, keys=keys, n_options=4, seen=seen), args.repeat)
    table.ours(
        "classical report 100,000 candidates, 100 of 1,000 items each",
        "< 5 s",
        res,
        f"alpha (L = 100) {res[4].test.reliability.alpha:.4f}",
    )

    # 3. 2PL and Rasch by MML
    theta = rng.normal(size=20_000)
    a = rng.uniform(0.6, 2.0, 100)
    b = rng.normal(0, 1, 100)
    x = (rng.random((20_000, 100)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))).astype(np.float64)
    res = timed(lambda: fit_irt(x, model="2pl"), args.repeat)
    fit = res[4]
    table.ours("2PL MML 20,000 x 100", "< 30 s", res, f"{fit.n_iter} EM cycles")
    if girth is not None:
        g = table.girth("twopl_mml", lambda: girth.twopl_mml(x.T.astype(np.int64)), res[1], res[3])
        da = np.abs(g["Discrimination"] - fit.discrimination).max()
        db = np.abs(g["Difficulty"] - fit.difficulty).max()
        print(f"  max |a ours - a girth| {da:.4f}, max |b ours - b girth| {db:.4f}")
    res = timed(lambda: fit_irt(x, model="rasch"), args.repeat)
    table.ours("Rasch MML 20,000 x 100", "-", res, f"{res[4].n_iter} EM cycles")
    if girth is not None:
        table.girth("onepl_mml", lambda: girth.onepl_mml(x.T.astype(np.int64)), res[1], res[3])

    # 4. answer similarity, all pairs
    choices, keys = complete_data(rng, 5_000, 100)
    res = timed(lambda: answer_similarity(choices, keys, n_options=4), max(1, args.repeat - 2))
    table.ours(
        "answer similarity, all 12,497,500 pairs of 5,000 x 100",
        "< 60 s",
        res,
        f"{res[4].n_significant} discoveries at FDR 5 %",
    )

    print("\n" + table.markdown())
    print("\nReproduce: .venv/bin/python -m bench.analysis")


if __name__ == "__main__":
    main()

"""Seconds per EM iteration against the bare two matrix products an iteration needs.

    python benchmarks/bench_em.py [--rows 100000 1000000] [--repeats 5]

Bernoulli data, D = 50 columns, K = 10 components, float64. "bare" is ``X @ A.T`` plus
``R.T @ X`` at the same shapes: the floor for an EM iteration that reads X through BLAS twice.
"mixfit" is one iteration of ``fit_em`` (E-step pass with log-sum-exp and statistics, M-step,
history row), measured as the median over repeats of 10-iteration fits divided by 10.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mixfit as mf
from mixfit.em import EMState, fit_em
from mixfit.sources import as_source


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench(n_rows: int, n_cols: int, k: int, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    truth = rng.uniform(0.05, 0.95, size=(k, n_cols))
    labels = rng.integers(0, k, n_rows)
    X = (rng.random((n_rows, n_cols)) < truth[labels]).astype(np.float64)
    A = rng.standard_normal((k, n_cols))
    R = rng.random((n_rows, k))
    bare = median_seconds(lambda: (X @ A.T, R.T @ X), repeats)

    family = mf.Bernoulli()
    source = as_source(X, family, compress=False)
    state = EMState(np.full(k, 1 / k), {"p": rng.uniform(0.2, 0.8, size=(k, n_cols))})
    iters = 10
    fit = median_seconds(lambda: fit_em(family, source, state, max_iter=iters, tol=0.0), repeats) / iters
    return {"bare": bare, "mixfit": fit, "ratio": fit / bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"Bernoulli, D = {args.cols}, K = {args.k}, float64, median of {args.repeats}")
    print(f"{'rows':>10} {'bare 2 products (s)':>20} {'mixfit / iter (s)':>18} {'ratio':>7}")
    for n_rows in args.rows:
        r = bench(n_rows, args.cols, args.k, args.repeats, rng)
        print(f"{n_rows:>10} {r['bare']:>20.4f} {r['mixfit']:>18.4f} {r['ratio']:>7.2f}")


if __name__ == "__main__":
    main()

"""Seconds per EM iteration against the bare two matrix products an iteration needs.

    python benchmarks/bench_em.py [--rows 100000 1000000] [--repeats 5]

Bernoulli data, D = 50 columns, K = 10 components. "bare" is ``X @ A.T`` plus ``R.T @ X`` at
the same shapes with X held as float64 (or float32): the floor for an EM iteration that reads X
through BLAS twice. "mixfit" is one iteration of ``fit_em`` (E-step pass with log-sum-exp and
statistics, M-step, history row) with X held as uint8 and converted block by block to the
compute dtype (float64, or ``dtype=np.float32``), measured as the median over repeats of
10-iteration fits divided by 10.
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
    X32, A32, R32 = X.astype(np.float32), A.astype(np.float32), R.astype(np.float32)
    result = {
        "bare64": median_seconds(lambda: (X @ A.T, R.T @ X), repeats),
        "bare32": median_seconds(lambda: (X32 @ A32.T, R32.T @ X32), repeats),
    }
    family = mf.Bernoulli()
    state = EMState(np.full(k, 1 / k), {"p": rng.uniform(0.2, 0.8, size=(k, n_cols))})
    iters = 10
    for name, dtype in (("mixfit64", np.float64), ("mixfit32", np.float32)):
        source = as_source(X, family, compress=False, dtype=dtype)  # X kept as uint8, blocks converted
        result[name] = (
            median_seconds(lambda s=source: fit_em(family, s, state, max_iter=iters, tol=0.0), repeats) / iters
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"Bernoulli, D = {args.cols}, K = {args.k}, median of {args.repeats}; ratios against bare float64")
    print(
        f"{'rows':>10} {'bare f64':>9} {'bare f32':>9} {'mixfit f64':>11} {'ratio':>6} {'mixfit f32':>11} {'ratio':>6}"
    )
    for n_rows in args.rows:
        r = bench(n_rows, args.cols, args.k, args.repeats, rng)
        print(
            f"{n_rows:>10} {r['bare64']:>9.4f} {r['bare32']:>9.4f} {r['mixfit64']:>11.4f} "
            f"{r['mixfit64'] / r['bare64']:>6.2f} {r['mixfit32']:>11.4f} {r['mixfit32'] / r['bare64']:>6.2f}"
        )


if __name__ == "__main__":
    main()

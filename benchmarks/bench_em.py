"""Seconds per EM iteration against the bare two matrix products an iteration needs.

    python benchmarks/bench_em.py [--rows 100000 1000000] [--repeats 5]

Bernoulli data, D = 50 columns, K = 10 components. "bare" is ``X @ A.T`` plus ``R.T @ X`` at
the same shapes with X held as float64 (or float32): the floor for an EM iteration that reads X
through BLAS twice. "mixfit" is one iteration of ``fit_em`` (E-step pass with log-sum-exp and
statistics, M-step, history row) with X held as uint8 and converted block by block to the
compute dtype (float64, or ``dtype=np.float32``), measured as the median over repeats of
10-iteration fits divided by 10, with the compiled log-sum-exp when numba is installed
("mixfit") and with NumPy's ("numpy"). The tools take turns within each repeat, so the
machine's drift affects them alike.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mixfit as mf
from mixfit import kernels
from mixfit.em import EMSettings, EMState, fit_em
from mixfit.sources import as_source


def seconds(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def bench(n_rows: int, n_cols: int, k: int, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    truth = rng.uniform(0.05, 0.95, size=(k, n_cols))
    labels = rng.integers(0, k, n_rows)
    X = (rng.random((n_rows, n_cols)) < truth[labels]).astype(np.float64)
    A = rng.standard_normal((k, n_cols))
    R = rng.random((n_rows, k))
    X32, A32, R32 = X.astype(np.float32), A.astype(np.float32), R.astype(np.float32)
    family = mf.Bernoulli()
    state = EMState(np.full(k, 1 / k), {"p": rng.uniform(0.2, 0.8, size=(k, n_cols))})
    iters = 10
    sources = {dtype: as_source(X, family, compress=False, dtype=dtype) for dtype in (np.float64, np.float32)}

    def fit(dtype, kernel):
        with kernels.use(kernel):
            fit_em(family, sources[dtype], state, EMSettings(max_iter=iters, tol=0.0))

    runs = {
        "bare64": lambda: (X @ A.T, R.T @ X),
        "bare32": lambda: (X32 @ A32.T, R32.T @ X32),
        "mixfit64": lambda: fit(np.float64, kernels.active()),
        "mixfit32": lambda: fit(np.float32, kernels.active()),
        "numpy64": lambda: fit(np.float64, "numpy"),
        "numpy32": lambda: fit(np.float32, "numpy"),
    }
    for run in runs.values():  # warm-up: compiles the kernel, touches memory
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved, so that the machine's drift hits every tool alike
        for name, run in runs.items():
            times[name].append(seconds(run) / (1 if name.startswith("bare") else iters))
    return {name: float(np.median(values)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"Bernoulli, D = {args.cols}, K = {args.k}, median of {args.repeats} interleaved repeats")
    print(f"seconds per iteration (ratio to bare float64); compiled kernel: {kernels.active()}")
    names = ["bare64", "bare32", "mixfit64", "mixfit32", "numpy64", "numpy32"]
    print(f"{'rows':>10} " + " ".join(f"{name:>16}" for name in names))
    for n_rows in args.rows:
        r = bench(n_rows, args.cols, args.k, args.repeats, rng)
        cells = [f"{r[name]:.4f} ({r[name] / r['bare64']:.2f}x)" for name in names]
        print(f"{n_rows:>10} " + " ".join(f"{cell:>16}" for cell in cells))


if __name__ == "__main__":
    main()

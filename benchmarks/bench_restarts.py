"""Restarts one after another versus on joblib workers (``n_jobs``): same result, wall time.

    python benchmarks/bench_restarts.py [--rows 20000] [--n-init 8] [--jobs 1 2]

Bernoulli rows (D = 20, K = 5), random starts, tol 1e-8. Prints the wall time of each setting
and checks that every setting keeps the same best restart (log-likelihood equal to 1e-9
relative: worker processes run BLAS single-threaded, which rounds differently).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mixfit as mf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--n-init", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.9, (5, 20))
    X = (rng.random((args.rows, 20)) < p[rng.integers(0, 5, args.rows)]).astype(np.uint8)
    reference = None
    for jobs in args.jobs:
        model = mf.Mixture("bernoulli", 5, n_init=args.n_init, init="random", random_state=0, n_jobs=jobs)
        began = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - began
        reference = model.log_likelihood_ if reference is None else reference
        same = "same" if abs(model.log_likelihood_ - reference) <= 1e-9 * abs(reference) else "DIFFERENT"
        print(
            f"n_jobs={jobs}: {args.n_init} restarts in {seconds:.2f} s, "
            f"log-likelihood {model.log_likelihood_:.6f} ({same})"
        )


if __name__ == "__main__":
    main()

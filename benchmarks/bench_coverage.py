"""Coverage of 95% intervals from ``Mixture.standard_errors`` for an identifiable Bernoulli
mixture (issue 4's target: 93-97%), by simulation. Run by hand:

    python benchmarks/bench_coverage.py --replicates 500 --rows 1000

Each replicate draws a data set from a fixed 2-class, 5-item model, fits from the true
parameters (so components keep their names), and checks whether each of the 12 intervals
(weights and item probabilities) covers the truth. Prints the coverage per method and the
binomial standard error of the estimate.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mixfit as mf

WEIGHTS = np.array([0.4, 0.6])
P = np.array([[0.8, 0.7, 0.9, 0.2, 0.3], [0.2, 0.3, 0.2, 0.7, 0.8]])


def covered(seed: int, n_rows: int, method: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.choice(2, n_rows, p=WEIGHTS)
    X = (rng.random((n_rows, P.shape[1])) < P[z]).astype(int)
    m = mf.Mixture(mf.Bernoulli(), 2, weights_init=WEIGHTS, params_init={"p": P}, tol=1e-12).fit(X)
    table = m.standard_errors(X, method=method).table
    truth = np.concatenate([WEIGHTS, P.ravel()])
    return ((table["lower95"] <= truth) & (truth <= table["upper95"])).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.replicates} data sets of {args.rows} rows, 2 classes x 5 items, 12 intervals each")
    for method in ("observed", "opg"):
        started = time.perf_counter()
        hits = np.array([covered(seed, args.rows, method) for seed in range(args.replicates)])
        rate = hits.mean()
        se = np.sqrt(rate * (1 - rate) / hits.size)
        per_entry = ", ".join(f"{v:.3f}" for v in hits.mean(axis=0))
        print(
            f"{method:>8}: coverage {rate:.4f} (+/- {se:.4f}), per entry [{per_entry}], "
            f"{time.perf_counter() - started:.1f} s"
        )


if __name__ == "__main__":
    main()

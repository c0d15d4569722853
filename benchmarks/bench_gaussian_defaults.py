"""How often a default Gaussian fit reaches the best maximum: the final log-likelihood of
``Mixture(Gaussian("full"), K, random_state=s).fit(X)`` for seeds 0..n-1, with the default
search (20 starts, the best 4 run to convergence) and with every start run to convergence
(``n_converge=20``), on public data shipped with scikit-learn and the bundled geyser data.
Run by hand:

    python benchmarks/bench_gaussian_defaults.py --seeds 8

Spread across seeds means the default search does not reliably find the best maximum
(issue 14); the seconds per fit are the price of each setting.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_iris, load_wine

import mixfit as mf

GEYSER = Path(__file__).resolve().parents[1] / "examples" / "geyser.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    cases = {
        "iris, K=4": (load_iris().data, 4),
        "wine (first 5 columns), K=3": (load_wine().data[:, :5], 3),
        "wine (first 5 columns), K=4": (load_wine().data[:, :5], 4),
        "geyser, K=4": (pd.read_csv(GEYSER).to_numpy(), 4),
    }
    for name, (X, k) in cases.items():
        for n_converge in (None, 20):
            started = time.perf_counter()
            lls = [
                mf.Mixture(mf.Gaussian("full"), k, random_state=seed, n_converge=n_converge).fit(X).log_likelihood_
                for seed in range(args.seeds)
            ]
            seconds = (time.perf_counter() - started) / args.seeds
            label = "default" if n_converge is None else f"n_converge={n_converge}"
            print(
                f"{name:32s} {label:14s} best {max(lls):10.2f} worst {min(lls):10.2f} "
                f"reached best {sum(ll >= max(lls) - 1e-4 for ll in lls)}/{args.seeds}, {seconds:.2f} s/fit"
            )


if __name__ == "__main__":
    main()

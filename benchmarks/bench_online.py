"""Online (stepwise) EM on a stream: one pass versus the batch maximum-likelihood estimate.

    python benchmarks/bench_online.py [--rows 10000000] [--batch 1000] [--seeds 3]

A stream of binary rows (D = 10 items, K = 3 latent classes, item probabilities 0.2 or 0.8)
arrives in batches; ``Mixture.partial_fit`` sees each batch once. The batch MLE is then fitted
on all the rows (in memory, 5 restarts), and the script prints the gap in mean log-likelihood
per row, ``score(batch MLE) - score(online)``, which the issue asks to be below 1e-3.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mixfit as mf

K, D = 3, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3, help="online runs, each from its own start")
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    p = np.where(rng.random((K, D)) < 0.5, 0.2, 0.8)
    labels = rng.choice(K, size=args.rows, p=[0.5, 0.3, 0.2])
    X = (rng.random((args.rows, D)) < p[labels]).astype(np.uint8)
    started = time.perf_counter()
    batch = mf.Mixture("bernoulli", K, n_init=5, random_state=0).fit(X)
    batch_seconds = time.perf_counter() - started
    best = batch.score(X)
    print(
        f"{args.rows:,} rows, D = {D}, K = {K}; batch EM: {batch.n_iter_} iterations, {batch_seconds:.1f} s, "
        f"mean log-likelihood {best:.6f}"
    )
    for seed in range(args.seeds):
        online = mf.Mixture("bernoulli", K, n_init=3, random_state=seed)
        started = time.perf_counter()
        for start in range(0, args.rows, args.batch):
            online.partial_fit(X[start : start + args.batch])
        seconds = time.perf_counter() - started
        gap = best - online.score(X)
        last_step = online.online_history_["step_size"].iloc[-1]
        print(
            f"online seed {seed}: {online.n_updates_:,} updates of {args.batch} rows in {seconds:.1f} s "
            f"({args.rows / seconds:,.0f} rows/s); last step size {last_step:.4f}; "
            f"gap to the MLE {gap:.2e} per row ({'within' if gap < 1e-3 else 'NOT within'} 1e-3)"
        )


if __name__ == "__main__":
    main()

"""Seconds per EM pass for one data set held in memory, streamed from disk, and on Dask.

    python benchmarks/bench_dask.py [--rows 2000000] [--partition-rows 250000] [--workers 1 2]

Bernoulli rows, D = 50, K = 10, the same start everywhere, 10 iterations (11 passes over the
data). Sources: in memory (NumPy, uncompressed), a .npy file streamed by ``FileTable``, a Dask
array on Dask's threaded scheduler, and on a ``LocalCluster`` of N single-threaded worker
processes with the array persisted on the workers. Every source must give the same parameters;
the script prints the largest difference from the in-memory fit next to the timings.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import mixfit as mf

N_COLS, K, ITERATIONS = 50, 10, 10


def timed_fit(X, start) -> tuple[float, mf.Mixture]:
    model = mf.Mixture("bernoulli", K, max_iter=ITERATIONS, tol=0.0, compress=False, **start)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mf.ConvergenceWarning)
        model.fit(X)
    return (time.perf_counter() - began) / (ITERATIONS + 1), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--partition-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    import dask.array as da
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.95, size=(K, N_COLS))
    X = (rng.random((args.rows, N_COLS)) < truth[rng.integers(0, K, args.rows)]).astype(np.uint8)
    start = {"weights_init": np.full(K, 1 / K), "params_init": {"p": rng.uniform(0.3, 0.7, (K, N_COLS))}}
    results = {}
    results["memory (NumPy)"] = timed_fit(X, start)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.npy"
        np.save(path, X)
        results["file (.npy streamed)"] = timed_fit(mf.FileTable(path), start)
    rows = da.from_array(X, chunks=(args.partition_rows, N_COLS))
    results["dask, threaded scheduler"] = timed_fit(rows, start)
    for n_workers in args.workers:
        with (
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster),
        ):
            results[f"dask LocalCluster, {n_workers} worker(s)"] = timed_fit(rows.persist(), start)
    reference = results["memory (NumPy)"][1].params_["p"]
    print(f"{args.rows:,} rows x {N_COLS} binary columns, K = {K}, partitions of {args.partition_rows:,} rows")
    print(f"{'source':32} {'s / pass':>9} {'rows/s':>12} {'max |dp|':>9}")
    for name, (seconds, model) in results.items():
        difference = np.abs(model.params_["p"] - reference).max()
        print(f"{name:32} {seconds:9.3f} {args.rows / seconds:12,.0f} {difference:9.1e}")


if __name__ == "__main__":
    main()

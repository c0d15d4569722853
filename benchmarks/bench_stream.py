"""Fitting a binary matrix on disk that is larger than the memory the fit may use.

    python benchmarks/bench_stream.py [--gigabytes 8] [--budget-gb 1] [--iterations 3] [--keep]

Writes a .npy file of uint8 rows (D = 50 columns from K = 10 latent classes; written chunk by
chunk, so this script never holds it), then fits it by streaming in a fresh process
(``FileTable``, default chunks, ``max_iter`` iterations) and prints rows per second and the
fit process's peak resident memory: VmHWM from /proc, and ru_maxrss from
``resource.getrusage`` (on Linux a child's ru_maxrss starts from its parent's peak at the fork,
so this script keeps its own memory small while writing the file). The check: peak <= budget
while the file is several times larger.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

N_COLS, K = 50, 10

FIT = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    import mixfit as mf
    warnings.simplefilter("ignore")
    table = mf.FileTable(sys.argv[1])
    started = time.perf_counter()
    model = mf.Mixture("bernoulli", 10, max_iter=int(sys.argv[2]), random_state=0).fit(table)
    seconds = time.perf_counter() - started
    status = open("/proc/self/status").read()
    print(json.dumps({
        "rows": table.n_rows, "seconds": seconds, "passes": model.n_iter_ + 1,
        "vm_hwm": int(status.split("VmHWM:")[1].split()[0]) * 1024,
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))
    """
)


def write_matrix(path: Path, n_rows: int, rng: np.random.Generator, block: int = 100_000) -> None:
    """A .npy file written block by block with plain writes (no memory map), so this process's
    own peak memory stays at one block and cannot leak into the child's ru_maxrss."""
    truth = rng.uniform(0.05, 0.95, size=(K, N_COLS))
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
        "fortran_order": False,
        "shape": (n_rows, N_COLS),
    }
    with open(path, "wb") as file:
        np.lib.format.write_array_header_2_0(file, header)
        for start in range(0, n_rows, block):
            labels = rng.integers(0, K, min(block, n_rows - start))
            file.write((rng.random((labels.size, N_COLS)) < truth[labels]).astype(np.uint8).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=8.0, help="size of the file")
    parser.add_argument("--budget-gb", type=float, default=1.0, help="peak RSS allowed to the fit")
    parser.add_argument("--iterations", type=int, default=3, help="EM iterations (passes = iterations + 1)")
    parser.add_argument("--keep", action="store_true", help="keep the file")
    args = parser.parse_args()
    n_rows = int(args.gigabytes * 1e9 / N_COLS)
    folder = Path(tempfile.mkdtemp(prefix="mixfit-stream-"))
    path = folder / "binary.npy"
    started = time.perf_counter()
    write_matrix(path, n_rows, np.random.default_rng(0))
    print(
        f"wrote {path}: {n_rows:,} rows x {N_COLS} uint8 = {path.stat().st_size / 1e9:.2f} GB "
        f"in {time.perf_counter() - started:.0f} s"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", FIT, str(path), str(args.iterations)], capture_output=True, text=True, check=True
        )
        result = json.loads(done.stdout.splitlines()[-1])
    finally:
        if not args.keep:
            path.unlink()
            folder.rmdir()
    rows_per_s = result["rows"] * result["passes"] / result["seconds"]
    peak = result["vm_hwm"]
    print(
        f"fit: K = {K}, {result['passes']} passes in {result['seconds']:.1f} s = {rows_per_s:,.0f} rows/s "
        f"({rows_per_s * N_COLS / 1e6:,.0f} MB of uint8 per second)"
    )
    print(f"peak RSS of the fit: {peak / 1e9:.3f} GB (VmHWM), {result['ru_maxrss'] / 1e9:.3f} GB (ru_maxrss)")
    print(
        f"file / peak RSS = {path.stat().st_size / peak if path.exists() else n_rows * N_COLS / peak:.1f}x; "
        f"budget {args.budget_gb:.2f} GB: {'met' if peak <= args.budget_gb * 1e9 else 'EXCEEDED'}"
    )


if __name__ == "__main__":
    main()

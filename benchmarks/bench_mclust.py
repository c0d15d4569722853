"""mixfit's default Gaussian selection beside ``Mclust(X)``, side by side in one run.

    python benchmarks/bench_mclust.py [--repeats 3]

Needs R with mclust (``apt-get install r-base-core r-cran-mclust``): the data sets are R's
``faithful`` and ``iris`` (columns 1-4) and mclust's ``banknote`` (columns 2-7) and ``diabetes``
(columns 2-4), written by R to a temporary folder; R times ``Mclust(X)`` (14 models x G = 1..9,
mclust's defaults) inside R, so R's start-up is not counted. mixfit runs
``mf.select(X, mf.Gaussian(), range(1, 10), random_state=0)``: every covariance model x K with
mixfit's default starts. Printed per data set: each tool's choice and BIC (mixfit's orientation:
lower is better), the BIC difference, both times (the median of ``--repeats`` runs) and their
ratio.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import mixfit as mf

DATA = {
    "faithful": "faithful",
    "iris": "iris[, 1:4]",
    "banknote": "banknote[, 2:7]",
    "diabetes": "diabetes[, 2:4]",
}

R_SCRIPT = """
suppressMessages(library(mclust))
data(banknote); data(diabetes)
out <- commandArgs(TRUE)[1]; repeats <- as.integer(commandArgs(TRUE)[2])
sets <- list({sets})
for (name in names(sets)) {{
  X <- sets[[name]]
  write.csv(X, file.path(out, paste0(name, ".csv")), row.names = FALSE)
  times <- sapply(seq_len(repeats), function(i) system.time(m <<- Mclust(X, verbose = FALSE))[["elapsed"]])
  cat(name, m$modelName, m$G, -m$bic, median(times), "\\n")
}}
"""


def run_mclust(folder: Path, repeats: int) -> dict[str, tuple[str, int, float, float]]:
    """mclust's choice, G, BIC (sign flipped) and median seconds per data set; the data written to ``folder``."""
    sets = ", ".join(f"{name} = {expression}" for name, expression in DATA.items())
    script = folder / "bench.R"
    script.write_text(R_SCRIPT.format(sets=sets))
    printed = subprocess.run(
        ["Rscript", str(script), str(folder), str(repeats)], check=True, capture_output=True, text=True
    ).stdout
    out = {}
    for line in printed.splitlines():
        name, model, g, bic, seconds = line.split()
        out[name] = (model, int(g), float(bic), float(seconds))
    return out


def run_mixfit(X: np.ndarray, repeats: int) -> tuple[str, int, float, float]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = mf.select(X, mf.Gaussian(), range(1, 10), random_state=0)
        times.append(time.perf_counter() - start)
    assert result is not None
    row = result.table.loc[result.chosen]
    return str(row["covariance"]), int(row["n_components"]), float(row["bic"]), float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("Rscript") is None:
        raise SystemExit("Rscript not found: apt-get install r-base-core r-cran-mclust")
    print(f"mixfit {mf.__version__}; mclust's Mclust(X) defaults; mixfit select(X, Gaussian(), 1..9, random_state=0)")
    print(f"{'data':<10} {'n x d':>8} {'mclust':>8} {'BIC':>10} {'mixfit':>8} {'BIC':>10} {'mixfit-mclust':>13} "
          f"{'mclust s':>9} {'mixfit s':>9} {'ratio':>7}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mclust = run_mclust(folder, args.repeats)
        for name in DATA:
            X = pd.read_csv(folder / f"{name}.csv").to_numpy(dtype=float)
            m_model, m_g, m_bic, m_seconds = mclust[name]
            model, k, bic, seconds = run_mixfit(X, args.repeats)
            print(
                f"{name:<10} {f'{X.shape[0]}x{X.shape[1]}':>8} {f'{m_model},{m_g}':>8} {m_bic:>10.3f} "
                f"{f'{model},{k}':>8} {bic:>10.3f} {bic - m_bic:>13.3f} {m_seconds:>9.2f} {seconds:>9.2f} "
                f"{seconds / m_seconds:>7.1f}"
            )


if __name__ == "__main__":
    main()

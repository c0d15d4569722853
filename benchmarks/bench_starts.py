"""How often does one start reach the best maximum? Per data set and start method, side by side.

Each data set has several maxima. For every start method, ``--seeds`` single-start fits
(``n_init=1``) are run; the best maximum is the highest log-likelihood any fit of any method
reached, and a fit "reaches" it within ``mixfit.restarts.same_maximum``'s tolerance. A fit that
ends at a degenerate maximum (a Gaussian component collapsed onto a hyperplane, held up only by
``reg_covar``) counts as failed: its likelihood is spurious. The last
rows run mixfit's default (``n_init=20``: 20 starts screened for 30 iterations, the best 4 run
to convergence) over fewer seeds, the way a user who sets nothing fits.

Data sets (where each comes from):

- ``survey``: ``examples/survey.csv`` (bundled; 8 binary items, 1000 rows, simulated from three
  latent classes by ``examples/make_examples.py``), K = 3 and K = 4.
- ``three-items``: 3 binary items, 600 rows, simulated from two overlapping classes, K = 2 (the
  shape of the issue's "three binary items" case).
- ``gss-shape``: 4 categorical items with 3, 2, 2 and 3 levels and 1202 rows, simulated from
  three overlapping classes in the shape of McCutcheon's 1982 General Social Survey table
  (poLCA's ``gss82``), K = 3 and K = 4 (the raw table is not bundled).
- ``iris``: Fisher's iris measurements (150 x 4, shipped with scikit-learn), Gaussian full, K = 3, 4.
- ``wine``: the UCI wine recognition data (178 x 13, shipped with scikit-learn), standardised,
  Gaussian diag, K = 3.
- ``faithful``: R's Old Faithful eruptions (272 x 2, ``examples/published/faithful.csv``),
  Gaussian full, K = 3 and K = 4 (the cases where mclust's default ends lower, issue 14).
- ``counts``: 5 Poisson count columns, 800 rows, three overlapping rate profiles, K = 3.

Start methods: mixfit's ``k-means++`` (k-means++ assignments blended with uniform
responsibilities), ``random-rows`` (each component the mean of 10 random rows, blended with all
rows at 1%), ``hard-k-means++`` (the bare assignments, mixfit's default before) and ``random``
(random responsibilities), for the Gaussian families ``hierarchical`` (mclust's model-based
hierarchical agglomeration; deterministic, so one fit), and for the discrete families ``polca-random``: what
poLCA does, class-conditional probabilities drawn uniformly and normalised, equal weights,
given to mixfit as ``params_init``.

    python benchmarks/bench_starts.py --seeds 40
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import mixfit as mf
from mixfit.agglomerate import SUBSET_ROWS
from mixfit.restarts import same_maximum

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("k-means++", "random-rows", "hierarchical", "hard-k-means++", "random", "polca-random")


def survey() -> pd.DataFrame:
    return pd.read_csv(ROOT / "examples" / "survey.csv")


def three_items(seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.random(600) < 0.45
    p = np.where(z[:, None], [0.75, 0.6, 0.7], [0.35, 0.45, 0.3])
    return (rng.random((600, 3)) < p).astype(int)


def gss_shape(seed: int = 82) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = (3, 2, 2, 3)
    weights = np.array([0.55, 0.3, 0.15])
    profiles = [
        [[0.9, 0.08, 0.02], [0.6, 0.4], [0.95, 0.05], [0.7, 0.25, 0.05]],
        [[0.2, 0.05, 0.75], [0.1, 0.9], [0.8, 0.2], [0.6, 0.35, 0.05]],
        [[0.1, 0.2, 0.7], [0.3, 0.7], [0.3, 0.7], [0.1, 0.55, 0.35]],
    ]
    z = rng.choice(3, size=1202, p=weights)
    columns = {}
    for j, (name, n_levels) in enumerate(zip(("PURPOSE", "ACCURACY", "UNDERSTA", "COOPERAT"), levels, strict=True)):
        probs = np.array([profiles[k][j] for k in range(3)])
        columns[name] = [int(rng.choice(n_levels, p=probs[k])) + 1 for k in z]
    return pd.DataFrame(columns)


def counts(seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates = np.array([[1, 2, 3, 4, 5], [3, 3, 3, 3, 3], [5, 4, 3, 2, 1]], dtype=float)
    z = rng.choice(3, size=800, p=[0.4, 0.35, 0.25])
    return rng.poisson(rates[z])


def iris() -> np.ndarray:
    from sklearn.datasets import load_iris

    return load_iris().data


def faithful() -> pd.DataFrame:
    return pd.read_csv(ROOT / "examples" / "published" / "faithful.csv")


def wine() -> np.ndarray:
    from sklearn.datasets import load_wine

    X = load_wine().data
    return (X - X.mean(axis=0)) / X.std(axis=0)


CASES = [
    ("survey", "bernoulli", 3, survey, lambda: mf.Bernoulli()),
    ("survey", "bernoulli", 4, survey, lambda: mf.Bernoulli()),
    ("three-items", "bernoulli", 2, three_items, lambda: mf.Bernoulli()),
    ("gss-shape", "categorical", 3, gss_shape, lambda: mf.Categorical()),
    ("gss-shape", "categorical", 4, gss_shape, lambda: mf.Categorical()),
    ("iris", "gaussian full", 3, iris, lambda: mf.Gaussian("full", reg_covar=1e-6)),
    ("iris", "gaussian full", 4, iris, lambda: mf.Gaussian("full", reg_covar=1e-6)),
    ("faithful", "gaussian full", 3, faithful, lambda: mf.Gaussian("full", reg_covar=1e-6)),
    ("faithful", "gaussian full", 4, faithful, lambda: mf.Gaussian("full", reg_covar=1e-6)),
    ("wine", "gaussian diag", 3, wine, lambda: mf.Gaussian("diag", reg_covar=1e-6)),
    ("counts", "poisson", 3, counts, lambda: mf.Poisson()),
]


def polca_start(model: mf.Mixture, X, k: int, rng: np.random.Generator) -> dict:
    """poLCA's random start: uniform random class-conditional probabilities, equal weights."""
    family = model.family
    if isinstance(family, mf.Bernoulli):
        return {"params_init": {"p": rng.random((k, np.shape(X)[1]))}, "weights_init": np.full(k, 1 / k)}
    fitted = family.fitted_to(np.asarray(X, dtype=object), [str(c) for c in X.columns])
    sizes = [len(levels) for levels in fitted.levels]
    p = np.zeros((k, len(sizes), max(sizes)))
    for j, size in enumerate(sizes):
        draw = rng.random((k, size))
        p[:, j, :size] = draw / draw.sum(axis=1, keepdims=True)
    return {"params_init": {"p": p}, "weights_init": np.full(k, 1 / k)}


def fit(family, k: int, X, **options) -> tuple[float, float]:
    started = time.perf_counter()
    with warnings.catch_warnings():
        for category in (mf.ConvergenceWarning, mf.IdentifiabilityWarning, mf.EmptyComponentWarning):
            warnings.simplefilter("ignore", category)
        try:
            model = mf.Mixture(family, k, max_iter=5000, tol=1e-10, **options).fit(X)
        except mf.ModelError:
            return float("nan"), time.perf_counter() - started
    if model.family_.degenerate(model.params_):  # a spurious maximum (a collapsed Gaussian)
        return float("nan"), time.perf_counter() - started
    return model.log_likelihood_, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="single starts per method")
    parser.add_argument("--default-seeds", type=int, default=10, help="default fits (n_init=20) per case")
    parser.add_argument("--only", default="", help="comma-separated data names to run (default: all)")
    args = parser.parse_args()
    rows = []
    for name, family_name, k, load, make in CASES:
        if args.only and name not in args.only.split(","):
            continue
        X = load()
        results: dict[str, list[tuple[float, float]]] = {}
        for method in METHODS:
            if method == "polca-random" and family_name not in ("bernoulli", "categorical"):
                continue
            if method == "hierarchical" and not family_name.startswith("gaussian"):
                continue
            runs = []
            # the agglomeration of at most SUBSET_ROWS rows is deterministic: one fit says it
            seeds = 1 if method == "hierarchical" and len(X) <= SUBSET_ROWS else args.seeds
            for seed in range(seeds):
                if method == "polca-random":
                    start = polca_start(mf.Mixture(make(), k), X, k, np.random.default_rng(seed))
                    runs.append(fit(make(), k, X, **start))
                else:
                    runs.append(fit(make(), k, X, init=method, n_init=1, random_state=seed))
            results[method] = runs
        if args.default_seeds:
            results["default (n_init=20)"] = [fit(make(), k, X, random_state=s) for s in range(args.default_seeds)]
        best = max(ll for runs in results.values() for ll, _ in runs if np.isfinite(ll))
        for method, runs in results.items():
            reached = sum(np.isfinite(ll) and same_maximum(ll, best) for ll, _ in runs)
            rows.append(
                {
                    "data": name,
                    "family": family_name,
                    "K": k,
                    "start": method,
                    "reached best": f"{reached}/{len(runs)}",
                    "share": reached / len(runs),
                    "failed or degenerate": sum(not np.isfinite(ll) for ll, _ in runs),
                    "s per fit": np.median([t for _, t in runs]),
                    "best LL": best,
                }
            )
        print(pd.DataFrame(rows[-len(results) :]).to_string(index=False, float_format=lambda v: f"{v:.4g}"), flush=True)
    table = pd.DataFrame(rows)
    print("\nshare of fits that reach the best maximum (single starts; the default: whole fits)")
    print(table.pivot_table(index=["data", "K"], columns="start", values="share").round(2).to_string())


if __name__ == "__main__":
    main()

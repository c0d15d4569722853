"""Coverage of 95% intervals from ``Mixture.standard_errors`` (target: 93-97%), by simulation.
Run by hand:

    python benchmarks/bench_coverage.py --model lca --replicates 500 --rows 1000
    python benchmarks/bench_coverage.py --model lcr --replicates 300 --rows 1000
    python benchmarks/bench_coverage.py --model poisson-regression --replicates 300 --rows 600
    python benchmarks/bench_coverage.py --model gaussian-regression --replicates 300 --rows 600

Each replicate draws a data set from a fixed model, fits it (from the true parameters where
the model takes a start, else from data with ``order`` fixing the classes' names), and checks
whether each interval covers the truth. Models: "lca", a 2-class, 5-item Bernoulli mixture
(weights and item probabilities); "lcr", the same items with class membership following a
logit in two covariates (the covariate coefficients and item probabilities); "poisson-regression"
and "gaussian-regression", two-component mixtures of regressions on one predictor (weights,
coefficients, variances). Prints the coverage per method, with its binomial standard error.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

import mixfit as mf

WEIGHTS = np.array([0.4, 0.6])
P = np.array([[0.8, 0.7, 0.9, 0.2, 0.3], [0.2, 0.3, 0.2, 0.7, 0.8]])
COEF = np.array([[0.0, 0.0, 0.0], [0.4, 1.0, -0.8]])  # class membership: intercept, z0, z1
LINES = np.array([[1.0, 2.0], [8.0, -1.0]])
VARIANCES = np.array([1.0, 2.25])
RATES = np.array([[0.5, 1.0], [2.0, -0.5]])


def lca(rng: np.random.Generator, n: int) -> tuple[Any, dict[str, Any], dict[str, float]]:
    z = rng.choice(2, n, p=WEIGHTS)
    X = (rng.random((n, P.shape[1])) < P[z]).astype(int)
    model = mf.Mixture(mf.Bernoulli(), 2, weights_init=WEIGHTS, params_init={"p": P}, tol=1e-12)
    return model.fit(X), {"X": X}, _truth(WEIGHTS, {"p": P})


def lcr(rng: np.random.Generator, n: int) -> tuple[Any, dict[str, Any], dict[str, float]]:
    covariates = rng.normal(size=(n, 2))
    eta = np.c_[np.ones(n), covariates] @ COEF.T
    labels = (rng.random(n) < expit(eta[:, 1] - eta[:, 0])).astype(int)
    X = (rng.random((n, P.shape[1])) < P[labels]).astype(int)
    # order="p" sorts classes by increasing p[:, 0]: class 0 of P (p = 0.8) comes second
    model = mf.Mixture(mf.Bernoulli(), 2, random_state=0, order="p", tol=1e-12).fit(X, covariates=covariates)
    flipped = COEF[::-1] - COEF[::-1][0]
    truth = {f"covariate_coef[{k},{j}]": flipped[k, j] for k in (1,) for j in range(3)}
    truth.update({f"p[{k},{d}]": P[::-1][k, d] for k in range(2) for d in range(P.shape[1])})
    return model, {"X": X, "covariates": covariates}, truth


def regression(kind: str) -> Callable[[np.random.Generator, int], tuple[Any, dict[str, Any], dict[str, float]]]:
    def simulate(rng: np.random.Generator, n: int) -> tuple[Any, dict[str, Any], dict[str, float]]:
        x = rng.uniform(0, 4, n)
        labels = rng.choice(2, n, p=WEIGHTS)
        truth_params: dict[str, np.ndarray] = {}
        if kind == "gaussian":
            y = LINES[labels, 0] + LINES[labels, 1] * x + rng.normal(0, np.sqrt(VARIANCES[labels]))
            truth_params = {"coef": LINES, "variance": VARIANCES}
        else:
            y = rng.poisson(np.exp(RATES[labels, 0] + RATES[labels, 1] * x))
            truth_params = {"coef": RATES}
        frame = pd.DataFrame({"y": y, "x": x})
        family = mf.Regression(kind, "y", ["x"])
        model = mf.Mixture(family, 2, weights_init=WEIGHTS, params_init=truth_params, tol=1e-12).fit(frame)
        return model, {"X": frame}, _truth(WEIGHTS, truth_params)

    return simulate


MODELS = {
    "lca": lca,
    "lcr": lcr,
    "gaussian-regression": regression("gaussian"),
    "poisson-regression": regression("poisson"),
}


def _truth(weights: np.ndarray, params: dict[str, np.ndarray]) -> dict[str, float]:
    out = {f"weight[{k}]": float(w) for k, w in enumerate(weights)}
    for name, value in params.items():
        out.update({f"{name}[{','.join(map(str, i))}]": float(value[i]) for i in np.ndindex(value.shape)})
    return out


def covered(model_name: str, seed: int, n_rows: int, method: str) -> pd.Series:
    model, data, truth = MODELS[model_name](np.random.default_rng(seed), n_rows)
    X = data.pop("X")
    table = model.standard_errors(X, method=method, **data).table.loc[list(truth)]
    values = pd.Series(truth)
    return (table["lower95"] <= values) & (values <= table["upper95"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="lca")
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.model}: {args.replicates} data sets of {args.rows} rows")
    for method in ("observed", "opg"):
        started = time.perf_counter()
        hits = pd.DataFrame([covered(args.model, seed, args.rows, method) for seed in range(args.replicates)])
        rate = float(hits.to_numpy().mean())
        se = np.sqrt(rate * (1 - rate) / hits.size)
        per_entry = ", ".join(f"{name} {v:.3f}" for name, v in hits.mean().items())
        print(f"{method:>8}: coverage {rate:.4f} (+/- {se:.4f}), {time.perf_counter() - started:.1f} s")
        print(f"          per entry: {per_entry}")


if __name__ == "__main__":
    main()

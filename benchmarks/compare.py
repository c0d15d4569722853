"""mixfit beside StepMix, pomegranate, a plain NumPy EM and the bare matrix products.

    pip install -e ".[bench]"        # stepmix==3.0.0, pomegranate==1.1.2, torch==2.13.0
    python benchmarks/compare.py [--configs bern-1e4 bern-1e5 ...] [--tol 1e-6] [--max-iter 300]

Installs nothing. Every tool runs in its own process (so peak RSS is its own: VmHWM), on the
same seeded synthetic data, and prints: seconds per iteration (a fit of 20 iterations minus a
fit of 10, divided by 10, so that set-up costs such as validation cancel), iterations
and E-step passes to the same tolerance (change of the mean log-likelihood per row <= --tol,
at most --max-iter iterations), total time to converge, peak RSS, and the final mean
log-likelihood per row, with the per-iteration ratio to mixfit float64. StepMix and pomegranate
start from their own initialisation (neither takes a start), so their iteration counts and
final log-likelihoods can differ for that reason too; mixfit variants share one start.
Tools that do not handle a configuration are left out of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings

import numpy as np

CONFIGS = {
    "bern-1e4": {"family": "bernoulli", "n": 10_000, "d": 50, "k": 10},
    "bern-1e5": {"family": "bernoulli", "n": 100_000, "d": 50, "k": 10},
    "bern-1e6": {"family": "bernoulli", "n": 1_000_000, "d": 50, "k": 10},
    "digits": {"family": "bernoulli", "n": 60_000, "d": 784, "k": 10},
    "binomial-1e7": {"family": "binomial", "n": 10_000_000, "d": 1, "k": 3, "trials": 10},
    "lca": {"family": "categorical", "n": 100_000, "d": 12, "k": 3, "levels": 4},
}
TOOLS = ["bare", "mixfit", "mixfit-f32", "mixfit-squarem", "mixfit-f32-squarem", "numpy", "stepmix", "pomegranate"]
TIMING_ITERATIONS = 10
#: Above this many cells (rows x columns), the slow reference tools (plain NumPy, pomegranate)
#: are timed per iteration only: a run to convergence would take tens of minutes.
CONVERGENCE_CELLS = 10_000_000


def make_data(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """Seeded data from K classes whose item distributions overlap (the slow case for EM)."""
    rng = np.random.default_rng(0)
    n, d, k = config["n"], config["d"], config["k"]
    labels = rng.choice(k, size=n, p=np.arange(1, k + 1) / (k * (k + 1) / 2))
    if config["family"] == "bernoulli":
        p = rng.uniform(0.2, 0.8, (k, d))
        X = np.empty((n, d), dtype=np.uint8)
        for start in range(0, n, 100_000):
            stop = min(n, start + 100_000)
            X[start:stop] = rng.random((stop - start, d)) < p[labels[start:stop]]
    elif config["family"] == "binomial":
        p = np.linspace(0.3, 0.6, k)
        X = rng.binomial(config["trials"], p[labels])[:, None]
    else:
        p = rng.dirichlet(np.full(config["levels"], 2.0), size=(k, d))
        cumulative = p.cumsum(axis=2)[labels]  # (n, d, L)
        X = (rng.random((n, d, 1)) > cumulative).sum(axis=2).astype(np.int64)
    start_rng = np.random.default_rng(1)
    if config["family"] == "categorical":
        start = start_rng.dirichlet(np.full(config["levels"], 5.0), size=(k, d))
    else:
        start = start_rng.uniform(0.3, 0.7, (k, d))
    return X, start


def seconds_per_pass(run) -> float:
    """``run(iterations) -> (seconds, E-step passes)``; the difference of two fits cancels set-up.
    A first short fit is discarded: it compiles what is compiled on first use (numba's kernel,
    PyTorch's) and touches the memory."""
    run(2)
    seconds_short, passes_short = run(TIMING_ITERATIONS)
    seconds_long, passes_long = run(2 * TIMING_ITERATIONS)
    return max(seconds_long - seconds_short, 0.0) / max(passes_long - passes_short, 1)


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def peak_rss() -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmHWM:")[1].split()[0]) * 1024


def run_mixfit(config, X, start, tool, max_iter, tol):
    import mixfit as mf

    family = {
        "bernoulli": mf.Bernoulli(),
        "binomial": mf.Binomial(n_trials=config.get("trials", 1)),
        "categorical": mf.Categorical(levels=[list(range(config.get("levels", 2)))] * config["d"]),
    }[config["family"]]
    options = {
        "weights_init": np.full(config["k"], 1 / config["k"]),
        "params_init": {"p": start},
        "dtype": np.float32 if "f32" in tool else np.float64,
        "accelerate": "squarem" if "squarem" in tool else None,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        def run(iterations):
            timing = mf.Mixture(family, config["k"], max_iter=iterations, tol=0.0, **options)
            return timed(lambda: timing.fit(X)), timing.history_["e_steps"].iloc[-1]

        per_iteration = seconds_per_pass(run)
        model = mf.Mixture(family, config["k"], max_iter=max_iter, tol=tol, **options)
        total = timed(lambda: model.fit(X))
    return {
        "per_iteration": per_iteration,
        "iterations": int(model.n_iter_),
        "passes": int(model.history_["e_steps"].iloc[-1]),
        "total": total,
        "mean_ll": model.log_likelihood_ / len(X),
    }


def numpy_em(X: np.ndarray, start: np.ndarray, max_iter: int, tol: float) -> tuple[np.ndarray, float, int]:
    """The textbook vectorised Bernoulli EM (seed 000's equations on whole arrays, float64)."""
    X = X.astype(np.float64)
    k = start.shape[0]
    w, p = np.full(k, 1 / k), start.copy()
    previous, n_iter, ll = -np.inf, 0, -np.inf
    for iteration in range(1, max_iter + 1):
        n_iter = iteration
        log_joint = X @ np.log(p).T + (1 - X) @ np.log(1 - p).T + np.log(w)
        shift = log_joint.max(axis=1, keepdims=True)
        resp = np.exp(log_joint - shift)
        total = resp.sum(axis=1, keepdims=True)
        ll = float((shift + np.log(total)).mean())
        resp /= total
        w = resp.mean(axis=0)
        p = np.clip((resp.T @ X) / resp.sum(axis=0)[:, None], 1e-12, 1 - 1e-12)
        if abs(ll - previous) <= tol:
            break
        previous = ll
    return p, ll, n_iter


def run_numpy(config, X, start, max_iter, tol):
    if config["family"] != "bernoulli":
        return None
    per_iteration = seconds_per_pass(lambda n: (timed(lambda: numpy_em(X, start, n, 0.0)), n))
    if X.size > CONVERGENCE_CELLS:
        return {"per_iteration": per_iteration}
    result = []
    total = timed(lambda: result.append(numpy_em(X, start, max_iter, tol)))
    _, ll, n_iter = result[0]
    return {
        "per_iteration": per_iteration,
        "iterations": n_iter,
        "passes": n_iter,
        "total": total,
        "mean_ll": ll,
    }


def run_bare(config, X, start, max_iter, tol):
    if config["family"] == "binomial":
        return None
    design = (
        X.astype(np.float64) if config["family"] == "bernoulli" else np.eye(config["levels"])[X].reshape(len(X), -1)
    )
    rng = np.random.default_rng(2)
    A, R = rng.standard_normal((config["k"], design.shape[1])), rng.random((len(X), config["k"]))
    times = []
    for _ in range(5):
        began = time.perf_counter()
        _ = design @ A.T, R.T @ design
        times.append(time.perf_counter() - began)
    return {"per_iteration": float(np.median(times))}


def run_stepmix(config, X, start, max_iter, tol):
    if config["family"] == "binomial":
        return None
    from stepmix.stepmix import StepMix

    measurement = "bernoulli" if config["family"] == "bernoulli" else "categorical"
    options = {
        "n_components": config["k"],
        "measurement": measurement,
        "n_init": 1,
        "random_state": 0,
        "verbose": 0,
        "progress_bar": 0,
        "rel_tol": 0.0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_iteration = seconds_per_pass(
            lambda n: (timed(lambda: StepMix(max_iter=n, abs_tol=0.0, **options).fit(X)), n)
        )
        model = StepMix(max_iter=max_iter, abs_tol=tol, **options)
        total = timed(lambda: model.fit(X))
    return {
        "per_iteration": per_iteration,
        "iterations": int(model.n_iter_),
        "passes": int(model.n_iter_),
        "total": total,
        "mean_ll": float(model.score(X)),
    }


def run_pomegranate(config, X, start, max_iter, tol):
    if config["family"] != "bernoulli":
        return None
    import torch
    from pomegranate.distributions import Bernoulli
    from pomegranate.gmm import GeneralMixtureModel

    torch.manual_seed(0)
    data = torch.tensor(X, dtype=torch.float32)

    def fit(iterations, tolerance):
        model = GeneralMixtureModel(
            [Bernoulli() for _ in range(config["k"])], max_iter=iterations, tol=tolerance, verbose=False
        )
        began = time.perf_counter()
        model.fit(data)
        return model, time.perf_counter() - began

    per_iteration = seconds_per_pass(lambda n: (fit(n, 0.0)[1], n))
    if X.size > CONVERGENCE_CELLS:
        return {"per_iteration": per_iteration}
    model, total = fit(max_iter, tol * len(X))  # pomegranate's tol is on the total log-likelihood
    mean_ll = float(model.log_probability(data).double().mean())
    return {
        "per_iteration": per_iteration,
        "iterations": None,
        "passes": None,
        "total": total,
        "mean_ll": mean_ll,
    }


def worker(name: str, tool: str, max_iter: int, tol: float) -> None:
    config = CONFIGS[name]
    X, start = make_data(config)
    runner = {"bare": run_bare, "numpy": run_numpy, "stepmix": run_stepmix, "pomegranate": run_pomegranate}
    if tool.startswith("mixfit"):
        result = run_mixfit(config, X, start, tool, max_iter, tol)
    else:
        result = runner[tool](config, X, start, max_iter, tol)
    if result is not None:
        result["peak_rss"] = peak_rss()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--tools", nargs="+", default=TOOLS, choices=TOOLS)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG", "TOOL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.max_iter, args.tol)
        return
    print(f"tol {args.tol:g} on the mean log-likelihood per row, at most {args.max_iter} iterations")
    for name in args.configs:
        print(f"\n{name}: {CONFIGS[name]}")
        print(
            f"{'tool':20} {'s/iter':>9} {'x mixfit':>9} {'iters':>6} {'passes':>7} {'total s':>8} "
            f"{'peak RSS':>9} {'mean LL':>12}"
        )
        results = {}
        for tool in args.tools:
            command = [
                sys.executable,
                __file__,
                "--worker",
                name,
                tool,
                "--tol",
                str(args.tol),
                "--max-iter",
                str(args.max_iter),
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{tool:20} failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:90]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result is not None:
                results[tool] = result
        reference = results.get("mixfit", {}).get("per_iteration")
        for tool, result in results.items():
            print(_row(tool, result, reference))


def _row(tool: str, result: dict, reference: float | None) -> str:
    def cell(key: str, width: int, spec: str = "") -> str:
        value = result.get(key)
        return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"

    ratio = f"{result['per_iteration'] / reference:9.2f}" if reference else f"{'-':>9}"
    return (
        f"{tool:20} {result['per_iteration']:9.4f} {ratio} {cell('iterations', 6)} {cell('passes', 7)} "
        f"{cell('total', 8, '.2f')} {result['peak_rss'] / 1e9:8.2f}G {cell('mean_ll', 12, '.6f')}"
    )


if __name__ == "__main__":
    main()

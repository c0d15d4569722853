"""The ``mixfit`` command: fit, predict, explain, sample and the seeds' demos.

Every ``MixfitError`` becomes one line on stderr and exit status 2 (usage errors too, from
Typer); anything else is a bug and exits 1.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from mixfit._validation import check_column
from mixfit.errors import DataError, MixfitError
from mixfit.families import get_family
from mixfit.io import load_model, open_data, read_table, table_writer
from mixfit.model import Mixture
from mixfit.sources import FileTable

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Fit finite mixture models by EM.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: The command being run, for reports ("mixfit fit ...").
_command_line: list[str] = ["mixfit"]

Sep = Annotated[str, typer.Option(help="CSV field separator ('\\t' for tab).")]


class FamilyName(str, Enum):
    bernoulli = "bernoulli"
    binomial = "binomial"
    categorical = "categorical"
    poisson = "poisson"
    multinomial = "multinomial"
    gaussian = "gaussian"


class CovarianceName(str, Enum):
    full = "full"
    tied = "tied"
    diag = "diag"
    spherical = "spherical"


class CriterionName(str, Enum):
    aic = "aic"
    bic = "bic"
    sabic = "sabic"
    caic = "caic"
    icl = "icl"


class AccelerationName(str, Enum):
    none = "none"
    squarem = "squarem"


Covariance = Annotated[CovarianceName, typer.Option(help="Gaussian: covariance type.")]
RegCovar = Annotated[float, typer.Option(help="Gaussian: floor added to every variance.")]
Accelerate = Annotated[
    AccelerationName, typer.Option(help="squarem: the same maximum in fewer passes over the data (SQUAREM).")
]
Float32 = Annotated[bool, typer.Option("--float32", help="Compute the E-step in float32 (sums stay float64).")]


def _speed(accelerate: AccelerationName, float32: bool) -> dict[str, Any]:
    """The estimator's speed options for the command's --accelerate and --float32."""
    return {
        "accelerate": None if accelerate is AccelerationName.none else accelerate.value,
        "dtype": np.float32 if float32 else np.float64,
    }


def _family(
    family: FamilyName, trials: int | None, trials_column: str | None, covariance: CovarianceName, reg_covar: float
) -> Any:
    """The family the options describe."""
    if family is FamilyName.binomial:
        return get_family("binomial", n_trials=trials_column or trials or 1)
    if family is FamilyName.gaussian:
        return get_family("gaussian", covariance=covariance.value, reg_covar=reg_covar)
    return get_family(family.value)


def _selected(columns: str | None, trials_column: str | None) -> list[str] | None:
    selected = [c.strip() for c in columns.split(",")] if columns else None
    if selected and trials_column and trials_column not in selected:
        selected.append(trials_column)
    return selected


class DemoName(str, Enum):
    all = "all"
    coins = "coins"
    three_coins = "three-coins"
    two_coins = "two-coins"
    lca = "lca"


@app.callback()
def _root() -> None:
    """Fit finite mixture models by EM (coins, latent classes, counts, categories)."""


# --------------------------------------------------------------------------- fit
@app.command()
def fit(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet or .npy file, one row per observation.")],
    family: Annotated[FamilyName, typer.Option("--family", "-f", help="Component family.")],
    k: Annotated[int, typer.Option("-k", "--components", help="Number of components.")] = 2,
    trials: Annotated[int | None, typer.Option(help="Binomial: trials per row.")] = None,
    trials_column: Annotated[str | None, typer.Option(help="Binomial: column holding trials.")] = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated columns to model.")] = None,
    n_init: Annotated[int, typer.Option(help="Restarts; the best is kept.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    max_iter: Annotated[int, typer.Option(help="EM iterations at most.")] = 1000,
    tol: Annotated[float, typer.Option(help="Tolerance on the mean log-likelihood per row.")] = 1e-8,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the model as JSON.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report.")] = None,
    plots: Annotated[Path | None, typer.Option(help="Write the figures as PNG files here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    chunk_size: Annotated[
        int | None, typer.Option(help="Stream the file in chunks of this many rows (automatic for big files).")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="Fit on this Dask cluster (tcp://host:port).")] = None,
    dask_workers: Annotated[int | None, typer.Option(help="Fit on a local Dask cluster of N workers.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Save the fit's state here while it runs.")] = None,
    checkpoint_every: Annotated[int, typer.Option(help="Iterations between checkpoints.")] = 10,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from --checkpoint.")] = False,
    covariance: Covariance = CovarianceName.full,
    reg_covar: RegCovar = 0.0,
    se: Annotated[bool, typer.Option("--se", help="Also print standard errors (observed information).")] = False,
    gof: Annotated[
        bool, typer.Option("--gof", help="Also print goodness of fit (X^2, G^2) for discrete data.")
    ] = False,
    accelerate: Accelerate = AccelerationName.none,
    float32: Float32 = False,
    n_jobs: Annotated[int | None, typer.Option(help="Run the restarts on this many processes (-1: all cores).")] = None,
    sep: Sep = ",",
) -> None:
    """Fit a K-component mixture and print weights, parameters and fit statistics.

    Example: mixfit fit examples/three_coins.csv --family binomial --trials 10 -k 3
    """
    selected = _selected(columns, trials_column)
    if resume and checkpoint is None:
        raise DataError("--resume needs --checkpoint FILE (the checkpoint to continue from)")
    model = Mixture(
        _family(family, trials, trials_column, covariance, reg_covar),
        k,
        n_init=n_init,
        random_state=seed,
        max_iter=max_iter,
        tol=tol,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        n_jobs=n_jobs,
        **_speed(accelerate, float32),
    )
    with open_data(data, selected, _sep(sep), chunk_size, scheduler, dask_workers) as frame:
        in_memory = isinstance(frame, pd.DataFrame)
        if not in_memory and (report is not None or plots is not None or se or gof):
            raise DataError(
                "--report, --plots, --se and --gof need the data in memory; leave out --chunk-size, "
                "--scheduler and --dask-workers (or fit a sample of the file)"
            )
        if isinstance(frame, FileTable) and chunk_size is None:
            err.print(
                f"note: {data} is large for the free memory; streaming it in chunks of {frame.chunk_rows} rows",
                markup=False,
                highlight=False,
            )
        notes = _fit_interruptible(model, frame, resume, checkpoint)
        _write_outputs(model, frame, out_file, report, plots)
        summary = _summary(model, frame, notes)
        summary.update(_inference(model, frame, se, gof))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
        _print_inference(summary)


def _fit_interruptible(model: Mixture, frame: Any, resume: bool, checkpoint: Path | None) -> list[str]:
    """Fit with progress; on Ctrl-C say where the checkpoint is and exit with status 130."""
    try:
        return _fit_with_progress(model, frame, resume)
    except KeyboardInterrupt:
        where = (
            f"the last checkpoint is in {checkpoint}; continue with the same command and --resume"
            if checkpoint is not None and checkpoint.exists()
            else "no checkpoint was written (use --checkpoint FILE)"
        )
        err.print(f"interrupted: {where}", markup=False, highlight=False)
        raise typer.Exit(130) from None


def _write_outputs(model: Mixture, frame: Any, out_file: Path | None, report: Path | None, plots: Path | None) -> None:
    if out_file is not None:
        model.save(out_file)
    if report is not None:
        model.report(frame, report, command=" ".join(_command_line))
    if plots is not None:
        _write_plots(model, frame, plots)


def _fit_with_progress(model: Mixture, frame: Any, resume: bool = False) -> list[str]:
    """Fit, with a progress bar once the fit takes more than half a second; return the warnings.

    A streamed file also shows how far the current pass has read.
    """
    progress = Progress(console=err, transient=True)
    task = progress.add_task("EM", total=None)
    started = time.monotonic()
    where = {"text": "starting"}

    def show(text: str, completed: float | None = None, total: float | None = None) -> None:
        if not progress.live.is_started and time.monotonic() - started > 0.5:
            progress.start()
        progress.update(task, description=text, completed=completed, total=total)

    def on_iteration(restart: int, iteration: int, log_likelihood: float) -> None:
        where["text"] = f"restart {restart + 1}, iteration {iteration}, log-likelihood {log_likelihood:.6f}"
        show(where["text"])

    if isinstance(frame, FileTable):
        frame.on_rows = lambda done, total: show(f"{where['text']}; reading rows", done, total)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(frame, on_iteration=on_iteration, resume=resume)
        finally:
            progress.stop()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _write_plots(model: Mixture, frame: pd.DataFrame, folder: Path) -> None:
    from mixfit.plots import all_figures

    folder.mkdir(parents=True, exist_ok=True)
    for name, figure in all_figures(model, frame).items():
        target = folder / f"{name}.png"
        partial = folder / f".{name}.png.tmp"
        figure.savefig(partial, dpi=100, format="png")
        partial.replace(target)  # atomic: an interrupted run never leaves half an image


def _summary(model: Mixture, frame: Any, notes: list[str]) -> dict[str, Any]:
    params = {}
    for key, (labels, values) in model.family_.param_columns(model.params_, model.feature_names_).items():
        params[key] = {label: values[:, j].tolist() for j, label in enumerate(labels)}
    return {
        "family": model.family_.to_dict(),
        "n_rows": int(len(frame)),
        "weights": model.weights_.tolist(),
        "params": params,
        "log_likelihood": model.log_likelihood_,
        "aic": model.aic(frame),
        "bic": model.bic(frame),
        "n_parameters": model.n_parameters(),
        "n_iter": model.n_iter_,
        "e_steps": int(model.history_["e_steps"].iloc[-1]),
        "converged": bool(model.converged_),
        "warnings": notes,
    }


def _inference(model: Mixture, frame: Any, se: bool, gof: bool) -> dict[str, Any]:
    """Standard errors and goodness of fit for the summary, when asked for."""
    extra: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if se:
            table = model.standard_errors(frame).table
            extra["standard_errors"] = {name: _json_number(v) for name, v in table["se"].items()}
        if gof:
            from mixfit.diagnostics import goodness_of_fit

            fit = goodness_of_fit(model, frame)
            extra["goodness_of_fit"] = {
                "chi2": fit.chi2,
                "g2": fit.g2,
                "df": fit.df,
                "p_chi2": fit.p_chi2,
                "p_g2": fit.p_g2,
                "patterns": fit.n_patterns,
                "notes": fit.notes,
            }
    extra["inference_warnings"] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return extra


def _json_number(value: float) -> float | None:
    """NaN (an undefined standard error) as JSON null."""
    return None if value != value else float(value)


def _print_inference(summary: dict[str, Any]) -> None:
    if "standard_errors" in summary:
        table = Table(title="standard errors (observed information)")
        table.add_column("parameter")
        table.add_column("se", justify="right")
        for name, value in summary["standard_errors"].items():
            table.add_row(escape(name), "undefined" if value is None else f"{value:.6f}")
        out.print(table)
    fit = summary.get("goodness_of_fit")
    if fit is not None:
        p_chi2 = "-" if fit["p_chi2"] is None else f"{fit['p_chi2']:.4f}"
        p_g2 = "-" if fit["p_g2"] is None else f"{fit['p_g2']:.4f}"
        out.print(
            f"goodness of fit: X^2 = {fit['chi2']:.4f} (p {p_chi2}), G^2 = {fit['g2']:.4f} (p {p_g2}), "
            f"df = {fit['df']}, {fit['patterns']} possible patterns",
            highlight=False,
        )
        for note in fit["notes"]:
            err.print(f"note: {escape(note)}")
    for note in summary.get("inference_warnings", []):
        err.print(f"[yellow]warning:[/yellow] {escape(note)}")


def _print_summary(summary: dict[str, Any]) -> None:
    k = len(summary["weights"])
    table = Table(title=f"{summary['family']['family']} mixture, K = {k}, {summary['n_rows']} rows")
    table.add_column("")
    for j in range(k):
        table.add_column(f"c_{j + 1}", justify="right")
    table.add_row("weight", *(f"{w:.6f}" for w in summary["weights"]))
    for key, columns in summary["params"].items():
        for label, values in columns.items():
            table.add_row(escape(f"{key}[{label}]"), *(f"{v:.6f}" for v in values))
    out.print(table)
    fit = Table(show_header=False, title="fit")
    for name in ("log_likelihood", "aic", "bic", "n_parameters", "n_iter", "e_steps", "converged"):
        value = summary[name]
        fit.add_row(name, f"{value:.6f}" if isinstance(value, float) else str(value))
    out.print(fit)
    for note in summary["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(note)}")


# ------------------------------------------------------------------------ select
@app.command("select")
def select_command(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet or .npy file, one row per observation.")],
    family: Annotated[FamilyName, typer.Option("--family", "-f", help="Component family.")],
    k: Annotated[str, typer.Option("-k", "--components", help="Range of K, e.g. 1..6 or 1,2,4.")] = "1..6",
    criterion: Annotated[
        CriterionName, typer.Option(help="Criterion that chooses K (lower is better).")
    ] = CriterionName.bic,
    trials: Annotated[int | None, typer.Option(help="Binomial: trials per row.")] = None,
    trials_column: Annotated[str | None, typer.Option(help="Binomial: column holding trials.")] = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated columns to model.")] = None,
    n_init: Annotated[int, typer.Option(help="Restarts per K; the best is kept.")] = 5,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    max_iter: Annotated[int, typer.Option(help="EM iterations at most.")] = 1000,
    tol: Annotated[float, typer.Option(help="Tolerance on the mean log-likelihood per row.")] = 1e-8,
    n_jobs: Annotated[int | None, typer.Option(help="Fit the Ks on this many processes (-1: all cores).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the criteria against K as a PNG file.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the chosen model as JSON.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    covariance: Covariance = CovarianceName.full,
    reg_covar: RegCovar = 0.0,
    accelerate: Accelerate = AccelerationName.none,
    float32: Float32 = False,
    sep: Sep = ",",
) -> None:
    """Fit K = 1..6 (or -k) components, print AIC, BIC, SABIC, CAIC, ICL and entropy per K, and
    choose K by --criterion.

    Example: mixfit select examples/lca.csv --family bernoulli -k 1..5 --seed 0 --plot criteria.png
    """
    from mixfit.select import select

    frame = read_table(data, _selected(columns, trials_column), _sep(sep))
    result = select(
        frame,
        _family(family, trials, trials_column, covariance, reg_covar),
        _k_range(k),
        criterion=criterion.value,
        n_init=n_init,
        random_state=seed,
        n_jobs=n_jobs,
        max_iter=max_iter,
        tol=tol,
        **_speed(accelerate, float32),
    )
    if out_file is not None:
        result.best_model.save(out_file)
    if plot is not None:
        from mixfit.plots import plot_criteria

        plot.parent.mkdir(parents=True, exist_ok=True)
        plot_criteria(result.table, criterion.value).savefig(plot, dpi=100, format="png")
    if as_json:
        doc = {
            "criterion": criterion.value,
            "chosen": result.best_n_components,
            "table": result.table.to_dict("records"),
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    shown = result.table.rename(columns={"n_components": "K", "n_parameters": "npar", "best_restart": "start"})
    shown["chosen"] = np.where(shown["K"] == result.best_n_components, "<-", "")
    out.print(
        f"{family.value} mixtures on {data.name}: {criterion.value.upper()} chooses K = {result.best_n_components}"
    )
    out.print(escape(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")), highlight=False)
    if not result.table["converged"].all():
        err.print("[yellow]warning:[/yellow] some fits did not converge (converged = False); raise --max-iter")


def _k_range(text: str) -> list[int]:
    """``"1..6"``, ``"2,3,5"`` or ``"4"`` as a list of ints >= 1."""
    try:
        if ".." in text:
            low, high = (int(v) for v in text.split(".."))
            values = list(range(low, high + 1))
        else:
            values = [int(v) for v in text.split(",")]
    except ValueError:
        raise DataError(f"-k must look like 1..6 or 1,2,4; got {text!r}") from None
    if not values or min(values) < 1:
        raise DataError(f"-k must list components >= 1; got {text!r}")
    return values


# ----------------------------------------------------------------------- predict
@app.command()
def predict(
    model_file: Annotated[Path, typer.Argument(metavar="MODEL", help="Model JSON written by fit --out.")],
    data: Annotated[Path, typer.Argument(help="New rows (CSV, Parquet or .npy).")],
    proba: Annotated[bool, typer.Option("--proba", help="Write responsibilities, not classes.")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="CSV or Parquet file; stdout if omitted.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column identifying rows (default: 'id' if present).")] = None,
    chunk_size: Annotated[
        int | None, typer.Option(help="Read and write in chunks of this many rows (automatic for big files).")
    ] = None,
    sep: Sep = ",",
) -> None:
    """Most likely component (c_1, c_2, ...) or responsibilities of every row of new data.

    Example: mixfit predict model.json new.csv --proba --out classes.csv
    """
    model = load_model(model_file)
    with open_data(data, None, _sep(sep), chunk_size) as table, table_writer(out_file, typer.echo) as write:
        offset = 0
        for frame in [table] if isinstance(table, pd.DataFrame) else table.pandas_frames():
            write(_predictions(model, frame, str(data), id_column, proba, offset))
            offset += len(frame)


def _predictions(
    model: Mixture, frame: pd.DataFrame, source: str, id_column: str | None, proba: bool, offset: int
) -> pd.DataFrame:
    """Classes or responsibilities of the rows of ``frame`` (rows ``offset``... of the file)."""
    ids = _ids(frame, id_column, offset)
    for name in getattr(model, "columns_", None) or []:
        check_column(name, list(frame.columns), source)
    used = frame[model.columns_] if getattr(model, "columns_", None) else frame.drop(columns=ids.name, errors="ignore")
    labels = [f"c_{k + 1}" for k in range(len(model.weights_))]
    if proba:
        result = pd.DataFrame(model.predict_proba(used), columns=labels)
    else:
        result = pd.DataFrame({"component": np.array(labels)[model.predict(used)]})
    result.insert(0, ids.name, ids.to_numpy())
    return result


def _ids(frame: pd.DataFrame, id_column: str | None, offset: int = 0) -> pd.Series:
    if id_column is not None:
        check_column(id_column, list(frame.columns), "the data")
        return frame[id_column]
    if "id" in frame.columns:
        return frame["id"]
    return pd.Series(np.arange(offset, offset + len(frame)), name="row")


def _write_frame(frame: pd.DataFrame, path: Path | None) -> None:
    with table_writer(path, typer.echo) as write:
        write(frame)


# ----------------------------------------------------------------------- explain
@app.command()
def explain(
    data: Annotated[Path, typer.Argument(help="Data file.")],
    family: Annotated[FamilyName | None, typer.Option("--family", "-f", help="Component family.")] = None,
    k: Annotated[int, typer.Option("-k", "--components", help="Number of components.")] = 2,
    trials: Annotated[int | None, typer.Option(help="Binomial: trials per row.")] = None,
    weights: Annotated[str | None, typer.Option(help="Starting weights, comma-separated.")] = None,
    params: Annotated[str | None, typer.Option(help="Starting p, comma-separated, K x D row by row.")] = None,
    model_file: Annotated[Path | None, typer.Option("--model", help="Start from a saved model.")] = None,
    iterations: Annotated[int, typer.Option(help="EM iterations to show.")] = 1,
    sep: Sep = ",",
) -> None:
    """Seed 001's tables (6.1-6.4 and the new weights), iteration by iteration.

    Example: mixfit explain examples/three_coins.csv -f binomial --trials 10 -k 3
    --weights 0.25,0.5,0.25 --params 0.4,0.5,0.65
    """
    frame = read_table(data, sep=_sep(sep))
    if model_file is not None:
        steps = load_model(model_file).explain(frame, iterations=iterations, start="fitted")
    else:
        if family is None or params is None:
            raise DataError("explain needs --family and --params (or --model) for its starting point")
        p = np.array(_numbers("--params", params))
        model = Mixture(
            get_family(family.value, **({"n_trials": trials or 1} if family is FamilyName.binomial else {})),
            k,
            params_init={"p": p.reshape(k, -1) if p.size % k == 0 else p},
            weights_init=None if weights is None else _numbers("--weights", weights),
        )
        steps = model.explain(frame, iterations=iterations, start="init")
    for step in steps:
        out.rule(f"iteration {step.iteration + 1}: log-likelihood {step.log_likelihood:.7f}")
        for title, table in step.tables().items():
            out.print(f"[bold]{escape(title)}[/bold]")
            out.print(escape(table.to_string(float_format=lambda v: f"{v:.7f}")))


def _numbers(option: str, text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise DataError(f"{option} must be comma-separated numbers; got {text!r}") from None


# ------------------------------------------------------------------------ sample
@app.command()
def sample(
    model_file: Annotated[Path, typer.Argument(metavar="MODEL", help="Model JSON written by fit --out.")],
    n: Annotated[int, typer.Option("-n", help="Rows to draw.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="CSV or Parquet file; stdout if omitted.")] = None,
) -> None:
    """Draw rows from a saved model, with the component that drew each.

    Example: mixfit sample model.json -n 1000 --seed 1 --out fake.csv
    """
    model = load_model(model_file).set_params(random_state=seed)
    X, labels = model.sample(n)
    names = getattr(model, "feature_names_", None) or [f"x{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    frame["component"] = [f"c_{k + 1}" for k in labels]
    _write_frame(frame, out_file)


# -------------------------------------------------------------------------- demo
@app.command()
def demo(
    which: Annotated[DemoName, typer.Argument(help="Which seed example to run.")] = DemoName.all,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for reports and figures.")] = Path("demo-output"),
) -> None:
    """The seeds' own examples end to end: fit, tables, figures and an HTML report each.

    Example: mixfit demo three-coins --out demo-output
    """
    from mixfit.demos import DEMOS

    names = list(DEMOS) if which is DemoName.all else [which.value]
    for name in names:
        for case in DEMOS[name]():
            out.rule(f"[bold]{case.name}[/bold]")
            out.print(escape(case.story))
            for step in case.explain:
                for title, table in step.tables().items():
                    out.print(f"[bold]{escape(title)}[/bold]")
                    out.print(escape(table.to_string(float_format=lambda v: f"{v:.7f}")))
            _print_summary(_summary(case.model, case.data, case.notes))
            folder = out_dir / case.name
            _write_plots(case.model, case.data, folder)
            case.model.report(case.data, folder / "report.html", command=f"mixfit demo {name}")
            out.print(f"figures and report in {folder}/")


def _sep(text: str) -> str:
    return "\t" if text in ("\\t", "tab") else text


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line and exit status 2 for bad input, never a traceback."""
    _command_line[1:] = sys.argv[1:] if argv is None else argv
    try:
        app(args=argv, prog_name="mixfit")
    except MixfitError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()

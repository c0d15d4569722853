"""The ``mixfit`` command: fit a mixture to a data file and print what EM found.

Every ``MixfitError`` becomes one line on stderr and exit status 2; usage errors also exit 2.
"""

from __future__ import annotations

import json
import sys
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mixfit.errors import MixfitError
from mixfit.families import get_family
from mixfit.io import read_table
from mixfit.model import Mixture

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Fit finite mixture models by EM.")
out = Console()
err = Console(stderr=True)


class FamilyName(str, Enum):
    bernoulli = "bernoulli"
    binomial = "binomial"
    categorical = "categorical"


@app.callback()
def _root() -> None:
    """Fit finite mixture models by EM (coins, latent classes, categories)."""


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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Fit a K-component mixture.

    Example: mixfit fit examples/three_coins.csv --family binomial --trials 10 -k 3
    """
    selected = [c.strip() for c in columns.split(",")] if columns else None
    if selected and trials_column and trials_column not in selected:
        selected.append(trials_column)
    frame = read_table(data, selected)
    options: dict[str, Any] = {}
    if family is FamilyName.binomial:
        options["n_trials"] = trials_column or trials or 1
    model = Mixture(
        get_family(family.value, **options), k, n_init=n_init, random_state=seed, max_iter=max_iter, tol=tol
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(frame)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if out_file is not None:
        model.save(out_file)
    summary = _summary(model, frame, notes)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)


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
        "converged": bool(model.converged_),
        "warnings": notes,
    }


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
    for name in ("log_likelihood", "aic", "bic", "n_parameters", "n_iter", "converged"):
        value = summary[name]
        fit.add_row(name, f"{value:.6f}" if isinstance(value, float) else str(value))
    out.print(fit)
    for note in summary["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {note}", soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line and exit status 2 for bad input, never a traceback.

    Typer (in standalone mode) turns usage errors into exit status 2 itself.
    """
    try:
        app(args=argv, prog_name="mixfit")
    except MixfitError as exc:
        err.print(f"error: {exc}", soft_wrap=True, markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()

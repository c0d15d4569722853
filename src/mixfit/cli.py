"""The ``mixfit`` command: fit, predict, explain, sample and the worked examples' demos.

Every ``MixfitError`` becomes one line on stderr and exit status 2 (usage errors too, from
Typer); anything else is a bug and exits 1.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import time
import warnings
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mixfit import __version__
from mixfit.errors import DataError, MixfitError

if TYPE_CHECKING:  # imported where used, so that `mixfit --help` starts fast
    import pandas as pd

    from mixfit.families import Family
    from mixfit.model import Mixture

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="Fit finite mixture models by EM."
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: The command being run, for reports ("mixfit fit ...").
_command_line: list[str] = ["mixfit"]

Sep = Annotated[str, typer.Option(help="CSV field separator ('\\t' for tab).")]


#: Families the command line fits; a mixed table names one per group of columns.
FAMILY_NAMES = ("bernoulli", "binomial", "categorical", "poisson", "multinomial", "gaussian", "regression")
FAMILY_HELP = (
    "Component family: bernoulli, binomial, categorical, poisson, multinomial, gaussian or regression "
    "(with --kind, --response, --predictors); for mixed columns, one per group: "
    "'q1,q2=categorical; age=gaussian; visits=poisson'."
)


class CriterionName(str, Enum):
    aic = "aic"
    bic = "bic"
    sabic = "sabic"
    caic = "caic"
    icl = "icl"


class AccelerationName(str, Enum):
    auto = "auto"
    none = "none"
    squarem = "squarem"


Covariance = Annotated[
    str | None,
    typer.Option(
        help="Gaussian: covariance model, one of mclust's EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, "
        "VEV, EVV, VVV (or full, tied, diag, spherical; E or V for one column); select takes a list, e.g. "
        "VEV,VVV [default: fit VVV; select searches all 14]."
    ),
]
RegCovar = Annotated[float | None, typer.Option(help="Gaussian: floor added to every variance [default: 0].")]
Trials = Annotated[int | None, typer.Option(min=1, help="Binomial: trials per row.")]
TrialsColumn = Annotated[str | None, typer.Option(help="Binomial: column holding trials.")]


class InitName(str, Enum):  # mixfit.init.INIT_METHODS
    auto = "auto"
    kmeans = "k-means++"
    random_rows = "random-rows"
    random = "random"
    hard_kmeans = "hard-k-means++"
    hierarchical = "hierarchical"


Init = Annotated[
    InitName,
    typer.Option(
        help="How starts are drawn: auto (Gaussian: mclust's hierarchical agglomeration first, then k-means++ "
        "and random-rows in turn; other families: those two in turn) or one method for every start."
    ),
]


class KindName(str, Enum):
    gaussian = "gaussian"
    poisson = "poisson"
    binomial = "binomial"


Kind = Annotated[KindName | None, typer.Option(help="Regression: the model of the response [default: gaussian].")]
Response = Annotated[str | None, typer.Option(help="Regression: the response column.")]
Predictors = Annotated[
    str | None, typer.Option(help="Regression: comma-separated predictor columns [default: every other column].")
]
Offset = Annotated[str | None, typer.Option(help="Regression: a column added to the linear predictor (log exposure).")]
Fixed = Annotated[
    str | None,
    typer.Option(
        help="Regression: comma-separated predictors whose coefficients all components share (fixed effects)."
    ),
]
Accelerate = Annotated[
    AccelerationName,
    typer.Option(help="squarem: the same maximum in fewer passes (SQUAREM); none: textbook EM; auto: squarem."),
]
Float32 = Annotated[bool, typer.Option("--float32", help="Compute the E-step in float32 (sums stay float64).")]
CovariatesOption = Annotated[
    str | None,
    typer.Option(help="Comma-separated columns that predict class membership (latent class regression), not modelled."),
]


def _names(text: str | None, option: str) -> list[str]:
    """A comma-separated list of column names (empty for None), each named once."""
    names = [] if text is None else [name.strip() for name in text.split(",") if name.strip()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{option} names {repeated} more than once; name each column once")
    return names


def _speed(accelerate: AccelerationName, float32: bool) -> dict[str, Any]:
    """The estimator's speed options for the command's --accelerate and --float32."""
    import numpy as np

    return {
        "accelerate": None if accelerate is AccelerationName.none else accelerate.value,
        "dtype": np.float32 if float32 else np.float64,
    }


def _family_name(text: str) -> str:
    """A family name as the user typed it, in any case; a misspelling gets a suggestion."""
    name = text.strip().lower()
    if name in FAMILY_NAMES:
        return name
    close = difflib.get_close_matches(name, FAMILY_NAMES, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; use one of {', '.join(FAMILY_NAMES)}"
    raise DataError(f"--family {text.strip()!r} is not a family{hint}")


def _family_spec(text: str) -> list[tuple[list[str] | None, str]]:
    """``--family`` as (columns, family name) parts: one part with columns None for a plain name,
    or one part per ``columns=family`` group of a mixed table."""
    if "=" not in text:
        return [(None, _family_name(text))]
    parts: list[tuple[list[str] | None, str]] = []
    for group in (g for g in text.split(";") if g.strip()):
        columns, sep, name = group.partition("=")
        names = [c.strip() for c in columns.split(",") if c.strip()]
        if not sep or not names:
            raise DataError(f"--family parts must look like 'q1,q2=categorical'; got {group.strip()!r}")
        parts.append((names, _family_name(name)))
    return parts


def _family(
    spec: str,
    trials: int | None,
    trials_column: str | None,
    covariance: str | None,
    reg_covar: float | None,
    regression: dict[str, Any] | None = None,
) -> Family:
    """The family that ``--family`` and its options describe; options that mean nothing for it
    are refused rather than ignored. ``regression``: ``--kind``, ``--response``, ``--predictors``
    ``--offset`` and ``--fixed`` as given (None values: not given)."""
    from mixfit.families import Independent, get_family

    parts = _family_spec(spec)
    names = {name for _, name in parts}
    given = {k: v for k, v in (regression or {}).items() if v is not None}
    kind = given.get("kind", KindName.gaussian).value
    binomial = "binomial" in names or ("regression" in names and kind == "binomial")
    if binomial and trials is None and trials_column is None:
        raise DataError(f"--family {spec.strip()} needs the number of trials: --trials N or --trials-column NAME")
    if not binomial and (trials is not None or trials_column is not None):
        raise DataError(
            "--trials and --trials-column apply to --family binomial only (and to regression --kind "
            f"binomial); got --family {spec!r}"
        )
    if "gaussian" not in names and (covariance is not None or reg_covar is not None):
        raise DataError(f"--covariance and --reg-covar apply to --family gaussian only; got --family {spec!r}")
    if "regression" not in names and given:
        raise DataError("--kind, --response, --predictors, --offset and --fixed apply to --family regression only")
    if "regression" in names and "response" not in given:
        raise DataError("--family regression needs the response column: --response NAME")

    def build(name: str) -> Family:
        if name == "binomial":
            return get_family(name, n_trials=trials_column or trials)
        if name == "gaussian":
            models = None if covariance is None else [name.strip() for name in covariance.split(",")]
            cov = models[0] if models is not None and len(models) == 1 else models
            return get_family(name, covariance=cov, reg_covar=reg_covar or 0.0)
        if name == "regression":
            return get_family(
                name,
                kind=kind,
                response=given["response"],
                predictors=_names(given.get("predictors"), "--predictors") or None,
                n_trials=(trials_column or trials) if kind == "binomial" else None,
                offset=given.get("offset"),
                fixed=_names(given.get("fixed"), "--fixed") or None,
            )
        return get_family(name)

    if parts[0][0] is None:
        return build(parts[0][1])
    return Independent({tuple(columns): build(name) for columns, name in parts if columns})


def _regression(kind: Any, response: Any, predictors: Any, offset: Any, fixed: Any) -> dict[str, Any]:
    """The regression options of a command, by name."""
    return {"kind": kind, "response": response, "predictors": predictors, "offset": offset, "fixed": fixed}


def _selected(
    spec: str,
    columns: str | None,
    trials_column: str | None,
    header: list[str] | None = None,
    id_column: str | None = None,
    drop: str | None = None,
    extra: list[str] | None = None,
) -> list[str] | None:
    """The columns to read: ``--columns``, or the mixed ``--family``'s columns, or (given the file's
    ``header``) every column but the identifier and ``--drop``; ``extra`` columns (trials, known
    labels) are added."""
    from mixfit._validation import check_column

    selected = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    parts = _family_spec(spec)
    if drop and (selected is not None or parts[0][0] is not None):
        given = "--columns" if selected is not None else "a mixed --family"
        raise DataError(f"--drop cannot be combined with {given}, which already names the modelled columns")
    if selected is None and parts[0][0] is not None:
        selected = [c for names, _ in parts for c in names or []]
    if selected is None and header is not None:
        dropped = [c.strip() for c in drop.split(",") if c.strip()] if drop else []
        for name in dropped:
            check_column(name, header, "the data (--drop)")
        selected = [c for c in header if c != id_column and c not in dropped and c not in (extra or [])]
        if not selected:
            raise DataError(f"--drop {drop!r} leaves no column to model (the file's columns are {header})")
    needed = [c for c in [trials_column, *(extra or [])] if c]
    if selected is not None:
        selected += [c for c in needed if c not in selected]
    return selected


class DemoName(str, Enum):
    all = "all"
    coins = "coins"
    three_coins = "three-coins"
    two_coins = "two-coins"
    lca = "lca"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"mixfit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Fit finite mixture models by EM (coins, latent classes, counts, categories)."""


# --------------------------------------------------------------------------- fit
@app.command()
def fit(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet or .npy file, one row per observation.")],
    family: Annotated[str, typer.Option("--family", "-f", help=FAMILY_HELP)],
    k: Annotated[int, typer.Option("-k", "--components", help="Number of components.")] = 2,
    trials: Trials = None,
    trials_column: TrialsColumn = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated columns to model.")] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Column identifying rows, not modelled (default: 'id' if present).")
    ] = None,
    drop: Annotated[str | None, typer.Option(help="Comma-separated columns not to model.")] = None,
    known_labels: Annotated[
        str | None,
        typer.Option(help="Column of known components (1..K or c_1..c_K; empty: unknown): a semi-supervised fit."),
    ] = None,
    weight_column: Annotated[
        str | None, typer.Option(help="Column of frequency weights (a pattern table's counts), not modelled.")
    ] = None,
    n_init: Annotated[
        int, typer.Option(help="Starts; the best 4 after 30 screening iterations run to convergence.")
    ] = 20,
    init: Init = InitName.auto,
    covariates: CovariatesOption = None,
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
    covariance: Covariance = None,
    reg_covar: RegCovar = None,
    kind: Kind = None,
    response: Response = None,
    predictors: Predictors = None,
    offset: Offset = None,
    fixed: Fixed = None,
    se: Annotated[bool, typer.Option("--se", help="Also print standard errors (observed information).")] = False,
    gof: Annotated[
        bool, typer.Option("--gof", help="Also print goodness of fit (X^2, G^2) for discrete data.")
    ] = False,
    accelerate: Accelerate = AccelerationName.auto,
    float32: Float32 = False,
    n_jobs: Annotated[int | None, typer.Option(help="Run the restarts on this many processes (-1: all cores).")] = None,
    sep: Sep = ",",
    dropna: Annotated[
        bool, typer.Option("--dropna", help="Drop rows missing a modelled column or a covariate (count printed).")
    ] = False,
) -> None:
    """Fit a K-component mixture and print weights, parameters and fit statistics.

    Example: mixfit fit examples/survey.csv --family bernoulli -k 3 --n-init 5 --seed 0 --out model.json
    """
    import pandas as pd

    from mixfit.datafile import open_data
    from mixfit.model import Mixture
    from mixfit.sources import FileTable

    if resume and checkpoint is None:
        raise DataError("--resume needs --checkpoint FILE (the checkpoint to continue from)")
    _check_outputs([data], {"--out": out_file, "--report": report, "--plots": plots, "--checkpoint": checkpoint})
    if trials_column is not None and "=" in family:
        raise DataError("a mixed --family takes --trials N for its binomial columns, not --trials-column")
    model = Mixture(
        _family(
            family, trials, trials_column, covariance, reg_covar, _regression(kind, response, predictors, offset, fixed)
        ),
        k,
        init=init.value,
        n_init=n_init,
        random_state=seed,
        max_iter=max_iter,
        tol=tol,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        n_jobs=n_jobs,
        **_speed(accelerate, float32),
    )
    covariate_names = _names(covariates, "--covariates")
    extra = [c for c in (known_labels, weight_column, *covariate_names) if c]
    selected = _model_columns(data, family, columns, trials_column, id_column, drop, extra, _sep(sep))
    with open_data(data, selected, _sep(sep), chunk_size, scheduler, dask_workers) as frame:
        in_memory = isinstance(frame, pd.DataFrame)
        in_memory_only = report is not None or plots is not None or se or gof or known_labels or weight_column
        if not in_memory and in_memory_only:
            raise DataError(
                "--report, --plots, --se, --gof, --known-labels and --weight-column need the data in memory; leave "
                "out --chunk-size, --scheduler and --dask-workers (or fit a sample of the file)"
            )
        if isinstance(frame, FileTable) and chunk_size is None:
            _note(f"{data} is large for the free memory; streaming it in chunks of {frame.chunk_rows} rows")
        if dropna:
            frame = _drop_missing(frame, [c for c in frame.columns if c not in (known_labels, weight_column)])
        labels = None if known_labels is None else _known_labels(frame.pop(known_labels), k)
        weight = None if weight_column is None else frame.pop(weight_column).to_numpy()
        z: Any = None
        if covariate_names:  # a streamed file reads them by name on every pass
            z = pd.DataFrame({c: frame.pop(c) for c in covariate_names}) if in_memory else covariate_names
        notes = _fit_interruptible(model, frame, resume, checkpoint, labels, weight, z)
        _write_outputs(model, frame, out_file, report, plots, weight, z)
        summary = _summary(model, frame, notes, weight, z)
        summary.update(_inference(model, frame, se, gof, weight, z))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
        _print_inference(summary)


def _drop_missing(frame: Any, columns: list[str]) -> pd.DataFrame:
    """``--dropna``: the rows with a value in every one of ``columns`` (the modelled columns and
    the covariates), with a note of how many were dropped."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError("--dropna needs the data in memory; leave out --chunk-size, --scheduler and --dask-workers")
    missing = frame[columns].isna().any(axis=1)
    if missing.all():
        raise DataError(f"--dropna would drop every row: each misses a value in {columns}")
    _note(f"--dropna: dropped {int(missing.sum())} of {len(frame)} rows missing a modelled column or covariate")
    return frame.loc[~missing].reset_index(drop=True)


def _model_columns(
    data: Path,
    family: str,
    columns: str | None,
    trials_column: str | None,
    id_column: str | None,
    drop: str | None,
    extra: list[str],
    sep: str,
) -> list[str] | None:
    """The columns ``fit`` reads: never the row identifier (``--id-column``, else a column named
    ``id``, which is said), never ``--drop``; ``None`` for every column of the file."""
    from mixfit._validation import check_column
    from mixfit.sources import FileTable

    if columns is None and "=" not in family:
        header = FileTable(data, sep=sep).all_columns
        if id_column is not None:
            check_column(id_column, header, "the data (--id-column)")
        elif "id" in header:
            id_column = "id"
            _note("column 'id' identifies rows and is not modelled (choose columns with --columns)")
        for name in extra:
            check_column(name, header, "the data (--known-labels, --weight-column, --covariates)")
        if id_column is None and not drop and not extra:
            return None
        return _selected(family, None, trials_column, header, id_column, drop, extra)
    return _selected(family, columns, trials_column, drop=drop, extra=extra)


def _known_labels(column: pd.Series, n_components: int) -> Any:
    """``--known-labels`` values (1..K or c_1..c_K, empty for unknown) as fit's 0-based labels (-1: unknown)."""
    import numpy as np

    labels = np.full(len(column), -1)
    for row, value in enumerate(column.tolist()):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a column with gaps is read as floats
        text = "" if value is None or value != value else str(value).strip()
        if not text:
            continue
        number = text[2:] if text.startswith("c_") else text
        if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= n_components:
            raise DataError(
                f"--known-labels values must be components 1..{n_components} (or c_1..c_{n_components}) "
                f"or empty; got {text!r} in row {row}"
            )
        labels[row] = int(number) - 1
    return labels


def _check_outputs(inputs: list[Path], outputs: dict[str, Path | None]) -> None:
    """Before any work: every output can be written and is none of the command's inputs (the same
    file also through a symbolic or hard link), so a finished run never destroys its data."""
    import os

    for option, path in outputs.items():
        if path is None:
            continue
        if str(path) == "":
            raise DataError(f"{option} needs a file name")
        if path.exists():
            for source in inputs:
                if source.exists() and os.path.samefile(path, source):
                    raise DataError(
                        f"{option} {str(path)!r} is an input of this command ({str(source)!r}); choose another path"
                    )
            if option != "--plots" and not path.is_file():
                raise DataError(f"{option} {str(path)!r} exists and is not a regular file")
        folder = path if option == "--plots" and path.is_dir() else path.parent
        if not folder.is_dir():
            raise DataError(f"{option} {str(path)!r}: the folder {str(folder)!r} does not exist")
        if not os.access(folder, os.W_OK):
            raise DataError(f"{option} {str(path)!r}: the folder {str(folder)!r} is not writable")


def _visible(text: Any) -> str:
    """Untrusted text (column names, levels, paths) with control characters shown as escapes, so
    an escape sequence in a CSV header cannot reach the terminal raw."""
    return "".join(
        c if c.isprintable() or c in "\n\t" else c.encode("unicode_escape").decode("ascii") for c in str(text)
    )


def _shown(text: Any) -> str:
    """Untrusted text as literal text for a Rich console: control characters escaped, markup too."""
    return escape(_visible(text))


def _note(text: str) -> None:
    err.print(f"note: {_visible(text)}", markup=False, highlight=False)


def _fit_interruptible(
    model: Mixture,
    frame: Any,
    resume: bool,
    checkpoint: Path | None,
    known_labels: Any = None,
    sample_weight: Any = None,
    covariates: Any = None,
) -> list[str]:
    """Fit with progress; on Ctrl-C say where the checkpoint is and exit with status 130."""
    try:
        return _fit_with_progress(model, frame, resume, known_labels, sample_weight, covariates)
    except KeyboardInterrupt:
        where = (
            f"the last checkpoint is in {checkpoint}; continue with the same command and --resume"
            if checkpoint is not None and checkpoint.exists()
            else "no checkpoint was written (use --checkpoint FILE)"
        )
        err.print(f"interrupted: {where}", markup=False, highlight=False)
        raise typer.Exit(130) from None


def _write_outputs(
    model: Mixture,
    frame: Any,
    out_file: Path | None,
    report: Path | None,
    plots: Path | None,
    weight: Any = None,
    covariates: Any = None,
) -> None:
    if out_file is not None:
        model.save(out_file)
    if report is not None:
        model.report(frame, report, command=" ".join(_command_line), sample_weight=weight, covariates=covariates)
    if plots is not None:
        _write_plots(model, frame, plots, weight, covariates)


def _fit_with_progress(
    model: Mixture,
    frame: Any,
    resume: bool = False,
    known_labels: Any = None,
    sample_weight: Any = None,
    covariates: Any = None,
) -> list[str]:
    """Fit, with a progress bar once the fit takes more than half a second; return the warnings.

    A streamed file also shows how far the current pass has read.
    """
    from rich.progress import Progress

    from mixfit.sources import FileTable

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
            model.fit(
                frame,
                sample_weight=sample_weight,
                known_labels=known_labels,
                covariates=covariates,
                on_iteration=on_iteration,
                resume=resume,
            )
        finally:
            progress.stop()
    return [_cli_words(str(w.message)) for w in caught if issubclass(w.category, UserWarning)]


def _write_plots(
    model: Mixture,
    frame: pd.DataFrame,
    folder: Path,
    weight: Any = None,
    covariates: Any = None,
    tutorial: bool = False,
) -> None:
    from mixfit.plots import all_figures

    folder.mkdir(parents=True, exist_ok=True)
    for name, figure in all_figures(model, frame, weight, covariates, tutorial=tutorial).items():
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")  # a part's label is a column name
        target = folder / f"{stem}.png"
        partial = folder / f".{stem}.png.tmp"
        figure.savefig(partial, dpi=100, format="png")
        partial.replace(target)  # atomic: an interrupted run never leaves half an image


def _summary(
    model: Mixture, frame: Any, notes: list[str], sample_weight: Any = None, covariates: Any = None
) -> dict[str, Any]:
    import pandas as pd

    from mixfit.summary import summary_table

    table = summary_table(model)
    params: dict[str, dict[str, list[float]]] = {}
    for row in table[~table["parameter"].isin(["weight", "covariate_coef"])].itertuples():
        params.setdefault(str(row.parameter), {}).setdefault(str(row.feature), []).append(float(row.estimate))
    extra: dict[str, Any] = {}
    if covariates is not None and model.covariate_names_ is not None:
        coef = model.covariate_coef_
        extra["covariate_coef"] = {name: coef[:, j].tolist() for j, name in enumerate(model.covariate_names_)}
    bic = model.bic(frame, sample_weight, covariates=covariates)
    if isinstance(frame, pd.DataFrame):  # in memory: how well the classes are told apart
        extra["classes"] = _classes(model, frame, sample_weight, covariates, bic)
    return {
        "family": model.family_.to_dict(),
        "n_rows": int(len(frame)),
        "weights": model.weights_.tolist(),
        "params": params,
        "log_likelihood": model.log_likelihood_,
        **extra,
        "aic": model.aic(frame, sample_weight, covariates=covariates),
        "bic": bic,
        "n_parameters": model.n_parameters(),
        "n_iter": model.n_iter_,
        "e_steps": int(model.history_["e_steps"].iloc[-1]),
        "converged": bool(model.converged_),
        "starts": model.replication_,
        "warnings": notes,
        "notes": list(getattr(model, "fit_notes_", [])),
    }


def _classes(model: Mixture, frame: Any, sample_weight: Any, covariates: Any, bic: float) -> dict[str, Any]:
    """Class sizes (posterior and modal), entropy R^2, ICL and the classification table (the
    average posterior probability of each class among the rows most likely in each), as poLCA
    and mclust print them."""
    import numpy as np

    from mixfit.diagnostics import classification_quality

    quality = classification_quality(model, frame, sample_weight, covariates)
    k = len(model.weights_)
    n = float(quality.sizes["posterior size"].sum())
    entropy = (1 - quality.entropy_r2) * n * np.log(k) if k > 1 else 0.0
    return {
        "posterior_size": quality.sizes["posterior size"].tolist(),
        "modal_size": [int(round(v)) for v in quality.sizes["modal size"]],
        "entropy_r2": quality.entropy_r2,
        "icl": bic + 2 * entropy,
        "classification": quality.table.to_numpy().tolist(),
    }


def _inference(
    model: Mixture, frame: Any, se: bool, gof: bool, sample_weight: Any = None, covariates: Any = None
) -> dict[str, Any]:
    """Standard errors and goodness of fit for the summary, when asked for."""
    extra: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if se:
            from mixfit.summary import summary_table

            errors = model.standard_errors(frame, sample_weight=sample_weight, covariates=covariates)
            extra["standard_errors"] = {name: _json_number(v) for name, v in errors.table["se"].items()}
            estimates = summary_table(model, errors=errors)
            extra["estimates"] = [
                {key: _json_number(v) if isinstance(v, float) else v for key, v in row.items()}
                for row in estimates.to_dict("records")
            ]
        fit = _goodness_of_fit(model, frame, sample_weight, asked=gof)
        if fit is not None and gof:
            from mixfit.diagnostics import bivariate_residuals_or_reason

            residuals = bivariate_residuals_or_reason(model, frame, sample_weight, covariates)[0]
            if len(residuals):
                extra["bivariate_residuals"] = residuals.head(BVR_SHOWN).to_dict("records")
        if fit is not None:
            extra["goodness_of_fit"] = {
                "chi2": fit.chi2,
                "g2": fit.g2,
                "df": fit.df,
                "p_chi2": fit.p_chi2,
                "p_g2": fit.p_g2,
                "patterns": fit.n_patterns,
                "notes": fit.notes,
            }
    extra["inference_warnings"] = [_cli_words(str(w.message)) for w in caught if issubclass(w.category, UserWarning)]
    return extra


#: ``--gof`` prints the largest bivariate residuals, this many.
BVR_SHOWN = 5


def _goodness_of_fit(model: Mixture, frame: Any, sample_weight: Any, asked: bool) -> Any:
    """X^2 and G^2 of a fit of discrete data in memory, printed by default as poLCA prints them;
    when not asked for (``--gof``), None for data that have none (continuous, streamed, with
    missing values) instead of the error that says why."""
    from mixfit.diagnostics import goodness_of_fit
    from mixfit.errors import MixfitError

    if asked:
        return goodness_of_fit(model, frame, sample_weight)
    try:
        return goodness_of_fit(model, frame, sample_weight)
    except MixfitError:
        return None


def _cell(value: float | None) -> str:
    """A number of the estimates table (None: undefined, said in the row's note)."""
    return "-" if value is None else f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"


def _json_number(value: float) -> float | None:
    """NaN (an undefined standard error) as JSON null."""
    return None if value != value else float(value)


def _print_inference(summary: dict[str, Any]) -> None:
    if "estimates" in summary:
        from rich.table import Table

        table = Table(title="estimates with standard errors (observed information), z, p and 95% intervals")
        table.add_column("estimate of", overflow="fold")
        for column in ("value", "se", "z", "p", "95% interval"):
            table.add_column(column, justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
        notes: list[str] = []  # each note once, below the table, marked in its rows
        for row in summary["estimates"]:
            name = f"{row['component']} {row['parameter']}" + (f"[{row['feature']}]" if row["feature"] else "")
            interval = "-" if row["lower"] is None else f"{_cell(row['lower'])}, {_cell(row['upper'])}"
            numbers = [_cell(row[c]) for c in ("estimate", "se", "z", "p")]
            note = row["note"] or ("" if row["se"] is not None else "no standard error at this estimate")
            if note and note not in notes:
                notes.append(note)
            mark = f"({notes.index(note) + 1})" if note else ""
            table.add_row(_shown(name), *numbers, interval, mark)
        out.print(table)
        for number, note in enumerate(notes, start=1):
            out.print(f"({number}) {_shown(note)}", highlight=False)
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
            err.print(f"note: {_shown(note)}")
    residuals = summary.get("bivariate_residuals")
    if residuals:
        pairs = ", ".join(f"{_shown(r['item_a'])}-{_shown(r['item_b'])} {r['bvr']:.2f}" for r in residuals)
        out.print(
            f"largest bivariate residuals (X^2/df; above about 3.84, the pair shares more than the classes explain): "
            f"{pairs}",
            highlight=False,
        )
    for note in summary.get("inference_warnings", []):
        err.print(f"[yellow]warning:[/yellow] {_shown(note)}")


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    k = len(summary["weights"])
    table = Table(title=f"{summary['family']['family']} mixture, K = {k}, {summary['n_rows']} rows")
    table.add_column("")
    for j in range(k):
        table.add_column(f"c_{j + 1}", justify="right")
    table.add_row("weight", *(f"{w:.6f}" for w in summary["weights"]))
    for key, columns in summary["params"].items():
        for label, values in columns.items():
            table.add_row(_shown(f"{key}[{label}]"), *(f"{v:.6f}" for v in values))
    out.print(table)
    if "covariate_coef" in summary:
        coef = Table(title="class membership: multinomial logit coefficients (c_1 the reference)")
        coef.add_column("")
        for j in range(k):
            coef.add_column(f"c_{j + 1}", justify="right")
        for name, values in summary["covariate_coef"].items():
            coef.add_row(_shown(name), *(f"{v:.6f}" for v in values))
        out.print(coef)
    fit = Table(show_header=False, title="fit")
    classes = summary.get("classes")
    names = ("log_likelihood", "aic", "bic", "n_parameters", "n_iter", "e_steps", "converged", "starts")
    for name in names[:3]:
        fit.add_row(name, f"{summary[name]:.6f}")
    if classes is not None:
        fit.add_row("icl", f"{classes['icl']:.6f}")
        fit.add_row("entropy_r2", f"{classes['entropy_r2']:.4f}")
    for name in names[3:]:
        fit.add_row(name, _shown(str(summary[name])))
    out.print(fit)
    if classes is not None:
        _print_classes(classes)
    for note in summary["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {_shown(note)}")
    for note in summary.get("notes", []):
        _note(note)


def _print_classes(classes: dict[str, Any]) -> None:
    """Class sizes and the classification table: whole rows for the modal sizes, one decimal
    for the posterior (expected) sizes, shares to 4 places."""
    from rich.table import Table

    k = len(classes["modal_size"])
    n = sum(classes["posterior_size"])
    sizes = Table(title="class sizes: posterior (expected rows) and modal (rows most likely in the class)")
    for column in ("", "posterior size", "share", "modal size", "share "):
        sizes.add_column(column, justify="right")
    for j in range(k):
        posterior, modal = classes["posterior_size"][j], classes["modal_size"][j]
        sizes.add_row(f"c_{j + 1}", f"{posterior:.1f}", f"{posterior / n:.4f}", str(modal), f"{modal / n:.4f}")
    out.print(sizes)
    table = Table(title="classification: average p(class) among the rows most likely in each class")
    table.add_column("most likely")
    for j in range(k):
        table.add_column(f"c_{j + 1}", justify="right")
    for i, row in enumerate(classes["classification"]):
        table.add_row(f"c_{i + 1}", *("-" if v != v else f"{v:.4f}" for v in row))
    out.print(table)


# ------------------------------------------------------------------------ select
@app.command("select")
def select_command(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet or .npy file, one row per observation.")],
    family: Annotated[str, typer.Option("--family", "-f", help=FAMILY_HELP)],
    k: Annotated[str, typer.Option("-k", "--components", help="Range of K, e.g. 1..6 or 1,2,4.")] = "1..6",
    criterion: Annotated[
        CriterionName, typer.Option(help="Criterion that chooses K (lower is better).")
    ] = CriterionName.bic,
    trials: Trials = None,
    trials_column: TrialsColumn = None,
    columns: Annotated[str | None, typer.Option(help="Comma-separated columns to model.")] = None,
    weight_column: Annotated[
        str | None, typer.Option(help="Column of frequency weights (a pattern table's counts), not modelled.")
    ] = None,
    n_init: Annotated[int, typer.Option(help="Starts per K (screened as by fit); the best is kept.")] = 20,
    covariates: CovariatesOption = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    max_iter: Annotated[int, typer.Option(help="EM iterations at most.")] = 1000,
    tol: Annotated[float, typer.Option(help="Tolerance on the mean log-likelihood per row.")] = 1e-8,
    n_jobs: Annotated[int | None, typer.Option(help="Fit the Ks on this many processes (-1: all cores).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the criteria against K as a PNG file.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the chosen model as JSON.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    covariance: Covariance = None,
    reg_covar: RegCovar = None,
    kind: Kind = None,
    response: Response = None,
    predictors: Predictors = None,
    offset: Offset = None,
    fixed: Fixed = None,
    accelerate: Accelerate = AccelerationName.auto,
    float32: Float32 = False,
    sep: Sep = ",",
) -> None:
    """Fit K = 1..6 (or -k) components, print AIC, BIC, SABIC, CAIC, ICL and entropy per K, and
    choose K by --criterion.

    Example: mixfit select examples/survey.csv --family bernoulli -k 1..5 --seed 0 --plot criteria.png
    """
    import numpy as np
    import pandas as pd

    from mixfit.errors import RangeWarning
    from mixfit.io import read_table
    from mixfit.selection import select

    _check_outputs([data], {"--out": out_file, "--plot": plot})
    chosen_family = _family(
        family, trials, trials_column, covariance, reg_covar, _regression(kind, response, predictors, offset, fixed)
    )
    covariate_names = _names(covariates, "--covariates")
    extra = ([weight_column] if weight_column else []) + covariate_names
    selected = _model_columns(data, family, columns, trials_column, None, None, extra, _sep(sep))
    frame = read_table(data, selected, _sep(sep))
    weight = None if weight_column is None else frame.pop(weight_column).to_numpy()
    z = pd.DataFrame({c: frame.pop(c) for c in covariate_names}) if covariate_names else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RangeWarning)
        result = select(
            frame,
            chosen_family,
            _k_range(k),
            sample_weight=weight,
            covariates=z,
            criterion=criterion.value,
            n_init=n_init,
            random_state=seed,
            n_jobs=n_jobs,
            max_iter=max_iter,
            tol=tol,
            **_speed(accelerate, float32),
        )
    for warning in caught:
        if issubclass(warning.category, RangeWarning):  # the chosen K at the edge of -k
            err.print(f"[yellow]warning:[/yellow] {_shown(_cli_words(str(warning.message)))}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if out_file is not None:
        result.best_model.save(out_file)
    if plot is not None:
        from mixfit.plots import plot_criteria

        plot.parent.mkdir(parents=True, exist_ok=True)
        title = f"{chosen_family.name} mixtures on {data.name}: {criterion.value.upper()} against K"
        plot_criteria(result.table, criterion.value, title).savefig(plot, dpi=100, format="png")
    if as_json:
        doc = {
            "criterion": criterion.value,
            "chosen": result.best_n_components,
            **{label: str(result.table.loc[result.chosen, label]) for label in result.labels},
            "table": result.table.to_dict("records"),
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    out.print(_visible(f"{family} mixtures on {data.name}: {result.headline()}"), markup=False, highlight=False)
    if result.labels:  # several models: the chosen criterion as a table of K by model, as mclustBIC
        wide = result.wide().to_string(float_format=lambda v: f"{v:.3f}", na_rep="-")
        out.print(_shown(wide), highlight=False)
        err.print("(--json prints every criterion of every model and K)")
    else:
        shown = result.table.rename(columns={"n_components": "K", "n_parameters": "npar", "best_restart": "start"})
        shown["chosen"] = np.where(shown["K"] == result.best_n_components, "<-", "")
        out.print(_shown(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")), highlight=False)
    if not result.table["converged"].all():
        err.print("[yellow]warning:[/yellow] some fits did not converge (converged = False); raise --max-iter")


def _k_range(text: str) -> list[int]:
    """``"1..6"``, ``"2,3,5"`` or ``"4"`` as a list of ints >= 1."""
    from mixfit.selection import MAX_K_VALUES

    try:
        bounds = [int(v) for v in text.split("..")] if ".." in text else None
        values = None if bounds else [int(v) for v in text.split(",")]
    except ValueError:
        raise DataError(f"-k must look like 1..6 or 1,2,4; got {text!r}") from None
    if bounds is not None:
        if len(bounds) != 2:
            raise DataError(f"-k must look like 1..6 or 1,2,4; got {text!r}")
        if bounds[1] - bounds[0] >= MAX_K_VALUES:
            raise DataError(f"-k may list at most {MAX_K_VALUES} values; got {text!r}")
        values = list(range(bounds[0], bounds[1] + 1))
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

    Example: mixfit predict model.json examples/survey.csv --proba --out classes.csv
    """
    import pandas as pd

    from mixfit.datafile import open_data
    from mixfit.io import table_writer
    from mixfit.model import load_model

    _check_outputs([model_file, data], {"--out": out_file})
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
    import numpy as np
    import pandas as pd

    from mixfit._validation import check_column

    ids = _ids(frame, id_column, offset)
    z = _model_covariates(model, frame, source)
    needed = model.family_.columns_read() or getattr(model, "columns_", None)
    for name in needed or []:
        check_column(name, list(frame.columns), source)
    unused = [ids.name, *([] if z is None else z.columns)]
    used = frame[needed] if needed else frame.drop(columns=unused, errors="ignore")
    labels = [f"c_{k + 1}" for k in range(len(model.weights_))]
    proba_rows = model.predict_proba(used, covariates=z)
    if proba:
        result = pd.DataFrame(proba_rows, columns=labels)
    else:
        result = pd.DataFrame({"component": np.array(labels)[proba_rows.argmax(axis=1)]})
    result.insert(0, ids.name, ids.to_numpy())
    return result


def _model_covariates(model: Mixture, frame: pd.DataFrame, source: str) -> pd.DataFrame | None:
    """The covariate columns of a model fitted with covariates, taken from ``frame`` by the names
    the model stores (None for a model without covariates)."""
    from mixfit._validation import check_column

    names = getattr(model, "covariate_names_", None)
    if not names:
        return None
    for name in names[1:]:
        check_column(name, list(frame.columns), f"{source} (the model's covariates)")
    return frame[list(names[1:])]


def _ids(frame: pd.DataFrame, id_column: str | None, offset: int = 0) -> pd.Series:
    import numpy as np
    import pandas as pd

    from mixfit._validation import check_column

    if id_column is not None:
        check_column(id_column, list(frame.columns), "the data")
        return frame[id_column]
    if "id" in frame.columns:
        return frame["id"]
    return pd.Series(np.arange(offset, offset + len(frame)), name="row")


def _write_frame(frame: pd.DataFrame, path: Path | None) -> None:
    from mixfit.io import table_writer

    with table_writer(path, typer.echo) as write:
        write(frame)


# ----------------------------------------------------------------------- explain
@app.command()
def explain(
    data: Annotated[Path, typer.Argument(help="Data file.")],
    family: Annotated[str | None, typer.Option("--family", "-f", help="Component family.")] = None,
    k: Annotated[int, typer.Option("-k", "--components", help="Number of components.")] = 2,
    trials: Trials = None,
    weights: Annotated[str | None, typer.Option(help="Starting weights, comma-separated.")] = None,
    params: Annotated[str | None, typer.Option(help="Starting p, comma-separated, K x D row by row.")] = None,
    model_file: Annotated[Path | None, typer.Option("--model", help="Start from a saved model.")] = None,
    iterations: Annotated[int, typer.Option(help="EM iterations to show.")] = 1,
    sep: Sep = ",",
) -> None:
    """Ch6's tables (6.1-6.4 and the new weights), iteration by iteration.

    Example: mixfit explain examples/three_coins.csv -f binomial --trials 10 -k 3
    --weights 0.25,0.5,0.25 --params 0.4,0.5,0.65
    """
    import numpy as np

    from mixfit.io import read_table
    from mixfit.model import Mixture, load_model

    frame = read_table(data, sep=_sep(sep))
    if model_file is not None:
        steps = load_model(model_file).explain(frame, iterations=iterations, start="fitted")
    else:
        if family is None or params is None:
            raise DataError("explain needs --family and --params (or --model) for its starting point")
        p = np.array(_numbers("--params", params))
        model = Mixture(
            _family(family, trials, None, None, None),
            k,
            params_init={"p": p.reshape(k, -1) if p.size % k == 0 else p},
            weights_init=None if weights is None else _numbers("--weights", weights),
        )
        steps = model.explain(frame, iterations=iterations, start="init")
    for step in steps:
        out.rule(f"iteration {step.iteration + 1}: log-likelihood {step.log_likelihood:.7f}")
        for title, table in step.tables().items():
            out.print(f"[bold]{_shown(title)}[/bold]")
            out.print(_shown(table.to_string(float_format=lambda v: f"{v:.7f}")))


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
    data: Annotated[
        Path | None,
        typer.Option(help="For a model with covariates: a file holding them, one row drawn per row."),
    ] = None,
    sep: Sep = ",",
) -> None:
    """Draw rows from a saved model, with the component that drew each.

    Example: mixfit sample model.json -n 1000 --seed 1 --out fake.csv
    """
    import pandas as pd

    from mixfit.io import read_table
    from mixfit.model import load_model

    _check_outputs([model_file, *([data] if data else [])], {"--out": out_file})
    model = load_model(model_file).set_params(random_state=seed)
    z: pd.DataFrame | None = None
    if getattr(model, "covariate_names_", None):
        if data is None:
            raise DataError(
                f"this model has covariates {model.covariate_names_[1:]}: pass --data FILE holding them "
                "(one row is drawn per row of the file)"
            )
        z = _model_covariates(model, read_table(data, sep=_sep(sep)), str(data))
        n = 0 if z is None else len(z)
    elif data is not None:
        raise DataError("--data is for models with covariates; this model has none (use -n)")
    X, labels = model.sample(n, covariates=z)
    names = getattr(model, "feature_names_", None) or [f"x{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    frame["component"] = [f"c_{k + 1}" for k in labels]
    _write_frame(frame, out_file)


# -------------------------------------------------------------------------- demo
@app.command()
def demo(
    which: Annotated[DemoName, typer.Argument(help="Which worked example to run (docs/references.md).")] = DemoName.all,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for reports and figures.")] = Path("demo-output"),
) -> None:
    """The three worked examples (docs/references.md) end to end: fit, tables, figures and an HTML report each.

    Example: mixfit demo three-coins --out demo-output
    """
    from mixfit.demos import DEMOS
    from mixfit.report import write_report

    names = list(DEMOS) if which is DemoName.all else [which.value]
    for name in names:
        for case in DEMOS[name]():
            out.rule(f"[bold]{case.name}[/bold]")
            out.print(_shown(case.story))
            for step in case.explain:
                for title, table in step.tables().items():
                    out.print(f"[bold]{_shown(title)}[/bold]")
                    out.print(_shown(table.to_string(float_format=lambda v: f"{v:.7f}")))
            _print_summary(_summary(case.model, case.data, case.notes))
            folder = out_dir / case.name
            _write_plots(case.model, case.data, folder, tutorial=True)
            write_report(case.model, case.data, folder / "report.html", command=f"mixfit demo {name}", tutorial=True)
            out.print(f"figures and report in {folder}/")


def _sep(text: str) -> str:
    return "\t" if text in ("\\t", "tab") else text


#: Python spellings in library messages, and how the command line says them.
CLI_WORDS = {
    "Gaussian(reg_covar=1e-6)": "--reg-covar 1e-6",
    "increase max_iter or tol": "raise --max-iter or --tol",
    "max_iter=": "--max-iter ",
    "n_init": "--n-init",
    "random_state must": "--seed must",
    "drop or impute those rows": "drop or impute those rows (--dropna drops them)",
    "(n_components up to": "(-k up to",
}


def _cli_words(message: str) -> str:
    """A library message in the command line's words (``--reg-covar 1e-6``, not ``reg_covar=``)."""
    for python, cli in CLI_WORDS.items():
        message = message.replace(python, cli)
    return message


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr and exit status 2 for bad input or a bad command line,
    never a traceback."""
    _command_line[1:] = sys.argv[1:] if argv is None else argv
    try:
        status = app(args=argv, prog_name="mixfit", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: bad options and values
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # `mixfit` alone: the help
            typer.echo(ctx.get_help())
            sys.exit(2)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err.print(f"error: {exc.format_message()}{where}", markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("interrupted", markup=False, highlight=False)
        sys.exit(130)
    except MixfitError as exc:
        err.print(f"error: {_visible(_cli_words(str(exc)))}", markup=False, highlight=False)
        sys.exit(2)
    except OSError as exc:  # the system refused (a full disk, a file removed meanwhile): not the input
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        err.print(f"error: cannot complete{where}: {exc.strerror or exc}", markup=False, highlight=False)
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()

"""One self-contained HTML file about a fit: data, fit summary, parameters, figures, warnings."""

from __future__ import annotations

import base64
import html
import io
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixfit import restarts
from mixfit._data import as_table
from mixfit._optional import require
from mixfit.diagnostics import classification_quality, count_words
from mixfit.explain import outcomes
from mixfit.io import write_atomic
from mixfit.prepare import fitted

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } .warning { background: #fff4d6; border-left: 4px solid #e0a800;
padding: .5em 1em; margin: .5em 0; } code { background: #f3f3f3; padding: .1em .3em; }
figure { margin: 1em 0; } img { max-width: 100%; }
"""


#: A plain-words heading for each warning category a fit raises.
HEADINGS = {
    "IdentifiabilityWarning": "Not identifiable",
    "ConvergenceWarning": "Not converged",
    "ReplicationWarning": "Best maximum found once",
    "EmptyComponentWarning": "Empty component",
    "MonotonicityWarning": "Log-likelihood decreased (a bug in mixfit)",
}


def diagnostics(model: Any, X: Any) -> list[str]:
    """Every warning the fit raised, as it raised them (``fit_warnings_``), with a plain-words
    heading, and the fit's notes; for a model not fitted here (loaded from a file, parameters
    set by hand) the checks are recomputed: identifiability, convergence, emptied components."""
    if hasattr(model, "fit_warnings_"):
        notes = []
        for text in model.fit_warnings_:
            category, _, message = text.partition(": ")
            notes.append(f"{HEADINGS.get(category, category)}: {message}")
        return [*notes, *getattr(model, "fit_notes_", [])]
    family, state = fitted(model)
    array, columns, _ = as_table(X)
    notes = []
    problem = family.identifiability_problem(len(state.weights), family.validate(array, columns))
    if problem:
        notes.append(f"Not identifiable: {problem}.")
    if getattr(model, "converged_", True) is False:
        notes.append(
            f"EM stopped after max_iter = {model.max_iter} iterations before the mean log-likelihood "
            "per row settled; the estimates may still move. Increase max_iter."
        )
    empty = [f"c_{k + 1}" for k, w in enumerate(state.weights) if w == 0]
    if empty:
        notes.append(f"Component(s) {', '.join(empty)} ended with weight 0: fewer components describe the data.")
    if hasattr(model, "restarts_"):
        reached, finished = restarts.replication(model.restarts_["status"])
        if finished >= 2 and reached == 1:
            notes.append(f"Only one start reached the best maximum ({model.replication_}); raise n_init.")
    notes.extend(getattr(model, "fit_notes_", []))
    return notes


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(frame: pd.DataFrame, digits: int = 6) -> str:
    """A pandas table as HTML; pandas escapes every label and cell."""
    return frame.to_html(float_format=lambda v: f"{v:.{digits}f}", border=0, escape=True)


def _summary_rows(model: Any, X: Any, sample_weight: Any = None, covariates: Any = None) -> pd.DataFrame:
    rows = {
        "family": repr(model.family_),
        "components (K)": len(model.weights_),
        "log-likelihood": f"{model.log_likelihood_:.6f}",
        "AIC": f"{model.aic(X, sample_weight, covariates=covariates):.6f}",
        "BIC": f"{model.bic(X, sample_weight, covariates=covariates):.6f}",
        "free parameters": model.n_parameters(),
        "iterations": model.n_iter_,
        "converged": bool(model.converged_),
        "starts": getattr(model, "replication_", "not recorded (parameters set by hand or loaded from a file)"),
        "seed (random_state)": repr(model.random_state),
    }
    return pd.DataFrame({"value": list(rows.values())}, index=list(rows))


def _data_rows(model: Any, X: Any, sample_weight: Any = None) -> pd.DataFrame:
    found = outcomes(model, X, sample_weight)
    array, columns, _ = as_table(X)
    rows: dict[str, Any] = {"rows": array.shape[0], "columns": ", ".join(columns), "distinct rows": len(found.counts)}
    if sample_weight is not None:
        rows["rows counted with their frequency weights"] = f"{float(found.counts.sum()):g}"
    return pd.DataFrame({"value": list(rows.values())}, index=list(rows))


#: What to look for in each figure, under it.
CAPTIONS = {
    "convergence": "The log-likelihood of the parameters entering each iteration. EM never lowers it; "
    "a flat tail means the fit has settled.",
    "elbo": 'The picture S. Sciarra\'s article on EM and the ELBO leaves empty ("Visualizing EM"): '
    "after each E-step the lower bound (ELBO) touches the log-likelihood (KL = 0); after each M-step "
    "the bound lies below the new log-likelihood by the KL gap.",
    "trajectories": "Weights and parameters iteration by iteration, one panel per kind of parameter. "
    "Lines that end together belong to components that may have merged.",
    "fit": "Observed data against the fitted model, with each component's share; for discrete data the "
    "lower panel shows standardized residuals, and bars beyond +/-2 (red) are outcomes the model "
    "misses, which point at a missing component or a wrong family.",
    "profiles": "Each component's parameters (for latent classes: the item-response profile). "
    "Components with nearly equal profiles are not distinguished by the data.",
    "responsibilities": "How each outcome (for continuous data: each row) is shared among "
    'components (Table 6.1 of the textbook chapter "The EM Algorithm"). Bars of one colour are rows '
    "classified with certainty.",
    "bivariate residuals": "Each pair of items' bivariate residual (Latent GOLD's BVR: Pearson X² of their two-way "
    "table against the model, over its degrees of freedom). Red cells above 3.84 mark pairs that share more "
    "than the classes explain: a direct effect, or a class too few.",
    "prevalence": "Each class's predicted share (its prior probability) as one covariate moves over its "
    "observed range with the others at their means; shaded: 95% intervals from the coefficients' "
    "standard errors. Flat lines: the covariate does not predict class membership.",
    "classification": "Among the rows most likely in each component, the average probability of "
    "each component. A bright diagonal (above about 0.8) means the components are told apart; "
    "large off-diagonal values name the components that are confused.",
}


def _caption(name: str) -> str:
    """What to look for in figure ``name`` (a part's fit plot: ``fit: <part>``)."""
    if name.startswith("fit: "):
        return (
            f"The columns of part {name[5:]} alone, against the mixture of that part's own "
            "distributions (their marginal fit), drawn as that part's family is drawn."
        )
    return CAPTIONS.get(name, "")


def _standard_errors(model: Any, X: Any, sample_weight: Any = None, covariates: Any = None) -> tuple[Any, str]:
    """``(standard errors or None, what to say about them)``: from the observed information
    when they can be computed, with a warning when it is singular."""
    from mixfit.errors import MixfitError, fit_result_warnings_silenced

    try:
        with fit_result_warnings_silenced(), np.errstate(all="ignore"):  # the fit's warnings say it
            errors = model.standard_errors(X, sample_weight=sample_weight, covariates=covariates)
    except (MixfitError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return None, f"<p>Standard errors could not be computed here: {html.escape(str(exc))}</p>"
    text = "<p>Estimates with their standard errors in brackets (observed information on these data).</p>"
    if errors.rank < errors.information.shape[0]:
        text += (
            f'<p class="warning">The information matrix has rank {errors.rank} &lt; '
            f"{errors.information.shape[0]} free parameters: the model is not identified at the "
            "estimate, and the standard errors of the unidentified directions are not meaningful.</p>"
        )
    return errors, text


def _parameters(model: Any, errors: Any, text: str) -> str:
    """The weights and every parameter from ``Mixture.summary``: one table per parameter, a row
    per feature and a column per component, each estimate beside its standard error; then every
    estimate with its z, p, 95% interval and note, folded."""
    from mixfit.summary import summary_table

    table = summary_table(model, errors=errors)
    estimates = table[table["parameter"] != "covariate_coef"]  # (the Covariates section has them)
    cells = estimates.assign(
        cell=[
            f"{v:.6f}" if not np.isfinite(se) else f"{v:.6f} ({se:.4f})"
            for v, se in zip(estimates["estimate"], estimates["se"], strict=True)
        ],
        row=[f"{p}[{f}]" if f else p for p, f in zip(estimates["parameter"], estimates["feature"], strict=True)],
    )
    body = text
    for parameter in dict.fromkeys(cells["parameter"]):  # in the summary's order
        part = cells[cells["parameter"] == parameter]
        wide = part.pivot(index="row", columns="component", values="cell").reindex(list(dict.fromkeys(part["row"])))
        wide.index.name, wide.columns.name = None, None
        body += _table(wide)
    if errors is not None:
        body += f"<details><summary>Every estimate with its 95% interval</summary>{_table(estimates, 4)}</details>"
    return body


def _covariates(model: Any, errors: Any) -> str:
    """For a model with covariates: each class's coefficients against class c_1 (the reference)
    with standard errors, z, p and odds ratios with 95% intervals (``Mixture.summary``'s rows);
    else nothing."""
    from mixfit.summary import summary_table

    if getattr(model, "covariate_coef_", None) is None:
        return ""
    table = summary_table(model, errors=errors)
    rows = table[table["parameter"] == "covariate_coef"].rename(columns={"component": "class", "feature": "covariate"})
    columns = ["estimate", "se", "z", "p", "odds_ratio", "odds_ratio_lower", "odds_ratio_upper"]
    intro = (
        "<p>Class membership on the covariates (multinomial logit): each class's log-odds against c_1, "
        "the reference. An odds ratio is the factor by which one more unit of the covariate multiplies "
        "the odds of the class against c_1; its 95% interval is the coefficient's, exponentiated.</p>"
    )
    return intro + _table(rows.set_index(["class", "covariate"])[columns], 4)


def _goodness_of_fit(model: Any, X: Any, sample_weight: Any, residuals: str) -> str:
    """Pearson's X^2 and G^2 for discrete data (pattern counts), else a sentence why not; then
    ``residuals``, the bivariate residuals' part."""
    from mixfit.diagnostics import goodness_of_fit
    from mixfit.errors import MixfitError

    try:
        fit = goodness_of_fit(model, X, sample_weight)
    except MixfitError as exc:
        return f"<p>Not computed: {html.escape(str(exc))}</p>"
    rows = {
        "patterns possible": count_words(fit.n_patterns),
        "Pearson X²": f"{fit.chi2:.4f}",
        "likelihood ratio G²": f"{fit.g2:.4f}",
        "degrees of freedom": count_words(fit.df),
        "p-value (X²)": "not computed" if fit.p_chi2 is None else f"{fit.p_chi2:.4f}",
        "p-value (G²)": "not computed" if fit.p_g2 is None else f"{fit.p_g2:.4f}",
    }
    notes = "".join(f"<p>{html.escape(note)}</p>" for note in fit.notes)
    return _table(pd.DataFrame({"value": list(rows.values())}, index=list(rows))) + notes + residuals


#: The report lists this many of the largest bivariate residuals.
BVR_ROWS = 10


def _bivariate(table: pd.DataFrame, reason: str) -> str:
    """The largest bivariate residuals of a model of binary or categorical items, or why they were
    not computed ("" for other families)."""
    if not len(table):
        return f"<p>{html.escape(reason)}</p>" if reason else ""
    shown = "" if len(table) <= BVR_ROWS else f" (the {BVR_ROWS} largest of {len(table)} pairs)"
    intro = (
        f"<p>Bivariate residuals{shown}: Pearson's X² of each pair of items' two-way table against the "
        "fitted model, over its degrees of freedom (Latent GOLD's BVR). Local independence makes them about 1 "
        "or less; above about 3.84 the pair shares more than the classes explain.</p>"
    )
    shown_rows = table.head(BVR_ROWS)
    if np.array_equal(shown_rows["n"], np.round(shown_rows["n"])):  # rows, not weights: whole numbers
        shown_rows = shown_rows.astype({"n": int})
    return intro + _table(shown_rows.set_index(["item_a", "item_b"]), 4)


SECTIONS = ("Data", "Fit", "Warnings", "Classification", "Parameters", "Covariates", "Goodness of fit", "Figures")


def render(
    model: Any,
    X: Any,
    command: str | None = None,
    sample_weight: Any = None,
    covariates: Any = None,
    tutorial: bool = False,
) -> str:
    """The report as an HTML string with every image inline (no external resources);
    ``sample_weight``: the frequency weights the model was fitted with; ``covariates``: its
    covariates, for a model fitted with them (X must then be its training rows); ``tutorial``: a
    worked example's report, which adds the ELBO picture (``plots.all_figures``). The page is the template
    ``report.html.j2`` rendered by Jinja2 with autoescaping, so no name from the data (a column,
    a level, a part, a warning) can add markup; the fragments marked ``safe`` there are the tables
    pandas writes (it escapes every label and cell) and text passed through ``html.escape``."""
    from mixfit.diagnostics import bivariate_residuals_or_reason
    from mixfit.plots import all_figures

    fitted(model)  # NotFittedError, as predict says it, before anything is drawn
    quality = classification_quality(model, X, sample_weight, covariates)
    errors, errors_text = _standard_errors(model, X, sample_weight, covariates)
    residuals, residuals_reason = bivariate_residuals_or_reason(model, X, sample_weight, covariates)  # once
    figures = [
        {"name": name, "png": _png(fig), "caption": _caption(name)}
        for name, fig in all_figures(model, X, sample_weight, covariates, errors, tutorial, residuals).items()
    ]
    return _template().render(
        style=STYLE,
        family=model.family_.name,
        n_components=len(model.weights_),
        command=command or "Mixture.report",
        stamp=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        contents=[
            (name, name.lower().replace(" ", "-"))
            for name in SECTIONS
            if name != "Covariates" or getattr(model, "covariate_coef_", None) is not None
        ],
        data_table=_table(_data_rows(model, X, sample_weight)),
        fit_table=_table(_summary_rows(model, X, sample_weight, covariates)),
        notes=diagnostics(model, X),
        entropy_r2=quality.entropy_r2,
        sizes_table=_table(quality.sizes.astype({"modal size": int}), 4),  # modal sizes are whole rows
        classification_table=_table(quality.table, 4),
        parameters=_parameters(model, errors, errors_text),
        covariates=_covariates(model, errors),
        goodness_of_fit=_goodness_of_fit(model, X, sample_weight, _bivariate(residuals, residuals_reason)),
        figures=figures,
    )


def _template() -> Any:
    jinja2 = require("jinja2", "plots", "writing HTML reports")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string((Path(__file__).parent / "report.html.j2").read_text(encoding="utf-8"))


def write_report(
    model: Any,
    X: Any,
    path: str | os.PathLike[str],
    command: str | None = None,
    sample_weight: Any = None,
    covariates: Any = None,
    tutorial: bool = False,
) -> Path:
    """Write ``render(model, X, command, sample_weight, covariates, tutorial)`` to ``path`` atomically."""
    write_atomic(Path(path), render(model, X, command, sample_weight, covariates, tutorial))
    return Path(path)

"""Figures that show EM working (Sciarra's empty "Visualizing EM" section, filled in).

Every function takes a fitted model (and the data where needed) and returns a matplotlib
``Figure``; nothing here touches pyplot's global state, so it works headless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixfit._optional import require
from mixfit.explain import Outcomes, outcomes
from mixfit.families import MATRIX_DOMAINS, POSITIVE, PROBABILITY, SIMPLEX, ParamSpec, as_family
from mixfit.prepare import fitted

if TYPE_CHECKING:
    from matplotlib.figure import Figure
else:
    Figure = require("matplotlib.figure", "plots", "drawing figures").Figure

#: Bernoulli and categorical data show at most this many patterns (the most frequent).
MAX_PATTERNS = 30
#: Profile probabilities within this of 0 or 1 are marked as on the boundary (as in standard errors).
BOUNDARY_MARK = 1e-6


def _literal(text: Any) -> Any:
    """Untrusted text (column names, levels) drawn as it is: a ``$`` would start matplotlib's
    math mode (and a malformed formula would crash the figure)."""
    if isinstance(text, str):
        return text.replace("$", r"\$")
    return [_literal(t) for t in text]


def _colors(k: int) -> list[Any]:
    cmap = require("matplotlib", "plots", "drawing figures").colormaps["tab10"]
    return [cmap(j % 10) for j in range(k)]


def plot_convergence(model: Any) -> Figure:
    """The log-likelihood of the parameters entering each iteration."""
    history = model.history_
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(history.index, history["log_likelihood"], marker="o", markersize=3, label="log-likelihood")
    _integer_ticks(ax)
    ax.set_xlabel("iteration")
    ax.set_ylabel("log-likelihood")
    ax.set_title(f"EM: {model.n_iter_} iterations, converged = {bool(model.converged_)}")
    return fig


def plot_elbo(model: Any, max_iterations: int | None = None) -> Figure:
    """Sciarra's picture: the lower bound touches the log-likelihood after each E-step (KL = 0)
    and, after each M-step, lies below the new log-likelihood by the KL gap. Every iteration is
    drawn unless ``max_iterations`` says how many (the title then says "first N of M")."""
    full = model.history_
    shown = len(full) - 1 if max_iterations is None else min(max_iterations, len(full) - 1)
    history = full.iloc[: shown + 1]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    steps = history.index.to_numpy()
    ax.plot(steps, history["log_likelihood"], "o-", color="C0", label="log-likelihood log p(x | θ)")
    ax.plot(
        steps,
        history["elbo"],
        "s",
        color="C1",
        markerfacecolor="none",
        markersize=9,
        label="ELBO after E-step (= log-likelihood, KL = 0)",
    )
    inside = steps[:-1]  # the bound after iteration i's M-step sits at i + 1, drawn while i + 1 is shown
    after_m = history["elbo_after_m"].to_numpy()[:-1]
    ax.plot(inside + 1, after_m, "v", color="C3", label="ELBO after M-step, same q")
    gaps = [(i + 1, low, history.loc[i + 1, "log_likelihood"]) for i, low in zip(inside, after_m, strict=True)]
    gaps = [(x, low, high) for x, low, high in gaps if np.isfinite(low)]
    if gaps:
        x, low, high = map(np.asarray, zip(*gaps, strict=True))
        ax.vlines(x, low, high, color="C3", linestyle="-", linewidth=2.5, alpha=0.6, label="KL gap")
    _integer_ticks(ax)
    ax.set_xlabel("iteration")
    ax.set_ylabel("log-likelihood and ELBO (nats)")
    which = "" if shown == len(full) - 1 else f" (first {shown} of {len(full) - 1} iterations)"
    ax.set_title(f"E-step closes the gap, M-step raises the bound{which}")
    ax.legend(fontsize=8)
    return fig


def _integer_ticks(ax: Any) -> None:
    """Iteration axes show whole numbers only."""
    ax.xaxis.set_major_locator(require("matplotlib.ticker", "plots", "drawing figures").MaxNLocator(integer=True))


def plot_trajectories(model: Any) -> Figure:
    """Weights and component parameters, iteration by iteration: one panel for the weights and
    one per kind of parameter the family declares (probabilities, rates, means, variances;
    covariance matrices are not drawn)."""
    history = model.history_
    k = len(model.weights_)
    colors = _colors(k)
    family = model.family_ if hasattr(model, "family_") else as_family(model.family)
    kinds: dict[str, list[str]] = {}
    for spec in family.param_specs():
        if spec.domain not in MATRIX_DOMAINS and spec.name in model.params_:
            kinds.setdefault(spec.quantity, []).append(spec.name)
    fig = Figure(figsize=(4.5 * (1 + len(kinds)), 3.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, 1 + len(kinds)))
    for j in range(k):
        axes[0].plot(history.index, history[f"weight[{j}]"], color=colors[j], label=f"c_{j + 1}")
        for ax, names in zip(axes[1:], kinds.values(), strict=True):
            for column in _component_columns(history.columns, names, j):
                ax.plot(history.index, history[column], color=colors[j], alpha=0.7, linewidth=1)
    axes[0].set(title="weights", xlabel="iteration", ylabel="weight")
    for ax in axes:
        _integer_ticks(ax)
    for ax, quantity in zip(axes[1:], kinds, strict=True):
        ax.set(title=f"{quantity} (colour = component)", xlabel="iteration", ylabel=quantity)
    axes[0].legend(fontsize=8)
    return fig


def _component_columns(columns: Any, names: list[str], component: int) -> list[str]:
    """History columns of parameters ``names`` for one component: ``name[k,...]`` or ``name[k]``."""
    heads = tuple(f"{name}[{component}," for name in names)
    whole = {f"{name}[{component}]" for name in names}
    return [c for c in columns if c.startswith(heads) or c in whole]


def _fit_outcomes(model: Any, X: Any, sample_weight: Any = None) -> tuple[Outcomes, str]:
    """The outcomes a fit plot shows, and a note saying what was left out (or "")."""
    seen = outcomes(model, X, sample_weight)
    family = model.family_ if hasattr(model, "family_") else as_family(model.family)
    single = len(seen.table.columns) == 1
    support = family.count_support(seen.table.iloc[:, 0].to_numpy()) if single else None
    if support is not None:  # every value of a one-column count, observed or not
        name = seen.table.columns[0]
        every = outcomes(model, _frame(name, support))
        counts = np.zeros(len(support), dtype=seen.counts.dtype)
        counts[np.searchsorted(support, seen.table[name].to_numpy())] = seen.counts
        return Outcomes(every.table, counts, every.resp, every.log_marginal), ""
    if len(seen.counts) > MAX_PATTERNS:
        top = np.sort(np.argsort(-seen.counts, kind="stable")[:MAX_PATTERNS])
        table = seen.table.iloc[top].reset_index(drop=True)
        note = f" (the {MAX_PATTERNS} most frequent of {len(seen.counts)} patterns)"
        return Outcomes(table, seen.counts[top], seen.resp[top], seen.log_marginal[top]), note
    return seen, ""


def _frame(name: str, values: np.ndarray) -> Any:
    import pandas as pd

    return pd.DataFrame({name: values})


def plot_fit(model: Any, X: Any, sample_weight: Any = None) -> Figure:
    """Observed against fitted data: frequencies per outcome with each component's share for
    discrete data; for Gaussian data, the histogram with the mixture density (one column) or
    the rows coloured by most likely component with each component's ellipses (two or more)."""
    family, state = fitted(model)
    if any(spec.name == "mean" for spec in family.param_specs()):
        return _plot_gaussian_fit(model, X, sample_weight)
    if any(spec.quantity == "coefficient" for spec in family.param_specs()):
        from mixfit._data import as_table

        array, columns, _ = as_table(X)
        lines = family.fitted_lines(np.asarray(family.validate(array, columns), dtype=float), state.params)
        if lines is not None:
            return _plot_regression_fit(model, X, lines)
    found, note = _fit_outcomes(model, X, sample_weight)
    n_rows = float(outcomes(model, X, sample_weight).counts.sum())
    expected = n_rows * found.joint
    positions = np.arange(len(found.counts))
    fig = Figure(figsize=(max(6, 0.35 * len(positions) + 2), 6), layout="constrained")
    ax, below = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    ax.bar(positions, found.counts, color="0.8", label="observed")
    ax.plot(positions, expected.sum(axis=1), "ko-", label="fitted (mixture)")
    style = "--" if len(found.table.columns) == 1 else "none"  # no lines between unrelated patterns
    for j, color in enumerate(_colors(expected.shape[1])):
        ax.plot(positions, expected[:, j], linestyle=style, marker=".", color=color, label=f"c_{j + 1}")
    ax.set(ylabel="rows")
    ax.set_title(f"observed and fitted frequencies per outcome{note}")
    ax.legend(fontsize=8)
    _residual_panel(below, positions, found.counts, expected.sum(axis=1))
    below.set_xticks(positions, _literal(found.labels()), rotation=90 if len(positions) > 12 else 0, fontsize=8)
    names = " ".join(map(str, found.table.columns))
    below.set_xlabel(_literal(names) if len(found.table.columns) < 4 else "pattern")
    return fig


def standardized_residuals(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Pearson residuals ``(observed - expected) / sqrt(expected)`` per outcome (0 where nothing
    is expected): beyond about 2 in size, the model misses that outcome."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, (observed - expected) / np.sqrt(expected), 0.0)


def _residual_panel(ax: Any, positions: np.ndarray, observed: np.ndarray, expected: np.ndarray) -> None:
    residuals = standardized_residuals(observed, expected)
    beyond = np.abs(residuals) > 2
    ax.bar(positions, residuals, color=np.where(beyond, "tab:red", "0.5"))
    for level in (-2, 2):
        ax.axhline(level, color="0.3", linestyle=":", linewidth=1)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_ylabel("standardized residual")
    ax.set_title(f"(observed - fitted) / sqrt(fitted): {int(beyond.sum())} of {len(positions)} beyond 2", fontsize=9)


def _plot_gaussian_fit(model: Any, X: Any, sample_weight: Any = None) -> Figure:
    from mixfit._data import as_table

    family, state = fitted(model)
    array, columns, _ = as_table(X)
    data = np.asarray(family.validate(array, columns), dtype=float)
    mean, var = state.params["mean"], _component_covariances(family, state)
    if data.shape[1] > 1:
        return _plot_gaussian_pairs(model, X, data, columns, mean, var)
    colors = _colors(len(state.weights))
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    seen = ~np.isnan(data[:, 0])
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)[seen]
    sd = np.sqrt(var[:, 0, 0])
    _marginal_density(ax, data[seen, 0], state.weights, mean[:, 0], sd, colors, weights, legend=True)
    ax.set(xlabel=_literal(columns[0]), ylabel="density", title="data and fitted density")
    return fig


#: The pairs figure of Gaussian data draws at most this many columns (a grid of their pairs),
#: and at most this many rows as points (the histograms count every row).
MAX_PAIR_COLUMNS = 4
MAX_POINTS_DRAWN = 5000


def _plot_gaussian_pairs(
    model: Any, X: Any, data: np.ndarray, columns: list[str], mean: np.ndarray, var: np.ndarray
) -> Figure:
    """Gaussian data of two or more columns as mclust draws them, over every pair of the first
    ``MAX_PAIR_COLUMNS`` columns: below the diagonal the rows coloured by most likely component
    with each component's mean and 1 and 2 sd ellipses (classification); on the diagonal each
    column's histogram with the components' weighted marginal densities and their sum (density);
    above it the rows drawn larger the less certain their classification, 1 - max p (uncertainty)."""
    weights = model.weights_
    proba = model.predict_proba(X)
    labels, uncertainty = proba.argmax(axis=1), 1 - proba.max(axis=1)
    drawn = np.unique(np.linspace(0, len(data) - 1, min(len(data), MAX_POINTS_DRAWN)).round().astype(int))
    d = min(data.shape[1], MAX_PAIR_COLUMNS)
    colors = _colors(len(weights))
    fig = Figure(figsize=(2.9 * d + 1.8, 2.6 * d + 0.6), layout="constrained")
    grid = fig.add_gridspec(d, d)
    order = [(i, j) for i in range(d) for j in range(i)] + [(i, i) for i in range(d)]
    order += [(i, j) for i in range(d) for j in range(i + 1, d)]  # the first pair's scatter comes first
    panels = {(i, j): fig.add_subplot(grid[i, j]) for i, j in order}
    for (i, j), ax in panels.items():
        if i > j:
            for k, color in enumerate(colors):
                rows = data[drawn][labels[drawn] == k]
                ax.scatter(rows[:, j], rows[:, i], s=6, color=color, alpha=0.6, label=f"c_{k + 1} ({weights[k]:.2f})")
                ax.plot(mean[k, j], mean[k, i], "k+", markersize=10)
                for level in (1, 2):
                    pair = np.ix_([j, i], [j, i])
                    ax.plot(*_ellipse(mean[k, [j, i]], var[k][pair], level), color=color, linewidth=1)
        elif i == j:
            _marginal_density(ax, data[:, i], weights, mean[:, i], np.sqrt(var[:, i, i]), colors)
        else:
            sizes, hues = 4 + 60 * uncertainty[drawn], [colors[k] for k in labels[drawn]]
            ax.scatter(data[drawn, j], data[drawn, i], s=sizes, c=hues, alpha=0.5)
        if i == d - 1 or i < j:
            ax.set_xlabel(_literal(columns[j]), fontsize=8)
        if j == 0 or i < j:
            ax.set_ylabel(_literal(columns[i]) if i != j else "density", fontsize=8)
    handles, names = panels[(1, 0)].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right upper", fontsize=8, title="most likely", title_fontsize=8)
    more = "" if data.shape[1] <= d else f" (the first {d} of {data.shape[1]} columns)"
    more += "" if len(drawn) == len(data) else f" ({len(drawn)} of {len(data)} rows drawn, evenly spaced)"
    fig.suptitle(
        f"rows by most likely component, 1 and 2 sd ellipses (below the diagonal){more};\n"
        "densities (diagonal); uncertainty, larger points less certain (above)",
        fontsize=9,
    )
    return fig


def _marginal_density(
    ax: Any,
    x: np.ndarray,
    weights: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    colors: list[Any],
    row_weight: np.ndarray | None = None,
    legend: bool = False,
) -> None:
    """A column's histogram (rows counted by ``row_weight``), each component's weighted normal
    density and the mixture's (labelled when ``legend``)."""
    seen = ~np.isnan(x)
    x, row_weight = x[seen], None if row_weight is None else row_weight[seen]
    ax.hist(x, bins="auto", density=True, weights=row_weight, color="0.85", label=f"data ({len(x)} rows)")
    grid = np.linspace(x.min() - 0.1 * np.ptp(x), x.max() + 0.1 * np.ptp(x), 400)
    parts = (
        weights[:, None]
        * np.exp(-0.5 * ((grid - mean[:, None]) / sd[:, None]) ** 2)
        / (sd[:, None] * np.sqrt(2 * np.pi))
    )
    ax.plot(grid, parts.sum(axis=0), "k-", linewidth=1.2, label="mixture density")
    for k, color in enumerate(colors):
        ax.plot(grid, parts[k], "--", color=color, linewidth=1, label=f"c_{k + 1} (weight {weights[k]:.2f})")
    if legend:
        ax.legend(fontsize=8)


def _plot_regression_fit(model: Any, X: Any, lines: Any) -> Figure:
    """The rows (response against the first predictor) coloured by most likely component, with
    each component's fitted mean response (flexmix's picture); below, each row's Pearson
    residual under its most likely component against its fitted mean there."""
    names = model.feature_names_
    labels = model.predict(X)
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax, below = fig.subplots(2, 1, height_ratios=(2, 1))
    rows = np.arange(len(labels))
    for j, color in enumerate(_colors(len(lines.means))):
        mine = labels == j
        points = lines.points[mine]
        ax.scatter(points[:, 0], points[:, 1], s=8, color=color, alpha=0.6, label=f"c_{j + 1} rows")
        ax.plot(lines.grid, lines.means[j], color=color, linewidth=2, label=f"c_{j + 1} fitted mean")
        below.scatter(lines.row_means[j, rows[mine]], lines.residuals[j, rows[mine]], s=8, color=color, alpha=0.6)
    others = "" if len(names) <= 2 else " (the other predictors at their means)"
    ax.set(
        xlabel=_literal(names[1]), ylabel="response", title=f"rows by most likely component and fitted means{others}"
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    below.axhline(0, color="grey", linewidth=1)
    for level in (-2, 2):
        below.axhline(level, color="grey", linewidth=0.8, linestyle=":")
    below.set(xlabel="fitted mean under the most likely component", ylabel="Pearson residual")
    return fig


def _component_covariances(family: Any, state: Any) -> np.ndarray:
    """Every component's covariance as a (K, D, D) matrix, whatever the structure."""
    mean, cov = state.params["mean"], np.asarray(state.params["covariance"], dtype=float)
    if cov.ndim == 3:
        return cov
    variances = np.broadcast_to(cov[:, None] if cov.ndim == 1 else cov, mean.shape)
    return np.stack([np.diag(v) for v in variances])


def _ellipse(centre: np.ndarray, cov: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Points of the ellipse ``(x - centre)' cov^-1 (x - centre) = level^2``."""
    values, vectors = np.linalg.eigh(cov)
    angle = np.linspace(0, 2 * np.pi, 100)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    points = vectors @ (level * np.sqrt(np.maximum(values, 0))[:, None] * circle)
    return centre[0] + points[0], centre[1] + points[1]


def plot_profiles(model: Any, X: Any = None) -> Figure:
    """Each component's parameters, one panel per kind of parameter the family declares
    (probabilities on a 0-1 axis, rates, means, variances on their own); covariance matrices
    are shown by their variances. Estimates on the boundary are crossed; with the data X,
    estimates that are not locally identified (``diagnostics.unidentified_entries``) are
    circled."""
    family, state = fitted(model)
    unidentified = {} if X is None else _unidentified(model, X)
    names = getattr(model, "feature_names_", None) or [
        f"x{j}" for j in range(next(iter(state.params.values())).shape[1])
    ]
    panels = [
        (spec, *family.param_columns(state.params, names)[spec.name])
        for spec in family.param_specs()
        if spec.name in state.params
    ]
    items = [(spec, labels, values) for spec, labels, values in panels if _by_item(spec, state.params)]
    if items and len(items) == len(panels):  # categories: one panel per item, bars per level and class
        return _plot_item_bars(items, state.weights)
    whole = [_variances_only(spec, labels, values) for spec, labels, values in panels]
    entries = {spec.name: len(labels) for spec, labels, _ in whole}
    drawn = [_first_entries(spec, labels, values) for spec, labels, values in whole]
    width = max(6, 0.5 * max(len(labels) for _, labels, _, _ in drawn) + 3)
    fig = Figure(figsize=(width, 3.5 * len(drawn)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(drawn), 1))
    colors = _colors(len(state.weights))
    for ax, (spec, labels, values, shown) in zip(axes, drawn, strict=True):
        positions = np.arange(len(labels))
        # probabilities share one scale (an item-response profile); other quantities are in
        # each column's own units, so their markers are not joined across columns
        style = "o-" if spec.domain == PROBABILITY else "o"
        for j, color in enumerate(colors):
            ax.plot(positions, values[j], style, color=color, label=f"c_{j + 1} (weight {state.weights[j]:.2f})")
        ax.set_xticks(positions, _literal(labels), rotation=90 if len(labels) > 10 else 0, fontsize=8)
        title = f"profiles: {spec.quantity} per item and component ({spec.name}){shown}"
        ax.set(ylabel=spec.quantity, title=title)
        if spec.domain in (PROBABILITY, SIMPLEX):
            ax.set_ylim(-0.02, 1.02)
            edge = (values < BOUNDARY_MARK) | (values > 1 - BOUNDARY_MARK)
            if edge.any():  # estimates at 0 or 1: no standard error, often a sign of too many classes
                rows, cols = np.nonzero(edge)
                ax.plot(positions[cols], values[rows, cols], "kx", markersize=9, label="on the boundary (0 or 1)")
        flat = _shown_entries(unidentified.get(spec.name), len(values), entries[spec.name], values.shape[1])
        if flat is not None and flat.any():
            rows, cols = np.nonzero(flat)
            ax.plot(
                positions[cols], values[rows, cols], "o", markersize=13, markerfacecolor="none",
                markeredgecolor="tab:red", label="not locally identified",
            )  # fmt: skip
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the data, not over it
    return fig


#: A figure of categorical profiles draws at most this many items, four panels a row.
MAX_ITEM_PANELS = 16


def _by_item(spec: Any, params: dict[str, Any]) -> bool:
    """Whether a parameter holds level probabilities per item (K, D, L): drawn item by item."""
    return spec.domain == SIMPLEX and np.ndim(params[spec.name]) == 3


def _plot_item_bars(items: list[tuple[Any, list[str], np.ndarray]], weights: np.ndarray) -> Figure:
    """Categorical profiles as poLCA users read them: one panel per item, its levels along the
    axis, one bar per class for each level (the bars of a class sum to 1 over an item's levels)."""
    groups: dict[str, list[tuple[str, np.ndarray]]] = {}
    for _, labels, values in items:
        for j, label in enumerate(labels):
            item, _, level = label.rpartition("=")
            groups.setdefault(item, []).append((level, values[:, j]))
    names = list(groups)[:MAX_ITEM_PANELS]
    n_cols = min(4, len(names))
    n_rows = -(-len(names) // n_cols)
    k = len(weights)
    fig = Figure(figsize=(3.4 * n_cols + 1.6, 2.8 * n_rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, sharey=True, squeeze=False)).ravel()
    colors = _colors(k)
    width = 0.8 / k
    for ax, name in zip(axes, names, strict=False):
        levels = groups[name]
        positions = np.arange(len(levels))
        for c, color in enumerate(colors):
            heights = [values[c] for _, values in levels]
            ax.bar(positions + (c - (k - 1) / 2) * width, heights, width, color=color, label=f"c_{c + 1}")
        ax.set_xticks(positions, _literal([level for level, _ in levels]), rotation=90 if len(levels) > 5 else 0)
        ax.set_title(_literal(name), fontsize=10)
        ax.set_ylim(0, 1)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax in axes[::n_cols]:
        ax.set_ylabel("p(level | class)")
    handles, _ = axes[0].get_legend_handles_labels()
    labels = [f"c_{c + 1} (weight {w:.2f})" for c, w in enumerate(weights)]
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    more = "" if len(groups) <= MAX_ITEM_PANELS else f" (the first {MAX_ITEM_PANELS} of {len(groups)} items)"
    fig.suptitle(f"profiles: level probabilities per item and class{more}", fontsize=11)
    return fig


def _unidentified(model: Any, X: Any) -> dict[str, np.ndarray]:
    from mixfit.diagnostics import unidentified_entries
    from mixfit.errors import MixfitError

    try:
        return unidentified_entries(model, X)
    except MixfitError:  # data the model cannot read: nothing to mark
        return {}


#: A profile panel draws at most this many entries (a figure is about 0.5 inch an entry).
MAX_PROFILE_ENTRIES = 60


def _first_entries(spec: Any, labels: list[str], values: np.ndarray) -> tuple[Any, list[str], np.ndarray, str]:
    """A panel's first ``MAX_PROFILE_ENTRIES`` entries and the words saying so (empty when all)."""
    if len(labels) <= MAX_PROFILE_ENTRIES:
        return spec, labels, values, ""
    shown = f" (the first {MAX_PROFILE_ENTRIES} of {len(labels)})"
    return spec, labels[:MAX_PROFILE_ENTRIES], values[:, :MAX_PROFILE_ENTRIES], shown


def _shown_entries(flat: np.ndarray | None, n_components: int, n_entries: int, n_shown: int) -> np.ndarray | None:
    """A parameter's per-entry flags (K, n_entries) cut to the entries drawn; None when they do
    not lie entry by entry (a covariance drawn by its variances)."""
    if flat is None or flat.size != n_components * n_entries:
        return None
    return flat.reshape(n_components, n_entries)[:, :n_shown]


def _variances_only(spec: Any, labels: list[str], values: np.ndarray) -> tuple[Any, list[str], np.ndarray]:
    """A covariance matrix parameter (labels ``cov(a,b)``, row by row) shown by its diagonal:
    the variance of each of its columns (a part of ``Independent`` has its own columns)."""
    if spec.domain not in MATRIX_DOMAINS:
        return spec, labels, values
    d = int(round(np.sqrt(values.shape[1])))
    diagonal = values.reshape(len(values), d, d)[:, np.arange(d), np.arange(d)]
    inner = [labels[i * d + i][len("cov(") : -1] for i in range(d)]  # "a,a": the name twice
    names = [text[: (len(text) - 1) // 2] for text in inner]
    return ParamSpec(spec.name, POSITIVE, "variance"), [f"var({c})" for c in names], diagonal


def plot_responsibilities(model: Any, X: Any, sample_weight: Any = None) -> Figure:
    """Responsibilities per distinct outcome, stacked by component (Ch6, Table 6.1); for
    continuous data (Gaussian, regression), every row's responsibilities, rows sorted by their
    most likely component and then by how sure it is."""
    family, _ = fitted(model)
    if _continuous(family):
        return _plot_row_responsibilities(model, X)
    found, note = _fit_outcomes(model, X, sample_weight)
    observed = found.counts > 0
    resp = found.resp[observed]
    labels = [label for label, keep in zip(found.labels(), observed, strict=True) if keep]
    positions = np.arange(len(labels))
    fig = Figure(figsize=(max(6, 0.35 * len(labels) + 2), 4), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(len(labels))
    for j, color in enumerate(_colors(resp.shape[1])):
        ax.bar(positions, resp[:, j], bottom=bottom, color=color, label=f"c_{j + 1}")
        bottom += resp[:, j]
    ax.set_xticks(positions, _literal(labels), rotation=90 if len(labels) > 12 else 0, fontsize=8)
    ax.set(ylabel="p(component | outcome)", ylim=(0, 1), xlabel="outcome")
    ax.set_title(f"responsibilities per outcome{note}")
    ax.legend(fontsize=8)
    return fig


def _continuous(family: Any) -> bool:
    """Whether the family's rows are continuous (Gaussian means, regression coefficients), so
    that distinct rows are not outcomes worth a bar each."""
    return any(spec.name == "mean" or spec.quantity == "coefficient" for spec in family.param_specs())


#: Rows drawn in the responsibilities plot of continuous data (evenly spaced in the sorted order).
MAX_ROWS_DRAWN = 2000


def _plot_row_responsibilities(model: Any, X: Any) -> Figure:
    resp = model.predict_proba(X)
    modal = resp.argmax(axis=1)
    order = np.lexsort((-resp.max(axis=1), modal))
    shown = order[np.linspace(0, len(order) - 1, min(len(order), MAX_ROWS_DRAWN)).round().astype(int)]
    positions = np.arange(len(shown))
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.stackplot(
        positions,
        resp[shown].T,
        colors=_colors(resp.shape[1]),
        labels=[f"c_{j + 1}" for j in range(resp.shape[1])],
        step="mid",
    )
    ax.set(xlim=(-0.5, len(shown) - 0.5), ylim=(0, 1), ylabel="p(component | row)")
    every = "" if len(shown) == len(order) else f" ({len(shown)} of {len(order)} rows, evenly spaced)"
    ax.set_xlabel(f"rows, by most likely component, most certain first{every}")
    ax.set_title("responsibilities of each row")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_classification(model: Any, X: Any, sample_weight: Any = None, covariates: Any = None) -> Figure:
    """Classification quality (``mixfit.diagnostics.classification_quality``): the average
    posterior probability of each class among the rows most likely in each class (Mplus's table;
    a clear classification has a bright diagonal), with the entropy R^2 and the class sizes."""
    from mixfit.diagnostics import classification_quality

    quality = classification_quality(model, X, sample_weight, covariates)
    table = quality.table.to_numpy()
    k = table.shape[0]
    fig = Figure(figsize=(max(4.5, 0.9 * k + 2.5), max(3.5, 0.7 * k + 1.8)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.nan_to_num(table), vmin=0, vmax=1, cmap="Blues")
    for i in range(k):
        for j in range(k):
            value = table[i, j]
            text = "" if np.isnan(value) else f"{value:.2f}"
            ax.text(j, i, text, ha="center", va="center", color="white" if value > 0.6 else "black", fontsize=9)
    labels = [f"c_{j + 1}" for j in range(k)]
    modal = quality.sizes["modal size"].to_numpy()
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), [f"c_{i + 1} ({modal[i]:g} rows)" for i in range(k)])
    ax.set(xlabel="average p(component | row)", ylabel="most likely component")
    ax.set_title(f"classification: entropy R² = {quality.entropy_r2:.3f}")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_criteria(table: Any, chosen: str = "bic", title: str | None = None) -> Figure:
    """The information criteria of a ``mixfit.select`` table against K (lower is better): the
    chosen one on its own axis with its minimum marked, and beside it every criterion as its
    distance from its own minimum, so that no criterion's range hides another's minimum;
    ``title``: what was selected (the data and the family). A table of several covariance models
    (a ``covariance`` column) gets a line per model, as mclust's BIC plot, and the other panel
    each criterion's best over the models at each K."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    main, every = fig.subplots(1, 2)
    models = list(dict.fromkeys(table["covariance"])) if "covariance" in table.columns else [None]
    values = table[chosen].astype(float).to_numpy()
    best = int(np.nanargmin(values))
    k = table["n_components"].to_numpy()
    for j, model in enumerate(models):
        rows = np.ones(len(table), dtype=bool) if model is None else (table["covariance"] == model).to_numpy()
        style = {"color": "C0", "linewidth": 2.5} if model is None else _model_style(j)
        main.plot(k[rows], values[rows], label=model, **style)
    main.plot(k[best], values[best], "o", markersize=12, markerfacecolor="none", markeredgecolor="C3")
    label = f"K = {k[best]}" if models == [None] else f"{table['covariance'].iloc[best]}, K = {k[best]}"
    main.annotate(label, (k[best], values[best]), textcoords="offset points", xytext=(6, 8), color="C3")
    main.set(
        xlabel="components K", ylabel=f"{chosen.upper()} (lower is better)", title=f"{chosen.upper()}: chooses {label}"
    )
    if models != [None]:  # the axis cut at the median value, so that the best models' lines are told apart
        finite = values[np.isfinite(values)]
        low, middle = float(finite.min()), float(np.median(finite))
        if middle > low:
            main.set_ylim(low - 0.08 * (middle - low), middle)
            main.set_title(f"{chosen.upper()}: chooses {label}\n(axis cut at the median value)", fontsize=10)
        main.legend(fontsize="x-small", ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    k = np.unique(k)
    for j, name in enumerate(("aic", "bic", "sabic", "caic", "icl")):
        column = table.groupby("n_components")[name].min().reindex(k).astype(float).to_numpy()
        every.plot(
            k,
            column - np.nanmin(column),
            marker="o",
            markersize=4,
            color=f"C{j}",
            linewidth=2.5 if name == chosen else 1.0,
            label=name.upper(),
        )
    every.set(xlabel="components K", ylabel="distance from its minimum", title="every criterion")
    for ax in (main, every):
        ax.set_xticks(k)
    every.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        fig.suptitle(_literal(title), fontsize=11)
    return fig


def _model_style(index: int) -> dict[str, Any]:
    """Line style of the index-th of mclust's 14 models: ten colours, then dashed lines, each
    with its own marker, so that every model is told apart without colour too."""
    markers = "osD^v<>ph*x+d1"
    return {
        "color": f"C{index % 10}",
        "linestyle": "-" if index < 10 else "--",
        "marker": markers[index % len(markers)],
        "markersize": 4,
        "linewidth": 1.2,
    }


def part_models(model: Any, X: Any) -> list[tuple[str, Any, Any]]:
    """For a model of independent parts (``Independent``): each part as a model of its own
    (its family, its parameters, the mixture's weights) with its columns of X, so that it is
    drawn by its own family's plots; the mixture of a part's own densities is the marginal
    distribution of its columns. Empty for other families."""
    import copy

    import pandas as pd

    from mixfit._data import as_table

    family, state = fitted(model)
    if not hasattr(family, "parts"):
        return []
    independent: Any = family  # a family made of parts (Independent's interface)
    array, columns, _ = as_table(X)
    frame = pd.DataFrame(array, columns=columns)
    out = []
    names_of = independent.part_names(columns)
    params_of = independent.split_params(state.params)
    pieces = zip(independent.part_labels, independent.parts, names_of, params_of, strict=True)
    for label, (_, part), names, params in pieces:
        sub = copy.copy(model)
        sub.__dict__.pop("covariate_coef_", None)
        sub.family, sub.family_, sub.params_, sub.weights_ = part, part, params, state.weights
        sub.columns_, sub.feature_names_ = names, part.feature_names(names)
        sub.n_features_in_, sub.feature_names_in_ = len(names), np.asarray(names, dtype=object)
        out.append((label, sub, frame[names].infer_objects()))
    return out


def all_figures(
    model: Any,
    X: Any,
    sample_weight: Any = None,
    covariates: Any = None,
    errors: Any = None,
    tutorial: bool = False,
    residuals: Any = None,
) -> dict[str, Figure]:
    """Every figure of a data report by name, in the order a report shows them; a model of
    independent parts adds each part's fit plot (``fit: <part>``), a model with covariates the
    class prevalence against them (with intervals from ``errors``, its standard errors), items
    of a few levels the heat map of their bivariate residuals (``residuals``, computed here when
    not given; an empty table draws none), and ``tutorial`` (the worked examples' demos) the ELBO
    picture, a teaching aid."""
    figures = {"convergence": plot_convergence(model)}
    if tutorial:
        figures["elbo"] = plot_elbo(model)
    figures |= {"trajectories": plot_trajectories(model), "fit": plot_fit(model, X, sample_weight)}
    for label, sub, columns in part_models(model, X):
        figures[f"fit: {label}"] = plot_fit(sub, columns, sample_weight)
    figures.update(
        {
            "profiles": plot_profiles(model, X),
            "responsibilities": plot_responsibilities(model, X, sample_weight),
            "classification": plot_classification(model, X, sample_weight, covariates),
        }
    )
    if getattr(model, "covariate_coef_", None) is not None:
        errors = errors if errors is not None else _standard_errors_or_none(model, X, sample_weight, covariates)
        figures["prevalence"] = plot_prevalence(model, covariates, errors)
    if residuals is None:
        from mixfit.diagnostics import bivariate_residuals_or_reason

        residuals = bivariate_residuals_or_reason(model, X, sample_weight, covariates)[0]
    if len(residuals):
        figures["bivariate residuals"] = plot_bivariate_residuals(residuals)
    return figures


#: The heat map of bivariate residuals draws at most this many items.
MAX_BVR_ITEMS = 30


def plot_bivariate_residuals(table: Any) -> Figure:
    """Latent GOLD's bivariate residuals as an item-by-item heat map with the values written in
    (``diagnostics.bivariate_residuals``): pairs above 3.84 (red) share more than the classes
    explain."""
    # the data's column order: the j-th item is the second of a pair exactly j times
    seconds = table["item_b"].value_counts()
    items = sorted(set(table["item_a"]) | set(table["item_b"]), key=lambda name: int(seconds.get(name, 0)))
    order = items[:MAX_BVR_ITEMS]
    index = {name: i for i, name in enumerate(order)}
    matrix = np.full((len(order), len(order)), np.nan)
    for a, b, value in zip(table["item_a"], table["item_b"], table["bvr"], strict=True):
        if a in index and b in index:
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = value
    size = max(4.5, 0.45 * len(order) + 2.5)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.add_subplot()
    top = max(2 * 3.84, float(np.nanmax(matrix)))
    image = ax.imshow(matrix, cmap="Reds", vmin=0, vmax=top)
    if len(order) <= 15:
        for i in range(len(order)):
            for j in range(len(order)):
                if i != j:
                    value = matrix[i, j]
                    ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                            color="white" if value > 0.6 * top else "black")  # fmt: skip
    ax.set_xticks(range(len(order)), _literal(order), rotation=90, fontsize=8)
    ax.set_yticks(range(len(order)), _literal(order), fontsize=8)
    more = "" if len(items) <= MAX_BVR_ITEMS else f" (the first {MAX_BVR_ITEMS} of {len(items)} items)"
    ax.set_title(f"bivariate residuals (X²/df; above 3.84 the pair shares more than the classes explain){more}",
                 fontsize=9)  # fmt: skip
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _standard_errors_or_none(model: Any, X: Any, sample_weight: Any, covariates: Any) -> Any:
    """The model's standard errors, or None where they cannot be computed (the figure says so)."""
    from mixfit.errors import MixfitError, fit_result_warnings_silenced

    try:
        with fit_result_warnings_silenced(), np.errstate(all="ignore"):
            return model.standard_errors(X, sample_weight=sample_weight, covariates=covariates)
    except (MixfitError, ArithmeticError, np.linalg.LinAlgError):
        return None


#: The prevalence figure draws at most this many covariates, and its intervals from this many
#: draws of the coefficients.
MAX_PREVALENCE_PANELS = 6
PREVALENCE_DRAWS = 400


def plot_prevalence(model: Any, covariates: Any, errors: Any = None) -> Figure:
    """Each class's predicted prevalence (its prior) against each covariate over the covariate's
    observed range, the other covariates held at their means, as poLCA's examples draw it; with
    ``errors`` (``standard_errors`` of the model), 95% intervals from draws of the coefficients
    from their estimated sampling distribution."""
    from mixfit.concomitant import log_prior
    from mixfit.prepare import covariate_design

    names = list(model.covariate_names_)
    design = covariate_design(covariates, len(covariates), names)[0]
    coef = np.asarray(model.covariate_coef_, dtype=float)
    draws = _coefficient_draws(coef, errors)
    shown = names[1 : 1 + MAX_PREVALENCE_PANELS]
    fig = Figure(figsize=(4.2 * len(shown) + 1.5, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(shown), sharey=True))
    colors = _colors(len(coef))
    for j, (ax, name) in enumerate(zip(axes, shown, strict=True), start=1):
        grid = np.linspace(design[:, j].min(), design[:, j].max(), 60)
        rows = np.tile(design.mean(axis=0), (len(grid), 1))
        rows[:, j] = grid
        prior = np.exp(log_prior(coef, rows))
        for k, color in enumerate(colors):
            ax.plot(grid, prior[k], color=color, label=f"c_{k + 1}")
            if draws is not None:
                band = np.exp(np.stack([log_prior(c, rows)[k] for c in draws]))
                low, high = np.percentile(band, [2.5, 97.5], axis=0)
                ax.fill_between(grid, low, high, color=color, alpha=0.2, linewidth=0)
        ax.set(xlabel=_literal(name), ylim=(0, 1))
    axes[0].set_ylabel("predicted class prevalence")
    more = "" if len(names) - 1 <= MAX_PREVALENCE_PANELS else f" (first {MAX_PREVALENCE_PANELS} of {len(names) - 1})"
    band = "95% intervals shaded" if draws is not None else "no intervals: standard errors unavailable"
    fig.suptitle(f"class prevalence against each covariate, others at their means; {band}{more}", fontsize=10)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    return fig


def _coefficient_draws(coef: np.ndarray, errors: Any) -> np.ndarray | None:
    """``PREVALENCE_DRAWS`` coefficient matrices drawn from the normal approximation of their
    sampling distribution (their block of the free parameters' covariance), row 0 (the reference)
    kept at 0; None without standard errors."""
    if errors is None or not hasattr(errors, "free_names"):
        return None
    k, width = coef.shape
    names = [f"covariate_coef[{i},{j}]" for i in range(1, k) for j in range(width)]
    if not all(name in errors.free_names for name in names):
        return None
    index = [errors.free_names.index(name) for name in names]
    block = np.asarray(errors.covariance)[np.ix_(index, index)]
    if not np.isfinite(block).all():
        return None
    rng = np.random.default_rng(0)  # the same figure for the same fit
    flat = rng.multivariate_normal(coef[1:].ravel(), (block + block.T) / 2, size=PREVALENCE_DRAWS, method="eigh")
    draws = np.zeros((PREVALENCE_DRAWS, k, width))
    draws[:, 1:, :] = flat.reshape(PREVALENCE_DRAWS, k - 1, width)
    return draws

"""Goodness of fit for discrete data, and identifiability checks.

Goodness of fit (as poLCA reports it): the expected count of a response pattern is
``N p(pattern)`` under the fitted model. Pearson's ``X^2 = sum (O - E)^2 / E`` runs over every
possible pattern, the unobserved ones contributing their expected counts
(``N - sum of E over observed patterns``); ``G^2 = 2 sum O log(O / E)`` runs over the observed
patterns (unobserved ones contribute 0). Degrees of freedom: patterns - 1 - free parameters
(poLCA uses ``min(N, patterns - 1) - free parameters``; both are shown by ``df`` and ``notes``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixfit._math import null_space_share, scaled_rank
from mixfit.em import EMState, posterior
from mixfit.errors import IdentifiabilityWarning, MixfitError, ModelError
from mixfit.families import Family
from mixfit.prepare import check_columns, fitted, fitted_marginal, fitted_source
from mixfit.sources import ArraySource, DataSource, unique_rows


@dataclass
class GoodnessOfFit:
    """Observed and expected pattern counts with Pearson's X^2 and the likelihood-ratio G^2."""

    table: pd.DataFrame
    chi2: float
    g2: float
    df: int
    p_chi2: float | None
    p_g2: float | None
    n_patterns: int
    notes: list[str] = field(default_factory=list)


def goodness_of_fit(model: Any, X: Any, sample_weight: Any = None) -> GoodnessOfFit:
    """Observed versus expected pattern counts of a fitted discrete model on data X; with
    ``sample_weight`` (frequency weights, e.g. a pattern table's counts) a row counts that often."""
    from mixfit._data import as_table
    from mixfit._validation import check_sample_weight
    from mixfit.sources import open_table

    if open_table(X) is not None:
        raise ModelError("goodness of fit needs the data in memory")
    family, _ = fitted(model)
    array, columns, is_frame = as_table(X)
    check_columns(model, columns, is_frame)
    data = family.validate(array, columns)
    if data.dtype.kind == "f" and np.isnan(data).any():
        raise ModelError("goodness of fit needs complete rows; these data have missing values")
    total = family.n_patterns(data)
    if total is None:
        raise ModelError(
            f"goodness of fit needs a discrete family with finitely many patterns; {type(family).__name__} has not"
        )
    patterns, inverse, observed = unique_rows(data)
    notes: list[str] = []
    weight = check_sample_weight(sample_weight, data.shape[0])
    if weight is not None:
        observed = np.bincount(inverse, weights=weight, minlength=observed.size)
    n = float(observed.sum())
    if getattr(model, "covariate_coef_", None) is None:
        log_p = model.score_samples(_as_user_rows(array, inverse, observed.size))
    else:  # expected counts over the training rows' own priors: the marginal fit
        marginal_family, marginal_state = fitted_marginal(model)
        log_p = posterior(marginal_family, marginal_state, marginal_family.design(patterns))[1]
        notes.append(
            "with covariates: expected counts are summed over the rows' own class probabilities (the marginal "
            "fit of the patterns; X must be the training rows)"
        )
    expected = n * np.exp(log_p)
    chi2 = float(((observed - expected) ** 2 / expected).sum() + max(n - expected.sum(), 0.0))
    seen = observed > 0  # a pattern whose rows all have weight 0 adds nothing to G^2
    log_expected = np.log(n) + log_p  # in log space: an expected count below the smallest float stays finite
    g2 = float(2 * (observed[seen] * (np.log(observed[seen]) - log_expected[seen])).sum())
    df = total - 1 - model.n_parameters()
    p_chi2 = p_g2 = None
    if total > MAX_TEST_PATTERNS:
        notes.append(
            f"{count_words(total)} possible patterns: the chi-square distribution of X^2 and G^2 cannot hold for "
            "any number of rows; no test (compare models by BIC, or mixfit.bootstrap_lrt)"
        )
    elif df > 0:
        from scipy.stats import chi2 as chi2_distribution

        p_chi2, p_g2 = float(chi2_distribution.sf(chi2, df)), float(chi2_distribution.sf(g2, df))
    else:
        notes.append(f"{df} degrees of freedom: the model has as many parameters as the table has cells; no test")
    small = (expected < 5).mean()
    if n < 5 * total or small > 0.2:
        notes.append(
            f"{count_words(total)} possible patterns for {int(n)} rows ({small:.0%} of observed patterns expect "
            "fewer than 5): "
            "expected counts are too small for the chi-square approximation; prefer a parametric bootstrap "
            "(mixfit.bootstrap_lrt) or compare models by BIC"
        )
    if min(n, total - 1) - model.n_parameters() != df:
        notes.append(
            f"poLCA's df, min(N, cells - 1) - parameters, would be {int(min(n, total - 1)) - model.n_parameters()}"
        )
    rows = family.describe_rows(patterns, model.feature_names_) if hasattr(model, "feature_names_") else {}
    table = pd.DataFrame({**rows, "observed": observed, "expected": expected})
    table["pearson_residual"] = (table["observed"] - table["expected"]) / np.sqrt(table["expected"])
    table = table.sort_values("observed", ascending=False, ignore_index=True)
    return GoodnessOfFit(table, chi2, g2, df, p_chi2, p_g2, total, notes)


#: Tables of more possible patterns get X^2 and G^2 but no chi-square test (their degrees of
#: freedom are beyond exact floating point, and no data set fills such a table).
MAX_TEST_PATTERNS = 2**53


def count_words(count: int) -> str:
    """A count of patterns as words: the number, or its power of ten when it has over 15 digits
    (2^10000 patterns of 10^4 binary columns have 3,011)."""
    digits = len(str(count))
    return str(count) if digits <= 15 else f"about 10^{digits - 1}"


def _as_user_rows(array: np.ndarray, inverse: np.ndarray, n_unique: int) -> np.ndarray:
    """One user row per distinct validated row (the first one seen)."""
    first = np.full(n_unique, -1)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return array[first]


#: ``fit`` checks local identifiability itself when design rows x free parameters stay below this.
FIT_CHECK_SIZE = 2_000_000
#: ... and at most this many free parameters (the information matrix is P x P, its SVD O(P^3)).
FIT_CHECK_PARAMS = 400


def free_count(family: Family, state: EMState) -> int:
    """The free parameters at ``state``, counted as ``n_parameters`` counts them (a covariance
    matrix's triangle once, K - 1 weights), less any held on the boundary."""
    from mixfit.inference import FreeParameters

    return int(FreeParameters(family, state).vector().size)


def local_identifiability(family: Family, state: EMState, source: DataSource) -> tuple[str | None, str | None]:
    """``(problem, note)`` of the rank check of ``check_identifiability`` at a fit's estimate,
    run when it is cheap: data in memory, at most ``FIT_CHECK_PARAMS`` free parameters and
    distinct rows x free parameters below ``FIT_CHECK_SIZE``. It never fails a fit: when it is
    skipped or cannot be computed, the note says so."""
    from mixfit.inference import has_free_entries

    if not has_free_entries(family):
        return None, "local identifiability is not checked for a constrained covariance model (no free-parameter map)"
    n_free = free_count(family, state)
    if len(state.weights) < 2 or np.any(state.weights <= 1e-9) or not isinstance(source, ArraySource):
        return None, None
    if source.fixed is not None:
        return None, None
    if n_free > FIT_CHECK_PARAMS or source.design.shape[0] * n_free > FIT_CHECK_SIZE:
        note = (
            f"local identifiability not checked after the fit ({n_free} free parameters, "
            f"{source.design.shape[0]} distinct rows); run mixfit.check_identifiability(model, X) for it"
        )
        return None, note
    try:
        return local_rank(family, state, source)[1], None
    except (MixfitError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return None, f"local identifiability could not be checked at the estimate: {exc}"


def local_rank(family: Family, state: Any, source: ArraySource) -> tuple[int, str | None]:
    """Rank of the information matrix (outer product of row scores) at ``state``, and the
    problem when it is below the number of free parameters."""
    from mixfit.inference import information

    with np.errstate(all="ignore"):  # a merged component's scores may divide by zero: rank says so
        info = information(family, state, source, "opg")
    rank = scaled_rank(info)
    if rank == info.shape[0]:
        return rank, None
    return rank, (
        f"the information matrix has rank {rank} < {info.shape[0]} free parameters: the model is not "
        "locally identified at the estimate (different parameters give the same distribution; "
        "components may have merged); try fewer components"
    )


#: A free parameter whose share in the information matrix's null space exceeds this is marked
#: as not locally identified (a direction along which the likelihood is flat moves it).
NULL_SHARE = 0.1


def unidentified_entries(model: Any, X: Any) -> dict[str, np.ndarray]:
    """Which entries of each parameter are not locally identified at the estimate: those that
    load on the null space of the information matrix (outer product of row scores, scaled to
    unit diagonal; eigenvalues below 1e-9 of the largest), as a boolean mask per parameter. Empty
    when the information has full rank or cannot be computed here (data not in memory, too many
    parameters for the post-fit check)."""
    from mixfit.inference import FreeParameters, has_free_entries, information

    family, state, source = fitted_source(model, X)
    if not has_free_entries(family):
        return {}
    n_free = free_count(family, state)
    if not isinstance(source, ArraySource) or state.coef is not None or n_free > FIT_CHECK_PARAMS:
        return {}
    try:
        with np.errstate(all="ignore"):
            info = information(family, state, source, "opg")
    except (MixfitError, ArithmeticError, np.linalg.LinAlgError):
        return {}
    flat = null_space_share(info) > NULL_SHARE
    if not flat.any():
        return {}
    free = FreeParameters(family, state)
    out, offset = {}, free.n_weights
    for name, mask in free.masks.items():
        marked = np.zeros(mask.shape, dtype=bool)
        size = int(mask.sum())
        marked[mask] = flat[offset : offset + size]
        offset += size
        out[name] = marked
    return out


@dataclass
class IdentifiabilityReport:
    """Whether a fitted model is identified, and why not."""

    identified: bool
    problems: list[str]
    n_free_params: int
    n_free_frequencies: int | None
    information_rank: int | None


def check_identifiability(model: Any, X: Any, warn: bool = True) -> IdentifiabilityReport:
    """Three checks: the family's rules (e.g. one Bernoulli column, binomial trials < 2K - 1);
    the degrees-of-freedom count of latent class models (free parameters must not exceed the
    number of possible patterns minus one); and local identifiability at the estimate (the
    information matrix of the free parameters must have full rank). Warns when one fails."""
    family, state, source = fitted_source(model, X)
    if not isinstance(source, ArraySource):
        raise ModelError("the identifiability check needs the data in memory")
    from mixfit._data import as_table

    array, columns, _ = as_table(X)
    data = family.validate(array, columns)
    k = len(state.weights)
    problems = []
    rule = family.identifiability_problem(k, data)
    if rule is not None:
        problems.append(rule)
    n_free = model.n_parameters()
    total = family.n_patterns(data)
    frequencies = None if total is None else total - 1
    if frequencies is not None and n_free > frequencies and rule is None:
        problems.append(f"{n_free} free parameters but only {frequencies} free pattern frequencies: not identifiable")
    rank = None
    if np.all(state.weights > 1e-9):
        rank, problem = local_rank(family, state, source)
        if problem is not None:
            problems.append(problem)
    else:
        problems.append("a component has weight 0: the fit uses fewer components than asked for")
    if problems and warn:
        warnings.warn("; ".join(problems), IdentifiabilityWarning, stacklevel=2)
    return IdentifiabilityReport(not problems, problems, n_free, frequencies, rank)


@dataclass
class ClassificationQuality:
    """How clearly a fitted model classifies rows, as Mplus and Latent GOLD report it.

    entropy_r2 : float
        ``1 - EN / (n log K)`` with ``EN = -sum_n sum_k r_nk log r_nk`` (1: every row certain;
        1 for K = 1), as in ``mixfit.select``'s table.
    sizes : DataFrame
        Per class: the posterior size (sum of responsibilities) and share, and the modal size
        (rows whose most likely class it is) and share.
    average_posterior : Series
        Per class k: the mean responsibility of k among the rows modally assigned to k (AvePP;
        above about 0.7-0.8 is usually read as a clear classification). NaN for an empty class.
    table : DataFrame
        Rows: the modal class; columns: the mean responsibility of each class among those rows
        (Mplus's "average latent class probabilities for most likely latent class membership";
        its diagonal is ``average_posterior``).
    """

    entropy_r2: float
    sizes: pd.DataFrame
    average_posterior: pd.Series
    table: pd.DataFrame


def classification_quality(
    model: Any, X: Any, sample_weight: Any = None, covariates: Any = None
) -> ClassificationQuality:
    """The ``ClassificationQuality`` of a fitted model on X (frequency weights: each row counts
    that often; ``covariates``: the rows' covariates, for a model fitted with them)."""
    from mixfit._validation import check_sample_weight

    resp = model.predict_proba(X, covariates=covariates)
    n_rows, k = resp.shape
    weight = check_sample_weight(sample_weight, n_rows)
    weight = np.ones(n_rows) if weight is None else weight
    n = float(weight.sum())
    entropy = float(-(weight @ np.where(resp > 0, resp * np.log(np.where(resp > 0, resp, 1.0)), 0.0)).sum())
    labels = [f"c_{j + 1}" for j in range(k)]
    modal = resp.argmax(axis=1)
    modal_size = np.bincount(modal, weights=weight, minlength=k)
    posterior_size = weight @ resp
    sizes = pd.DataFrame(
        {
            "posterior size": posterior_size,
            "posterior share": posterior_size / n,
            "modal size": modal_size,
            "modal share": modal_size / n,
        },
        index=labels,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        table = np.stack([(weight[modal == j] @ resp[modal == j]) / modal_size[j] for j in range(k)])
    frame = pd.DataFrame(table, index=[f"modal {label}" for label in labels], columns=labels)
    average = pd.Series(np.diag(table), index=labels, name="average posterior probability")
    return ClassificationQuality(1.0 if k == 1 else 1.0 - entropy / (n * np.log(k)), sizes, average, frame)


#: Bivariate residuals are computed for at most this many pairs of items (each is a two-way table
#: over the rows, about 50 us for 1,000 rows): 200 items make 19,900 pairs, 1,000 items 499,500.
MAX_BVR_PAIRS = 20_000


def bivariate_residuals(model: Any, X: Any, sample_weight: Any = None, covariates: Any = None) -> pd.DataFrame:
    """Latent GOLD's bivariate residuals of a latent class model of binary or categorical items:
    for every pair of items, Pearson's X^2 of their observed two-way table against the
    frequencies the fitted model expects, divided by its degrees of freedom (L_a - 1)(L_b - 1).
    Local independence makes each about 1 or less; a large one (above about 3.84) says that the
    two items share more than the classes explain.

    The expected frequency of levels (i, j) is ``sum_n w_n sum_k pi_nk p_ka(i) p_kb(j)`` over the
    rows observing both items (a row missing either is left out of that pair's table), with
    ``pi_nk`` the class weights, or with ``covariates`` each row's own class probabilities.
    One row per pair: ``item_a``, ``item_b``, ``bvr``, ``df``, ``chi2`` and ``n`` (the rows, or
    weights, in the pair's table), largest ``bvr`` first."""
    from mixfit._data import as_table
    from mixfit._validation import check_sample_weight
    from mixfit.concomitant import log_prior
    from mixfit.prepare import evaluation_covariates

    family, state = fitted(model)
    array, columns, is_frame = as_table(X)
    check_columns(model, columns, is_frame)
    data = np.asarray(family.validate(array, columns), dtype=float)
    levels = family.item_levels(state.params)
    if levels is None:
        raise ModelError(
            f"bivariate residuals need items of a few levels (Bernoulli, Categorical); {type(family).__name__} has not"
        )
    n_items = len(levels)
    if n_items * (n_items - 1) // 2 > MAX_BVR_PAIRS:
        raise ModelError(
            f"bivariate residuals not computed: {n_items} items make {n_items * (n_items - 1) // 2} pairs, more "
            f"than the {MAX_BVR_PAIRS} computed here; pass fewer columns"
        )
    weight = check_sample_weight(sample_weight, data.shape[0])
    weight = np.ones(data.shape[0]) if weight is None else weight
    design = evaluation_covariates(model, covariates, data.shape[0])
    prior = np.broadcast_to(state.weights, (data.shape[0], len(state.weights)))
    if design is not None:
        prior = np.exp(log_prior(np.asarray(model.covariate_coef_, dtype=float), design)).T
    names = getattr(model, "feature_names_", None) or family.feature_names(columns)
    observed = ~np.isnan(data)
    rows = []
    for a in range(n_items):
        for b in range(a + 1, n_items):
            both = observed[:, a] & observed[:, b]
            pa, pb = levels[a], levels[b]
            la, lb = pa.shape[1], pb.shape[1]
            codes = data[both, a].astype(int) * lb + data[both, b].astype(int)
            counts = np.bincount(codes, weights=weight[both], minlength=la * lb).reshape(la, lb)
            share = weight[both] @ prior[both]  # each class's weight among the rows observing both
            expected = np.einsum("k,ki,kj->ij", share, pa, pb)
            cells = expected > 0
            chi2 = float((((counts - expected) ** 2)[cells] / expected[cells]).sum())
            df = (la - 1) * (lb - 1)
            rows.append((names[a], names[b], chi2 / df if df else np.nan, df, chi2, float(weight[both].sum())))
    table = pd.DataFrame(rows, columns=["item_a", "item_b", "bvr", "df", "chi2", "n"])
    return table.sort_values("bvr", ascending=False, ignore_index=True)


def bivariate_residuals_or_reason(
    model: Any, X: Any, sample_weight: Any = None, covariates: Any = None
) -> tuple[pd.DataFrame, str]:
    """``(bivariate_residuals(...), "")`` where they apply; an empty table for a family without
    items of a few levels, and with the reason for more items than are computed (what a report,
    a figure and the command line show in their place)."""
    try:
        return bivariate_residuals(model, X, sample_weight, covariates), ""
    except MixfitError as exc:
        empty = pd.DataFrame(columns=["item_a", "item_b", "bvr", "df", "chi2", "n"])
        return empty, str(exc) if str(exc).startswith("bivariate residuals not computed") else ""

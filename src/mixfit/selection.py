"""Model selection over the number of components K (and, for a Gaussian whose covariance was
not given, over mclust's 14 covariance models as ``Mclust(X)`` does): information criteria and
classification quality, one row per model and K, and the chosen model.

Every criterion is "lower is better" (as scikit-learn's ``bic``/``aic``), with ``L`` the
maximised log-likelihood, ``p`` the number of free parameters (weights included), ``n`` the
number of rows (sum of sample weights) and ``EN = -sum_n sum_k r_nk log r_nk`` the entropy of
the responsibilities:

=========  ============================================  ==========================
criterion  formula                                       reference
=========  ============================================  ==========================
aic        ``-2 L + 2 p``                                Akaike (1974)
bic        ``-2 L + p log n``                            Schwarz (1978)
sabic      ``-2 L + p log((n + 2) / 24)``                Sclove (1987)
caic       ``-2 L + p (log n + 1)``                      Bozdogan (1987)
icl        ``bic + 2 EN``                                Biernacki et al. (2000), ICL-BIC
=========  ============================================  ==========================

``entropy_r2 = 1 - EN / (n log K)`` (1 for K = 1) measures how clearly rows are classified (1:
every row certain); it is reported, not minimised. With a prior, ``L`` is still the
log-likelihood.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import xlogy

from mixfit import restarts
from mixfit._validation import check_int, check_option
from mixfit.em import draw
from mixfit.errors import DataError, MixfitError, ModelError, RangeWarning, fit_result_warnings_silenced
from mixfit.families import Family, as_family
from mixfit.model import Mixture
from mixfit.parallel import map_jobs
from mixfit.prepare import fitted

CRITERIA = ("aic", "bic", "sabic", "caic", "icl")
COLUMNS = (
    "n_components",
    "log_likelihood",
    "n_parameters",
    "aic",
    "bic",
    "sabic",
    "caic",
    "icl",
    "icl_mclust",
    "entropy_r2",
    "smallest_share",
    "max_bvr",
    "converged",
    "n_iter",
    "best_restart",
    "replication",
    "status",
)


#: At most this many values of K in one ``select`` (each is a whole fit).
MAX_K_VALUES = 1000
#: In a search over several models x K, the cells whose criterion lies within this of the best
#: after one start each get all ``n_init`` starts (a difference of 10 in BIC is "very strong"
#: evidence: Kass and Raftery, 1995); the others keep their one start.
CONTENDER_MARGIN = 10.0


@dataclass
class Selection:
    """What ``select`` found: one row per K (per model and K when it compared several models,
    e.g. a Gaussian's covariance models) in ``table``, the chosen model in ``best_model``, and
    every fitted model in ``models``, keyed as the table's rows: by K, or by "VEV,2" (model, K)
    as mclust names them."""

    table: pd.DataFrame
    criterion: str
    best_model: Mixture
    models: dict[Any, Mixture] = field(repr=False)
    #: The table's columns that name a model when several were compared (``["covariance"]``).
    labels: list[str] = field(default_factory=list)

    @property
    def best_n_components(self) -> int:
        return len(self.best_model.weights_)

    @property
    def chosen(self) -> Any:
        """The chosen row's label in ``table`` (K, or "VEV,2")."""
        return next(key for key, model in self.models.items() if model is self.best_model)

    def wide(self, criterion: str | None = None) -> pd.DataFrame:
        """One criterion (the chosen one by default) as a table of K (rows) by model (columns),
        as mclust's ``mclustBIC`` prints it (mixfit's orientation: lower is better)."""
        name = check_option("criterion", criterion or self.criterion, CRITERIA)
        if not self.labels:
            return self.table.set_index("n_components")[[name]]
        order = list(dict.fromkeys(self.table[self.labels[0]]))
        wide = self.table.pivot(index="n_components", columns=self.labels[0], values=name)
        return wide[order].rename_axis(index="K", columns=None).astype(float)

    def runners_up(self, n: int = 3) -> pd.DataFrame:
        """The ``n`` best rows by the criterion, the chosen one first, with their distance from it."""
        value = self.table[self.criterion].astype(float)
        top = self.table.loc[value.sort_values(kind="stable").index[:n], [*self.labels, "n_components", self.criterion]]
        return top.assign(behind=top[self.criterion] - value.min())

    def headline(self) -> str:
        """ "BIC chooses VEV, K = 2 (runners-up: VEV,3 +0.82; VVV,2 +12.29)", or "BIC chooses K = 2"."""
        chooses = f"{self.criterion.upper()} chooses"
        if not self.labels:
            return f"{chooses} K = {self.best_n_components}"
        model = ", ".join(str(self.table.loc[self.chosen, label]) for label in self.labels)
        others = self.runners_up(3).iloc[1:]
        shown = "; ".join(
            ",".join([*(str(row[label]) for label in self.labels), str(row["n_components"])]) + f" +{row['behind']:.2f}"
            for _, row in others.iterrows()
        )
        return f"{chooses} {model}, K = {self.best_n_components}" + (f" (runners-up: {shown})" if shown else "")

    def _repr_html_(self) -> str:
        """Jupyter's view: the criteria per K (per model and K: the wide table of the chosen
        criterion), the chosen row marked, then the chosen model."""
        import html

        head = f"<p><strong>mixfit select</strong>: {html.escape(self.headline())}</p>"
        if self.labels:
            table = self.wide().to_html(float_format=lambda v: f"{v:.3f}", escape=True, border=0, na_rep="")
        else:
            shown = self.table.drop(columns=["status"]).assign(
                chosen=["<-" if k == self.best_n_components else "" for k in self.table["n_components"]]
            )
            table = shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", escape=True, border=0)
        return head + table + self.best_model._repr_html_()


def criteria(model: Mixture, X: Any, sample_weight: Any = None, covariates: Any = None) -> dict[str, float]:
    """Every criterion of ``model`` (fitted on X) on X, and its entropy R^2; with
    ``sample_weight`` (frequency weights) n is their sum and every row counts that often; a
    model with covariates on class membership needs the rows' ``covariates``."""
    resp = model.predict_proba(X, covariates=covariates)
    weight = np.ones(resp.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    n = float(weight.sum())
    ll = float(model.score(X, sample_weight=sample_weight, covariates=covariates) * n)
    p = model.n_parameters()
    entropy = float(-(weight @ xlogy(resp, resp)).sum())
    k = resp.shape[1]
    bic = -2 * ll + p * np.log(n)
    return {
        "log_likelihood": ll,
        "n_parameters": p,
        "aic": -2 * ll + 2 * p,
        "bic": bic,
        "sabic": -2 * ll + p * np.log((n + 2) / 24),
        "caic": -2 * ll + p * (np.log(n) + 1),
        "icl": bic + 2 * entropy,
        # mclust's ICL, in mixfit's orientation: the classification likelihood of the most
        # likely classes only, BIC - 2 sum_n log max_k z_nk (mixfit's uses the whole entropy)
        "icl_mclust": bic - 2 * float(weight @ np.log(resp.max(axis=1))),
        "entropy_r2": 1.0 if k == 1 else 1.0 - entropy / (n * np.log(k)),
        "smallest_share": float((weight @ resp).min() / n),
        "max_bvr": _largest_bivariate_residual(model, X, sample_weight, covariates),
    }


def _largest_bivariate_residual(model: Mixture, X: Any, sample_weight: Any, covariates: Any) -> float:
    """The largest bivariate residual of a model of binary or categorical items (NaN for other
    families, or one item): local independence tested pair by pair, as Latent GOLD tabulates it."""
    from mixfit.diagnostics import bivariate_residuals_or_reason

    table = bivariate_residuals_or_reason(model, X, sample_weight, covariates)[0]
    return float(table["bvr"].max()) if len(table) else float("nan")


def _fit_one(
    X: Any, family: Family | str, k: int, options: dict[str, Any], sample_weight: Any = None, covariates: Any = None
) -> tuple[Mixture | None, dict[str, Any]]:
    """The model and table row of one K; a K that cannot be fitted is a row saying why."""
    try:
        with fit_result_warnings_silenced():  # reported in the table instead of once per K
            model = Mixture(family, k, **options).fit(X, sample_weight=sample_weight, covariates=covariates)
    except MixfitError as exc:
        if isinstance(exc, DataError):
            raise  # bad data fail every K alike: say it once
        return None, {"n_components": k, "converged": False, "status": f"not fitted: {exc}"}
    row: dict[str, Any] = {
        "n_components": k,
        **criteria(model, X, sample_weight, covariates),
        "converged": bool(model.converged_),
    }
    row["n_iter"], row["best_restart"] = int(model.n_iter_), int(model.best_restart_)
    reached, finished = restarts.replication(model.restarts_["status"])
    row["replication"], row["status"] = f"{reached}/{finished}", "ok"
    return model, row


def select(
    X: Any,
    family: Family | str,
    n_components: Iterable[int] = range(1, 7),
    *,
    criterion: str = "bic",
    n_init: int = 20,
    random_state: Any = None,
    n_jobs: int | None = None,
    sample_weight: Any = None,
    covariates: Any = None,
    **options: Any,
) -> Selection:
    """Fit ``family`` mixtures for every K in ``n_components`` (``n_init`` restarts each) and
    choose the K with the lowest ``criterion``.

    Every K gets a row: a K that cannot be fitted (every start failed, e.g. singular
    covariances) has NaN criteria and its reason in ``status``; ``replication`` says how many of
    the starts run to convergence reached the best maximum. ``sample_weight`` holds frequency
    weights (a pattern table), used by every fit and criterion. ``covariates`` make class
    membership depend on them in every fit (latent class regression, ``Mixture.fit``); for K = 1
    they have nothing to predict and are left out (that row is the plain one-class model).

    A ``Gaussian()`` whose covariance was not given searches mclust's 14 covariance models x K
    (``Family.variants``), as ``Mclust(X)`` does: every (model, K) first gets one start (the
    model-based hierarchical one, mclust's), then the cells whose criterion lies within
    ``CONTENDER_MARGIN`` (10) of the best get all ``n_init`` starts; the others keep the one
    start and their ``status`` says so.

    Each K is fitted with the same ``random_state``, so the table does not depend on ``n_jobs``
    (the Ks run on joblib worker processes when ``n_jobs`` is not None/1). Further keywords
    (``max_iter``, ``tol``, ``accelerate``, ``weights_prior``...) go to every ``Mixture``.

    Examples
    --------
    >>> import numpy as np, mixfit as mf
    >>> rng = np.random.default_rng(0)
    >>> z = rng.random(600) < 0.5
    >>> X = (rng.random((600, 6)) < np.where(z[:, None], 0.85, 0.15)).astype(int)
    >>> result = mf.select(X, mf.Bernoulli(), range(1, 4), n_init=3, random_state=0)
    >>> result.best_n_components, result.chosen
    (2, 2)
    """
    check_option("criterion", criterion, CRITERIA)
    listed = list(islice(n_components, MAX_K_VALUES + 1))  # never materialise a huge range
    if len(listed) > MAX_K_VALUES:
        raise ModelError(f"n_components may list at most {MAX_K_VALUES} values of K")
    if not listed or not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 1 for k in listed):
        raise ModelError(f"n_components must be ints >= 1; got {listed}")
    ks = sorted({int(k) for k in listed})
    settings = {"n_init": n_init, "random_state": random_state, **options}
    variants = as_family(family).variants(_n_columns(X))
    cells = [(labels, k) for labels, _ in variants for k in ks]
    jobs = [
        (X, variant, k, settings, sample_weight, None if k == 1 else covariates) for _, variant in variants for k in ks
    ]
    if len(variants) > 1 and isinstance(n_init, int) and n_init > 1:
        results = _search_contenders(jobs, criterion, n_jobs)
    else:
        results = map_jobs(_fit_one, jobs, n_jobs)
    label_columns = list(variants[0][0])
    keys = [k if len(variants) == 1 else ",".join([*labels.values(), str(k)]) for labels, k in cells]
    rows = [{**labels, **row} for (labels, _), (_, row) in zip(cells, results, strict=True)]
    table = pd.DataFrame(rows, columns=[*label_columns, *COLUMNS], index=keys)
    models = {key: model for key, (model, _) in zip(keys, results, strict=True) if model is not None}
    if not models:
        raise ModelError(f"no K could be fitted; K = {ks[0]}: {table['status'].iloc[0]}")
    best = table[criterion].astype(float).idxmin()
    same_model = table.loc[[key for key in models], label_columns].eq(table.loc[best, label_columns]).all(axis=1)
    warn_at_the_edge(
        len(models[best].weights_),
        [int(table.loc[key, "n_components"]) for key in same_model.index[same_model]],
        criterion,
    )
    return Selection(table, criterion, models[best], models, label_columns)


def _search_contenders(jobs: list[tuple[Any, ...]], criterion: str, n_jobs: int | None) -> list[Any]:
    """Several models x K: one start per cell (the first start: the hierarchical one for a
    Gaussian, as ``Mclust`` takes), then every start (``n_init``) for the cells within
    ``CONTENDER_MARGIN`` of the best criterion, which alone could change the choice; a cell
    further behind keeps its one start, and its ``status`` says so."""
    single = [(X, family, k, {**settings, "n_init": 1}, *rest) for X, family, k, settings, *rest in jobs]
    results = map_jobs(_fit_one, single, n_jobs)
    values = np.array([row.get(criterion, np.nan) for _, row in results], dtype=float)
    if not np.isfinite(values).any():
        return results
    contenders = [i for i, value in enumerate(values) if value <= np.nanmin(values) + CONTENDER_MARGIN]
    searched = map_jobs(_fit_one, [jobs[i] for i in contenders], n_jobs)
    for i, again in zip(contenders, searched, strict=True):
        before = results[i][1].get("log_likelihood", -np.inf)
        if again[0] is not None and again[1]["log_likelihood"] >= before:
            results[i] = again
    for i, (model, row) in enumerate(results):
        if model is not None and i not in contenders:
            row["status"] = f"ok; one start ({criterion} more than {CONTENDER_MARGIN:g} behind the best)"
    return results


def _n_columns(X: Any) -> int:
    """The columns of data X (1 for a vector): what a family's variants depend on (0: not known
    here, e.g. a data source, whose fits read it)."""
    from mixfit._data import as_table

    try:
        return int(np.shape(as_table(X)[0])[1]) if np.ndim(X) != 1 else 1
    except (MixfitError, TypeError, ValueError, IndexError):
        return 0


def warn_at_the_edge(best_k: int, fitted: list[int], criterion: str) -> None:
    """``RangeWarning`` when the chosen K is the largest searched (more components may do better)
    or the smallest above 1 (fewer may): the search should go on past it."""
    if len(fitted) < 2:
        return
    if best_k == max(fitted):
        side = "largest"
        advice = f"search larger K (n_components up to {2 * best_k}, say)"
    elif best_k == min(fitted) and best_k > 1:
        side, advice = "smallest", "search smaller K, from 1"
    else:
        return
    warnings.warn(
        f"{criterion} is lowest at K = {best_k}, the {side} K searched: the best K may lie outside the range; {advice}",
        RangeWarning,
        stacklevel=3,
    )


@dataclass
class LikelihoodRatioTest:
    """Bootstrap likelihood-ratio test of K components against K + 1."""

    n_components: int
    statistic: float
    p_value: float
    replicates: np.ndarray
    null_model: Mixture
    alternative_model: Mixture


def _lr(X: Any, family: Family | str, k: int, options: dict[str, Any]) -> tuple[float, Mixture, Mixture]:
    with fit_result_warnings_silenced():
        null = Mixture(family, k, **options).fit(X)
        alternative = Mixture(family, k + 1, **options).fit(X)
    return 2.0 * (alternative.log_likelihood_ - null.log_likelihood_), null, alternative


def _replicate(
    null: Mixture, n_rows: int, columns: list[str] | None, family: Any, k: int, options: dict[str, Any], seed: Any
) -> float:
    rng = np.random.default_rng(seed)
    fitted_family, state = fitted(null)
    sample = np.asarray(draw(fitted_family, state, n_rows, rng)[0]).reshape(n_rows, -1)
    data = pd.DataFrame(sample, columns=columns) if columns is not None else sample
    return _lr(data, family, k, {**options, "random_state": int(rng.integers(2**31 - 1))})[0]


def bootstrap_lrt(
    X: Any,
    family: Family | str,
    n_components: int,
    *,
    n_boot: int = 99,
    n_init: int = 5,
    random_state: Any = None,
    n_jobs: int | None = None,
    **options: Any,
) -> LikelihoodRatioTest:
    """Parametric bootstrap likelihood-ratio test of ``n_components`` against one more (McLachlan,
    1987; the BLRT of latent class software). The statistic ``2 (L_{K+1} - L_K)`` has no
    chi-square distribution here (the null lies on the boundary), so it is compared with its
    distribution over ``n_boot`` data sets drawn from the fitted K-component model, each refitted
    with K and K + 1 components (``n_init`` restarts each). ``p = (1 + #{LR_b >= LR}) / (n_boot + 1)``.
    Replicate b uses the b-th child of ``SeedSequence(random_state)``, so ``n_jobs`` does not
    change the answer.
    """
    from mixfit._data import as_table

    k = check_int("n_components", n_components, 1)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ModelError(f"n_boot must be an int >= 1; got {n_boot!r}")
    settings = {"n_init": n_init, "random_state": random_state, **options}
    statistic, null, alternative = _lr(X, family, k, settings)
    array, columns, is_frame = as_table(X)
    seeds = np.random.SeedSequence(random_state if isinstance(random_state, int) else None).spawn(n_boot)
    names = columns if is_frame else None
    jobs = [(null, array.shape[0], names, family, k, settings, seed) for seed in seeds]
    values = map_jobs(_replicate, jobs, n_jobs)
    replicates = np.asarray(values)
    p_value = float((1 + np.sum(replicates >= statistic - 1e-9 * abs(statistic))) / (n_boot + 1))
    return LikelihoodRatioTest(k, float(statistic), p_value, replicates, null, alternative)

"""The estimator: validation at the boundary, restarts, fit/predict/score/sample/explain."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from mixfit import restarts
from mixfit._data import as_table
from mixfit._math import FloatArray, normalize_log_joint
from mixfit._validation import check_int, check_option, check_sample_weight, check_weights
from mixfit.accel import ACCELERATIONS, fit_squarem
from mixfit.em import EMState, FitResult, fit_em, log_weights, m_step, run_e_step, warn_if_emptied
from mixfit.errors import (
    ConvergenceWarning,
    DataError,
    EmptyComponentWarning,
    IdentifiabilityWarning,
    MixfitError,
    ModelError,
    ReplicationWarning,
)
from mixfit.families import Family, get_family
from mixfit.init import INIT_METHODS, initial_state, start_method
from mixfit.labels import order_of, permute
from mixfit.online import DEFAULT_DECAY, step_size, stepwise_average
from mixfit.priors import check_dirichlet
from mixfit.sources import SAMPLE_ROWS, ArraySource, DataSource, as_source, open_table, table_source, unique_rows

#: Above this many rows, "K larger than the number of distinct rows" is not checked up front.
DISTINCT_CHECK_ROWS = 200_000
#: Starts are screened on a sample of this many rows when the data hold more distinct rows.
SCREEN_ROWS = 20_000
#: Starts run to convergence after the screening, for data that small (else 1).
DEFAULT_CONVERGE = 4


@dataclass(frozen=True)
class TrainingData:
    """Training data as a fit sees it.

    ``rows`` are every validated row when X is in memory (and ``init_source`` is ``source``);
    for a table read pass by pass (``FileTable``, Dask) they are up to ``SAMPLE_ROWS`` rows
    spread over the table, and ``init_source`` holds them for the initialisation.
    """

    family: Family
    columns: list[str]
    is_frame: bool
    rows: FloatArray
    source: DataSource
    init_source: ArraySource
    #: the user's frequency weights of ``rows`` (None: every row counts once)
    row_weight: FloatArray | None = None


def known_responsibilities(known_labels: Any, n_rows: int, n_components: int) -> FloatArray:
    """``known_labels`` of ``fit`` as (n, K) fixed responsibilities with NaN rows where unknown."""
    try:
        values = np.asarray(known_labels, dtype=float)
    except (TypeError, ValueError):
        raise DataError("known_labels must hold component numbers (-1: unknown) or rows of probabilities") from None
    if values.ndim == 1:
        if values.shape != (n_rows,):
            raise DataError(f"known_labels must have one entry per row ({n_rows}); got shape {values.shape}")
        bad = (values != -1) & ~((values >= 0) & (values < n_components) & (values == np.floor(values)))
        if bad.any():
            raise DataError(
                f"known_labels must hold component numbers 0..{n_components - 1} or -1 (unknown); "
                f"got {values[bad][0]:g}"
            )
        fixed = np.full((n_rows, n_components), np.nan)
        known = values >= 0
        fixed[known] = np.eye(n_components)[values[known].astype(int)]
        return fixed
    if values.shape != (n_rows, n_components):
        raise DataError(f"known_labels as probabilities must have shape ({n_rows}, {n_components}); got {values.shape}")
    rows = ~np.isnan(values).all(axis=1)
    given = values[rows]
    if np.isnan(given).any() or np.any(given < 0) or np.any(np.abs(given.sum(axis=1) - 1) > 1e-6):
        raise DataError("known_labels rows must be probabilities (>= 0, summing to 1) or all NaN (unknown)")
    return values


def _screens_whole(train: TrainingData) -> bool:
    """Whether the starts are screened on all the training data: every row is in memory for the
    start (``init_source``; streamed data of up to ``SAMPLE_ROWS`` rows included) and they hold at
    most ``SCREEN_ROWS`` distinct rows. The kept starts then continue their screening iterations
    on the training source, so in-memory, streamed and Dask fits stay the same fit."""
    return train.rows.shape[0] == train.source.n_rows and train.init_source.design.shape[0] <= SCREEN_ROWS


def _run_start(fit_loop: Any, family: Family, source: DataSource, state: EMState, options: dict) -> FitResult | str:
    """One start run to convergence in a worker: the result, or the reason it failed."""
    try:
        return fit_loop(family, source, state, **options)
    except ModelError as exc:
        return str(exc)


class Mixture(BaseEstimator):
    """A finite mixture of ``n_components`` members of one family, fitted by EM.

    Parameters
    ----------
    family : Family or str
        The component distribution, e.g. ``Bernoulli()``, ``Binomial(n_trials=10)``,
        ``Categorical()`` or a registered name such as ``"bernoulli"``.
    n_components : int, default=1
        Number of components K.
    init : {"auto", "k-means++", "random-rows", "random", "hard-k-means++"}, default="auto"
        How starts are drawn when ``params_init`` is not given (see ``mixfit.init``):
        k-means++ assignments blended with uniform responsibilities; each component from a few
        random rows (diverse, as poLCA's random probabilities are); random responsibilities;
        bare k-means++ assignments. ``"auto"`` alternates k-means++ (starts 0, 2, ...) and
        random-rows (1, 3, ...), which ``benchmarks/bench_starts.py`` found the most reliable
        mix across families.
    weights_init : array-like of shape (K,), optional
        Starting mixture weights (must sum to 1).
    params_init : dict, optional
        Starting component parameters, leading axis K (e.g. ``{"p": [[0.4], [0.5]]}``).
    n_init : int, default=20
        Starts drawn by ``init``; the one with the highest log-likelihood is kept. When there
        are more than ``n_converge``, each first runs ``screen_iter`` iterations and only the
        ``n_converge`` best go on to convergence (``restarts_`` records every start).
    n_converge : int, optional
        Starts run to convergence after the screening (Mplus's ``STARTS = 20 4``); their
        agreement is the replication check (``replication_``, ``ReplicationWarning``). By
        default 4 when the data are in memory with at most ``SCREEN_ROWS`` distinct rows, else
        1, so that a fit of big data costs about one start plus a screening on a sample.
    screen_iter : int, default=30
        EM iterations of every start in the screening stage (on a sample of ``SCREEN_ROWS``
        rows when the data hold more distinct rows).
    max_iter : int, default=1000
        EM iterations (M-steps) at most; ``max_iter=1`` is exactly one EM update.
    tol : float, default=1e-8
        Stop when the mean log-likelihood per row improves by at most ``tol``.
    random_state : int, RandomState or None
        Makes initialisation, restarts and ``sample`` reproducible.
    verbose : int, default=0
        Print the log-likelihood of every iteration to stdout when > 0.
    compress : {"auto", True, False}, default="auto"
        Merge identical rows into distinct rows with counts (exact; see ``sources.as_source``).
    checkpoint : path, optional
        Write the fit's state to this file (atomically) every ``checkpoint_every`` iterations;
        ``fit(X, resume=True)`` continues from it and ends exactly where an uninterrupted fit
        ends. The file is removed when the fit finishes.
    checkpoint_every : int, default=10
    accelerate : {None, "squarem"}, default=None
        ``"squarem"`` extrapolates over pairs of EM steps (``mixfit.accel``): the same maximum
        from the same start in fewer E-step passes, never a lower log-likelihood on the way.
        ``n_iter_`` then counts SQUAREM iterations; ``history_["e_steps"]`` counts passes.
    dtype : {np.float64, np.float32}, default=np.float64
        Precision of the E-step's products and log-sum-exp. ``np.float32`` halves the memory
        traffic and doubles the arithmetic rate; statistics and log-likelihoods are still added
        in float64, but each row's log-likelihood carries float32 round-off (~1e-7 relative),
        so ``tol`` below about 1e-6 may not be reachable and the monotonicity check allows
        float32 round-off. Binary and one-hot data are kept in memory as ``uint8`` either way.
    n_jobs : int, optional
        Run the ``n_init`` restarts on this many joblib worker processes (-1: all cores). The
        starts are drawn in the same order as sequential restarts, so the result is the one of
        ``n_jobs=None`` up to round-off (workers run BLAS single-threaded, which adds in another
        order). Data in memory only, and not with ``checkpoint``. It pays when restarts are many
        and cores outnumber what one restart's E-step uses; on 2 cores it does not (see
        ``benchmarks/bench_restarts.py``).
    weights_prior : float, optional
        Concentration (>= 1) of a symmetric Dirichlet prior on the weights: MAP EM, which keeps
        weights away from 0 (component priors are the family's ``prior=``/``reg_covar=``). With
        any prior, EM maximises the log posterior: ``log_posterior_`` and the convergence test
        use it, and it never decreases; ``log_likelihood_`` stays the log-likelihood.
    order : {None, "weight"} or str, optional
        Canonical component order after the fit: ``"weight"`` (largest weight first) or a
        parameter entry, ``"p"``/``"mean"``/``"rate"`` (first column) or ``"p[3]"`` (column 3),
        in increasing order. ``None`` keeps the order of the initialisation.
    online_decay : float, default=0.6
        ``partial_fit``'s step sizes are ``(t + 1) ** -online_decay`` for update t; must be in
        (0.5, 1] (see ``mixfit.online``).

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
    params_ : dict of ndarray, leading axis K
    log_likelihood_ : float
        Observed-data log-likelihood of the training data, all constants included.
    n_iter_ : int
    converged_ : bool
    history_ : DataFrame
        Row i: the parameters entering iteration i (row 0: the start) with log_likelihood,
        expected_complete_ll (Q), entropy, elbo and kl, and the same after the M-step.

    Examples
    --------
    >>> import mixfit as mf
    >>> x = [1, 2, 1, 0, 2, 9, 8, 9, 10, 9, 8, 9]  # heads in 10 flips of one of two coins
    >>> m = mf.Mixture(mf.Binomial(n_trials=10), n_components=2,
    ...                weights_init=[0.5, 0.5], params_init={"p": [0.3, 0.7]}).fit(x)
    >>> m.weights_.round(3).tolist(), m.params_["p"][:, 0].round(3).tolist(), m.predict([0, 10]).tolist()
    ([0.417, 0.583], [0.12, 0.886], [0, 1])
    """

    def __init__(
        self,
        family: Family | str,
        n_components: int = 1,
        *,
        init: str = "auto",
        weights_init: Any = None,
        params_init: Any = None,
        n_init: int = 20,
        n_converge: int | None = None,
        screen_iter: int = 30,
        max_iter: int = 1000,
        tol: float = 1e-8,
        random_state: Any = None,
        verbose: int = 0,
        compress: bool | str = "auto",
        checkpoint: Any = None,
        checkpoint_every: int = 10,
        online_decay: float = DEFAULT_DECAY,
        accelerate: str | None = None,
        dtype: Any = np.float64,
        n_jobs: int | None = None,
        weights_prior: float | None = None,
        order: str | None = None,
    ) -> None:
        self.family = family
        self.n_components = n_components
        self.init = init
        self.weights_init = weights_init
        self.params_init = params_init
        self.n_init = n_init
        self.n_converge = n_converge
        self.screen_iter = screen_iter
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.compress = compress
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.online_decay = online_decay
        self.accelerate = accelerate
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.weights_prior = weights_prior
        self.order = order

    # ----------------------------------------------------------------- fitting
    def fit(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        known_labels: Any = None,
        on_iteration: Any = None,
        resume: bool = False,
    ) -> Mixture:
        """Fit by EM from ``n_init`` starts; keep the one with the highest log-likelihood.

        ``y`` is ignored, as by every unsupervised scikit-learn estimator (pipelines and
        cross-validation pass it). ``sample_weight`` holds frequency weights, one per row.

        ``known_labels`` makes the fit semi-supervised: an int array of shape (n,) with the known
        component of a row, or -1 where unknown; or an array of shape (n, K) whose rows are a
        known distribution over components (NaN rows: unknown). Known rows keep those
        responsibilities at every E-step (they enter the likelihood as complete data); the
        others are inferred.

        ``on_iteration(restart, iteration, log_likelihood)``, when given, is called after every
        iteration (progress bars live in the caller, not here).
        """
        self._check_settings()
        train = self._training_data(X, sample_weight, known_labels)
        self._check_enough_rows(train)
        problem = train.family.identifiability_problem(self.n_components, train.rows)
        if problem is not None:
            warnings.warn(problem, IdentifiabilityWarning, stacklevel=2)
        n_features = len(train.family.feature_names(train.columns))
        n_free = train.family.n_free_params(self.n_components, n_features) + self.n_components - 1
        if train.source.n_rows < n_free:
            warnings.warn(
                f"fewer rows ({train.source.n_rows}) than free parameters ({n_free}): the estimates are "
                "not determined by the data; use fewer components or more data",
                IdentifiabilityWarning,
                stacklevel=2,
            )
        best = self._fit_restarts(train, n_features, on_iteration, resume)
        if not best.converged:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations (last change of the mean "
                "log-likelihood per row above tol); increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        reached, finished = restarts.replication(r.status for r in self._restart_records)
        if finished >= 2 and reached == 1:
            warnings.warn(
                f"{self.replication_}: the best maximum was found once, so it may not be the "
                "global one; raise n_init (CLI: --n-init) and look at restarts_",
                ReplicationWarning,
                stacklevel=2,
            )
        self.fit_notes_: list[str] = []
        if problem is None:
            self._warn_if_not_locally_identified(train, best.state)
        self._set_columns(train)
        state = best.state
        if self.order is not None:
            state = permute(state, order_of(state, self.order))
        self.weights_ = state.weights
        self.params_ = state.params
        self.log_likelihood_ = best.log_likelihood
        self.log_posterior_ = best.objective
        self.n_iter_ = best.n_iter
        self.converged_ = best.converged
        self.history_ = pd.DataFrame(best.history).rename_axis("iteration")
        for name in ("_online_stats", "n_updates_", "n_rows_seen_", "_online_rows"):
            self.__dict__.pop(name, None)
        return self

    def _warn_if_not_locally_identified(self, train: TrainingData, state: EMState) -> None:
        """The rank check of ``mixfit.check_identifiability`` at the estimate, when it is cheap:
        data in memory, at most ``FIT_CHECK_PARAMS`` free parameters and distinct rows x free
        parameters below ``FIT_CHECK_SIZE``. It never fails a fit: when it is skipped or cannot
        be computed, ``fit_notes_`` says so."""
        from mixfit.diagnostics import FIT_CHECK_PARAMS, FIT_CHECK_SIZE, local_rank

        source = train.source
        n_free = sum(np.size(v) for v in state.params.values()) + len(state.weights)
        if len(state.weights) < 2 or np.any(state.weights <= 1e-9) or not isinstance(source, ArraySource):
            return
        if source.fixed is not None:
            return
        if n_free > FIT_CHECK_PARAMS or source.design.shape[0] * n_free > FIT_CHECK_SIZE:
            self.fit_notes_.append(
                f"local identifiability not checked after the fit ({n_free} free parameters, "
                f"{source.design.shape[0]} distinct rows); run mixfit.check_identifiability(model, X) for it"
            )
            return
        try:
            problem = local_rank(train.family, state, source)[1]
        except (MixfitError, ArithmeticError, np.linalg.LinAlgError) as exc:
            self.fit_notes_.append(f"local identifiability could not be checked at the estimate: {exc}")
            return
        if problem is not None:
            warnings.warn(problem, IdentifiabilityWarning, stacklevel=3)

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> Mixture:
        """One update of online (stepwise) EM from a batch of rows of a stream.

        The first call starts from the current parameters when the model has them (fitted or
        set by hand), else from ``weights_init``/``params_init``, else from batch EM on the
        first batch (``n_init`` restarts, ``max_iter``, ``tol``: a start near the right basin
        matters, since one pass of online EM makes only as much progress as a few dozen batch
        EM iterations); it also learns what the family learns from data (category levels: give
        ``Categorical(levels=...)`` when later batches may hold levels the first one lacks).
        Every call then moves the running average of per-row statistics a step
        ``(t + 1) ** -online_decay`` towards the batch's and takes the M-step on it (see
        ``mixfit.online``). ``n_updates_``, ``n_rows_seen_`` and ``online_history_`` (rows, step
        size and the batch's mean log-likelihood at the parameters entering each update) record
        the stream; the batch-fit attributes (``log_likelihood_``, ``n_iter_``, ``converged_``,
        ``history_``) are removed, since they no longer describe the parameters.

        Examples
        --------
        >>> import numpy as np, mixfit as mf
        >>> rng = np.random.default_rng(0)
        >>> m = mf.Mixture(mf.Binomial(n_trials=10), 2, params_init={"p": [0.2, 0.6]})
        >>> for _ in range(200):
        ...     m = m.partial_fit(rng.binomial(10, np.where(rng.random(500) < 0.3, 0.1, 0.8)))
        >>> m.weights_.round(2).tolist(), m.params_["p"][:, 0].round(2).tolist(), m.n_rows_seen_
        ([0.3, 0.7], [0.1, 0.8], 100000)
        """
        self._check_settings()
        decay = self.online_decay
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.5 < decay <= 1:
            raise ModelError(f"online_decay must be a number in (0.5, 1]; got {decay!r}")
        if getattr(self, "_online_stats", None) is None:
            family, state, source = self._online_start(X, sample_weight)
            running, n_updates, n_rows_seen, rows = None, 0, 0, []
        else:
            family, state, source = self._source(X, sample_weight)
            running, n_updates, n_rows_seen = self._online_stats, self.n_updates_, self.n_rows_seen_
            rows = self._online_rows
        summary = run_e_step(family, source, state)
        running = stepwise_average(running, summary.stats, source.total_weight, n_updates, decay)
        new_state = m_step(family, running, self._weights_prior())
        rows.append(
            {
                "rows": source.n_rows,
                "step_size": step_size(n_updates, decay),
                "batch_mean_log_likelihood": summary.log_likelihood / source.total_weight,
            }
        )
        for name in ("log_likelihood_", "n_iter_", "converged_", "history_"):
            self.__dict__.pop(name, None)
        self.weights_, self.params_, self._online_stats = new_state.weights, new_state.params, running
        self.n_updates_, self.n_rows_seen_ = n_updates + 1, n_rows_seen + source.n_rows
        self._online_rows = rows
        return self

    @property
    def online_history_(self) -> pd.DataFrame:
        """One row per ``partial_fit`` update: rows, step size, the batch's mean log-likelihood."""
        if "_online_rows" not in self.__dict__:
            raise AttributeError("online_history_ exists after partial_fit")
        return pd.DataFrame(self._online_rows).rename_axis("update")

    def _online_start(self, X: Any, sample_weight: Any) -> tuple[Family, EMState, DataSource]:
        """The family, starting parameters and source of the first ``partial_fit`` batch."""
        if hasattr(self, "weights_"):
            return self._source(X, sample_weight)
        train = self._training_data(X, sample_weight)
        self._check_enough_rows(train)
        n_features = len(train.family.feature_names(train.columns))
        if self.params_init is not None:
            state = self._initial_state(train, n_features, check_random_state(self.random_state))
        else:  # a start from the first batch alone: batch EM on it, with the restarts asked for
            state = self._fit_restarts(train, n_features, None, False).state
        self._set_columns(train)
        return train.family, state, train.source

    def _training_data(self, X: Any, sample_weight: Any, known_labels: Any = None) -> TrainingData:
        """X as a fit sees it (see ``TrainingData``)."""
        table = open_table(X)
        if table is None:
            array, columns, is_frame = as_table(X)
            family = self._base_family().fitted_to(array, columns)
            data = family.validate(array, columns)
            weight = check_sample_weight(sample_weight, data.shape[0])
            fixed = (
                None if known_labels is None else known_responsibilities(known_labels, data.shape[0], self.n_components)
            )
            source = as_source(
                data, family, sample_weight=weight, compress=self.compress, dtype=self._compute_dtype(), fixed=fixed
            )
            return TrainingData(family, columns, is_frame, data, source, source, weight)
        if known_labels is not None:
            raise DataError(f"known_labels is supported for data in memory only, not {table!r}")
        if sample_weight is not None:
            raise DataError(
                f"sample_weight is not supported for data read pass by pass ({table!r}); add the "
                "weights as repeated rows or fit in memory"
            )
        family = table.learn_schema(self._base_family())
        data = family.validate(table.sample_rows(SAMPLE_ROWS), table.columns)
        source = table_source(table, family, self._compute_dtype())
        init_source = as_source(data, family, compress=self.compress)  # as in memory when the sample is all rows
        return TrainingData(family, table.columns, table.is_frame, data, source, init_source)

    def _set_columns(self, train: TrainingData) -> None:
        """The fitted family and what the training data's columns were."""
        self.family_ = train.family
        self.n_features_in_ = len(train.columns)
        if train.is_frame:
            self.feature_names_in_ = np.asarray(train.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.columns_ = train.columns
        self.feature_names_ = train.family.feature_names(train.columns)

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None, *, known_labels: Any = None) -> np.ndarray:
        """Fit (``y`` ignored, ``sample_weight`` and ``known_labels`` as in ``fit``), then the most
        likely component of every row."""
        return self.fit(X, sample_weight=sample_weight, known_labels=known_labels).predict(X)

    def _fit_restarts(self, train: TrainingData, n_features: int, on_iteration: Any, resume: bool) -> FitResult:
        """Draw the starts, screen them when there are more than ``n_converge``, run the best to
        convergence; record every start in ``restarts_`` (see ``mixfit.restarts``)."""
        rng = check_random_state(self.random_state)
        family, source = train.family, train.source
        checkpoint = self._checkpointer(family, source)
        resumed = checkpoint.load() if resume and checkpoint is not None else None
        finals, records = self._screened_starts(train, n_features, rng, on_iteration)
        if not finals:
            raise ModelError(restarts.failures(records))
        parallel = self.n_jobs not in (None, 1) and checkpoint is None and isinstance(source, ArraySource)
        if len(finals) > 1 and parallel:
            results = self._run_in_parallel(train, finals, on_iteration)
        else:
            results = self._run_in_turn(train, finals, on_iteration, checkpoint, resumed)
        spurious = set()
        for (start, _, _), result in zip(finals, results, strict=True):
            if isinstance(result, str):
                records.append(restarts.StartRecord(start, np.nan, 0, False, restarts.FAILED, result))
            elif result is not None:
                status = restarts.SAME if result.converged else restarts.MAX_ITER
                reason = train.family.degenerate(result.state.params) or ""
                if reason:
                    spurious.add(start)
                records.append(
                    restarts.StartRecord(start, result.log_likelihood, result.n_iter, result.converged, status, reason)
                )
        done = [(start, r) for (start, _, _), r in zip(finals, results, strict=True) if isinstance(r, FitResult)]
        if len(spurious) < len(done):  # a degenerate maximum wins only when every start is one
            done = [(start, r) for start, r in done if start not in spurious]
        best_start, best = None, None if resumed is None else resumed.best
        for start, result in done:  # the first of equal objectives wins, as argmax does
            if best is None or result.objective > best.objective:
                best_start, best = start, result
        if best is None:
            raise ModelError(restarts.failures(records))
        if best_start is None:  # resumed: the best finished before the interruption
            best_start = finals[min(resumed.restart, len(finals) - 1)][0]
            if all(r.start != best_start for r in records):
                records.append(restarts.StartRecord(best_start, best.log_likelihood, best.n_iter, best.converged, ""))
        self.best_restart_ = best_start
        self._restart_records = restarts.classify(records, best_start)
        if checkpoint is not None:
            checkpoint.remove()
        return best

    def _screened_starts(
        self, train: TrainingData, n_features: int, rng: np.random.RandomState, on_iteration: Any = None
    ) -> tuple[list[tuple[int, EMState, FitResult | None]], list[restarts.StartRecord]]:
        """The starts to run to convergence, as ``(start, state, screening result)``, and the
        records of the starts that failed or were screened out.

        With more than ``n_converge`` starts each runs ``screen_iter`` iterations first, on the
        training data when they are small (plain EM's final stage then continues those iterations,
        so a kept start ends exactly where it would have ended unscreened) or on a sample of
        ``SCREEN_ROWS`` rows; the best ``n_converge`` go on (see ``_screens_whole``).
        """
        n_starts = 1 if self.params_init is not None else self.n_init
        states: list[tuple[int, EMState]] = []
        records: list[restarts.StartRecord] = []
        for start in range(n_starts):
            try:
                states.append((start, self._initial_state(train, n_features, rng, start)))
            except ModelError as exc:  # e.g. a singular covariance from a start's M-step
                records.append(restarts.StartRecord(start, np.nan, 0, False, restarts.FAILED, str(exc)))
        n_keep = self._n_converge(train)
        if len(states) <= n_keep:
            return [(start, state, None) for start, state in states], records
        screen, whole = self._screening_source(train, rng)
        screened: list[tuple[int, EMState, FitResult]] = []
        for start, state in states:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", EmptyComponentWarning)  # said below if the start is kept
                    result = fit_em(
                        train.family,
                        screen,
                        state,
                        max_iter=self.screen_iter,
                        tol=self.tol,
                        debug=self._debug(),
                        on_iteration=self._progress(start, on_iteration) if whole else None,
                        weights_prior=self._weights_prior(),
                    )
            except ModelError as exc:
                records.append(restarts.StartRecord(start, np.nan, 0, False, restarts.FAILED, str(exc)))
                continue
            screened.append((start, state, result))
        order = restarts.ranked([result.objective for _, _, result in screened])
        keep = set(order[:n_keep])
        finals = []
        for index, (start, first, result) in enumerate(screened):
            if index in keep:
                warn_if_emptied(first, result.state, result.n_iter)  # silenced while screening
                continue_from = result if whole and self.accelerate is None else None
                finals.append((start, result.state, continue_from))
            else:
                records.append(
                    restarts.StartRecord(start, result.log_likelihood, result.n_iter, False, restarts.SCREENED)
                )
        return finals, records

    def _n_converge(self, train: TrainingData) -> int:
        if self.n_converge is not None:
            return int(self.n_converge)
        return DEFAULT_CONVERGE if _screens_whole(train) else 1

    def _screening_source(self, train: TrainingData, rng: np.random.RandomState) -> tuple[DataSource, bool]:
        """``(source, is the training source)``: the training data when they hold at most
        ``SCREEN_ROWS`` design rows, else a sample of that many rows (with their weights)."""
        source = train.init_source
        if _screens_whole(train):
            return source, True
        if source.design.shape[0] <= SCREEN_ROWS:
            return source, False
        rows = np.sort(rng.choice(train.rows.shape[0], size=SCREEN_ROWS, replace=False))
        weight = None if train.row_weight is None else train.row_weight[rows]
        fixed = None if source.fixed is None else source.fixed[rows]
        sample = as_source(train.rows[rows], train.family, sample_weight=weight, compress=self.compress, fixed=fixed)
        return sample, False

    def _run_in_turn(
        self,
        train: TrainingData,
        finals: list[tuple[int, EMState, FitResult | None]],
        on_iteration: Any,
        checkpoint: Any,
        resumed: Any,
    ) -> list[FitResult | str | None]:
        """The final starts one after another, with checkpoints; a failed start is its reason,
        a start finished before a resumed interruption is None."""
        results: list[FitResult | str | None] = []
        best: FitResult | None = None if resumed is None else resumed.best
        for run, (start, state, screened) in enumerate(finals):
            if resumed is not None and run < resumed.restart:
                results.append(None)
                continue
            begin: tuple[int, Any, Any] = (0, None, None)
            if screened is not None:
                if screened.converged:
                    results.append(screened)
                    best = screened if best is None or screened.objective > best.objective else best
                    continue
                begin = (screened.n_iter, screened.history[:-1], None)
            if resumed is not None and run == resumed.restart:
                state, begin = resumed.state, (resumed.iteration, resumed.history, resumed.progress)

            def save(iteration: int, current: EMState, history: list, progress: dict, run: int = run) -> None:
                if checkpoint is not None:
                    checkpoint.save(run, iteration, current, history, best, progress)  # noqa: B023 (best so far)

            try:
                result = self._fit_loop()(
                    train.family,
                    train.source,
                    state,
                    max_iter=self.max_iter,
                    tol=self.tol,
                    debug=self._debug(),
                    on_iteration=self._progress(start, on_iteration),
                    on_state=save,
                    start_iteration=begin[0],
                    history=begin[1],
                    progress=begin[2],
                    weights_prior=self._weights_prior(),
                )
            except ModelError as exc:
                results.append(str(exc))
                continue
            results.append(result)
            best = result if best is None or result.objective > best.objective else best
        return results

    def _run_in_parallel(
        self, train: TrainingData, finals: list[tuple[int, EMState, FitResult | None]], on_iteration: Any
    ) -> list[FitResult | str | None]:
        """The final starts on ``n_jobs`` joblib workers: the sequential result, to round-off
        (workers run BLAS single-threaded, which adds in another order)."""
        from joblib import Parallel, delayed

        options = {
            "max_iter": self.max_iter,
            "tol": self.tol,
            "debug": self._debug(),
            "weights_prior": self._weights_prior(),
        }
        pending = [(i, state, screened) for i, (_, state, screened) in enumerate(finals)]
        pending = [(i, state, screened) for i, state, screened in pending if screened is None or not screened.converged]
        jobs = []
        for _, state, screened in pending:
            begin = {} if screened is None else {"start_iteration": screened.n_iter, "history": screened.history[:-1]}
            jobs.append(delayed(_run_start)(self._fit_loop(), train.family, train.source, state, options | begin))
        results: list[FitResult | str | None] = [screened for _, _, screened in finals]  # converged when screened
        for (i, _, _), result in zip(pending, Parallel(n_jobs=self.n_jobs)(jobs), strict=True):
            results[i] = result
        for (start, _, _), result in zip(finals, results, strict=True):  # progress per finished start
            report = self._progress(start, on_iteration)
            if report is not None and isinstance(result, FitResult):
                report(result.n_iter, result.log_likelihood)
        return results

    def _debug(self) -> bool:
        return os.environ.get("MIXFIT_DEBUG") == "1"

    @property
    def restarts_(self) -> pd.DataFrame:
        """One row per start: its final log-likelihood, iterations, whether it converged, and its
        status (best, reached the best, other maximum, stopped at max_iter, screened out, failed)."""
        if "_restart_records" not in self.__dict__:
            raise AttributeError("restarts_ exists after fit")
        return restarts.as_frame(self._restart_records)

    @property
    def maxima_(self) -> pd.DataFrame:
        """The distinct maxima the starts run to convergence reached, best first, with counts."""
        if "_restart_records" not in self.__dict__:
            raise AttributeError("maxima_ exists after fit")
        return restarts.distinct_maxima(self._restart_records)

    @property
    def replication_(self) -> str:
        """ "best log-likelihood reached by 3 of 4 starts run to convergence (20 starts)"."""
        if "_restart_records" not in self.__dict__:
            raise AttributeError("replication_ exists after fit")
        return restarts.replication_line(self._restart_records)

    def _fit_loop(self) -> Any:
        """The EM loop for the ``accelerate`` setting."""
        return fit_squarem if self.accelerate == "squarem" else fit_em

    def _initial_state(
        self, train: TrainingData, n_features: int, rng: np.random.RandomState, start: int = 0
    ) -> EMState:
        return initial_state(
            train.family,
            train.init_source,
            n_components=self.n_components,
            n_features=n_features,
            init=start_method(self.init, start),
            weights_init=self.weights_init,
            params_init=self.params_init,
            rng=rng,
        )

    def _checkpointer(self, family: Family, source: DataSource) -> Any:
        if self.checkpoint is None:
            return None
        from mixfit.checkpoint import Checkpointer, fingerprint

        settings = {**self.get_params(), "family": family.to_dict(), "checkpoint": None}
        return Checkpointer(self.checkpoint, self.checkpoint_every, fingerprint(settings, source))

    def _progress(self, run: int, on_iteration: Any) -> Any:
        if not self.verbose and on_iteration is None:
            return None

        def report(n_iter: int, ll: float) -> None:
            if self.verbose:  # to stdout, as scikit-learn's estimators report progress
                print(f"restart {run}: iteration {n_iter}, log-likelihood {ll:.10g}", flush=True)
            if on_iteration is not None:
                on_iteration(run, n_iter, ll)

        return report

    def _check_settings(self) -> None:
        check_int("n_components", self.n_components, 1)
        check_int("n_init", self.n_init, 1)
        if self.n_converge is not None:
            check_int("n_converge", self.n_converge, 1)
        check_int("screen_iter", self.screen_iter, 1)
        check_int("max_iter", self.max_iter, 1)
        check_int("checkpoint_every", self.checkpoint_every, 1)
        if self.n_jobs is not None and (
            isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int) or self.n_jobs == 0
        ):
            raise ModelError(f"n_jobs must be None or a nonzero int (-1: all cores); got {self.n_jobs!r}")
        check_option("init", self.init, INIT_METHODS)
        check_option("compress", self.compress, ("auto", True, False))
        check_option("accelerate", self.accelerate, ACCELERATIONS)
        self._compute_dtype()
        self._weights_prior()
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)) or not 0 <= self.tol < np.inf:
            raise ModelError(f"tol must be a finite number >= 0; got {self.tol!r}")
        if self.weights_init is not None:
            check_weights(self.weights_init, self.n_components)

    def _weights_prior(self) -> float | None:
        return check_dirichlet(self.weights_prior, "weights_prior")

    def _compute_dtype(self) -> np.dtype:
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float64, np.float32):
            raise ModelError(f"dtype must be np.float64 or np.float32; got {self.dtype!r}")
        return dtype

    def _base_family(self) -> Family:
        if isinstance(self.family, Family):
            return self.family
        if isinstance(self.family, str):
            return get_family(self.family)
        raise ModelError(f"family must be a mixfit family or its name; got {self.family!r}")

    def _check_enough_rows(self, train: TrainingData) -> None:
        n_rows = train.source.n_rows
        if self.n_components > n_rows:
            raise ModelError(f"n_components must be <= the number of rows ({n_rows}); got {self.n_components}")
        if train.init_source.compressed:
            n_distinct = train.init_source.design.shape[0]
        elif train.rows.shape[0] == n_rows <= DISTINCT_CHECK_ROWS:
            head = train.rows[: 20 * self.n_components]  # usually enough to see K distinct rows
            n_distinct = unique_rows(head)[0].shape[0]
            if n_distinct < self.n_components:
                n_distinct = unique_rows(train.rows)[0].shape[0]
        else:
            return
        if self.params_init is None and self.n_components > n_distinct:
            raise ModelError(
                f"n_components must be <= the number of distinct rows ({n_distinct}); got {self.n_components}"
            )

    # -------------------------------------------------------------- evaluation
    def _fitted(self) -> tuple[Family, EMState]:
        """The family and the parameters as they are now (fitted or set by hand)."""
        check_is_fitted(self, ["weights_", "params_"])
        family = getattr(self, "family_", None) or self._base_family()
        weights = check_weights(self.weights_, len(np.atleast_1d(self.weights_)), "weights_")
        return family, EMState(weights, dict(self.params_))

    def _source(self, X: Any, sample_weight: Any = None) -> tuple[Family, EMState, DataSource]:
        family, state = self._fitted()
        table = open_table(X)
        if table is None:
            array, columns, is_frame = as_table(X)
            self._check_columns(columns, is_frame)
            data = family.validate(array, columns)
            family = family.for_data(data)
            weight = check_sample_weight(sample_weight, data.shape[0])
            source = as_source(data, family, sample_weight=weight, compress=self.compress, dtype=self._compute_dtype())
        elif sample_weight is not None:
            raise DataError(f"sample_weight is not supported for data read pass by pass ({table!r})")
        else:
            columns = table.columns
            self._check_columns(columns, table.is_frame)
            source = table_source(table, family, self._compute_dtype())
        n_features = len(family.feature_names(columns))
        params = family.check_params(state.params, len(state.weights), n_features)
        return family, EMState(state.weights, params), source

    def _check_columns(self, columns: list[str], is_frame: bool) -> None:
        expected = getattr(self, "n_features_in_", None)
        if expected is not None and len(columns) != expected:
            one_d = not is_frame and columns == ["x"]  # as_table's name for the one column of a 1-D X
            hint = "; a 1-D X is read as one column (Reshape your data with X.reshape(1, -1) for a single row)"
            hint = hint if one_d else ""
            raise DataError(
                f"X has {len(columns)} features, but Mixture is expecting {expected} features as input "
                f"(the columns at fit){hint}"
            )
        names = getattr(self, "feature_names_in_", None)
        if names is not None and is_frame and list(names) != columns:
            raise DataError(f"X columns must be {list(names)}, as at fit; got {columns}")

    def _per_row(self, X: Any, what: str) -> np.ndarray:
        family, state, source = self._source(X)

        def rows(chunk: Any) -> np.ndarray:
            log_joint = family.log_prob_by_component(chunk.X, state.params)
            log_joint += log_weights(state.weights)[:, None]
            log_marginal = normalize_log_joint(log_joint)
            return log_joint.T if what == "proba" else log_marginal

        return source.map_rows(rows)

    def _log_likelihood(self, X: Any, sample_weight: Any = None) -> tuple[float, float]:
        """(total log-likelihood of X, number of rows or sum of the frequency weights), in one
        pass with no per-row output."""
        family, state, source = self._source(X, sample_weight)
        return run_e_step(family, source, state).log_likelihood, float(source.total_weight)

    def predict_proba(self, X: Any) -> FloatArray:
        """Responsibilities p(z = k | x_n), of shape (n, K) (seed 002's gamma(z_nk))."""
        return self._per_row(X, "proba")

    def predict(self, X: Any) -> np.ndarray:
        """The most likely component of every row, shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)

    def score_samples(self, X: Any) -> FloatArray:
        """log p(x_n) per row, all constants included, shape (n,)."""
        return self._per_row(X, "log_marginal")

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Mean log-likelihood per row (as scikit-learn); with frequency weights, per unit weight."""
        total, n_rows = self._log_likelihood(X, sample_weight)
        return total / n_rows

    def n_parameters(self) -> int:
        """Free parameters: component parameters plus K - 1 weights."""
        family, state = self._fitted()
        n_features = len(getattr(self, "feature_names_", [])) or next(iter(state.params.values())).shape[1]
        return family.n_free_params(len(state.weights), n_features) + len(state.weights) - 1

    def bic(self, X: Any, sample_weight: Any = None) -> float:
        """Bayesian information criterion on X: ``-2 log L + n_parameters log n`` (lower is
        better); with frequency weights, n is their sum."""
        total, n_rows = self._log_likelihood(X, sample_weight)
        return float(-2 * total + self.n_parameters() * np.log(n_rows))

    def aic(self, X: Any, sample_weight: Any = None) -> float:
        """Akaike information criterion on X: ``-2 log L + 2 n_parameters`` (lower is better)."""
        return float(-2 * self._log_likelihood(X, sample_weight)[0] + 2 * self.n_parameters())

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(X, labels)`` from the model: labels by ``weights_``, rows by the family."""
        n_samples = check_int("n_samples", n_samples, 1)
        family, state = self._fitted()
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        labels = rng.choice(len(state.weights), size=n_samples, p=state.weights)
        return family.sample(state.params, labels, rng), labels

    def standard_errors(self, X: Any, method: str = "observed", sample_weight: Any = None) -> Any:
        """Standard errors from the information matrix on the training data X (see
        ``mixfit.inference``): ``.table`` (estimate, se, 95% interval per entry), ``.weights``,
        ``.params`` (arrays shaped like ``params_``), ``.covariance`` of the free parameters.

        To reproduce poLCA's standard errors use ``method="opg"``; flexmix's ``refit()``
        reports the observed information (the default). ``sample_weight``: the frequency
        weights the model was fitted with."""
        from mixfit.inference import standard_errors

        return standard_errors(self, X, method, sample_weight)

    def bootstrap(
        self,
        X: Any,
        n_boot: int = 200,
        kind: str = "nonparametric",
        random_state: Any = None,
        n_jobs: int | None = None,
        sample_weight: Any = None,
    ) -> Any:
        """Bootstrap standard errors and percentile intervals (see ``mixfit.inference.bootstrap``)."""
        from mixfit.inference import bootstrap

        return bootstrap(self, X, n_boot, kind, random_state, n_jobs, sample_weight)

    def save(self, path: Any) -> None:
        """Write the model as a JSON file (atomically); read it back with ``mixfit.load``."""
        from mixfit.io import save_model

        save_model(self, path)

    def report(self, X: Any, path: Any, command: str | None = None) -> Any:
        """Write a self-contained HTML report of this fit on X (needs matplotlib)."""
        from mixfit.report import write_report

        return write_report(self, X, path, command)

    def explain(self, X: Any, iterations: int = 1, start: str | None = None) -> list[Any]:
        """Seed 001's tables (6.1-6.4 and the new weights) for each of ``iterations`` EM steps.

        Starts from ``weights_init``/``params_init`` when given (``start="init"``), else from the
        fitted parameters (``start="fitted"``). See ``mixfit.explain``.
        """
        from mixfit.explain import explain_steps

        return explain_steps(self, X, iterations=iterations, start=start)

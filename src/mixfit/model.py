"""The estimator: validation at the boundary, restarts, fit/predict/score/sample/explain."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from mixfit import restarts
from mixfit._math import FloatArray
from mixfit._validation import check_int
from mixfit.concomitant import prior_summary, separation, split_prior_summary
from mixfit.diagnostics import local_identifiability
from mixfit.em import (
    HISTORY_PARAMETERS,
    EMState,
    check_row_values,
    complete_history,
    draw,
    posterior,
    run_e_step,
    state_size,
)
from mixfit.errors import ConvergenceWarning, DataError, IdentifiabilityWarning, ModelError, ReplicationWarning
from mixfit.families import Family
from mixfit.io import read_model, save_model
from mixfit.labels import order_of, permute
from mixfit.online import DEFAULT_DECAY, Stream
from mixfit.prepare import (
    TrainingData,
    check_enough_rows,
    evaluation_covariates,
    fitted,
    fitted_source,
    training_data,
)
from mixfit.priors import check_dirichlet
from mixfit.search import Search
from mixfit.settings import check_settings
from mixfit.sources import DataSource

#: ``sample`` draws at most this many values (rows x columns) in one call (800 MB as float64).
MAX_SAMPLE_CELLS = 10**8


class Mixture(BaseEstimator):
    """A finite mixture of ``n_components`` members of one family, fitted by EM.

    Parameters
    ----------
    family : Family or str
        The component distribution, e.g. ``Bernoulli()``, ``Binomial(n_trials=10)``,
        ``Categorical()`` or a registered name such as ``"bernoulli"``.
    n_components : int, default=1
        Number of components K.
    init : {"auto", "k-means++", "random-rows", "random", "hard-k-means++", "hierarchical"}, default="auto"
        How starts are drawn when ``params_init`` is not given (see ``mixfit.init``):
        k-means++ assignments blended with uniform responsibilities; each component from a few
        random rows (diverse, as poLCA's random probabilities are); random responsibilities;
        bare k-means++ assignments; for Gaussian families, mclust's model-based hierarchical
        agglomeration (``mixfit.agglomerate``; deterministic, so on at most 2,000 rows it is one
        start whatever ``n_init`` says). ``"auto"`` alternates k-means++
        (starts 0, 2, ...) and random-rows (1, 3, ...), which ``benchmarks/bench_starts.py``
        found the most reliable mix across families; for a Gaussian family on complete rows
        start 0 is the hierarchical one instead, always run to convergence, so the default never
        ends below the maximum mclust's start reaches.
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
    accelerate : {"auto", None, "squarem"}, default="auto"
        ``"squarem"`` extrapolates over pairs of EM steps (``mixfit.accel``): the same maximum
        from the same start in fewer E-step passes, never a lower log-likelihood on the way
        (1.7-7x fewer passes on the slow fits of ``benchmarks/bench_small.py``). ``n_iter_``
        then counts SQUAREM iterations; ``history_["e_steps"]`` counts passes. ``None`` is
        textbook EM, one update per iteration. ``"auto"``: SQUAREM for fits from data, textbook
        EM for fits from ``params_init`` (the worked examples (docs/references.md), ``max_iter=1``).
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
        The EM iterations of the kept start, its screening iterations included (plain EM, one
        pass each; then SQUAREM iterations, several passes each: ``history_["e_steps"]``
        counts the passes). Screening on a sample of big data is not counted: the kept start
        then begins again on every row.
    converged_ : bool
    history_ : DataFrame
        Row i: the parameters entering iteration i (row 0: the start) with log_likelihood,
        expected_complete_ll (Q), entropy, elbo and kl, and the same after the M-step;
        ``n_iter_ + 1`` rows.

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
        accelerate: str | None = "auto",
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
        covariates: Any = None,
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

        ``covariates`` (an array or DataFrame of q numeric columns, one row per row of X) make
        class membership depend on them (latent class regression, poLCA's ``formula = cbind(...)
        ~ x``; flexmix's concomitant variables): the prior of class k for row n is
        ``softmax(covariate_coef_ @ [1, z_n])_k`` with class 0 as the reference (its row of
        ``covariate_coef_`` is 0), an intercept added. ``covariate_coef_`` (K, 1 + q) and
        ``covariate_names_`` are then set, ``weights_`` are the classes' average prior over the
        training rows, and ``predict``, ``predict_proba``, ``score_samples``, ``score``, ``bic``,
        ``aic`` and ``sample`` need ``covariates=`` for their rows. The M-step of the coefficients
        is a Newton step with step-halving (see ``mixfit.concomitant``). A ``FileTable`` or a
        Dask DataFrame takes ``covariates`` as a list of its column names.

        ``on_iteration(restart, iteration, log_likelihood)``, when given, is called after every
        iteration (progress bars live in the caller, not here).

        Every warning the fit raises is also kept, as "Category: message", in ``fit_warnings_``
        (the report shows them as they were raised, not recomputed).
        """
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._fit(X, sample_weight, known_labels, covariates, on_iteration, resume)
        finally:  # shown (or raised) now, under the caller's own filters, each distinct one once
            unique = {(w.category, str(w.message), w.filename, w.lineno): w for w in caught}
            for warning in unique.values():
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        self.fit_warnings_ = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
        return self

    def _fit(
        self, X: Any, sample_weight: Any, known_labels: Any, covariates: Any, on_iteration: Any, resume: bool
    ) -> None:
        check_settings(self)
        if known_labels is not None and self.order is not None:
            raise ModelError(
                "order= renumbers the components after the fit, so they would no longer be the ones "
                "known_labels name; fit without order (the known labels already fix the order)"
            )
        if covariates is not None and self.weights_prior is not None:
            raise ModelError("weights_prior cannot be combined with covariates (the weights are then not parameters)")
        train = training_data(self, X, sample_weight, known_labels, covariates)
        check_enough_rows(train, self.n_components, self.params_init)
        problem = train.family.identifiability_problem(self.n_components, train.rows)
        if problem is not None:
            warnings.warn(problem, IdentifiabilityWarning, stacklevel=3)
        n_free = train.family.n_free_params(self.n_components, train.n_features)
        n_free += (self.n_components - 1) * (1 if train.covariates is None else train.covariates.shape[1])
        if train.source.n_rows < n_free:
            warnings.warn(
                f"fewer rows ({train.source.n_rows}) than free parameters ({n_free}): the estimates are "
                "not determined by the data; use fewer components or more data",
                IdentifiabilityWarning,
                stacklevel=3,
            )
        outcome = Search(self, train, on_iteration).run(resume)
        self.best_restart_, self._restart_records = outcome.best_start, outcome.records
        best = outcome.best
        if not best.converged:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations (last change of the mean "
                "log-likelihood per row above tol); increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        reached, finished = restarts.replication(r.status for r in outcome.records)
        if finished >= 2 and reached == 1:
            warnings.warn(
                f"{self.replication_}: the best maximum was found once, so it may not be the "
                "global one; raise n_init and look at restarts_",
                ReplicationWarning,
                stacklevel=3,
            )
        self.fit_notes_: list[str] = []
        if problem is None:  # the rank check at the estimate, when it is cheap (else a note)
            rank_problem, note = local_identifiability(train.family, best.state, train.source)
            if rank_problem is not None:
                warnings.warn(rank_problem, IdentifiabilityWarning, stacklevel=3)
            self.fit_notes_ += [note] if note else []
        self._set_columns(train)
        state = best.state
        if self.order is not None:
            state = permute(state, order_of(state, self.order))
        self.weights_ = state.weights
        self.params_ = state.params
        for name in ("covariate_coef_", "covariate_names_"):
            self.__dict__.pop(name, None)
        coef = state.coef
        if coef is not None and train.covariates is not None:
            self.covariate_coef_ = coef
            self.covariate_names_ = train.covariate_names
            summary = train.source.reduce(lambda chunk: prior_summary(coef, chunk))  # one pass
            self.weights_, information = split_prior_summary(summary, coef)
            separated = separation(coef, train.covariate_names or [], information)
            if separated is not None:
                warnings.warn(separated, IdentifiabilityWarning, stacklevel=3)
        self.log_likelihood_ = best.log_likelihood
        self.log_posterior_ = best.objective
        self.n_iter_ = best.n_iter
        self.converged_ = best.converged
        self.__dict__["_history"] = best.history  # completed when history_ is first read
        if state_size(best.state) > HISTORY_PARAMETERS:
            self.fit_notes_.append(
                f"history_ holds the weights but not the other parameters at each iteration: they are "
                f"{state_size(best.state)} numbers, more than the {HISTORY_PARAMETERS} kept per iteration"
            )
        for name in ("_stream", "n_updates_", "n_rows_seen_"):
            self.__dict__.pop(name, None)

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
        check_settings(self)
        decay = float(self.online_decay)
        stream = self.__dict__.get("_stream")
        if stream is None:
            family, state, source = self._online_start(X, sample_weight)
            stream = Stream()
        else:
            family, state, source = fitted_source(self, X, sample_weight)
        new_state = stream.update(family, state, source, decay, check_dirichlet(self.weights_prior, "weights_prior"))
        for name in ("log_likelihood_", "n_iter_", "converged_", "_history"):
            self.__dict__.pop(name, None)
        self.weights_, self.params_, self._stream = new_state.weights, new_state.params, stream
        self.n_updates_, self.n_rows_seen_ = stream.n_updates, stream.n_rows_seen
        return self

    @property
    def history_(self) -> pd.DataFrame:
        """One row per EM iteration (see the class's text). The fit keeps its rows as they
        were recorded; the columns the loop does not need (Q, entropy, ELBO, the parameters)
        and the frame are computed here, once, when first read, so a fit whose history is
        never read does not pay for them."""
        history = self.__dict__.get("_history")
        if history is None:
            raise AttributeError("history_ exists after fit")
        if not isinstance(history, pd.DataFrame):
            history = self.__dict__["_history"] = history_frame(complete_history(history))
        return history

    @history_.setter
    def history_(self, frame: pd.DataFrame) -> None:
        self.__dict__["_history"] = frame

    @history_.deleter
    def history_(self) -> None:
        self.__dict__.pop("_history", None)

    @property
    def online_history_(self) -> pd.DataFrame:
        """One row per ``partial_fit`` update: rows, step size, the batch's mean log-likelihood."""
        if "_stream" not in self.__dict__:
            raise AttributeError("online_history_ exists after partial_fit")
        return pd.DataFrame(self._stream.rows).rename_axis("update")

    def _online_start(self, X: Any, sample_weight: Any) -> tuple[Family, EMState, DataSource]:
        """The family, starting parameters and source of the first ``partial_fit`` batch."""
        if getattr(self, "covariate_coef_", None) is not None:
            raise ModelError("partial_fit is not available for a model with covariates")
        if hasattr(self, "weights_"):
            return fitted_source(self, X, sample_weight)
        train = training_data(self, X, sample_weight)
        check_enough_rows(train, self.n_components, self.params_init)
        search = Search(self, train)
        if self.params_init is not None:
            state = search.initial_state()
        else:  # a start from the first batch alone: batch EM on it, with the restarts asked for
            state = search.run().best.state
        self._set_columns(train)
        return train.family, state, train.source

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

    # -------------------------------------------------------------- evaluation
    def _per_row(self, X: Any, what: str, covariates: Any = None) -> np.ndarray:
        family, state, source = fitted_source(self, X, covariates=covariates)

        def rows(chunk: Any) -> np.ndarray:
            resp, log_marginal = posterior(family, state, chunk.X, covariates=chunk.covariates)
            check_row_values(log_marginal, what == "proba")
            return resp.T if what == "proba" else log_marginal

        return source.map_rows(rows)

    def _log_likelihood(self, X: Any, sample_weight: Any = None, covariates: Any = None) -> tuple[float, float]:
        """(total log-likelihood of X, number of rows or sum of the frequency weights), in one
        pass with no per-row output."""
        family, state, source = fitted_source(self, X, sample_weight, covariates)
        return run_e_step(family, source, state).log_likelihood, float(source.total_weight)

    def predict_proba(self, X: Any, *, covariates: Any = None) -> FloatArray:
        """Responsibilities p(z = k | x_n), of shape (n, K) (Sciarra's gamma(z_nk)); a model
        fitted with covariates needs the rows' ``covariates`` (as do the methods below)."""
        return self._per_row(X, "proba", covariates)

    def predict(self, X: Any, *, covariates: Any = None) -> np.ndarray:
        """The most likely component of every row, shape (n,)."""
        return self.predict_proba(X, covariates=covariates).argmax(axis=1)

    def score_samples(self, X: Any, *, covariates: Any = None) -> FloatArray:
        """log p(x_n) per row, all constants included, shape (n,)."""
        return self._per_row(X, "log_marginal", covariates)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, *, covariates: Any = None) -> float:
        """Mean log-likelihood per row (as scikit-learn); with frequency weights, per unit weight."""
        total, n_rows = self._log_likelihood(X, sample_weight, covariates)
        return total / n_rows

    def n_parameters(self) -> int:
        """Free parameters: component parameters plus K - 1 weights (with covariates, K - 1 rows
        of covariate coefficients instead)."""
        family, state = fitted(self)
        n_features = len(getattr(self, "feature_names_", [])) or next(iter(state.params.values())).shape[1]
        per_class = 1 if state.coef is None else state.coef.shape[1]
        return family.n_free_params(len(state.weights), n_features) + (len(state.weights) - 1) * per_class

    def bic(self, X: Any, sample_weight: Any = None, *, covariates: Any = None) -> float:
        """Bayesian information criterion on X: ``-2 log L + n_parameters log n`` (lower is
        better); with frequency weights, n is their sum."""
        total, n_rows = self._log_likelihood(X, sample_weight, covariates)
        return float(-2 * total + self.n_parameters() * np.log(n_rows))

    def aic(self, X: Any, sample_weight: Any = None, *, covariates: Any = None) -> float:
        """Akaike information criterion on X: ``-2 log L + 2 n_parameters`` (lower is better)."""
        return float(-2 * self._log_likelihood(X, sample_weight, covariates)[0] + 2 * self.n_parameters())

    def sample(self, n_samples: int = 1, *, covariates: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(X, labels)`` from the model: labels by ``weights_``, rows by the family. A model
        with covariates draws one row per row of ``covariates``, its class by that row's prior."""
        n_samples = check_int("n_samples", n_samples, 1)
        family, state = fitted(self)
        z = None
        if state.coef is not None or covariates is not None:
            n_rows = len(covariates) if covariates is not None and hasattr(covariates, "__len__") else n_samples
            z = evaluation_covariates(self, covariates, n_rows)
            if n_samples not in (1, n_rows):
                raise DataError(f"n_samples must be 1 or the number of covariate rows ({n_rows}); got {n_samples}")
            n_samples = n_rows
        cells = n_samples * max(1, len(getattr(self, "feature_names_", [])))
        if cells > MAX_SAMPLE_CELLS:
            raise ModelError(
                f"n_samples={n_samples} would draw {cells} values, more than the {MAX_SAMPLE_CELLS} allowed "
                "at once; draw in batches"
            )
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        return draw(family, state, n_samples, rng, z)

    def standard_errors(
        self, X: Any, method: str = "observed", sample_weight: Any = None, *, covariates: Any = None
    ) -> Any:
        """Standard errors from the information matrix on the training data X (see
        ``mixfit.inference``): ``.table`` (estimate, se, 95% interval per entry), ``.weights``,
        ``.params`` (arrays shaped like ``params_``), ``.covariance`` of the free parameters.

        To reproduce poLCA's standard errors use ``method="opg"``; flexmix's ``refit()``
        reports the observed information (the default). ``sample_weight``: the frequency
        weights the model was fitted with; ``covariates``: its covariates, if it has them (then
        ``.covariate_coef`` holds the coefficients' standard errors)."""
        from mixfit.inference import standard_errors

        return standard_errors(self, X, method, sample_weight, covariates)

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

    def summary(self, X: Any = None, sample_weight: Any = None, covariates: Any = None) -> pd.DataFrame:
        """Every estimate in one table: ``component`` (``c_1``..``c_K``; ``predict``'s k is
        ``c_{k+1}``), ``parameter``, ``feature``, ``estimate``; with the training data X (and
        their ``sample_weight``, ``covariates``), ``se``, ``z``, ``p``, ``lower``, ``upper`` (95%)
        and a ``note`` for estimates on the boundary or derived; odds ratios with their interval
        for covariate coefficients. See ``mixfit.summary``."""
        from mixfit.summary import summary_table

        return summary_table(self, X, sample_weight, covariates)

    def _repr_html_(self) -> str:
        """Jupyter's view: a fitted model as its fit and its estimates (``summary()``), an
        unfitted one as scikit-learn shows estimators."""
        if not hasattr(self, "weights_"):
            return str(self._repr_html_inner())
        import html

        from mixfit.summary import summary_table

        table = summary_table(self)[["component", "parameter", "feature", "estimate"]]
        head = (
            f"{html.escape(repr(self.family_ if hasattr(self, 'family_') else self.family))}, K = {len(self.weights_)}"
        )
        if hasattr(self, "log_likelihood_"):
            head += f", log-likelihood {self.log_likelihood_:.6f}, {self.n_iter_} iterations"
        return f"<p><strong>mixfit Mixture</strong>: {head}</p>" + table.to_html(
            index=False, float_format=lambda v: f"{v:.6f}", escape=True, border=0
        )

    def save(self, path: Any) -> None:
        """Write the model as a JSON file (atomically); read it back with ``mixfit.load``."""
        save_model(self, path)

    def report(
        self,
        X: Any,
        path: Any,
        command: str | None = None,
        sample_weight: Any = None,
        *,
        covariates: Any = None,
        tutorial: bool = False,
    ) -> Any:
        """Write a self-contained HTML report of this fit on X (needs matplotlib); a model fitted
        with covariates takes its training rows and their ``covariates``; ``tutorial=True`` adds
        the ELBO picture of the worked examples (a teaching aid, as ``mixfit demo`` writes)."""
        from mixfit.report import write_report

        return write_report(self, X, path, command, sample_weight, covariates, tutorial)

    def explain(self, X: Any, iterations: int = 1, start: str | None = None) -> list[Any]:
        """Ch6's tables (6.1-6.4 and the new weights) for each of ``iterations`` EM steps.

        Starts from ``weights_init``/``params_init`` when given (``start="init"``), else from the
        fitted parameters (``start="fitted"``). See ``mixfit.explain``.
        """
        from mixfit.explain import explain_steps

        return explain_steps(self, X, iterations=iterations, start=start)


def load_model(path: Any) -> Mixture:
    """A ``Mixture`` from a JSON model file written by ``Mixture.save`` (``mixfit.load``); the
    file is untrusted input (see ``mixfit.io.read_model``)."""
    return read_model(path, _checked_mixture)


def _checked_mixture(family: Family, **settings: Any) -> Mixture:
    model = Mixture(family, **settings)
    check_settings(model)
    return model


def history_frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    """``history_`` from the fit's rows: one 2-D array when every row has the same columns in
    the same order (as ``em.record`` writes them), else pandas' general constructor."""
    columns = list(rows[0]) if rows else []
    if all(list(row) == columns for row in rows):
        return pd.DataFrame(np.array([list(row.values()) for row in rows]), columns=columns).rename_axis("iteration")
    widest = max(rows, key=len)  # screening rows side by side hold fewer columns: NaN there, in this order
    return pd.DataFrame(rows, columns=list(widest)).rename_axis("iteration")

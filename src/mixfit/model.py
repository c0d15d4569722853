"""The estimator: validation at the boundary, restarts, fit/predict/score/sample/explain."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from mixfit._data import as_table
from mixfit._math import FloatArray, normalize_log_joint
from mixfit._validation import check_int, check_option, check_sample_weight, check_weights
from mixfit.em import EMState, FitResult, fit_em, log_weights
from mixfit.errors import ConvergenceWarning, DataError, IdentifiabilityWarning, ModelError
from mixfit.families import Family, get_family
from mixfit.init import INIT_METHODS, initial_state
from mixfit.sources import ArraySource, as_source, unique_rows

logger = logging.getLogger("mixfit")

#: Above this many rows, "K larger than the number of distinct rows" is not checked up front.
DISTINCT_CHECK_ROWS = 200_000


class Mixture(BaseEstimator):
    """A finite mixture of ``n_components`` members of one family, fitted by EM.

    Parameters
    ----------
    family : Family or str
        The component distribution, e.g. ``Bernoulli()``, ``Binomial(n_trials=10)``,
        ``Categorical()`` or a registered name such as ``"bernoulli"``.
    n_components : int, default=1
        Number of components K.
    init : {"k-means++", "random"}, default="k-means++"
        How starting responsibilities are drawn when ``params_init`` is not given.
    weights_init : array-like of shape (K,), optional
        Starting mixture weights (must sum to 1).
    params_init : dict, optional
        Starting component parameters, leading axis K (e.g. ``{"p": [[0.4], [0.5]]}``).
    n_init : int, default=1
        Restarts; the one with the highest log-likelihood is kept.
    max_iter : int, default=1000
        EM iterations (M-steps) at most; ``max_iter=1`` is exactly one EM update.
    tol : float, default=1e-8
        Stop when the mean log-likelihood per row improves by at most ``tol``.
    random_state : int, RandomState or None
        Makes initialisation, restarts and ``sample`` reproducible.
    verbose : int, default=0
        Log the log-likelihood of every iteration (logger ``"mixfit"``) when > 0.
    compress : {"auto", True, False}, default="auto"
        Merge identical rows into distinct rows with counts (exact; see ``sources.as_source``).
    checkpoint : path, optional
        Write the fit's state to this file (atomically) every ``checkpoint_every`` iterations;
        ``fit(X, resume=True)`` continues from it and ends exactly where an uninterrupted fit
        ends. The file is removed when the fit finishes.
    checkpoint_every : int, default=10

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
        init: str = "k-means++",
        weights_init: Any = None,
        params_init: Any = None,
        n_init: int = 1,
        max_iter: int = 1000,
        tol: float = 1e-8,
        random_state: Any = None,
        verbose: int = 0,
        compress: bool | str = "auto",
        checkpoint: Any = None,
        checkpoint_every: int = 10,
    ) -> None:
        self.family = family
        self.n_components = n_components
        self.init = init
        self.weights_init = weights_init
        self.params_init = params_init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.compress = compress
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every

    # ----------------------------------------------------------------- fitting
    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None, *, on_iteration: Any = None, resume: bool = False
    ) -> Mixture:
        """Fit by EM from ``n_init`` starts; keep the one with the highest log-likelihood.

        ``on_iteration(restart, iteration, log_likelihood)``, when given, is called after every
        iteration (progress bars live in the caller, not here).
        """
        self._check_settings()
        array, columns, is_frame = as_table(X)
        family = self._base_family().fitted_to(array, columns)
        data = family.validate(array, columns)
        weight = check_sample_weight(sample_weight, data.shape[0])
        source = as_source(data, family, sample_weight=weight, compress=self.compress)
        self._check_enough_rows(data, source)
        problem = family.identifiability_problem(self.n_components, data)
        if problem is not None:
            warnings.warn(problem, IdentifiabilityWarning, stacklevel=2)
        feature_names = family.feature_names(columns)
        best = self._fit_restarts(family, source, len(feature_names), on_iteration, resume)
        if not best.converged:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations (last change of the mean "
                "log-likelihood per row above tol); increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.family_ = family
        self.n_features_in_ = array.shape[1]
        if is_frame:
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.columns_ = columns
        self.feature_names_ = feature_names
        self.weights_ = best.state.weights
        self.params_ = best.state.params
        self.log_likelihood_ = best.log_likelihood
        self.n_iter_ = best.n_iter
        self.converged_ = best.converged
        self.history_ = pd.DataFrame(best.history).rename_axis("iteration")
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then the most likely component of every row."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _fit_restarts(
        self, family: Family, source: ArraySource, n_features: int, on_iteration: Any, resume: bool
    ) -> FitResult:
        rng = check_random_state(self.random_state)
        n_runs = 1 if self.params_init is not None else self.n_init
        checkpoint = self._checkpointer(family, source)
        resumed = checkpoint.load() if resume and checkpoint is not None else None
        best: FitResult | None = None if resumed is None else resumed.best
        for run in range(n_runs):
            state = initial_state(
                family,
                source,
                n_components=self.n_components,
                n_features=n_features,
                init=self.init,
                weights_init=self.weights_init,
                params_init=self.params_init,
                rng=rng,
            )  # drawn for every restart, so a resumed fit sees the same random numbers
            start = (0, None)
            if resumed is not None and run < resumed.restart:
                continue
            if resumed is not None and run == resumed.restart:
                state, start = resumed.state, (resumed.iteration, resumed.history)

            def save(iteration: int, current: EMState, history: list, run: int = run) -> None:
                if checkpoint is not None:
                    checkpoint.save(run, iteration, current, history, best)  # noqa: B023 (best so far, read now)

            result = fit_em(
                family,
                source,
                state,
                max_iter=self.max_iter,
                tol=self.tol,
                debug=os.environ.get("MIXFIT_DEBUG") == "1",
                on_iteration=self._progress(run, on_iteration),
                on_state=save,
                start_iteration=start[0],
                history=start[1],
            )
            if best is None or result.log_likelihood > best.log_likelihood:
                best = result
        assert best is not None
        if checkpoint is not None:
            checkpoint.remove()
        return best

    def _checkpointer(self, family: Family, source: ArraySource) -> Any:
        if self.checkpoint is None:
            return None
        from mixfit.checkpoint import Checkpointer, fingerprint

        settings = {**self.get_params(), "family": family.to_dict(), "checkpoint": None}
        return Checkpointer(self.checkpoint, self.checkpoint_every, fingerprint(settings, source))

    def _progress(self, run: int, on_iteration: Any) -> Any:
        if not self.verbose and on_iteration is None:
            return None

        def report(n_iter: int, ll: float) -> None:
            if self.verbose:
                logger.info("init %d iteration %d log-likelihood %.10g", run, n_iter, ll)
            if on_iteration is not None:
                on_iteration(run, n_iter, ll)

        return report

    def _check_settings(self) -> None:
        check_int("n_components", self.n_components, 1)
        check_int("n_init", self.n_init, 1)
        check_int("max_iter", self.max_iter, 1)
        check_int("checkpoint_every", self.checkpoint_every, 1)
        check_option("init", self.init, INIT_METHODS)
        check_option("compress", self.compress, ("auto", True, False))
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)) or not 0 <= self.tol < np.inf:
            raise ModelError(f"tol must be a finite number >= 0; got {self.tol!r}")
        if self.weights_init is not None:
            check_weights(self.weights_init, self.n_components)

    def _base_family(self) -> Family:
        if isinstance(self.family, Family):
            return self.family
        if isinstance(self.family, str):
            return get_family(self.family)
        raise ModelError(f"family must be a mixfit family or its name; got {self.family!r}")

    def _check_enough_rows(self, data: FloatArray, source: ArraySource) -> None:
        if self.n_components > data.shape[0]:
            raise ModelError(f"n_components must be <= the number of rows ({data.shape[0]}); got {self.n_components}")
        if source.compressed:
            n_distinct = source.design.shape[0]
        elif data.shape[0] <= DISTINCT_CHECK_ROWS:
            n_distinct = unique_rows(data)[0].shape[0]
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

    def _source(self, X: Any) -> tuple[Family, EMState, ArraySource]:
        family, state = self._fitted()
        array, columns, is_frame = as_table(X)
        self._check_columns(array, columns, is_frame)
        data = family.validate(array, columns)
        n_features = len(family.feature_names(columns))
        params = family.check_params(state.params, len(state.weights), n_features)
        return family, EMState(state.weights, params), as_source(data, family, compress=self.compress)

    def _check_columns(self, array: np.ndarray, columns: list[str], is_frame: bool) -> None:
        expected = getattr(self, "n_features_in_", None)
        if expected is not None and array.shape[1] != expected:
            raise DataError(f"X must have {expected} columns, as at fit; got {array.shape[1]}")
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

    def predict_proba(self, X: Any) -> FloatArray:
        """Responsibilities p(z = k | x_n), of shape (n, K) (seed 002's gamma(z_nk))."""
        return self._per_row(X, "proba")

    def predict(self, X: Any) -> np.ndarray:
        """The most likely component of every row, shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)

    def score_samples(self, X: Any) -> FloatArray:
        """log p(x_n) per row, all constants included, shape (n,)."""
        return self._per_row(X, "log_marginal")

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per row (as scikit-learn)."""
        return float(self.score_samples(X).mean())

    def n_parameters(self) -> int:
        """Free parameters: component parameters plus K - 1 weights."""
        family, state = self._fitted()
        n_features = len(getattr(self, "feature_names_", [])) or next(iter(state.params.values())).shape[1]
        return family.n_free_params(len(state.weights), n_features) + len(state.weights) - 1

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on X: ``-2 log L + n_parameters log n`` (lower is better)."""
        log_lik = self.score_samples(X)
        return float(-2 * log_lik.sum() + self.n_parameters() * np.log(log_lik.shape[0]))

    def aic(self, X: Any) -> float:
        """Akaike information criterion on X: ``-2 log L + 2 n_parameters`` (lower is better)."""
        return float(-2 * self.score_samples(X).sum() + 2 * self.n_parameters())

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(X, labels)`` from the model: labels by ``weights_``, rows by the family."""
        n_samples = check_int("n_samples", n_samples, 1)
        family, state = self._fitted()
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        labels = rng.choice(len(state.weights), size=n_samples, p=state.weights)
        return family.sample(state.params, labels, rng), labels

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

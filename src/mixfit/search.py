"""The search for the best maximum: draw ``n_init`` starts, screen them, run the best to
convergence (in turn with checkpoints, or on joblib workers), and keep the highest.

With more than ``n_converge`` starts each first runs ``screen_iter`` EM iterations, on the
training data when they are small (plain EM's final stage then continues those iterations, so a
kept start ends exactly where it would have ended unscreened) or on a sample of ``SCREEN_ROWS``
rows; the best ``n_converge`` go on. Every start is recorded (``mixfit.restarts``).

``Search`` reads the estimator's public settings; ``Mixture.fit`` and ``partial_fit`` use it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from mixfit import restarts
from mixfit.accel import resolved, step_for
from mixfit.agglomerate import SUBSET_ROWS
from mixfit.config import get_config
from mixfit.em import EMSettings, EMState, FitResult, Resume, fit_em, warn_if_emptied
from mixfit.errors import EmptyComponentWarning, ModelError
from mixfit.families import Family
from mixfit.init import can_agglomerate, initial_state, start_method
from mixfit.parallel import map_jobs
from mixfit.prepare import TrainingData
from mixfit.priors import check_dirichlet
from mixfit.screen import screen_together
from mixfit.sources import ArraySource, DataSource, as_source

#: Starts are screened on a sample of this many rows when the data hold more distinct rows.
SCREEN_ROWS = 20_000
#: Starts run to convergence after the screening, for data that small (else 1).
DEFAULT_CONVERGE = 4

#: A start to run to convergence: its number, its state, and its screening run (None: unscreened).
Final = tuple[int, EMState, FitResult | None]
Progress = Callable[[int, float], None]


@dataclass(frozen=True)
class Outcome:
    """The best fit, which start it came from, and a record of every start."""

    best: FitResult
    best_start: int
    records: list[restarts.StartRecord]


def screens_whole(train: TrainingData) -> bool:
    """Whether the starts are screened on all the training data: every row is in memory for the
    start (``init_source``; streamed data of up to ``SAMPLE_ROWS`` rows included) and they hold at
    most ``SCREEN_ROWS`` distinct rows. The kept starts then continue their screening iterations
    on the training source, so in-memory, streamed and Dask fits stay the same fit."""
    return train.rows.shape[0] == train.source.n_rows and train.init_source.design.shape[0] <= SCREEN_ROWS


def em_settings(model: Any, max_iter: int | None = None) -> EMSettings:
    """The EM loop's settings from the estimator's (``max_iter`` overridden for screening)."""
    return EMSettings(
        max_iter=model.max_iter if max_iter is None else max_iter,
        tol=model.tol,
        weights_prior=check_dirichlet(model.weights_prior, "weights_prior"),
        debug=get_config().debug,
    )


def run_start(
    family: Family,
    source: DataSource,
    state: EMState,
    settings: EMSettings,
    step: Any = None,
    resume: Resume | None = None,
    **hooks: Any,
) -> FitResult | str:
    """One start run to convergence (perhaps in a worker): the result, or why it failed;
    ``hooks`` are ``fit_em``'s ``on_iteration`` and ``on_state``."""
    try:
        return fit_em(family, source, state, settings, step=step, resume=resume, **hooks)
    except ModelError as exc:
        return str(exc)


def after_screening(screening: FitResult, final: FitResult) -> FitResult:
    """A kept start's whole run: its screening iterations, then those of the final stage, which
    started from the screening's last state (the final's row 0 is the screening's last row, and
    its E-step passes are counted after the screening's)."""
    before = screening.history or (screening.rows() if screening.rows is not None else [])
    passes = int(before[-1]["e_steps"]) if before else screening.n_iter + 1
    rows = [{**row, "e_steps": row["e_steps"] + passes} for row in final.history]
    return FitResult(
        final.state, final.log_likelihood, screening.n_iter + final.n_iter, final.converged, [*before[:-1], *rows]
    )


class Search:
    """The starts of one fit of ``model`` on ``train``."""

    def __init__(self, model: Any, train: TrainingData, on_iteration: Any = None) -> None:
        self.model, self.train, self.on_iteration = model, train, on_iteration
        self.accelerate = resolved(model.accelerate, model.params_init, train.family)
        self.rng = check_random_state(model.random_state)
        self.agglomerate = (
            model.init == "auto" and model.params_init is None and can_agglomerate(train.family, train.init_source)
        )
        #: The screening runs on the training data of the starts kept, when the final stage starts
        #: afresh from their end (SQUAREM): joined to the final runs, so that ``n_iter_`` and
        #: ``history_`` count every iteration of the kept start.
        self.screening: dict[int, FitResult] = {}

    def initial_state(self, start: int = 0) -> EMState:
        model, train = self.model, self.train
        return initial_state(
            train.family,
            train.init_source,
            n_components=model.n_components,
            n_features=train.n_features,
            init=start_method(model.init, start, self.agglomerate),
            weights_init=model.weights_init,
            params_init=model.params_init,
            rng=self.rng,
        )

    def run(self, resume: bool = False) -> Outcome:
        """Draw, screen and run the starts; the best (a degenerate maximum only when every
        start reached one) and the record of every start."""
        train = self.train
        checkpoint = self.checkpointer()
        resumed = checkpoint.load() if resume and checkpoint is not None else None
        finals, records = self.screened_starts()
        if not finals:
            raise ModelError(restarts.failures(records))
        if resumed is not None:
            self.check_resumed(resumed, len(finals))
        parallel = self.model.n_jobs not in (None, 1) and checkpoint is None and isinstance(train.source, ArraySource)
        if len(finals) > 1 and parallel:
            results = self.run_in_parallel(finals)
        else:
            results = self.run_in_turn(finals, checkpoint, resumed)
        results = [
            after_screening(self.screening[start], result)
            if isinstance(result, FitResult) and start in self.screening
            else result
            for (start, _, _), result in zip(finals, results, strict=True)
        ]
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
            assert resumed is not None  # else best would be None
            best_start = finals[min(resumed.restart, len(finals) - 1)][0]
            if all(r.start != best_start for r in records):
                records.append(restarts.StartRecord(best_start, best.log_likelihood, best.n_iter, best.converged, ""))
        if checkpoint is not None:
            checkpoint.remove()
        return Outcome(best, best_start, restarts.classify(records, best_start))

    def check_resumed(self, resumed: Any, n_finals: int) -> None:
        """A checkpoint is untrusted input: its restart must be one of this fit's, its iteration
        within ``max_iter``, and its parameters valid for the family (shapes and domains)."""
        model = self.model
        if resumed.restart >= n_finals:
            raise ModelError(f"the checkpoint's restart {resumed.restart} does not exist: this fit runs {n_finals}")
        if resumed.iteration > model.max_iter:
            raise ModelError(f"the checkpoint's iteration {resumed.iteration} is beyond max_iter={model.max_iter}")
        for state in (resumed.state, None if resumed.best is None else resumed.best.state):
            if state is not None:
                if len(state.weights) != model.n_components:
                    raise ModelError(
                        f"the checkpoint holds {len(state.weights)} components; this fit has {model.n_components}"
                    )
                self.train.family.check_params(state.params, model.n_components, self.train.n_features)

    def one_start(self) -> bool:
        """Whether every start would be the same: ``init="hierarchical"`` on at most
        ``SUBSET_ROWS`` design rows agglomerates them all, with no draw (more rows: each start
        agglomerates its own random subset)."""
        return self.model.init == "hierarchical" and self.train.init_source.design.shape[0] <= SUBSET_ROWS

    def n_converge(self) -> int:
        if self.model.n_converge is not None:
            return int(self.model.n_converge)
        return DEFAULT_CONVERGE if screens_whole(self.train) else 1

    def screened_starts(self) -> tuple[list[Final], list[restarts.StartRecord]]:
        """The starts to run to convergence and the records of those that failed or were
        screened out."""
        model, train = self.model, self.train
        n_starts = 1 if model.params_init is not None or self.one_start() else model.n_init
        states: list[tuple[int, EMState]] = []
        records: list[restarts.StartRecord] = []
        for start in range(n_starts):
            try:
                states.append((start, self.initial_state(start)))
            except ModelError as exc:  # e.g. a singular covariance from a start's M-step
                records.append(restarts.StartRecord(start, np.nan, 0, False, restarts.FAILED, str(exc)))
        n_keep = self.n_converge()
        if len(states) <= n_keep:
            return [(start, state, None) for start, state in states], records
        screen, whole = self.screening_source()
        settings = em_settings(model, max_iter=model.screen_iter)
        together = None
        if self.accelerate is not None:  # side by side (mixfit.screen); plain EM's final stage
            # continues each start's own screening iterations, so it screens them one by one
            reports = [self.progress(start) if whole else None for start, _ in states]
            together = screen_together(train.family, screen, [state for _, state in states], settings, reports)
        screened: list[tuple[int, EMState, FitResult]] = []
        for index, (start, state) in enumerate(states):
            try:
                if together is not None:
                    outcome = together[index]
                    if isinstance(outcome, str):
                        raise ModelError(outcome)
                    result = outcome
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", EmptyComponentWarning)  # said below if the start is kept
                        progress = self.progress(start) if whole else None
                        result = fit_em(train.family, screen, state, settings, on_iteration=progress)
            except ModelError as exc:
                records.append(restarts.StartRecord(start, np.nan, 0, False, restarts.FAILED, str(exc)))
                continue
            screened.append((start, state, result))
        keep = set(restarts.ranked([result.objective for _, _, result in screened])[:n_keep])
        if self.agglomerate and screened and screened[0][0] == 0:  # mclust's start always runs to convergence
            keep.add(0)
        finals: list[Final] = []
        for index, (start, first, result) in enumerate(screened):
            if index in keep:
                warn_if_emptied(first, result.state, result.n_iter)  # silenced while screening
                continue_from = result if whole and self.accelerate is None else None
                if whole and continue_from is None:
                    self.screening[start] = result
                finals.append((start, result.state, continue_from))
            else:
                records.append(
                    restarts.StartRecord(start, result.log_likelihood, result.n_iter, False, restarts.SCREENED)
                )
        return finals, records

    def screening_source(self) -> tuple[DataSource, bool]:
        """``(source, is the training source)``: the training data when they hold at most
        ``SCREEN_ROWS`` design rows, else a sample of that many rows (with their weights)."""
        train = self.train
        source = train.init_source
        if screens_whole(train):
            return source, True
        if source.design.shape[0] <= SCREEN_ROWS:
            return source, False
        rows = np.sort(self.rng.choice(train.rows.shape[0], size=SCREEN_ROWS, replace=False))
        weight = None if train.row_weight is None else train.row_weight[rows]
        fixed = None if source.fixed is None else source.fixed[rows]
        covariates = None if source.covariates is None else source.covariates[rows]
        sample = as_source(
            train.rows[rows],
            train.family,
            sample_weight=weight,
            compress=self.model.compress,
            fixed=fixed,
            covariates=covariates,
        )
        return sample, False

    def run_in_turn(self, finals: list[Final], checkpoint: Any, resumed: Any) -> list[FitResult | str | None]:
        """The final starts one after another, with checkpoints; a failed start is its reason,
        a start finished before a resumed interruption is None."""
        train, settings = self.train, em_settings(self.model)
        results: list[FitResult | str | None] = []
        best: FitResult | None = None if resumed is None else resumed.best
        for run, (start, state, screened) in enumerate(finals):
            if resumed is not None and run < resumed.restart:
                results.append(None)
                continue
            begin = Resume()
            if screened is not None:
                if screened.converged:
                    results.append(screened)
                    best = screened if best is None or screened.objective > best.objective else best
                    continue
                begin = Resume(screened.n_iter, screened.history[:-1])
            if resumed is not None and run == resumed.restart:
                state, begin = resumed.state, Resume(resumed.iteration, resumed.history, resumed.progress)

            def save(iteration: int, current: EMState, history: list, progress: dict, run: int = run) -> None:
                if checkpoint is not None:
                    checkpoint.save(run, iteration, current, history, best, progress)  # noqa: B023 (best so far)

            result = run_start(
                train.family,
                train.source,
                state,
                settings,
                step=step_for(self.accelerate, begin.progress),
                on_iteration=self.progress(start),
                on_state=None if checkpoint is None else save,
                resume=begin,
            )
            results.append(result)
            if isinstance(result, FitResult):
                best = result if best is None or result.objective > best.objective else best
        return results

    def run_in_parallel(self, finals: list[Final]) -> list[FitResult | str | None]:
        """The final starts on ``n_jobs`` joblib workers: the sequential result, to round-off
        (workers run BLAS single-threaded, which adds in another order)."""
        train, settings = self.train, em_settings(self.model)
        pending = [(i, state, screened) for i, (_, state, screened) in enumerate(finals)]
        pending = [(i, state, screened) for i, state, screened in pending if screened is None or not screened.converged]
        jobs = []
        for _, state, screened in pending:
            begin = Resume() if screened is None else Resume(screened.n_iter, screened.history[:-1])
            step = step_for(self.accelerate)
            jobs.append((train.family, train.source, state, settings, step, begin))
        results: list[FitResult | str | None] = [screened for _, _, screened in finals]  # converged when screened
        for (i, _, _), result in zip(pending, map_jobs(run_start, jobs, self.model.n_jobs), strict=True):
            results[i] = result
        for (start, _, _), result in zip(finals, results, strict=True):  # progress per finished start
            report = self.progress(start)
            if report is not None and isinstance(result, FitResult):
                report(result.n_iter, result.log_likelihood)
        return results

    def checkpointer(self) -> Any:
        if self.model.checkpoint is None:
            return None
        if self.train.covariates is not None:
            raise ModelError("checkpoint is not available with covariates yet; fit without checkpoint")
        from mixfit.checkpoint import Checkpointer, fingerprint

        model = self.model
        settings = {**model.get_params(), "family": self.train.family.to_dict(), "checkpoint": None}
        return Checkpointer(model.checkpoint, model.checkpoint_every, fingerprint(settings, self.train.source))

    def progress(self, run: int) -> Progress | None:
        """What to call after each iteration of start ``run``: print (verbose) and the user's
        ``on_iteration(run, iteration, log_likelihood)``."""
        verbose, on_iteration = self.model.verbose, self.on_iteration
        if not verbose and on_iteration is None:
            return None

        def report(n_iter: int, ll: float) -> None:
            if verbose:  # to stdout, as scikit-learn's estimators report progress
                print(f"restart {run}: iteration {n_iter}, log-likelihood {ll:.10g}", flush=True)
            if on_iteration is not None:
                on_iteration(run, n_iter, ll)

        return report

"""One way to run independent jobs: in turn, or on joblib workers that run with the caller's
``mixfit.config`` settings (a worker process does not share this thread's context)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mixfit.config import Config, config_context, get_config


def map_jobs(fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], n_jobs: int | None) -> list[Any]:
    """``[fn(*job) for job in jobs]``, in order: here when ``n_jobs`` is None or 1 (or there is
    one job), else on ``n_jobs`` joblib workers (-1: all cores)."""
    if n_jobs in (None, 1) or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    from joblib import Parallel, delayed

    config = get_config()
    return list(Parallel(n_jobs=n_jobs)(delayed(_in_config)(config, fn, job) for job in jobs))


def _in_config(config: Config, fn: Callable[..., Any], job: tuple[Any, ...]) -> Any:
    with config_context(debug=config.debug, kernel=config.kernel):
        return fn(*job)

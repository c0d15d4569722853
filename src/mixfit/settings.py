"""The estimator's settings as a table of constraints (as scikit-learn's
``_parameter_constraints``), checked in one place before every fit: each rule takes the
setting's name and value and raises ``ModelError`` naming the rule."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mixfit._validation import check_int, check_option, check_weights
from mixfit.accel import ACCELERATIONS
from mixfit.errors import ModelError
from mixfit.init import INIT_METHODS
from mixfit.online import check_decay
from mixfit.prepare import compute_dtype
from mixfit.priors import check_dirichlet

Rule = Callable[[str, Any], Any]


def at_least(minimum: int) -> Rule:
    return lambda name, value: check_int(name, value, minimum)


def optional(rule: Rule) -> Rule:
    return lambda name, value: None if value is None else rule(name, value)


def one_of(options: Sequence[Any]) -> Rule:
    return lambda name, value: check_option(name, value, options)


def n_jobs(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value == 0):
        raise ModelError(f"{name} must be None or a nonzero int (-1: all cores); got {value!r}")


def tolerance(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < np.inf:
        raise ModelError(f"{name} must be a finite number >= 0; got {value!r}")


def path_or_none(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise ModelError(f"{name} must be None or a file path; got {value!r}")
    if value is not None and not str(value):
        raise ModelError(f"{name} must be a file path; got an empty string")


def seed(name: str, value: Any) -> None:
    if isinstance(value, bool) or (isinstance(value, (int, np.integer)) and not 0 <= value < 2**32):
        raise ModelError(f"{name} must be None, an int between 0 and 2**32 - 1, or a RandomState; got {value!r}")


CONSTRAINTS: dict[str, Rule] = {
    "n_components": at_least(1),
    "init": one_of(INIT_METHODS),
    "n_init": at_least(1),
    "n_converge": optional(at_least(1)),
    "screen_iter": at_least(1),
    "max_iter": at_least(1),
    "tol": tolerance,
    "compress": one_of(("auto", True, False)),
    "checkpoint": path_or_none,
    "random_state": seed,
    "checkpoint_every": at_least(1),
    "online_decay": lambda name, value: check_decay(value),
    "accelerate": one_of(ACCELERATIONS),
    "dtype": lambda name, value: compute_dtype(value),
    "n_jobs": n_jobs,
    "weights_prior": lambda name, value: check_dirichlet(value, name),
}


def check_settings(estimator: Any) -> None:
    """Every setting of ``estimator`` against ``CONSTRAINTS``; ``weights_init`` against K."""
    for name, rule in CONSTRAINTS.items():
        rule(name, getattr(estimator, name))
    if estimator.weights_init is not None:
        check_weights(estimator.weights_init, estimator.n_components)

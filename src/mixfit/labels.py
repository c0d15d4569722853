"""Label switching: a canonical component order, and matching components to a reference.

A mixture's likelihood is the same under any permutation of its components, so two fits (or
bootstrap replicates) may name the same class differently. ``order_state`` sorts components by
a rule; ``align`` matches a model's components to a reference model's by the Hungarian
algorithm (``scipy.optimize.linear_sum_assignment``) on the distance between their parameters.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from mixfit.em import EMState
from mixfit.errors import ModelError

_ORDER = re.compile(r"^(?P<name>[\w.]+?)(?:\[(?P<column>\d+)\])?$")


def permute(state: EMState, order: np.ndarray) -> EMState:
    """The state with component ``order[i]`` in place i (covariate coefficients measured again
    from the new class 0, the reference)."""
    coef = None if state.coef is None else state.coef[order] - state.coef[order][0]
    return EMState(state.weights[order], {k: np.asarray(v)[order] for k, v in state.params.items()}, coef=coef)


def order_of(state: EMState, rule: str) -> np.ndarray:
    """The permutation that ``rule`` asks for: "weight" (largest first) or a parameter entry
    ("p", "mean", "rate", "x3.rate" for its first column, "p[3]" for column 3) in increasing order."""
    if rule == "weight":
        return np.argsort(-state.weights, kind="stable")
    match = _ORDER.match(str(rule))
    if match is None or match["name"] not in state.params:
        raise ModelError(
            f"order must be 'weight' or a parameter such as {sorted(state.params)} "
            f"(optionally 'name[column]'); got {rule!r}"
        )
    table = np.asarray(state.params[match["name"]]).reshape(len(state.weights), -1)
    column = int(match["column"] or 0)
    if column >= table.shape[1]:
        raise ModelError(f"order {rule!r}: parameter {match['name']!r} has {table.shape[1]} entries per component")
    return np.argsort(table[:, column], kind="stable")


def matching(state: EMState, reference: EMState) -> np.ndarray:
    """``order`` such that component ``order[j]`` of ``state`` is closest to reference component j
    (sum of squared differences of all parameters, each standardised by its spread)."""
    if len(state.weights) != len(reference.weights) or set(state.params) != set(reference.params):
        raise ModelError("align needs models with the same number of components and the same parameters")
    cost = np.zeros((len(reference.weights), len(state.weights)))
    for name, ref in reference.params.items():
        a = np.asarray(ref, dtype=float).reshape(len(reference.weights), -1)
        b = np.asarray(state.params[name], dtype=float).reshape(len(state.weights), -1)
        scale = np.maximum(np.abs(a).mean(axis=0), 1e-12)
        cost += (((a[:, None, :] - b[None, :, :]) / scale) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def align(model: Any, reference: Any) -> Any:
    """A copy of fitted ``model`` with its components in the order that best matches ``reference``
    (Hungarian algorithm); ``permutation_`` holds the old index of each new component.

    Examples
    --------
    >>> import mixfit as mf
    >>> a = mf.Mixture(mf.Bernoulli(), 2, weights_init=[0.3, 0.7], params_init={"p": [[0.9, 0.8], [0.1, 0.2]]})
    >>> b = mf.Mixture(mf.Bernoulli(), 2, weights_init=[0.7, 0.3], params_init={"p": [[0.1, 0.2], [0.9, 0.8]]})
    >>> for m in (a, b):
    ...     m.weights_, m.params_ = m.weights_init, m.params_init
    >>> mf.align(b, a).permutation_.tolist()
    [1, 0]
    """
    state = EMState(np.asarray(model.weights_), dict(model.params_))
    ref = EMState(np.asarray(reference.weights_), dict(reference.params_))
    order = matching(state, ref)
    aligned = copy.deepcopy(model)
    new = permute(state, order)
    aligned.weights_, aligned.params_ = new.weights, new.params
    aligned.permutation_ = order
    return aligned

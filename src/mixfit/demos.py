"""The three worked examples (docs/references.md), end to end: data, model, and what to look at.

Each demo returns a ``Demo``: the data, the fitted model, a short story, and (for Ch6)
the explain tables of the first iteration.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixfit.families import Bernoulli, Binomial
from mixfit.model import Mixture

THREE_COINS = [6, 5, 4, 2, 2, 6, 5, 5, 4, 2, 5, 2, 4, 4, 6, 4, 5, 6, 3, 3]


@dataclass
class Demo:
    name: str
    story: str
    data: Any
    model: Mixture
    notes: list[str] = field(default_factory=list)
    explain: list[Any] = field(default_factory=list)


def _fit(model: Mixture, data: Any) -> tuple[Mixture, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data)
    return model, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def three_coins() -> Demo:
    """Ch6: 20 sequences of 10 flips, 3 coins, started at w = (.25, .5, .25), phi = (.4, .5, .65)."""
    data = pd.DataFrame({"heads": THREE_COINS})
    model = Mixture(Binomial(n_trials=10), 3, weights_init=[0.25, 0.5, 0.25], params_init={"p": [0.4, 0.5, 0.65]})
    steps = model.explain(data, iterations=1)
    model, notes = _fit(model, data)
    story = (
        "Ch6, section 6.3. The first iteration reproduces Tables 6.1-6.4; converged, the three "
        "coins merge at p = 0.415 because the counts are less spread out than one binomial's."
    )
    return Demo("three-coins", story, data, model, notes, steps)


def two_coins(seed: int = 42) -> list[Demo]:
    """CV21: p(Z=1) = 0.75, biases 0.2 and 0.9; flipped once (not identifiable) and 10 times."""
    rng = np.random.default_rng(seed)
    z = rng.binomial(1, 0.75, size=10_000)
    biases = np.array([0.2, 0.9])
    once = pd.DataFrame({"heads": rng.binomial(1, biases[z])})
    ten = pd.DataFrame({"heads": rng.binomial(10, biases[z])})
    start: dict[str, Any] = {"weights_init": [0.25, 0.75], "params_init": {"p": [0.25, 0.85]}}
    single, notes_single = _fit(Mixture(Bernoulli(), 2, **start), once)
    tens, notes_tens = _fit(Mixture(Binomial(n_trials=10), 2, **start), ten)
    return [
        Demo("two-coins-one-flip", "CV21: one flip per draw. Only P(heads) is estimable.", once, single, notes_single),
        Demo(
            "two-coins-ten-flips",
            "CV21's coins flipped 10 times per draw: the truth (0.25/0.75, p = 0.2 and 0.9) is recovered.",
            ten,
            tens,
            notes_tens,
        ),
    ]


def coins() -> Demo:
    """Sciarra: ten flips, mu = (0.3, 0.7), p = (0.6, 0.8); ELBO = log-likelihood = -9.28686."""
    data = pd.DataFrame({"flip": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]})
    model = Mixture(Bernoulli(), 2, weights_init=[0.3, 0.7], params_init={"p": [[0.6], [0.8]]})
    model, notes = _fit(model, data)
    story = (
        f"Sciarra: at the start the ELBO equals the log-likelihood, "
        f"{model.history_['elbo'].iloc[0]:.5f} = {model.history_['log_likelihood'].iloc[0]:.5f} (KL = 0)."
    )
    return Demo("coins", story, data, model, notes)


#: Item probabilities of the three latent classes of the survey example.
SURVEY_P = np.array(
    [
        [0.9, 0.85, 0.8, 0.9, 0.2, 0.1, 0.15, 0.2],
        [0.2, 0.3, 0.1, 0.25, 0.85, 0.9, 0.8, 0.75],
        [0.9, 0.9, 0.85, 0.8, 0.9, 0.85, 0.9, 0.95],
    ]
)
SURVEY_WEIGHTS = np.array([0.5, 0.3, 0.2])


def survey_data(n_rows: int = 1500, seed: int = 2026) -> pd.DataFrame:
    """Yes/no answers to 8 items from 3 latent classes (``examples/survey.csv``)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n_rows, p=SURVEY_WEIGHTS)
    answers = (rng.random((n_rows, SURVEY_P.shape[1])) < SURVEY_P[labels]).astype(int)
    return pd.DataFrame(answers, columns=[f"q{j + 1}" for j in range(SURVEY_P.shape[1])])


def lca() -> Demo:
    """Latent class analysis of the survey example: 1500 people, 8 yes/no items, 3 classes."""
    data = survey_data()
    model, notes = _fit(Mixture(Bernoulli(), 3, n_init=5, random_state=0), data)
    return Demo("lca", "A latent class model of 8 yes/no survey items with 3 classes.", data, model, notes)


#: The demos in the order ``mixfit demo`` runs them: a latent class analysis that works first,
#: then the worked examples (docs/references.md), which also show what EM cannot identify.
DEMOS = {
    "lca": lambda: [lca()],
    "two-coins": two_coins,
    "three-coins": lambda: [three_coins()],
    "coins": lambda: [coins()],
}

"""Regenerate the bundled example data (seeded, so the files never change).

python examples/make_examples.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def two_coins(rng: np.random.Generator) -> pd.DataFrame:
    """Seed 000's coins (p(Z=1) = 0.75, biases 0.2 and 0.9), each draw flipped 10 times."""
    z = rng.binomial(1, 0.75, size=1000)
    return pd.DataFrame({"heads": rng.binomial(10, np.array([0.2, 0.9])[z])})


def survey(rng: np.random.Generator) -> pd.DataFrame:
    """Yes/no answers to 8 items from 3 latent classes (weights 0.5, 0.3, 0.2)."""
    p = np.array(
        [
            [0.9, 0.85, 0.8, 0.9, 0.2, 0.1, 0.15, 0.2],
            [0.2, 0.3, 0.1, 0.25, 0.85, 0.9, 0.8, 0.75],
            [0.9, 0.9, 0.85, 0.8, 0.9, 0.85, 0.9, 0.95],
        ]
    )
    labels = rng.choice(3, size=1500, p=[0.5, 0.3, 0.2])
    answers = (rng.random((1500, 8)) < p[labels]).astype(int)
    return pd.DataFrame(answers, columns=[f"q{j + 1}" for j in range(8)])


if __name__ == "__main__":
    rng = np.random.default_rng(2026)
    two_coins(rng).to_csv(HERE / "two_coins.csv", index=False)
    survey(rng).to_csv(HERE / "survey.csv", index=False)

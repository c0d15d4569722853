"""Regenerate the bundled example data (seeded, so the files never change).

python examples/make_examples.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.demos import THREE_COINS, survey_data

HERE = Path(__file__).parent


def two_coins(seed: int = 2026) -> pd.DataFrame:
    """CV21's coins (p(Z=1) = 0.75, biases 0.2 and 0.9), each draw flipped 10 times."""
    rng = np.random.default_rng(seed)
    z = rng.binomial(1, 0.75, size=1000)
    return pd.DataFrame({"heads": rng.binomial(10, np.array([0.2, 0.9])[z])})


def geyser(seed: int = 272) -> pd.DataFrame:
    """Simulated in the shape of R's ``faithful`` (272 eruptions of Old Faithful): eruption
    length and waiting time in minutes, two kinds of eruption; a 2-D Gaussian mixture example."""
    rng = np.random.default_rng(seed)
    long = rng.random(272) < 0.64
    means = np.where(long[:, None], [4.29, 80.0], [2.04, 54.5])
    sd = np.where(long[:, None], [0.41, 5.9], [0.27, 5.9])
    z = rng.standard_normal((272, 2))
    z[:, 1] = 0.3 * z[:, 0] + np.sqrt(1 - 0.3**2) * z[:, 1]  # longer eruptions, longer waits
    values = means + sd * z
    return pd.DataFrame({"eruption": values[:, 0].round(3), "waiting": values[:, 1].round(0)})


def visits(seed: int = 500) -> pd.DataFrame:
    """Doctor visits in a year of 500 people from three groups (rates 0.5, 3 and 8): a Poisson
    mixture example."""
    rng = np.random.default_rng(seed)
    group = rng.choice(3, size=500, p=[0.5, 0.35, 0.15])
    return pd.DataFrame({"visits": rng.poisson(np.array([0.5, 3.0, 8.0])[group])})


if __name__ == "__main__":
    pd.DataFrame({"heads": THREE_COINS}).to_csv(HERE / "three_coins.csv", index=False)
    two_coins().to_csv(HERE / "two_coins.csv", index=False)
    survey_data().to_csv(HERE / "survey.csv", index=False)
    geyser().to_csv(HERE / "geyser.csv", index=False)
    visits().to_csv(HERE / "visits.csv", index=False)

"""Regenerate the bundled example data (seeded, so the files never change).

python examples/make_examples.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.demos import THREE_COINS, survey_data

HERE = Path(__file__).parent


def two_coins(seed: int = 2026) -> pd.DataFrame:
    """Seed 000's coins (p(Z=1) = 0.75, biases 0.2 and 0.9), each draw flipped 10 times."""
    rng = np.random.default_rng(seed)
    z = rng.binomial(1, 0.75, size=1000)
    return pd.DataFrame({"heads": rng.binomial(10, np.array([0.2, 0.9])[z])})


if __name__ == "__main__":
    pd.DataFrame({"heads": THREE_COINS}).to_csv(HERE / "three_coins.csv", index=False)
    two_coins().to_csv(HERE / "two_coins.csv", index=False)
    survey_data().to_csv(HERE / "survey.csv", index=False)

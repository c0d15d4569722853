"""mixfit: finite mixture models fitted by EM, exactly as the textbooks derive it."""

from mixfit.errors import (
    ConvergenceWarning,
    DataError,
    EmptyComponentWarning,
    IdentifiabilityWarning,
    MixfitError,
    ModelError,
    MonotonicityError,
    MonotonicityWarning,
)
from mixfit.families import Bernoulli, Binomial, Categorical
from mixfit.io import load_model as load
from mixfit.model import Mixture

__version__ = "0.1.0"

__all__ = [
    "Bernoulli",
    "Binomial",
    "Categorical",
    "ConvergenceWarning",
    "DataError",
    "EmptyComponentWarning",
    "IdentifiabilityWarning",
    "MixfitError",
    "Mixture",
    "ModelError",
    "MonotonicityError",
    "MonotonicityWarning",
    "load",
]

"""mixfit: finite mixture models fitted by EM, exactly as the textbooks derive it."""

from mixfit.diagnostics import check_identifiability, goodness_of_fit
from mixfit.errors import (
    ClusterError,
    ConvergenceWarning,
    DataError,
    EmptyComponentWarning,
    IdentifiabilityWarning,
    MixfitError,
    ModelError,
    MonotonicityError,
    MonotonicityWarning,
)
from mixfit.families import Bernoulli, Binomial, Categorical, Gaussian, Independent, Multinomial, Poisson
from mixfit.io import load_model as load
from mixfit.labels import align
from mixfit.model import Mixture
from mixfit.select import Selection, bootstrap_lrt, select
from mixfit.sources import FileTable

__version__ = "0.1.0"

__all__ = [
    "Bernoulli",
    "align",
    "Binomial",
    "Categorical",
    "ClusterError",
    "ConvergenceWarning",
    "DataError",
    "EmptyComponentWarning",
    "FileTable",
    "Gaussian",
    "Independent",
    "Multinomial",
    "Poisson",
    "IdentifiabilityWarning",
    "MixfitError",
    "Mixture",
    "ModelError",
    "MonotonicityError",
    "MonotonicityWarning",
    "Selection",
    "bootstrap_lrt",
    "check_identifiability",
    "goodness_of_fit",
    "select",
    "load",
]

"""mixfit: finite mixture models fitted by EM, exactly as the textbooks derive it.

``import mixfit`` loads only the error classes; every other public name is imported from its
module on first use (PEP 562), so the command line and ``import mixfit`` start fast and
SciPy, scikit-learn and pandas load only when a fit needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mixfit.errors import (
    ClusterError,
    ConvergenceWarning,
    DataError,
    EmptyComponentWarning,
    IdentifiabilityWarning,
    MissingDependencyError,
    MixfitError,
    ModelError,
    MonotonicityError,
    MonotonicityWarning,
    RangeWarning,
    ReplicationWarning,
)

__version__ = "0.1.0"

#: Public name -> (module, attribute in that module).
_LAZY: dict[str, tuple[str, str]] = {
    "Bernoulli": ("mixfit.families", "Bernoulli"),
    "Binomial": ("mixfit.families", "Binomial"),
    "Categorical": ("mixfit.families", "Categorical"),
    "Gaussian": ("mixfit.families", "Gaussian"),
    "Independent": ("mixfit.families", "Independent"),
    "Multinomial": ("mixfit.families", "Multinomial"),
    "Poisson": ("mixfit.families", "Poisson"),
    "Regression": ("mixfit.families", "Regression"),
    "FileTable": ("mixfit.sources", "FileTable"),
    "Mixture": ("mixfit.model", "Mixture"),
    "Selection": ("mixfit.selection", "Selection"),
    "align": ("mixfit.labels", "align"),
    "bootstrap_lrt": ("mixfit.selection", "bootstrap_lrt"),
    "check_identifiability": ("mixfit.diagnostics", "check_identifiability"),
    "goodness_of_fit": ("mixfit.diagnostics", "goodness_of_fit"),
    "load": ("mixfit.model", "load_model"),
    "select": ("mixfit.selection", "select"),
}

if TYPE_CHECKING:
    from mixfit.diagnostics import check_identifiability, goodness_of_fit
    from mixfit.families import (
        Bernoulli,
        Binomial,
        Categorical,
        Gaussian,
        Independent,
        Multinomial,
        Poisson,
        Regression,
    )
    from mixfit.labels import align
    from mixfit.model import Mixture
    from mixfit.model import load_model as load
    from mixfit.selection import Selection, bootstrap_lrt, select
    from mixfit.sources import FileTable


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'mixfit' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Bernoulli",
    "Binomial",
    "Categorical",
    "ClusterError",
    "ConvergenceWarning",
    "DataError",
    "EmptyComponentWarning",
    "FileTable",
    "Gaussian",
    "IdentifiabilityWarning",
    "Independent",
    "MissingDependencyError",
    "MixfitError",
    "Mixture",
    "ModelError",
    "MonotonicityError",
    "MonotonicityWarning",
    "Multinomial",
    "Poisson",
    "Regression",
    "RangeWarning",
    "ReplicationWarning",
    "Selection",
    "align",
    "bootstrap_lrt",
    "check_identifiability",
    "goodness_of_fit",
    "load",
    "select",
]

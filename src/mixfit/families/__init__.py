"""Component families, by name."""

from __future__ import annotations

from typing import Any

from mixfit.errors import ModelError
from mixfit.families._base import (
    CONSTRAINED_COVARIANCE,
    CONSTRAINED_VARIANCE,
    COVARIANCE,
    MATRIX_DOMAINS,
    POSITIVE,
    PROBABILITY,
    REAL,
    SIMPLEX,
    TIED_COVARIANCE,
    DesignStats,
    Family,
    ParamSpec,
    Stats,
)
from mixfit.families.bernoulli import Bernoulli
from mixfit.families.binomial import Binomial
from mixfit.families.categorical import Categorical
from mixfit.families.gaussian import Gaussian
from mixfit.families.independent import Independent
from mixfit.families.multinomial import Multinomial
from mixfit.families.poisson import Poisson
from mixfit.families.regression import Regression

FAMILIES: dict[str, type[Family]] = {
    cls.name: cls for cls in (Bernoulli, Binomial, Categorical, Poisson, Multinomial, Gaussian, Independent, Regression)
}


def get_family(name: str, **options: Any) -> Family:
    """The family registered as ``name``, built with ``options``."""
    try:
        cls = FAMILIES[name.lower()]
    except KeyError:
        raise ModelError(f"family must be one of {sorted(FAMILIES)}; got {name!r}") from None
    return cls(**options)


def as_family(family: Family | str) -> Family:
    """A family object, or the family registered under the name ``family``."""
    if isinstance(family, Family):
        return family
    if isinstance(family, str):
        return get_family(family)
    raise ModelError(f"family must be a mixfit family or its name; got {family!r}")


def from_dict(settings: dict[str, Any]) -> Family:
    """The inverse of ``Family.to_dict``."""
    options = dict(settings)
    return get_family(str(options.pop("family", "")), **options)


#: The former name of ``DesignStats`` (statistics were one positional (resp_sum, t_sum) pair).
LinearStats = DesignStats

__all__ = [
    "FAMILIES",
    "as_family",
    "Bernoulli",
    "Binomial",
    "Categorical",
    "Family",
    "Gaussian",
    "Independent",
    "Multinomial",
    "Poisson",
    "Regression",
    "CONSTRAINED_COVARIANCE",
    "CONSTRAINED_VARIANCE",
    "COVARIANCE",
    "MATRIX_DOMAINS",
    "POSITIVE",
    "PROBABILITY",
    "REAL",
    "SIMPLEX",
    "TIED_COVARIANCE",
    "DesignStats",
    "ParamSpec",
    "LinearStats",
    "Stats",
    "from_dict",
    "get_family",
]

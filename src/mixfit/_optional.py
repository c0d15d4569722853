"""Optional dependencies, imported when a feature first needs them."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from mixfit.errors import MissingDependencyError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``module`` imported, or one line naming the extra that installs it.

    >>> require("json", "plots", "reading JSON").__name__
    'json'
    """
    try:
        return import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise MissingDependencyError(
            f"{feature} needs {package}, which is not installed; install the extra: "
            f"pip install 'mixfit[{extra}]' (from a clone: pip install '.[{extra}]')"
        ) from None

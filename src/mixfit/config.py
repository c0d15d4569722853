"""Process settings that are not model options: the debug check and the log-sum-exp kernel.

``get_config()`` returns them, ``set_config(...)`` changes them, and ``config_context(...)``
changes them inside a ``with`` block, as scikit-learn's functions of the same names do. They are
held in a context variable, so a block changes them for its own thread (and the worker threads
mixfit starts from it) only. The environment variables ``MIXFIT_DEBUG=1`` and
``MIXFIT_KERNEL=numpy`` set the defaults; this module is the only place that reads them.

- ``debug``: a decrease of the log-likelihood raises ``MonotonicityError`` instead of warning
  with ``MonotonicityWarning`` (the test suite runs with it on).
- ``kernel``: ``"numba"`` (the compiled log-sum-exp of large blocks, when numba is installed)
  or ``"numpy"`` (see ``mixfit.kernels``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from mixfit.errors import ModelError

KERNELS = ("numba", "numpy")


@dataclass(frozen=True)
class Config:
    debug: bool = False
    kernel: str = "numba"


def _from_environment() -> Config:
    kernel = os.environ.get("MIXFIT_KERNEL", "numba")
    if kernel not in KERNELS:
        raise ModelError(f"MIXFIT_KERNEL must be one of {list(KERNELS)}; got {kernel!r}")
    return Config(debug=os.environ.get("MIXFIT_DEBUG") == "1", kernel=kernel)


_current: ContextVar[Config | None] = ContextVar("mixfit_config", default=None)


def get_config() -> Config:
    """The settings in force here (the environment's defaults until changed)."""
    config = _current.get()
    if config is None:
        config = _from_environment()
        _current.set(config)
    return config


def _checked(debug: bool | None, kernel: str | None) -> dict[str, object]:
    changes: dict[str, object] = {}
    if debug is not None:
        if not isinstance(debug, bool):
            raise ModelError(f"debug must be True or False; got {debug!r}")
        changes["debug"] = debug
    if kernel is not None:
        if kernel not in KERNELS:
            raise ModelError(f"kernel must be one of {list(KERNELS)}; got {kernel!r}")
        changes["kernel"] = kernel
    return changes


def set_config(*, debug: bool | None = None, kernel: str | None = None) -> None:
    """Change the settings for this thread from now on (None: unchanged)."""
    _current.set(replace(get_config(), **_checked(debug, kernel)))  # type: ignore[arg-type]


@contextmanager
def config_context(*, debug: bool | None = None, kernel: str | None = None) -> Iterator[Config]:
    """The settings changed inside the block (None: unchanged), restored after it."""
    token = _current.set(replace(get_config(), **_checked(debug, kernel)))  # type: ignore[arg-type]
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)

"""Files: reading data tables, and model files as plain JSON (never pickle)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixfit._validation import check_column, check_weights
from mixfit.errors import DataError, ModelError
from mixfit.families import from_dict

FORMAT_VERSION = 1


def read_table(path: str | os.PathLike[str], columns: list[str] | None = None, sep: str = ",") -> pd.DataFrame:
    """A CSV, Parquet or .npy file as a DataFrame, optionally keeping only ``columns``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist")
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            frame = pd.DataFrame(array.reshape(len(array), -1))
            frame.columns = [f"x{j}" for j in range(frame.shape[1])]
        elif path.suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} is empty") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, ImportError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {str(exc).splitlines()[0]}") from None
    if frame.empty:
        raise DataError(f"data file {str(path)!r} has no rows")
    _check_delimiter(frame, path, sep)
    if columns:
        for name in columns:
            check_column(name, list(frame.columns), str(path))
        frame = frame[columns]
    return frame


def _check_delimiter(frame: pd.DataFrame, path: Path, sep: str) -> None:
    """One column whose header holds another delimiter: the file was read with the wrong one."""
    if frame.shape[1] != 1:
        return
    for other in (";", "\t", "|", ","):
        if other != sep and other in str(frame.columns[0]):
            shown = other.replace("\t", "\\t")
            raise DataError(f"{str(path)!r} looks '{shown}'-separated, not '{sep}'-separated; pass --sep '{shown}'")


def model_to_dict(model: Any) -> dict[str, Any]:
    """Everything needed to use a fitted ``Mixture`` again, as JSON values."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, ["weights_", "params_"])
    family = getattr(model, "family_", None) or model._base_family()
    history = getattr(model, "history_", None)
    return {
        "format": "mixfit-model",
        "format_version": FORMAT_VERSION,
        "family": family.to_dict(),
        "n_components": len(model.weights_),
        "weights": np.asarray(model.weights_).tolist(),
        "params": {k: np.asarray(v).tolist() for k, v in model.params_.items()},
        "columns": getattr(model, "columns_", None),
        "feature_names_in": None if not hasattr(model, "feature_names_in_") else list(model.feature_names_in_),
        "fit": {
            "log_likelihood": getattr(model, "log_likelihood_", None),
            "n_iter": getattr(model, "n_iter_", None),
            "converged": getattr(model, "converged_", None),
        },
        "settings": {k: v for k, v in model.get_params().items() if k in ("max_iter", "tol", "n_init", "init")},
        "history": None if history is None else {c: [_json_float(v) for v in history[c]] for c in history},
    }


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write ``model`` as JSON atomically."""
    write_atomic(Path(path), json.dumps(model_to_dict(model), allow_nan=False))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place, so an
    interrupted write never leaves a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_model(path: str | os.PathLike[str]) -> Any:
    """A ``Mixture`` from a JSON model file written by ``save_model``."""
    from mixfit.model import Mixture

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model file {str(path)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{str(path)!r} is not a valid mixfit model file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != "mixfit-model":
        raise ModelError(f"{str(path)!r} is not a mixfit model file")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"model file format_version must be {FORMAT_VERSION}; got {doc.get('format_version')!r}")
    family = from_dict(doc["family"])
    model = Mixture(family, n_components=int(doc["n_components"]), **doc.get("settings", {}))
    columns = doc.get("columns") or []
    n_features = len(family.feature_names(columns)) if columns else np.asarray(doc["params"]["p"]).shape[1]
    k = int(doc["n_components"])
    params = family.check_params({key: np.asarray(v) for key, v in doc["params"].items()}, k, n_features)
    model.weights_ = check_weights(doc["weights"], k, "weights")
    model.params_ = params
    model.family_ = family
    if columns:
        model.columns_ = columns
        model.feature_names_ = family.feature_names(columns)
        model.n_features_in_ = len(columns)
    if doc.get("feature_names_in") is not None:
        model.feature_names_in_ = np.asarray(doc["feature_names_in"], dtype=object)
    fit = doc.get("fit") or {}
    if fit.get("log_likelihood") is not None:
        model.log_likelihood_ = float(fit["log_likelihood"])
        model.n_iter_ = int(fit["n_iter"])
        model.converged_ = bool(fit["converged"])
    if doc.get("history") is not None:
        model.history_ = pd.DataFrame(
            {c: [np.nan if v is None else v for v in vals] for c, vals in doc["history"].items()}
        ).rename_axis("iteration")
    return model


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_float(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value

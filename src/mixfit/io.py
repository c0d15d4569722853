"""Files: reading data tables, and model files as plain JSON (never pickle)."""

from __future__ import annotations

import errno
import glob
import json
import math
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixfit._optional import require
from mixfit._validation import check_column, check_header, check_weights
from mixfit.errors import DataError, MixfitError, ModelError
from mixfit.families import as_family, from_dict
from mixfit.sources.files import check_delimiter, check_first_row, check_sep, check_short_lines, npy_header

FORMAT_VERSION = 1


def read_table(path: str | os.PathLike[str], columns: list[str] | None = None, sep: str = ",") -> pd.DataFrame:
    """A CSV, Parquet or .npy file as a DataFrame, optionally keeping only ``columns``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist")
    check_sep(sep)
    try:
        if path.suffix == ".npy":
            npy_header(path)  # a header claiming more than the file holds is refused first
            array = np.load(path, allow_pickle=False)
            frame = pd.DataFrame(array.reshape(len(array), -1))
            frame.columns = [f"x{j}" for j in range(frame.shape[1])]
        elif path.suffix in (".parquet", ".pq"):
            require("pyarrow", "parquet", "reading Parquet files")
            frame = pd.read_parquet(path)
            check_header([str(c) for c in frame.columns], path)
        else:
            header = pd.read_csv(path, sep=sep, encoding="utf-8-sig", nrows=1, header=None, keep_default_na=False)
            check_header(list(header.iloc[0]) if len(header) else [], path)
            check_first_row(path, sep, header.shape[1])
            frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig")
    except MixfitError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} is empty") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, ImportError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {str(exc).splitlines()[0]}") from None
    if frame.empty:
        raise DataError(f"data file {str(path)!r} has no rows")
    check_delimiter([str(c) for c in frame.columns], path, sep)
    if path.suffix not in (".npy", ".parquet", ".pq") and frame.isna().to_numpy().any():
        check_short_lines(path, sep, frame.shape[1])
    if columns:
        for name in columns:
            check_column(name, list(frame.columns), str(path))
        frame = frame[columns]
    return frame


def model_to_dict(model: Any) -> dict[str, Any]:
    """Everything needed to use a fitted ``Mixture`` again, as JSON values."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, ["weights_", "params_"])
    family = getattr(model, "family_", None) or as_family(model.family)
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
        **_covariates_to_dict(model),
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
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


#: A temporary file of an earlier write to the same target, untouched for this many seconds, was
#: left by a killed process (a live write touches its file at least every chunk) and is removed.
STALE_TEMP_SECONDS = 600


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the ``.<name>.*.tmp`` files an interrupted write to ``path`` left beside it (those
    not modified for ``STALE_TEMP_SECONDS``); the removed paths."""
    removed = []
    now = time.time()
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            info = candidate.lstat()
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_TEMP_SECONDS:
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    return removed


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to ``path`` when the block succeeds and removed
    when it fails: readers see the old file or the whole new one, never part of it. Temporary
    files that a killed earlier write to ``path`` left behind are removed first."""
    if not path.parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT, f"cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist"
        )
    remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # named by the target, not by the hidden temporary file
        raise type(exc)(exc.errno, f"cannot write {str(path)!r}: {exc.strerror}") from None
    os.close(fd)
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o666 & ~_umask()
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)  # a replaced file keeps its permissions; a new one gets the umask's
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def table_writer(path: Path | None, echo: Any = print) -> Iterator[Any]:
    """``write(frame)`` appending DataFrames to a CSV or Parquet file (atomically, at the end of
    the block), or to standard output through ``echo`` when ``path`` is None."""
    if path is None:
        first = [True]

        def to_stdout(frame: pd.DataFrame) -> None:
            echo(frame.to_csv(index=False, header=first[0]), nl=False)
            first[0] = False

        yield to_stdout
        return
    with atomic_path(path) as tmp:
        if path.suffix in (".parquet", ".pq"):
            pa = require("pyarrow", "parquet", "writing Parquet files")
            pq = require("pyarrow.parquet", "parquet", "writing Parquet files")

            writer: list[Any] = []

            def to_parquet(frame: pd.DataFrame) -> None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if not writer:
                    writer.append(pq.ParquetWriter(tmp, table.schema))
                writer[0].write_table(table)

            try:
                yield to_parquet
            finally:
                for open_writer in writer:
                    open_writer.close()
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                first = [True]

                def to_csv(frame: pd.DataFrame) -> None:
                    frame.to_csv(handle, index=False, header=first[0])
                    first[0] = False

                yield to_csv


#: Model files larger than this are refused before parsing (a fitted model is a few MB at most).
MAX_MODEL_BYTES = 256 * 2**20
MODEL_FIELDS = {
    "format",
    "format_version",
    "family",
    "n_components",
    "weights",
    "params",
    "columns",
    "feature_names_in",
    "fit",
    "settings",
    "history",
    "covariate_coef",
    "covariate_names",
}
SETTINGS = {"init", "max_iter", "n_init", "tol"}
FIT_FIELDS = {"log_likelihood", "n_iter", "converged"}


def read_model(path: str | os.PathLike[str], build: Callable[..., Any]) -> Any:
    """The estimator ``build(family, n_components=k, **settings)`` with the fitted attributes of
    the JSON model file ``path`` written by ``save_model`` (``mixfit.load`` builds a ``Mixture``).

    The file is treated as untrusted: it is parsed as JSON only (nothing in it is executed or
    imported), and unknown fields, non-finite numbers, wrong types and shapes, and sizes beyond
    what the declared shapes need are refused with a ``ModelError``.
    """
    doc = _read_model_json(Path(path))
    family = _family_from(doc["family"])
    k = doc["n_components"]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10_000:
        raise ModelError(f"model n_components must be an int between 1 and 10000; got {k!r}")
    model = build(family, n_components=k, **_settings(doc.get("settings") or {}))
    columns = _strings("columns", doc.get("columns") or [])
    params = _params(family, doc.get("params"), k, columns)
    weights = check_weights(doc.get("weights"), k, "weights")
    model.weights_ = weights / weights.sum()  # within check_weights' tolerance of 1: made exact
    model.params_ = params
    model.family_ = family
    if columns:
        model.columns_ = columns
        model.feature_names_ = family.feature_names(columns)
        model.n_features_in_ = len(columns)
    if doc.get("feature_names_in") is not None:
        model.feature_names_in_ = np.asarray(_strings("feature_names_in", doc["feature_names_in"]), dtype=object)
    _set_covariates(model, doc, k)
    _set_fit_summary(model, doc.get("fit") or {})
    if doc.get("history") is not None:
        model.history_ = _history(doc["history"], model)
    return model


def read_limited(path: Path, limit: int, what: str) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes, else ``ModelError``
    (a FIFO, a device or a directory is refused before it is read: it could block or never end)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelError(f"{what} {str(path)!r} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"{what} {str(path)!r} is not a regular file")
    if info.st_size > limit:
        raise ModelError(f"{what} {str(path)!r} is {info.st_size} bytes, more than the {limit} allowed")
    with open(path, "rb") as file:
        data = file.read(info.st_size + 1)  # not limit + 1: read(n) sets aside n bytes first
    if len(data) > limit:
        raise ModelError(f"{what} {str(path)!r} is more than the {limit} bytes allowed")
    return data.decode("utf-8")


def _read_model_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(
            read_limited(path, MAX_MODEL_BYTES, "model file"),
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelError(f"{str(path)!r} is not a valid mixfit model file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != "mixfit-model":
        raise ModelError(f"{str(path)!r} is not a mixfit model file")
    version = doc.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelError(f"model file format_version must be {FORMAT_VERSION}; got {version!r}")
    unknown = sorted(set(doc) - MODEL_FIELDS)
    if unknown:
        raise ModelError(f"model file has unknown field(s) {unknown}")
    _check_schema(doc)
    _check_text(doc)
    return doc


def _check_text(value: Any) -> None:
    """Every string of the document is valid Unicode: JSON's ``\\ud800`` escape can write a lone
    surrogate, which no file or terminal can show."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ModelError(f"model file holds a string that is not valid Unicode: {value!r:.60}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list) and value and not isinstance(value[0], (int, float)):
        for item in value:
            _check_text(item)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats (JSON parsers disagree on which one wins)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ModelError(f"model file repeats the key {key!r}")
        out[key] = value
    return out


def _check_schema(doc: dict[str, Any]) -> None:
    """The document's fields have the JSON types ``save_model`` writes (a pydantic schema in
    strict mode: no string for a number, no number for a boolean), else one ``ModelError``."""
    from pydantic import ValidationError

    try:
        _schema().model_validate(doc)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"] if part not in ("float", "int", "str", "bool")]
        got = "" if error["type"] == "missing" else f" (got {error.get('input')!r:.60})"
        raise ModelError(f"model file field {'.'.join(loc)!r}: {error['msg']}{got}") from None


@cache
def _schema() -> Any:
    """The model file's schema (built on first use: pydantic is imported only to read models)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

    Number = StrictFloat | StrictInt  # noqa: N806 (a type alias)

    class Fit(BaseModel):
        model_config = ConfigDict(extra="forbid")
        log_likelihood: Number | None = None
        n_iter: StrictInt | None = None
        converged: StrictBool | None = None

    class ModelDocument(BaseModel):
        model_config = ConfigDict(extra="forbid")
        format: Literal["mixfit-model"]
        format_version: StrictInt
        family: dict[str, Any]
        n_components: StrictInt = Field(ge=1, le=10_000)
        weights: list[Number]
        params: dict[str, Any]
        columns: list[StrictStr] | None = None
        feature_names_in: list[StrictStr] | None = None
        fit: Fit | None = None
        settings: dict[str, Any] | None = None
        history: dict[str, list[Number | None]] | None = None
        covariate_coef: list[list[Number]] | None = None
        covariate_names: list[StrictStr] | None = None

    return ModelDocument


def _refuse_constant(name: str) -> float:
    raise ModelError(f"model file holds a non-finite number ({name}); mixfit never writes one")


def _family_from(settings: Any) -> Any:
    if not isinstance(settings, dict):
        raise ModelError(f"model family must be an object like {{'family': 'bernoulli'}}; got {settings!r}")
    try:
        family = from_dict(settings)
    except TypeError as exc:
        raise ModelError(f"model family has unknown or invalid settings {sorted(settings)}: {exc}") from None
    except MixfitError as exc:
        raise ModelError(f"model family is invalid: {exc}") from None
    _check_read_as_written(settings, json.loads(json.dumps(family.to_dict())), "model family")
    return family


def _check_read_as_written(given: Any, canonical: Any, where: str) -> None:
    """Every setting of the file must be what the family writes for it: ``"missing": "no"``
    would otherwise be read as True, a level list of numbers as strings..."""
    if isinstance(given, dict) and isinstance(canonical, dict):
        for key, value in given.items():
            _check_read_as_written(value, canonical.get(key), f"{where} setting {key!r}")
    elif isinstance(given, list) and isinstance(canonical, list) and len(given) == len(canonical):
        for value, expected in zip(given, canonical, strict=True):
            _check_read_as_written(value, expected, where)
    elif given != canonical or isinstance(given, bool) != isinstance(canonical, bool):
        raise ModelError(f"{where} is {given!r}, which mixfit would read as {canonical!r}; write the value it means")


def _settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict) or set(settings) - SETTINGS:
        raise ModelError(f"model settings must hold only {sorted(SETTINGS)}; got {settings!r}")
    return settings


def _covariates_to_dict(model: Any) -> dict[str, Any]:
    """The covariate coefficients and names of a model with covariates ({} without)."""
    if getattr(model, "covariate_coef_", None) is None:
        return {}
    return {"covariate_coef": np.asarray(model.covariate_coef_).tolist(), "covariate_names": model.covariate_names_}


def _set_covariates(model: Any, doc: dict[str, Any], k: int) -> None:
    if doc.get("covariate_coef") is None and doc.get("covariate_names") is None:
        return
    names = _strings("covariate_names", doc.get("covariate_names"))
    given = names[1:]
    if names[:1] != ["(intercept)"] or len(set(given)) != len(given) or "(intercept)" in given or "" in given:
        raise ModelError(
            "model covariate_names must be '(intercept)' then distinct column names, as mixfit writes them; "
            f"got {names}"
        )
    modelled = sorted(set(given) & set(getattr(model, "columns_", None) or []))
    if modelled:
        raise ModelError(f"model covariate_names {modelled} are also modelled columns; a column is one or the other")
    try:
        coef = np.asarray(doc.get("covariate_coef"), dtype=float)
    except (TypeError, ValueError):
        raise ModelError("model covariate_coef must be a rectangular array of numbers") from None
    if coef.shape != (k, len(names)) or not names or not np.isfinite(coef).all() or np.any(coef[0] != 0):
        raise ModelError(
            f"model covariate_coef must be finite numbers of shape ({k}, {len(names)}) with row 0 all zeros "
            "(class 0 is the reference)"
        )
    model.covariate_coef_, model.covariate_names_ = coef, names


def _strings(name: str, values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ModelError(f"model {name} must be a list of strings")
    return values


def _params(family: Any, params: Any, k: int, columns: list[str]) -> dict[str, Any]:
    if not isinstance(params, dict) or not params:
        raise ModelError(f"model params must be an object of arrays; got {params!r}")
    arrays = {}
    for name, value in params.items():
        try:
            arrays[name] = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ModelError(f"model params[{name!r}] must be a rectangular array of numbers") from None
    first = next(iter(arrays.values()))
    n_features = len(family.feature_names(columns)) if columns else (first.shape[1] if first.ndim >= 2 else 0)
    try:
        checked = family.check_params(arrays, k, n_features)
    except ModelError as exc:
        raise ModelError(str(exc).replace("params_init", "model params")) from None
    if set(checked) != set(arrays):
        raise ModelError(f"model params must hold exactly {sorted(checked)}; got {sorted(arrays)}")
    return checked


def _set_fit_summary(model: Any, fit: Any) -> None:
    if not isinstance(fit, dict) or set(fit) - FIT_FIELDS:
        raise ModelError(f"model fit must hold only {sorted(FIT_FIELDS)}")
    if fit.get("log_likelihood") is None:
        return
    ll, n_iter, converged = fit["log_likelihood"], fit.get("n_iter"), fit.get("converged")
    if not isinstance(ll, (int, float)) or not isinstance(n_iter, int) or not isinstance(converged, bool):
        raise ModelError("model fit must hold a number log_likelihood, an int n_iter and a bool converged")
    model.log_likelihood_, model.n_iter_, model.converged_ = float(ll), n_iter, converged


def _history(history: Any, model: Any) -> pd.DataFrame:
    from mixfit.em import HISTORY_COLUMNS

    allowed = set(HISTORY_COLUMNS) | set(flatten_state_names(model))
    if not isinstance(history, dict) or set(history) - allowed:
        extra = sorted(set(history) - allowed) if isinstance(history, dict) else history
        raise ModelError(f"model history has unknown column(s) {extra}")
    lengths = {len(v) if isinstance(v, list) else -1 for v in history.values()}
    limit = getattr(model, "n_iter_", model.max_iter) + 1
    if len(lengths) > 1 or -1 in lengths or max(lengths, default=0) > limit:
        raise ModelError(f"model history must hold lists of one length <= n_iter + 1 = {limit}")
    for values in history.values():
        if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            raise ModelError("model history must hold only numbers and nulls")
    return pd.DataFrame({c: [np.nan if v is None else v for v in vals] for c, vals in history.items()}).rename_axis(
        "iteration"
    )


def flatten_state_names(model: Any) -> list[str]:
    """The parameter column names of ``history_`` for this model."""
    from mixfit.em import EMState, flatten_state

    coef = getattr(model, "covariate_coef_", None)
    return list(flatten_state(EMState(model.weights_, model.params_, coef=coef)))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_float(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value

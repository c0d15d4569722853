"""Data files read chunk by chunk, for data larger than memory.

Each EM iteration is one streaming pass over the file, so memory holds one chunk of rows and
the O(K x D) statistics. ``.npy`` files are read chunk by chunk at their offsets (positioned
reads rather than a memory map, whose touched pages would count in the process's resident
memory until the whole file had been mapped in), Parquet files in record batches (pyarrow) and
CSV files in chunks (pandas). Rows are validated on every pass, and a file whose size or
modification time changes between passes stops the fit with a ``DataError``.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    import pandas as pd

from mixfit._data import check_column_kinds
from mixfit._validation import check_column, check_header
from mixfit.errors import DataError
from mixfit.sources.base import Addable, Chunk, Schema, covariate_rows, sum_in_order
from mixfit.sources.memory import N_THREADS, blas_controller, in_context, thread_pool
from mixfit.sources.schema import distinct_per_column, learn_schema

S = TypeVar("S", bound=Addable)
F = TypeVar("F", bound=Schema)

#: Rows per chunk unless told otherwise.
CHUNK_ROWS = 65_536


class FileTable:
    """A CSV, Parquet or ``.npy`` file read in chunks of ``chunk_rows`` rows.

    Pass it to ``Mixture.fit`` (and ``predict``, ``score``, ``bic``...) in place of an array
    when the data do not fit in memory: every EM iteration then reads the file once.
    ``on_rows(rows_read, n_rows)``, when set, is called after every chunk (progress bars).

    Examples
    --------
    >>> import numpy as np, tempfile, os, mixfit as mf
    >>> path = os.path.join(tempfile.mkdtemp(), "flips.npy")
    >>> np.save(path, np.random.default_rng(0).binomial(10, 0.3, size=(5000, 1)))
    >>> m = mf.Mixture(mf.Binomial(n_trials=10)).fit(mf.FileTable(path, chunk_rows=1000))
    >>> round(float(m.params_["p"][0, 0]), 2)
    0.3
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        columns: list[str] | None = None,
        chunk_rows: int = CHUNK_ROWS,
        sep: str = ",",
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"data file {str(self.path)!r} does not exist")
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise DataError(f"chunk_rows must be an int >= 1; got {chunk_rows!r}")
        self.chunk_rows, self.sep = chunk_rows, check_sep(sep)
        self.kind = {".npy": "npy", ".parquet": "parquet", ".pq": "parquet"}.get(self.path.suffix, "csv")
        self.on_rows: Callable[[int, int], None] | None = None
        self.all_columns = self._read("header")
        for name in columns or []:
            check_column(name, self.all_columns, str(self.path))
        self.columns = list(columns) if columns else self.all_columns
        self.is_frame = self.kind != "npy"  # named columns, checked at predict like a DataFrame's
        self.signature = self._signature()
        self.n_rows = self._read("count")
        if self.n_rows == 0:
            raise DataError(f"data file {str(self.path)!r} has no rows")

    def __len__(self) -> int:
        return self.n_rows

    def __repr__(self) -> str:
        return f"FileTable({str(self.path)!r}, chunk_rows={self.chunk_rows})"

    def select(self, columns: list[str]) -> FileTable:
        """This table reading ``columns`` (names of the file's columns), without another pass."""
        for name in columns:
            check_column(name, self.all_columns, str(self.path))
        clone = copy.copy(self)
        clone.columns = list(columns)
        return clone

    def content_digest(self) -> str:
        """SHA-256 of the file's bytes, read in blocks of 1 MiB."""
        digest = hashlib.sha256()
        with open(self.path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def _signature(self) -> tuple[int, int]:
        stat = self.path.stat()
        return stat.st_size, stat.st_mtime_ns

    def frames(self) -> Iterator[np.ndarray]:
        """The ``columns`` of the file's rows as 2-D arrays of at most ``chunk_rows`` rows, in order."""
        for frame in self.pandas_frames():
            yield frame.to_numpy()

    def pandas_frames(self) -> Iterator[pd.DataFrame]:
        """The ``columns`` of the file's rows as DataFrames of at most ``chunk_rows`` rows, in order
        (every column when the table was opened without ``columns``)."""
        if self._signature() != self.signature:
            raise DataError(f"{str(self.path)!r} changed during the fit; fit again on the new file")
        done = 0
        for frame in self._read("frames"):
            done += len(frame)
            if self.on_rows is not None:
                self.on_rows(done, self.n_rows)
            check_column_kinds(frame[self.columns])
            yield frame[self.columns]
        if done != self.n_rows or self._signature() != self.signature:
            raise DataError(f"{str(self.path)!r} changed during the fit; fit again on the new file")

    def sample_rows(self, max_rows: int) -> np.ndarray:
        """Up to ``max_rows`` rows spread evenly over the file, as they are in the file."""
        step = max(1, -(-self.n_rows // max_rows))
        parts, offset = [], 0
        for frame in self.frames():
            parts.append(frame[(-offset) % step :: step].copy())  # a view would keep the whole chunk
            offset += len(frame)
        return np.concatenate(parts)

    def learn_schema(self, family: F) -> F:
        """The family fitted to the whole file's value sets (a first pass, only when it learns any)."""
        if not family.learns_from_data():
            return family
        return learn_schema(family, self.columns, (distinct_per_column(frame, self.columns) for frame in self.frames()))

    def _read(self, what: str) -> Any:
        reader = getattr(self, f"_{self.kind}_{what}")
        try:
            return reader() if what != "frames" else _guarded(reader(), self.path)
        except DataError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"cannot read {str(self.path)!r}: {_first_line(exc)}") from None

    # .npy: header, then C-ordered rows
    def _npy_layout(self) -> tuple[tuple[int, ...], np.dtype, int]:
        shape, fortran, dtype, offset = npy_header(self.path)
        if fortran and len(shape) > 1 and shape[1] > 1:
            raise DataError(f"{str(self.path)!r} is in Fortran order; save it with np.save in C order to stream it")
        if dtype.hasobject or len(shape) not in (1, 2):
            raise DataError(f"{str(self.path)!r} must hold a 1-D or 2-D array of numbers; got {dtype}, shape {shape}")
        return shape, dtype, offset

    def _npy_header(self) -> list[str]:
        shape = self._npy_layout()[0]
        return ["x"] if len(shape) == 1 else [f"x{j}" for j in range(shape[1])]

    def _npy_count(self) -> int:
        return int(self._npy_layout()[0][0])

    def _npy_frames(self) -> Iterator[pd.DataFrame]:
        shape, dtype, offset = self._npy_layout()
        width = 1 if len(shape) == 1 else shape[1]
        with open(self.path, "rb") as file:
            file.seek(offset)
            for start in range(0, shape[0], self.chunk_rows):
                rows = min(self.chunk_rows, shape[0] - start)
                block = np.fromfile(file, dtype=dtype, count=rows * width)
                if block.size != rows * width:
                    raise DataError(f"{str(self.path)!r} is shorter than its header says")
                yield _pandas().DataFrame(block.reshape(rows, width), columns=self.all_columns, copy=False)

    # Parquet: record batches
    def _parquet_file(self) -> Any:
        from mixfit._optional import require

        return require("pyarrow.parquet", "parquet", "reading Parquet files").ParquetFile(self.path)

    def _parquet_header(self) -> list[str]:
        names = [str(name) for name in self._parquet_file().schema_arrow.names]
        check_header(names, self.path)
        return names

    def _parquet_count(self) -> int:
        return int(self._parquet_file().metadata.num_rows)

    def _parquet_frames(self) -> Iterator[pd.DataFrame]:
        for batch in self._parquet_file().iter_batches(batch_size=self.chunk_rows, columns=self.columns):
            yield batch.to_pandas()

    # CSV: pandas chunks
    def _csv_reader(self, **options: Any) -> Any:
        return _pandas().read_csv(self.path, sep=self.sep, encoding="utf-8-sig", **options)

    def _csv_header(self) -> list[str]:
        try:
            names = [str(c) for c in self._csv_reader(nrows=1, header=None, keep_default_na=False).iloc[0]]
        except _pandas().errors.EmptyDataError:
            raise DataError(f"data file {str(self.path)!r} is empty") from None
        check_header(names, self.path)
        check_delimiter(names, self.path, self.sep)
        check_first_row(self.path, self.sep, len(names))
        return names

    def _csv_count(self) -> int:
        return sum(len(frame) for frame in self._csv_reader(chunksize=self.chunk_rows, usecols=[self.columns[0]]))

    def _csv_frames(self) -> Iterator[pd.DataFrame]:
        # every column is parsed: with usecols, pandas would let a line with extra fields through
        checked = False
        for frame in self._csv_reader(chunksize=self.chunk_rows):
            if not checked and frame.isna().to_numpy().any():  # gaps, or a short line? (as in memory)
                check_short_lines(self.path, self.sep, len(self.all_columns))
                checked = True
            yield frame


def _pandas() -> Any:
    """pandas, imported when a file is read (the EM engine imports this package without it)."""
    import pandas

    return pandas


def check_sep(sep: Any) -> str:
    """A CSV field separator is one character other than a quote or a line break (the streamed
    reader and the line checks use Python's csv module, which takes no patterns)."""
    if not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n':
        raise DataError(
            f"the field separator must be one character (',', ';', '\\t', ' ', ...); got {sep!r} "
            "(patterns such as '\\s+' are not read)"
        )
    return sep


def csv_rows(path: Any, sep: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each row of a CSV file; a line the csv module cannot read (a
    field beyond its limit of 131,072 characters, which no number or label needs) is a
    ``DataError`` naming the line."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=sep)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(f"{str(path)!r} line {reader.line_num} cannot be read as CSV: {exc}") from None
            yield reader.line_num, row


def check_short_lines(path: Any, sep: str, n_fields: int) -> None:
    """A line with fewer fields than the header (pandas fills them with NaN, which would then
    read as missing values) is an error; an empty field is a missing value."""
    for number, row in csv_rows(path, sep):
        if row and len(row) < n_fields:
            raise DataError(f"{str(path)!r} line {number} has {len(row)} field(s); the header has {n_fields}")


def check_delimiter(names: list[str], path: Any, sep: str) -> None:
    """One column whose header holds another delimiter: the file was read with the wrong one."""
    if len(names) != 1:
        return
    for other in (";", "\t", "|", ","):
        if other != sep and other in names[0]:
            shown = other.replace("\t", "\\t")
            raise DataError(f"{str(path)!r} looks '{shown}'-separated, not '{sep}'-separated; pass --sep '{shown}'")


def check_first_row(path: Any, sep: str, n_fields: int) -> None:
    """The first data line must not have more fields than the header: pandas would silently take
    its first field as the row index and shift every column by one."""
    rows = csv_rows(path, sep)
    next(rows, None)
    for number, row in rows:
        if not row:
            continue
        if len(row) > n_fields:
            raise DataError(
                f"{str(path)!r} line {number} has {len(row)} fields; the header has {n_fields} "
                "(a field without a column name)"
            )
        return


class StreamSource:
    """A ``FileTable`` seen through a family: each pass reads, validates and designs chunk by chunk."""

    weight = None

    def __init__(self, table: FileTable, family: Schema, dtype: DTypeLike = np.float64, n_covariates: int = 0) -> None:
        """``n_covariates``: the table's last columns are covariates on class membership, not
        modelled (each chunk carries them with an intercept first)."""
        self.table, self.family, self.dtype = table, family, np.dtype(dtype)
        self.n_covariates = n_covariates
        self.n_rows = table.n_rows
        self.total_weight = float(table.n_rows)

    def chunks(self) -> Iterator[Chunk]:
        for frame in self.table.frames():
            yield self._chunk(frame)

    def _chunk(self, frame: np.ndarray) -> Chunk:
        if not self.n_covariates:
            design = self.family.design(self.family.validate(frame, self.table.columns))
            return Chunk(np.asarray(design, dtype=self.dtype), None)
        split = frame.shape[1] - self.n_covariates
        design = self.family.design(self.family.validate(frame[:, :split], self.table.columns[:split]))
        covariates = covariate_rows(frame[:, split:], self.table.columns[split:])
        return Chunk(np.asarray(design, dtype=self.dtype), None, None, covariates)

    def reduce(self, fn: Callable[[Chunk], S]) -> S:
        """``sum(fn(chunk) for chunk in chunks)``, added in file order.

        This thread reads the file; validation, design and ``fn`` run on ``N_THREADS`` threads
        (single-threaded BLAS each), with at most ``2 * N_THREADS`` chunks in memory at once.
        """
        pending: deque[Future[S]] = deque()
        parts: list[S] = []
        with blas_controller().limit(limits=1, user_api="blas"):
            for frame in self.table.frames():
                pending.append(thread_pool().submit(in_context(lambda rows: fn(self._chunk(rows))), frame))
                if len(pending) >= 2 * N_THREADS:
                    parts.append(pending.popleft().result())
                    parts = [sum_in_order(parts)]
            parts.extend(future.result() for future in pending)
        return sum_in_order(parts)

    def map_rows(self, fn: Callable[[Chunk], np.ndarray]) -> np.ndarray:
        return np.concatenate([fn(chunk) for chunk in self.chunks()])

    def identity(self) -> bytes:
        """What a checkpoint fingerprint hashes: the file, its columns, its signature and its
        content (a SHA-256 of every byte: a file edited to the same size with its modification
        time restored is another file; one extra read of the file per checkpointed fit)."""
        head = f"{self.table.path.resolve()}:{self.table.columns}:{self.n_covariates}:{self.table.signature}:".encode()
        return head + self.table.content_digest().encode()


def npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran order, dtype, data offset)`` of a ``.npy`` file, checked against the
    file's size: a header that claims more data than the file holds is refused before anything
    is allocated (else it could ask for terabytes)."""
    with open(path, "rb") as file:
        version = np.lib.format.read_magic(file)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = header(file)
        offset = file.tell()
    if not dtype.hasobject:
        needed = offset + int(np.prod(shape, dtype=object)) * dtype.itemsize
        size = path.stat().st_size
        if needed > size:
            raise DataError(
                f"{str(path)!r} is a truncated or corrupt .npy file: its header claims shape {shape} "
                f"({needed} bytes) but the file holds {size} bytes"
            )
    return shape, fortran, dtype, offset


def _guarded(frames: Iterator[np.ndarray], path: Path) -> Iterator[np.ndarray]:
    """Reading errors raised while iterating, as ``DataError``."""
    try:
        yield from frames
    except DataError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

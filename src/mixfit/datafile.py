"""How the CLI opens a data file: in memory, streamed chunk by chunk, or on a Dask cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mixfit.io import read_table
from mixfit.sources import CHUNK_ROWS, FileTable

#: A data file larger than this fraction of the available memory is streamed chunk by chunk.
STREAM_FRACTION = 0.25


@contextmanager
def open_data(
    path: str | os.PathLike[str],
    columns: list[str] | None = None,
    sep: str = ",",
    chunk_rows: int | None = None,
    scheduler: str | None = None,
    dask_workers: int | None = None,
) -> Iterator[Any]:
    """The data in ``path`` as a fit reads it, for the life of the ``with`` block.

    A Dask collection on a cluster when ``scheduler`` (an address) or ``dask_workers`` (a local
    cluster of that many worker processes) is given; a ``FileTable`` read ``chunk_rows`` rows at
    a time when ``chunk_rows`` is given or the file is larger than ``STREAM_FRACTION`` of the
    available memory; else a DataFrame in memory.
    """
    if scheduler is not None or dask_workers is not None:
        from mixfit.sources.cluster import dask_client, read_dask

        with dask_client(scheduler, dask_workers):
            yield read_dask(path, columns, sep, chunk_rows or CHUNK_ROWS)
        return
    if chunk_rows is None and Path(path).is_file() and Path(path).stat().st_size > STREAM_FRACTION * available_memory():
        chunk_rows = CHUNK_ROWS
    yield (
        read_table(path, columns, sep)
        if chunk_rows is None
        else FileTable(path, columns=columns, chunk_rows=chunk_rows, sep=sep)
    )


def available_memory() -> float:
    """Bytes of memory available to new allocations (``MemAvailable`` on Linux), else infinity."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")

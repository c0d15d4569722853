"""Checkpoints of a running fit: written atomically every few iterations, resumed exactly.

A checkpoint holds the restart being run, its parameters after the last finished iteration,
its history so far, and the best finished restart. A fingerprint of the data and the settings
makes sure a checkpoint is only resumed by the fit it belongs to.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixfit._validation import check_weights
from mixfit.em import EMState, FitResult, complete_history
from mixfit.errors import ModelError
from mixfit.io import MAX_MODEL_BYTES, read_limited, write_atomic
from mixfit.sources import DataSource

FORMAT, VERSION = "mixfit-checkpoint", 1

#: How every checkpoint mixfit writes begins (``json.dumps`` keeps the key order): a file at the
#: checkpoint's path is replaced only when it begins so.
_HEAD = re.compile(rb'\s*\{\s*"format"\s*:\s*"' + FORMAT.encode() + rb'"')


@dataclass(frozen=True)
class Resumed:
    """Where a checkpointed fit stood."""

    restart: int
    iteration: int
    state: EMState
    history: list[dict[str, float]]
    best: FitResult | None
    progress: dict[str, float]


def fingerprint(settings: dict[str, Any], source: DataSource) -> str:
    """A hash of the fit's settings and of the rows it sees (``source.identity()``)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=repr).encode())
    digest.update(source.identity())
    return digest.hexdigest()


def is_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a regular file that begins as every mixfit checkpoint does."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return False
        with open(path, "rb") as file:
            return _HEAD.match(file.read(64)) is not None
    except OSError:
        return False


class Checkpointer:
    """Writes the fit's state to ``path`` every ``every`` iterations and reads it back.

    A file already at ``path`` is replaced only when it is a mixfit checkpoint (recognised by
    its content), and the file is removed when the fit ends only when this fit wrote it or
    resumed from it: a checkpoint path that names a user's file is refused before the fit."""

    def __init__(self, path: str | Path, every: int, fingerprint: str) -> None:
        self.path, self.every, self.fingerprint = Path(path), every, fingerprint
        self.owned = False  # this fit wrote the file or resumed from it
        if self.path.exists() and not self.path.is_file():
            raise ModelError(f"checkpoint {str(self.path)!r} is not a regular file")
        if os.path.lexists(self.path) and not is_checkpoint(self.path):
            raise ModelError(
                f"checkpoint {str(self.path)!r} exists and is not a mixfit checkpoint; "
                "choose another path (a checkpoint replaces only an earlier checkpoint)"
            )

    def save(
        self,
        restart: int,
        iteration: int,
        state: EMState,
        history: list[dict[str, float]],
        best: FitResult | None,
        progress: dict[str, float],
    ) -> None:
        """``progress``: what the fit loop needs besides the state to go on exactly (E-step count,
        SQUAREM step bound)."""
        if iteration % self.every:
            return
        doc = {
            "format": FORMAT,
            "format_version": VERSION,
            "fingerprint": self.fingerprint,
            "restart": restart,
            "iteration": iteration,
            "state": _state_to_json(state),
            "history": complete_history(history),
            "progress": progress,
            "best": None
            if best is None
            else {
                "state": _state_to_json(best.state),
                "log_likelihood": best.log_likelihood,
                "n_iter": best.n_iter,
                "converged": best.converged,
                "history": complete_history(best.history),
            },
        }
        write_atomic(self.path, json.dumps(doc))
        self.owned = True

    def load(self) -> Resumed:
        """The checkpoint, read as untrusted input: a regular file of bounded size, JSON only,
        every field of the expected type, weights and parameters finite, weights on the simplex.
        (The fit checks the parameters against the family and the restart against its starts.)"""
        if not self.path.exists():
            raise ModelError(f"no checkpoint to resume at {str(self.path)!r}")
        try:
            doc = json.loads(read_limited(self.path, MAX_MODEL_BYTES, "checkpoint"))  # NaN: history's empty cells
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{str(self.path)!r} is not a valid checkpoint: {exc}") from None
        try:
            resumed = self._parse(doc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{str(self.path)!r} is not a valid checkpoint: bad or missing field ({exc})") from None
        self.owned = True
        return resumed

    def _parse(self, doc: Any) -> Resumed:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("format_version") != VERSION:
            raise ModelError(f"{str(self.path)!r} is not a mixfit checkpoint of format_version {VERSION}")
        if doc["fingerprint"] != self.fingerprint:
            raise ModelError(
                f"checkpoint {str(self.path)!r} belongs to another fit (different data or settings); "
                "remove it or fit without resume"
            )
        best = doc["best"]
        restart, iteration = doc["restart"], doc["iteration"]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (restart, iteration)):
            raise ValueError("restart and iteration must be ints >= 0")
        if not isinstance(doc["history"], list) or (best is not None and not isinstance(best["history"], list)):
            raise ValueError("history must be a list")
        progress = doc.get("progress") or {}
        if not isinstance(progress, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf") for v in progress.values()
        ):
            raise ValueError("progress must hold numbers >= 0")
        return Resumed(
            restart=restart,
            iteration=iteration,
            state=_state_from_json(doc["state"]),
            history=doc["history"],
            progress=dict(progress),
            best=None
            if best is None
            else FitResult(
                _state_from_json(best["state"]),
                best["log_likelihood"],
                best["n_iter"],
                best["converged"],
                best["history"],
            ),
        )

    def remove(self) -> None:
        """Remove the checkpoint at the fit's end, when it is this fit's."""
        if self.owned and is_checkpoint(self.path):
            self.path.unlink(missing_ok=True)


def _state_to_json(state: EMState) -> dict[str, Any]:
    return {"weights": state.weights.tolist(), "params": {k: v.tolist() for k, v in state.params.items()}}


def _state_from_json(doc: dict[str, Any]) -> EMState:
    weights = check_weights(doc["weights"], len(doc["weights"]), "checkpoint weights")
    params = {str(k): np.asarray(v, dtype=float) for k, v in doc["params"].items()}
    if not all(np.all(np.isfinite(v)) for v in params.values()):
        raise ValueError("parameters must be finite")
    return EMState(weights, params)

"""Many starts, few finishes: the record of a fit's starts and whether its best maximum replicated.

A fit draws ``n_init`` starts. When there are more than ``n_converge`` of them, each first runs
``screen_iter`` EM iterations (on a sample of rows when the data are large), and only the
``n_converge`` best go on to convergence (Mplus's ``STARTS = 20 4`` strategy). A start that fails
(a singular covariance, non-finite numbers) is recorded with its reason and skipped. The table of
starts says how many of the starts run to convergence reached the best log-likelihood, which is
what latent class users check to trust a maximum (poLCA's documentation tabulates the maxima
that repeated starts reach).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Two final log-likelihoods are the same maximum when they differ by at most
#: ``REPLICATION_ATOL + REPLICATION_RTOL * |best|`` (EM stops within ``tol`` per row of a
#: maximum, so converged starts at one maximum agree far more closely than this).
REPLICATION_ATOL = 1e-3
REPLICATION_RTOL = 1e-6

#: Status of a start in ``restarts_``.
BEST, SAME, OTHER, MAX_ITER, SCREENED, FAILED = (
    "best",
    "reached the best",
    "other maximum",
    "stopped at max_iter",
    "screened out",
    "failed",
)


@dataclass(frozen=True)
class StartRecord:
    """One row of ``Mixture.restarts_``."""

    start: int
    log_likelihood: float
    n_iter: int
    converged: bool
    status: str
    reason: str = ""


def same_maximum(value: float, best: float) -> bool:
    return bool(abs(value - best) <= REPLICATION_ATOL + REPLICATION_RTOL * abs(best))


def classify(records: list[StartRecord], best_start: int) -> list[StartRecord]:
    """The final starts' statuses, once the best is known (screened and failed rows unchanged)."""
    best = next(r.log_likelihood for r in records if r.start == best_start)
    out = []
    for r in records:
        status = r.status
        if r.start == best_start:
            status = BEST
        elif status in (SAME, OTHER, MAX_ITER):
            status = MAX_ITER if not r.converged else SAME if same_maximum(r.log_likelihood, best) else OTHER
        out.append(StartRecord(r.start, r.log_likelihood, r.n_iter, r.converged, status, r.reason))
    return sorted(out, key=lambda r: r.start)


def as_frame(records: list[StartRecord]) -> Any:
    import pandas as pd

    columns = ["start", "log_likelihood", "n_iter", "converged", "status", "reason"]
    frame = pd.DataFrame([r.__dict__ for r in records], columns=columns)
    return frame.set_index("start")


def replication(statuses: Any) -> tuple[int, int]:
    """(starts that reached the best maximum, starts run to convergence or max_iter), from the
    statuses of ``restarts_``."""
    statuses = list(statuses)
    finished = [status for status in statuses if status in (BEST, SAME, OTHER, MAX_ITER)]
    return sum(status in (BEST, SAME) for status in finished), len(finished)


def replication_line(records: list[StartRecord]) -> str:
    """ "best log-likelihood reached by 3 of 4 starts run to convergence (20 starts)"."""
    reached, finished = replication(r.status for r in records)
    failed = sum(r.status == FAILED for r in records)
    extra = f", {failed} failed" if failed else ""
    return (
        f"best log-likelihood reached by {reached} of {finished} start{'s' if finished != 1 else ''} "
        f"run to convergence ({len(records)} starts{extra})"
    )


def failures(records: list[StartRecord]) -> str:
    """Why every start failed, in one line: the distinct reasons (two at most) and how many."""
    reasons = list(dict.fromkeys(r.reason for r in records if r.reason))
    shown = "; ".join(reasons[:2]) + (f" (and {len(reasons) - 2} other reasons)" if len(reasons) > 2 else "")
    return f"every one of the {len(records)} starts failed: {shown}"


def distinct_maxima(records: list[StartRecord]) -> Any:
    """The maxima that finished starts reached, best first, with how many starts reached each."""
    import pandas as pd

    values = sorted((r.log_likelihood for r in records if r.status in (BEST, SAME, OTHER)), reverse=True)
    maxima: list[list[float]] = []
    for value in values:
        if maxima and same_maximum(value, maxima[-1][0]):
            maxima[-1][1] += 1
        else:
            maxima.append([value, 1])
    return pd.DataFrame(maxima, columns=["log_likelihood", "n_starts"]).astype({"n_starts": int})


def ranked(objectives: list[float]) -> list[int]:
    """Indices by decreasing objective, NaN last, ties in start order."""
    keys = [(-v if np.isfinite(v) else np.inf, i) for i, v in enumerate(objectives)]
    return [i for _, i in sorted(keys)]

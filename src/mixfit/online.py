"""Online EM for rows that arrive as a stream: stepwise EM (Cappé and Moulines, 2009).

EM's M-step needs only the expected sufficient statistics per row (Ch6, Definition 6.2),
so online EM keeps a running average of them instead of a sum over all the data. Update t
(t = 0, 1, 2, ...) takes one batch of rows B_t, computes its statistics at the current
parameters (the E-step on the batch), and moves the average a step towards them::

    s_t = (1 - gamma_t) s_(t-1) + gamma_t * stats(B_t) / |B_t|,    gamma_t = (t + 1) ** -decay

then sets the parameters to the M-step on s_t (scaling statistics does not change the M-step).
gamma_0 = 1, so the first batch's statistics replace the start: update 0 is one batch EM step.
With 0.5 < decay <= 1 the step sizes satisfy sum gamma_t = inf and sum gamma_t^2 < inf, the
conditions under which the parameters converge to a maximiser of the expected log-likelihood;
decay = 0.6 is the default (smaller decays forget the early batches faster).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mixfit.em import EMState, m_step, run_e_step
from mixfit.errors import ModelError
from mixfit.families import Family
from mixfit.sources import DataSource

#: The default exponent of the step-size schedule.
DEFAULT_DECAY = 0.6


def step_size(update: int, decay: float) -> float:
    """gamma_t = (t + 1) ** -decay."""
    return float((update + 1.0) ** -decay)


def stepwise_average(running: Any, batch_stats: Any, batch_weight: float, update: int, decay: float) -> Any:
    """The running average of per-row statistics after update ``update`` (``running`` is None at first)."""
    per_row = batch_stats * (1.0 / batch_weight)
    if running is None:
        return per_row
    gamma = step_size(update, decay)
    return running * (1.0 - gamma) + per_row * gamma


@dataclass
class Stream:
    """A stream of ``partial_fit`` batches: the running average of per-row statistics and one
    record per update (rows, step size, the batch's mean log-likelihood before the update)."""

    running: Any = None
    n_updates: int = 0
    n_rows_seen: int = 0
    rows: list[dict[str, float]] = field(default_factory=list)

    def update(
        self, family: Family, state: EMState, source: DataSource, decay: float, weights_prior: float | None
    ) -> EMState:
        """One stepwise EM update from the batch in ``source``: the new parameters."""
        summary = run_e_step(family, source, state)
        self.running = stepwise_average(self.running, summary.stats, source.total_weight, self.n_updates, decay)
        self.rows.append(
            {
                "rows": source.n_rows,
                "step_size": step_size(self.n_updates, decay),
                "batch_mean_log_likelihood": summary.log_likelihood / source.total_weight,
            }
        )
        self.n_updates += 1
        self.n_rows_seen += source.n_rows
        return m_step(family, self.running, weights_prior)


def check_decay(decay: Any) -> float:
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.5 < decay <= 1:
        raise ModelError(f"online_decay must be a number in (0.5, 1]; got {decay!r}")
    return float(decay)

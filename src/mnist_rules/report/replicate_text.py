"""How the tables write a label's seeds together (report.replicates): a median with its
interval in brackets, "k/n", and the learning rate with its tuning marks; and the
captions that say what the brackets and the marks are."""

from __future__ import annotations

from mnist_rules.report.comparison import Comparison
from mnist_rules.report.numbers import seconds
from mnist_rules.report.replicates import BOOTSTRAP_FROM, RESAMPLES, ArmSummary, Spread

DASH = "\u2013"  # the en dash of a range: 1.31–1.60  # noqa: RUF003
TUNED = "†"
EDGE = "(edge)"
INTERVAL_NOTE = (
    "Over the seeds: medians, and in brackets a 95% bootstrap interval of the median"
    f" (percentile, {RESAMPLES:,} resamples) where {BOOTSTRAP_FROM} or more seeds give a"
    f" value, else their min{DASH}max range. Time to the target: over the seeds that reached"
    " it, where at least half did; k/n: the seeds that reached it, of those run."
)


def spread_cell(value: Spread | None, write=lambda v: f"{v:.2f}") -> str:
    """ "96.10 [95.90-96.30]" (an en dash); one value, or values all equal, alone;
    None: a dash."""
    if value is None:
        return "—"
    if value.n == 1 or value.low == value.high:
        return write(value.median)
    return f"{write(value.median)} [{write(value.low)}{DASH}{write(value.high)}]"


def seconds_cell(value: Spread | None) -> str:
    """Time to the target: "1.42 [1.31-1.60]"; one seed: "1.4", as a single run's."""
    if value is not None and value.n == 1:
        return seconds(value.median)
    return spread_cell(value, lambda v: seconds(v, 2))


def reached_cell(summary: ArmSummary) -> str:
    return f"{summary.k}/{summary.n}"


def epoch_cell(summary: ArmSummary) -> str:
    """The median epoch the target was reached at, or why there is none."""
    if summary.median_epoch is None:
        return "not reached"
    return f"{summary.median_epoch:g}"


def lr_cell(comparison: Comparison, label: str, lr: float) -> str:
    """The arm's lr, marked when it was tuned, and "(edge)" at the grid's end."""
    text = f"{lr:g}"
    if comparison.lr_tuned(label):
        text += f" {TUNED}"
    if comparison.at_edge(label):
        text += f" {EDGE}"
    return text


def tuning_note(comparison: Comparison) -> str | None:
    """What the lr marks mean, when the learning rates were tuned."""
    tuning = comparison.tuning
    if tuning is None:
        return None
    grid = ", ".join(f"{lr:g}" for lr in tuning.grid)
    note = f"{TUNED} lr tuned: the best of {grid} on seed {tuning.seed}."
    if any(comparison.at_edge(label) for label in comparison.labels):
        note += f" {EDGE}: the grid's smallest or largest; widen --lrs."
    return note


def join_notes(*notes: str | None) -> str | None:
    kept = [note for note in notes if note]
    return " ".join(kept) if kept else None
